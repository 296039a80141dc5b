"""The gate's printed things: a visitor pass (PDF, and its QR as PNG), the roll call, the visits export.

Each is made through the labels package (the CJK font, vector QR) or server.exports, in the
reader's language (the caller is a web or API request), and each print or export of personal data is
an audit entry naming who made it and how many visitors it holds, never the names.
"""

from __future__ import annotations

import io
from datetime import datetime

import segno
from flask_babel import format_datetime
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from contract import codes
from labels import documents
from server import audit
from server.audit import Actor
from server.exports import to_csv
from server.models import Visit, VisitorPass, utcnow
from server.personal import policy
from server.services import visitors, visits


def qr_png(code: str, base_url: str | None, scale: int = 10) -> bytes:
    buffer = io.BytesIO()
    segno.make(codes.label_text(code, base_url), error="m", micro=False).save(buffer, kind="png", scale=scale,
                                                                               border=4)
    return buffer.getvalue()


def _window(view: visitors.PassView) -> str:
    return f"{format_datetime(view.valid_from, 'short')} – {format_datetime(view.valid_until, 'short')}"


def pass_pdf(session: Session, actor: Actor, rows: list[VisitorPass], org: str, base_url: str | None) -> bytes:
    cards = []
    for row in rows:
        view = visitors.view(session, row)
        lines = [(_("Host"), f"{view.host_name} ({view.host_code})"), (_("Organisation"), view.organisation),
                 (_("Valid"), _window(view))]
        if view.plate:
            lines.append((_("Plate"), view.plate))
        if view.purpose:
            lines.append((_("Purpose"), view.purpose))
        title = _("Visitor pass")
        cards.append(documents.PassCard(code=row.code, content=codes.label_text(row.code, base_url),
                                        title=f"{org} {title}", name=view.name or _("(walk-in)"),
                                        lines=lines, footer=_("Keep this pass with you and hand it back at the gate "
                                                              "when you leave.")))
    buffer = io.BytesIO()
    documents.render_passes(cards, buffer)
    audit.record(session, actor, "visitor_pass.print", "visitor_pass_print", rows[0].code, None,
                 {"passes": [row.code for row in rows[:50]], "count": len(rows)})
    return buffer.getvalue()


def roll_call_pdf(session: Session, actor: Actor, org: str, now: datetime | None = None) -> bytes:
    now = now or utcnow()
    present = visits.on_site(session)
    widths = ((_("No."), 10), (_("Full name"), 30), (_("Organisation"), 38), (_("Pass"), 27), (_("Host"), 25),
              (_("Plate"), 20), (_("Since"), 16), (_("Checked"), 14))
    columns = [documents.Column(title, width) for title, width in widths]
    rows = [[str(n), v.name, v.organisation, v.code, v.host_name, v.plate,
             format_datetime(v.since, "HH:mm"), ""] for n, v in enumerate(present, 1)]
    buffer = io.BytesIO()
    title = _("Roll call")
    documents.render_table(buffer, f"{org} {title}",
                           _("On site now: %(count)s · printed %(at)s", count=len(present),
                             at=format_datetime(now, "short")),
                           columns, rows, footer=_("Counted by: ____________    Time: ________"))
    audit.record(session, actor, "visitors.roll_call", "visitors", now.isoformat(), None, {"on_site": len(present)})
    return buffer.getvalue()


def visits_csv(session: Session, actor: Actor, day_from: datetime, day_to: datetime) -> bytes:
    """Every visit signed in within [day_from, day_to), with the visitor's fields: admin only, logged."""
    vault = policy(session).vault
    query = (select(Visit).where(Visit.signed_in_at >= day_from, Visit.signed_in_at < day_to)
             .order_by(Visit.signed_in_at, Visit.id))
    header = [_("Pass"), _("Full name"), _("Organisation"), _("Host"), _("Purpose"), _("Plate"), _("Signed in"),
              _("Signed out"), _("How it ended"), _("Gate"), _("Conflict")]
    rows = []
    for visit in session.scalars(query):
        row = visit.visitor_pass
        rows.append([row.code, vault.open(row.name_enc) or "", vault.open(row.organisation_enc) or "",
                     row.host.name, row.purpose, vault.open(visit.plate_enc) or "", visit.signed_in_at.isoformat(),
                     visit.signed_out_at.isoformat() if visit.signed_out_at else "", visit.out_kind or "",
                     visit.in_source, _("yes") if visit.conflict else ""])
    audit.record(session, actor, "visitors.export", "visitors", day_from.date().isoformat(), None,
                 {"from": day_from.isoformat(), "to": day_to.isoformat(), "visits": len(rows)})
    return to_csv(header, rows)
