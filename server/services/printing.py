"""Label batches: resolve codes to what a label shows, render through the labels package,
and record every print in the audit log (so reprints are traceable).

``prepare`` checks a batch (codes, template, labels already used) and is quick; rendering is the slow
part (about 150 labels a second), so a big batch is rendered by a job (services/jobs.py) from the same
``prepare`` + ``render_batch`` + ``record_print`` that a small one uses inside the request.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

import labels
from contract import codes
from server import audit, names
from server.audit import Actor
from server.errors import Invalid, NotFound
from server.i18n import N_
from server.models import Asset, IssuedCode, Location, Person, Seal, SupplyItem

MAX_BATCH = 20_000
_CODE_ERRORS = {
    "bad_check": N_("the check symbol of %(value)s is wrong: a typing or scanning error"),
    "bad_code": N_("%(value)s is not an AssetGate code"),
}


@dataclass(frozen=True)
class Batch:
    items: list[labels.Label]
    template: labels.Template
    skip: int


def template(name: str) -> labels.Template:
    """A built-in label template by name, or Invalid listing the names."""
    try:
        return labels.templates.get(name)
    except labels.LabelError:
        raise Invalid(N_("unknown label template %(name)s; built-in templates: %(names)s"), code="unknown_template",
                      name=str(name)[:64], names=", ".join(labels.templates.names()), field="template") from None


def normalize(raw_codes: Iterable[str]) -> list[str]:
    """Codes in canonical form; a malformed one or a batch too big is refused with a clear message."""
    normal: list[str] = []
    for raw in raw_codes:
        try:
            normal.append(codes.normalize(raw))
        except codes.CodeError as exc:
            raise Invalid(_CODE_ERRORS.get(exc.reason, _CODE_ERRORS["bad_code"]), code=exc.reason,
                          value=str(raw)[:64], field="codes") from None
    if not normal:
        raise Invalid(N_("no codes given"), field="codes")
    if len(normal) > MAX_BATCH:
        raise Invalid(N_("at most %(most)s labels in one batch"), most=MAX_BATCH, field="codes")
    return normal


def resolve(session: Session, raw_codes: Iterable[str], org: str) -> list[labels.Label]:
    """Codes -> labels with names; a code never issued by this server is refused."""
    normal = normalize(raw_codes)
    issued = set(session.scalars(select(IssuedCode.code).where(IssuedCode.code.in_(set(normal)))))
    missing = [c for c in normal if c not in issued]
    if missing:
        raise NotFound(N_("not issued by this server: %(codes)s"), codes=", ".join(missing[:5]), field="codes")
    names = _names(session, set(normal))
    out = []
    for code in normal:
        name, category, year = names.get(code, ("", None, None))
        out.append(labels.Label(code=code, name=name, org=org, category=category, year=year))
    return out


def _names(session: Session, wanted: set[str]) -> dict[str, tuple[str, str | None, int | None]]:
    found: dict[str, tuple[str, str | None, int | None]] = {}
    for asset in session.scalars(select(Asset).where(Asset.code.in_(wanted))).unique():
        year = asset.acquired_on.year if asset.acquired_on else None
        found[asset.code] = (asset.name, asset.category.name, year)
    for loc in session.scalars(select(Location).where(Location.code.in_(wanted))):
        found[loc.code] = (loc.name, None, None)
    for person in session.scalars(select(Person).where(Person.code.in_(wanted))):
        found[person.code] = (person.name, None, None)
    for item in session.scalars(select(SupplyItem).where(SupplyItem.code.in_(wanted))):  # a bin label
        found[item.code] = (item.name, item.location or None, None)
    for seal in session.scalars(select(Seal).where(Seal.code.in_(wanted))):  # seals carry A- codes
        found[seal.code] = (seal.name, names.seal_kind(seal.kind), seal.made_on.year if seal.made_on else None)
    return found


def prepare(session: Session, raw_codes: Iterable[str], *, org: str, template_name: str, skip: int = 0) -> Batch:
    """A batch checked and resolved, ready to render: nothing written yet."""
    tpl = template(template_name)
    if not 0 <= skip < tpl.per_page:
        # The renderer refuses this too; checked here first to say it in the reader's language.
        raise Invalid(N_("labels already used on the first sheet must be between 0 and %(most)s for template "
                         "%(template)s"), code="bad_skip", most=tpl.per_page - 1, template=tpl.name, field="skip")
    return Batch(resolve(session, raw_codes, org), tpl, skip)


def render_batch(batch: Batch, output: BinaryIO | str, *, base_url: str | None,
                 progress: Callable[[int], None] | None = None, every: int = 50) -> labels.RenderResult:
    """Write the batch's PDF to ``output`` (a path is written whole or not at all); no database work.

    ``progress`` hears how many labels have gone to the PDF, every ``every`` labels."""
    items: Iterable[labels.Label] = batch.items
    if progress is not None:
        items = _counted(batch.items, progress, every)
    try:
        return labels.render_pdf(items, output, batch.template, base_url=base_url, skip=batch.skip)
    except labels.LabelError as exc:
        raise Invalid(N_("the labels cannot be made on this template: %(reason)s"), code="bad_label_request",
                      reason=str(exc)) from None


def _counted(items: list[labels.Label], progress: Callable[[int], None], every: int) -> Iterator[labels.Label]:
    for number, item in enumerate(items, start=1):
        yield item
        if number % every == 0:
            progress(number)


def record_print(session: Session, actor: Actor, batch: Batch) -> None:
    audit.record(session, actor, "labels.print", "labels", batch.items[0].code, None,
                 {"template": batch.template.name, "count": len(batch.items),
                  "codes": [i.code for i in batch.items[:50]]})


def render(session: Session, actor: Actor, raw_codes: Iterable[str], *, org: str, template: str,
           base_url: str | None, skip: int = 0) -> bytes:
    """A small batch's PDF, made here and now, and recorded in the audit log (in the caller's transaction)."""
    return pdf_of(session, actor, prepare(session, raw_codes, org=org, template_name=template, skip=skip), base_url)


def pdf_of(session: Session, actor: Actor, batch: Batch, base_url: str | None) -> bytes:
    """A prepared batch's PDF as bytes, recorded in the audit log (in the caller's transaction)."""
    buffer = io.BytesIO()
    render_batch(batch, buffer, base_url=base_url)
    record_print(session, actor, batch)
    return buffer.getvalue()


def first_sheet(session: Session, raw_codes: Iterable[str], *, org: str, template: str, base_url: str | None,
                skip: int = 0) -> bytes:
    """A PDF of the batch's first sheet only, to look at before printing (not a print: not audited)."""
    batch = prepare(session, raw_codes, org=org, template_name=template, skip=skip)
    first = Batch(batch.items[:batch.template.per_page - batch.skip], batch.template, batch.skip)
    buffer = io.BytesIO()
    render_batch(first, buffer, base_url=base_url)
    return buffer.getvalue()
