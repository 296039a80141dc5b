"""The use register (用印登记簿): every recorded use, by seal, department and period; as a page, a CSV file
and a PDF printed like the paper register it replaces.

The PDF is drawn by reportlab's platypus (a table over landscape A4 pages, its header repeated on each,
wrapping CJK text between any two characters) in the labels package's font (``labels.fonts.locate``:
a TrueType CJK font, WenQuanYi Micro Hei by default, or ``ASSETGATE_LABEL_FONT``), embedded as a
subset. As on the labels, a character the font lacks is drawn as "?", never as an invisible box, and
every text from the ledger is escaped before it reaches platypus' markup. The CSV goes through
``server.exports`` (BOM, formula cells neutralised). Each print and export is an audit entry.
The caller is a web or API request: headings are in the reader's language.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from flask_babel import format_datetime
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from labels import fonts
from labels.text import ellipsize
from server import audit, names
from server.audit import Actor
from server.errors import Invalid
from server.exports import to_csv
from server.i18n import N_
from server.models import Seal, SealUse, SealUseRequest
from server.services import seals

MAX_ROWS = 20_000
MAX_PDF_ROWS = 5_000  # about 2 ms of CPU a line: 10 s for the largest PDF, made inside the request
FONT_NAME = "AssetGateCJK"
PADDING = 3  # points, each side of a cell


@dataclass(frozen=True)
class Filters:
    seal: str | None = None  # A- code
    department: str | None = None
    since: date | None = None  # first day, office time zone
    until: date | None = None  # last day, included


@dataclass(frozen=True)
class Row:
    no: int
    at: datetime
    seal_code: str
    seal_name: str
    seal_kind: str
    department: str
    document_title: str
    recipient: str
    purpose: str
    copies: int
    approved_by: str
    requester: str
    stamped_by: str
    recorded_by: str
    request_id: int


@dataclass(frozen=True)
class Register:
    filters: Filters
    rows: list[Row] = field(default_factory=list)

    @property
    def copies(self) -> int:
        return sum(r.copies for r in self.rows)


def build(session: Session, filters: Filters, zone: str) -> Register:
    """The uses that match, in the order they were stamped."""
    if filters.since and filters.until and filters.since > filters.until:
        raise Invalid(N_("the first day is after the last day"), code="bad_period", field="since")
    tz = ZoneInfo(zone)
    query = (select(SealUse, SealUseRequest, Seal).join(SealUseRequest, SealUse.request_id == SealUseRequest.id)
             .join(Seal, SealUse.seal_id == Seal.id))
    if filters.seal:
        query = query.where(SealUse.seal_id == seals.by_code(session, filters.seal).id)
    if filters.department:
        query = query.where(SealUseRequest.department == filters.department[:100])
    if filters.since:
        query = query.where(SealUse.at >= datetime.combine(filters.since, time.min, tz))
    if filters.until:
        query = query.where(SealUse.at < datetime.combine(filters.until + timedelta(days=1), time.min, tz))
    found = session.execute(query.order_by(SealUse.at, SealUse.id).limit(MAX_ROWS + 1)).unique().all()
    if len(found) > MAX_ROWS:
        raise Invalid(N_("more than %(most)s uses match: choose a shorter period or one seal"), code="too_many_rows",
                      most=MAX_ROWS)
    rows = []
    for no, (use, request, seal) in enumerate(found, 1):
        approvers = "、".join(d.decided_by for d in request.approval.decisions if d.decision == "approve")
        rows.append(Row(no, use.at, seal.code, seal.name, seal.kind, request.department, request.document_title,
                        request.recipient, request.purpose, use.copies, approvers, request.requester,
                        use.stamped_by.name, use.recorded_by, request.id))
    return Register(filters, rows)


def _columns() -> list[tuple[str, float]]:
    """(heading, width in mm) of the paper register, in the reader's language."""
    return [(_("Line no."), 10), (_("Date stamped"), 27), (_("Seal"), 30), (_("Department"), 24),
            (_("Document title"), 43), (_("Copies"), 11), (_("Recipient organisation"), 32), (_("Purpose"), 36),
            (_("Approved by"), 20), (_("Requester"), 18), (_("Stamped by"), 16)]


def _cells(row: Row) -> list[str]:
    return [str(row.no), format_datetime(row.at, "yyyy-MM-dd HH:mm"), f"{row.seal_name}\n{row.seal_code}",
            row.department, row.document_title, str(row.copies), row.recipient, row.purpose, row.approved_by,
            row.requester, row.stamped_by]


def subtitle(register: Register) -> str:
    f = register.filters
    parts = []
    if f.seal:
        parts.append(_("Seal: %(seal)s", seal=f.seal))
    if f.department:
        parts.append(_("Department: %(department)s", department=f.department))
    if f.since or f.until:
        parts.append(_("Period: %(since)s to %(until)s", since=f.since.isoformat() if f.since else "…",
                       until=f.until.isoformat() if f.until else "…"))
    parts.append(_("%(count)s uses, %(copies)s copies", count=len(register.rows), copies=register.copies))
    return " · ".join(parts)


def csv_file(session: Session, actor: Actor, register: Register) -> bytes:
    headers = [_("Line no."), _("Date stamped"), _("Seal code"), _("Seal"), _("Kind"), _("Department"),
               _("Document title"), _("Copies"), _("Recipient organisation"), _("Purpose"), _("Approved by"),
               _("Requester"), _("Stamped by"), _("Recorded by"), _("Use request")]
    rows = [[r.no, format_datetime(r.at, "yyyy-MM-dd HH:mm"), r.seal_code, r.seal_name, names.seal_kind(r.seal_kind),
             r.department, r.document_title, r.copies, r.recipient, r.purpose, r.approved_by, r.requester,
             r.stamped_by, r.recorded_by, r.request_id] for r in register.rows]
    _audit(session, actor, "seal.register_export", register)
    return to_csv(headers, rows)


def _audit(session: Session, actor: Actor, action: str, register: Register) -> None:
    f = register.filters
    audit.record(session, actor, action, "seal_register", f.seal or "all", None, {
        "seal": f.seal, "department": f.department, "since": f.since.isoformat() if f.since else None,
        "until": f.until.isoformat() if f.until else None, "uses": len(register.rows)})


@cache
def _font() -> fonts.FontFace:
    """The labels' CJK font, registered with reportlab once per process."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    path, index = fonts.locate()
    pdfmetrics.registerFont(TTFont(FONT_NAME, path, subfontIndex=index))
    return fonts.load(path, index)


# The columns of ``_cells`` whose text may need more than one line.
WRAPPED = frozenset({2, 3, 4, 6, 7, 8})


def _plain(text: str, face: fonts.FontFace, width: float) -> str:
    """A short cell drawn as it is (no markup is read from it), the font's missing characters as "?",
    cut with an ellipsis where it would not fit its column (never drawn outside its box)."""
    return ellipsize("".join(ch if face.has(ch) else fonts.REPLACEMENT for ch in text), face.width, 8, width)


def _printable(text: str, face: fonts.FontFace) -> str:
    """Escaped for platypus' markup, lines kept, characters the font lacks drawn as "?" (as labels do)."""
    shown = "".join(ch if ch == "\n" or face.has(ch) else fonts.REPLACEMENT for ch in text)
    return escape(shown).replace("\n", "<br/>")


def pdf_file(session: Session, actor: Actor, register: Register, org: str, now: datetime) -> bytes:
    """The register as the paper book: landscape A4, a header on every page, a line per use."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    if len(register.rows) > MAX_PDF_ROWS:
        raise Invalid(N_("more than %(most)s uses to print: choose a shorter period or one seal"),
                      code="too_many_rows", most=MAX_PDF_ROWS)
    face = _font()
    cell = ParagraphStyle("cell", fontName=FONT_NAME, fontSize=8, leading=10, wordWrap="CJK")
    head = ParagraphStyle("head", parent=cell, fontSize=8.5)
    title = ParagraphStyle("title", fontName=FONT_NAME, fontSize=16, leading=20, alignment=1, wordWrap="CJK")
    small = ParagraphStyle("small", fontName=FONT_NAME, fontSize=9, leading=12, wordWrap="CJK")
    columns = _columns()
    data: list[list[Any]] = [[Paragraph(_printable(h, face), head) for h, _w in columns]]
    for row in register.rows:
        # Only the free texts wrap (a Paragraph each, most of the PDF's time); the short ones are strings.
        data.append([Paragraph(_printable(text, face), cell) if i in WRAPPED
                     else _plain(text, face, columns[i][1] * mm - 2 * PADDING) for i, text in enumerate(_cells(row))])
    if not register.rows:
        data.append([Paragraph(_printable(_("No uses recorded."), face), cell)] + [""] * (len(columns) - 1))
    table = Table(data, colWidths=[w * mm for _h, w in columns], repeatRows=1)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.black), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("FONT", (0, 1), (-1, -1), FONT_NAME, 8), ("LEADING", (0, 1), (-1, -1), 10),
                               ("LEFTPADDING", (0, 0), (-1, -1), PADDING), ("RIGHTPADDING", (0, 0), (-1, -1), PADDING),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee"))]))
    heading = _("%(org)s use register of seals", org=org)
    printed = _("Printed %(at)s by %(who)s", at=format_datetime(now, "yyyy-MM-dd HH:mm"), who=actor.name)

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT_NAME, 8)
        text = f"{heading} · {printed} · " + _("Page %(page)s", page=doc.page)
        canvas.drawString(12 * mm, 7 * mm, "".join(ch if face.has(ch) else fonts.REPLACEMENT for ch in text))
        canvas.restoreState()

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=12 * mm, bottomMargin=14 * mm, title=heading, author="AssetGate")
    doc.build([Paragraph(_printable(heading, face), title), Spacer(1, 3 * mm),
               Paragraph(_printable(subtitle(register), face), small), Spacer(1, 3 * mm), table],
              onFirstPage=footer, onLaterPages=footer)
    _audit(session, actor, "seal.register_print", register)
    return buffer.getvalue()
