"""Label batches: resolve codes to what a label shows, render through the labels package,
and record every print in the audit log (so reprints are traceable)."""

from __future__ import annotations

import io
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

import labels
from contract import codes
from server import audit
from server.audit import Actor
from server.errors import Invalid, NotFound
from server.models import Asset, IssuedCode, Location, Person

MAX_BATCH = 20_000


def resolve(session: Session, raw_codes: Iterable[str], org: str) -> list[labels.Label]:
    """Codes -> labels with names; a code never issued by this server is refused."""
    normal: list[str] = []
    for raw in raw_codes:
        try:
            normal.append(codes.normalize(raw))
        except codes.CodeError as exc:
            raise Invalid(str(exc), code=exc.reason) from None
    if not normal:
        raise Invalid("no codes given")
    if len(normal) > MAX_BATCH:
        raise Invalid(f"at most {MAX_BATCH} labels in one batch")
    issued = set(session.scalars(select(IssuedCode.code).where(IssuedCode.code.in_(set(normal)))))
    missing = [c for c in normal if c not in issued]
    if missing:
        raise NotFound(f"not issued by this server: {', '.join(missing[:5])}")
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
    return found


def render(session: Session, actor: Actor, raw_codes: Iterable[str], *, org: str, template: str,
           base_url: str | None, skip: int = 0) -> bytes:
    items = resolve(session, raw_codes, org)
    buffer = io.BytesIO()
    try:
        labels.render_pdf(items, buffer, template, base_url=base_url, skip=skip)
    except labels.LabelError as exc:
        raise Invalid(str(exc), code="bad_label_request") from None
    audit.record(session, actor, "labels.print", "labels", items[0].code, None,
                 {"template": template, "count": len(items), "codes": [i.code for i in items[:50]]})
    return buffer.getvalue()
