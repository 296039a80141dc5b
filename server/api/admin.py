"""REST: audit log, kiosks and the consumer's rejected log."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, jsonify, request
from sqlalchemy import func, select

from server import audit, serialize, settings_of
from server.api import LIMIT, Param, bp, page_args, query
from server.auth import roles
from server.errors import Invalid
from server.i18n import N_
from server.models import Kiosk, KioskEvent, RejectedMessage
from server.services import auditlog, health, kiosks, rejected


def _keyset_limit() -> int:
    """The page size of a keyset-paged list; ``offset`` is refused (``after`` takes the ``next`` cursor)."""
    if "offset" in request.args:
        raise Invalid(N_("this list pages by cursor: pass the answer's next as after"), code="bad_paging")
    return page_args()[0]


@bp.get("/audit")
@roles("auditor")
@query(LIMIT, Param("after", "the next cursor of the page before"), Param("actor", "who"),
       Param("action", "an action, or a family such as user"), Param("entity", "what kind of row"),
       Param("entity_id", "which row"), Param("since", "first day (YYYY-MM-DD)"), Param("until", "last day"))
def audit_log() -> Any:
    """The audit log, newest first: ?actor= &action= (or a family: user) &entity= &entity_id= &since= &until=
    (days, YYYY-MM-DD, office time zone) &limit= &after=<next>."""
    limit = _keyset_limit()
    flt = auditlog.parse_filter(request.args)
    page = auditlog.browse(g.db, flt, settings_of(current_app).timezone, request.args.get("after"), limit)
    return jsonify(items=[serialize.audit_entry(r) for r in page.items], next=page.next_cursor)


@bp.get("/audit/verify")
@roles("auditor")
def audit_verify() -> Any:
    """Walk the hash chain; names the first broken row."""
    report = audit.verify(g.db)
    return jsonify(ok=report.ok, rows=report.rows, broken_at=report.broken_at, problem=report.problem)


@bp.get("/kiosks")
@roles("auditor")
def kiosk_fleet() -> Any:
    """Kiosk fleet: online state, last seen, outbox depth, held events, events, rejects (logged and
    only counted), seq gaps; and whether ingestion is up."""
    return jsonify(items=kiosks.fleet(g.db), ingestion=health.ingestion_status(g.db))


@bp.get("/kiosks/rejected")
@roles("auditor")
@query(LIMIT, Param("after", "the next cursor of the page before"))
def rejected_log() -> Any:
    """Messages the consumer refused, newest first, with reason and a bounded copy:
    ?kiosk= &reason= &limit= &after=<next>."""
    limit = _keyset_limit()
    page = kiosks.rejected_page(g.db, request.args.get("kiosk") or None, request.args.get("reason") or None,
                                request.args.get("after"), limit)
    return jsonify(items=[{"id": r.id, "at": r.received_at.isoformat(), "topic": r.topic, "kiosk": r.kiosk,
                           "event_id": r.event_id, "reason": r.reason, "detail": r.detail, "size": r.size,
                           "raw": r.raw} for r in page.items], next=page.next_cursor)


@bp.get("/metrics")
@roles("auditor")
def metrics() -> Any:
    """Prometheus text: events stored per kiosk, rejects logged per reason, rejects not logged per
    kiosk and reason, kiosks online, ingestion up."""
    lines = ["# HELP assetgate_kiosk_events_total Kiosk events stored, per kiosk.",
             "# TYPE assetgate_kiosk_events_total counter"]
    for kiosk, count in g.db.execute(select(KioskEvent.kiosk, func.count()).group_by(KioskEvent.kiosk)):
        lines.append(f'assetgate_kiosk_events_total{{kiosk="{kiosk}"}} {count}')
    lines += ["# HELP assetgate_rejected_messages_total Messages the consumer refused, per reason.",
              "# TYPE assetgate_rejected_messages_total counter"]
    for reason, count in g.db.execute(select(RejectedMessage.reason, func.count()).group_by(RejectedMessage.reason)):
        lines.append(f'assetgate_rejected_messages_total{{reason="{reason}"}} {count}')
    lines += ["# HELP assetgate_rejected_log_dropped_total Refused messages answered but not logged "
              "(over their kiosk's rate), per kiosk and reason.",
              "# TYPE assetgate_rejected_log_dropped_total counter"]
    for kiosk, reason, count in rejected.drop_rows(g.db):
        lines.append(f'assetgate_rejected_log_dropped_total{{kiosk="{kiosk}",reason="{reason}"}} {count}')
    online = sum(1 for k in g.db.scalars(select(Kiosk).where(Kiosk.revoked_at.is_(None)))
                 if k.status.get("state") == "online")
    lines += ["# HELP assetgate_kiosks_online Enrolled kiosks whose last status is online.",
              "# TYPE assetgate_kiosks_online gauge", f"assetgate_kiosks_online {online}"]
    up = health.ingestion_status(g.db)["state"] == "up"
    lines += ["# HELP assetgate_ingestion_up 1 while a consumer's heartbeat is fresh (kiosk events are being stored).",
              "# TYPE assetgate_ingestion_up gauge", f"assetgate_ingestion_up {int(up)}"]
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")
