"""The stocktake report (盘点报告): CSV and PDF, with the counts per class, the lines with their
resolutions and the supply count, and the admin's sign-off.

Both files are made from the same rows (``_report``). The CSV keeps the API's spelling (class and
action codes, location codes, ISO times) and goes through ``server.exports`` (byte-order mark,
formula cells neutralised); the PDF is for people, in the reader's language, made like the gate's
roll call (labels.documents, the CJK font). An open stocktake's report has every line as it
stands; a closed one's is the discrepancy lines kept at closing. Sign-off is the admin's, once,
on a closed stocktake: who and when are kept on the stocktake and the PDF prints them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from flask_babel import format_datetime
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from labels import documents
from server import audit, names
from server.audit import Actor
from server.errors import AlreadyExists, IllegalTransition
from server.exports import to_csv
from server.i18n import N_
from server.models import Location, Stocktake, StocktakeResolution, utcnow
from server.services import stocktake_losses, stocktake_supplies, stocktakes
from server.services.stocktake_supplies import SupplyLine
from server.services.stocktakes import Line

MAX_LINES = 10_000_000


def sign_off(session: Session, actor: Actor, stocktake_id: int, note: str = "") -> Stocktake:
    """The admin signs the closed report off (once): who, when, and what they note."""
    stocktake = stocktakes.by_id(session, stocktake_id, lock=True)
    if stocktake.state != "closed":
        raise IllegalTransition(N_("stocktake %(id)s is still open: close it before signing its report off"),
                                code="stocktake_open", id=stocktake.id)
    if stocktake.signed_off_at is not None:
        raise AlreadyExists(N_("the report of stocktake %(id)s was signed off by %(who)s already"),
                            code="already_signed", id=stocktake.id, who=stocktake.signed_off_by or "")
    before = audit.state(stocktake)
    stocktake.signed_off_by, stocktake.signed_off_at = actor.name, utcnow()
    stocktake.sign_off_note = (note or "").strip()[:2000]
    session.flush()
    # The stocktake's whole audited state, so that the ledger check still finds it as the log says.
    audit.change(session, actor, "stocktake.sign_off", stocktake, before,
                 {"signed_off_by": actor.name, "signed_off_at": stocktake.signed_off_at.isoformat(),
                  "note": stocktake.sign_off_note})
    return stocktake


@dataclass(frozen=True)
class _Report:
    stocktake: Stocktake
    counts: dict[str, int]
    lines: list[Line]
    chosen: dict[str, StocktakeResolution]
    supplies: list[SupplyLine]
    places: dict[int, tuple[str, str]]  # location id -> (code, name)


def _report(session: Session, stocktake: Stocktake) -> _Report:
    chosen = {r.code: r for r in session.scalars(select(StocktakeResolution).where(
        StocktakeResolution.stocktake_id == stocktake.id))}
    places = {i: (c, n) for i, c, n in session.execute(select(Location.id, Location.code, Location.name))}
    return _Report(stocktake, stocktakes.counts(session, stocktake),
                   stocktakes.lines(session, stocktake, limit=MAX_LINES), chosen,
                   stocktake_supplies.lines(session, stocktake), places)


def _when(value: Any) -> str:
    return value.isoformat() if value is not None else ""


def report_csv(session: Session, stocktake: Stocktake) -> bytes:
    """The report as CSV: a header row, the counts per class, the lines with their resolution, the supply count."""
    got = _report(session, stocktake)
    st = got.stocktake
    rows: list[list[Any]] = [["class", "count"], *([cls, n] for cls, n in got.counts.items()), [],
                             ["code", "name", "class", "expected_location", "seen_location", "seen_at", "resolution",
                              "reason"]]
    for line in got.lines:
        res = got.chosen.get(line.code)
        rows.append([line.code, line.name, line.cls, got.places.get(line.expected_location_id or 0, ("", ""))[0],
                     got.places.get(line.seen_location_id or 0, ("", ""))[0], _when(line.seen_at),
                     res.action if res else "", _detail(res) if res else ""])
    rows += [[], ["item", "name", "unit", "counted", "ledger_at_count", "difference"]]
    rows += [[s.code, s.name, s.unit, s.counted, s.expected, s.difference] for s in got.supplies]
    header = ["stocktake", str(st.id), st.scope, st.department, st.state, st.opened_by, _when(st.opened_at),
              st.closed_by or "", _when(st.closed_at), st.signed_off_by or "", _when(st.signed_off_at)]
    return to_csv(header, rows)


def _scope(got: _Report) -> str:
    st = got.stocktake
    if st.scope == "department":
        return _("Department %(name)s", name=st.department)
    if st.scope == "locations":
        return ", ".join(got.places.get(i, ("", str(i)))[1] for i in st.location_ids or [])
    return _("Whole office")


def _place(got: _Report, location_id: int | None) -> str:
    code, name = got.places.get(location_id or 0, ("", ""))
    return f"{name} {code}".strip()


def _facts(got: _Report, org: str) -> list[tuple[str, str]]:
    st = got.stocktake
    facts = [(_("Organisation"), org), (_("Scope"), _scope(got)),
             (_("Opened"), f"{format_datetime(st.opened_at, 'short')} {st.opened_by}"),
             (_("State"), _("Closed") if st.state == "closed" else _("Open"))]
    if st.closed_at is not None:
        closed = f"{format_datetime(st.closed_at, 'short')} {st.closed_by or ''}"
        facts.append((_("Closed"), closed + (" " + _("(with unresolved lines)") if st.forced else "")))
    return facts


def _sign_off_block(st: Stocktake) -> list[str]:
    if st.signed_off_at is None:
        return [_("Signed off by the admin: ____________    Date: ________")]
    lines = [_("Signed off by %(who)s on %(at)s", who=st.signed_off_by or "",
               at=format_datetime(st.signed_off_at, "short"))]
    return lines + ([_("Note: %(note)s", note=st.sign_off_note)] if st.sign_off_note else [])


def report_pdf(session: Session, stocktake: Stocktake, org: str) -> bytes:
    """The report to print and keep, in the reader's language, with the sign-off (or a line for it)."""
    got = _report(session, stocktake)
    col = documents.Column
    counts = documents.Section(_("Counts per class"), [col(_("Class"), 120), col(_("Lines"), 60)],
                               [[names.stocktake_class(c), str(n)] for c, n in got.counts.items()])
    listed = [[line.code, line.name, names.stocktake_class(line.cls), _place(got, line.expected_location_id),
               _place(got, line.seen_location_id), _resolution(got.chosen.get(line.code))]
              for line in got.lines]
    lines = documents.Section(_("Lines"), [col(_("Code"), 26), col(_("Name"), 34), col(_("Class"), 24),
                                           col(_("Expected at"), 32), col(_("Seen at"), 32),
                                           col(_("Resolution"), 32)], listed)
    counted = documents.Section(_("Supply count"), [col(_("Item"), 28), col(_("Name"), 52), col(_("Counted"), 30),
                                                    col(_("Ledger at the count"), 40), col(_("Difference"), 30)],
                                [[s.code, s.name, f"{s.counted} {s.unit}", f"{s.expected} {s.unit}",
                                  f"{s.difference:+d}"] for s in got.supplies])
    buffer = io.BytesIO()
    documents.render_report(buffer, _("Stocktake report %(id)s", id=stocktake.id), _facts(got, org),
                            [counts, lines, counted], _sign_off_block(stocktake))
    return buffer.getvalue()


def _detail(row: StocktakeResolution) -> str:
    """The reason, the approval reference, or the approval chain a loss went through."""
    return row.reason or row.approval_ref or (stocktake_losses.approval_ref(row.approval_id) if row.approval_id else "")


def _resolution(row: StocktakeResolution | None) -> str:
    if row is None:
        return ""
    detail = _detail(row)
    return f"{names.resolution(row.action)}: {detail}" if detail else names.resolution(row.action)
