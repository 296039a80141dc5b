"""REST: audit log, kiosks and the consumer's rejected log."""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify
from sqlalchemy import func, select

from server import audit, serialize
from server.api import LIMIT, OFFSET, bp, page_args, query
from server.auth import roles
from server.models import AuditEntry, Kiosk, KioskEvent, RejectedMessage
from server.services import kiosks


@bp.get("/audit")
@roles("auditor")
@query(LIMIT, OFFSET)
def audit_log() -> Any:
    """The audit log, newest first."""
    limit, offset = page_args()
    rows = g.db.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit).offset(offset))
    return jsonify(items=[serialize.audit_entry(r) for r in rows])


@bp.get("/audit/verify")
@roles("auditor")
def audit_verify() -> Any:
    """Walk the hash chain; names the first broken row."""
    report = audit.verify(g.db)
    return jsonify(ok=report.ok, rows=report.rows, broken_at=report.broken_at, problem=report.problem)


@bp.get("/kiosks")
@roles("auditor")
def kiosk_fleet() -> Any:
    """Kiosk fleet: online state, last seen, outbox depth, events, rejects, seq gaps."""
    return jsonify(items=kiosks.fleet(g.db))


@bp.get("/kiosks/rejected")
@roles("auditor")
@query(LIMIT, OFFSET)
def rejected_log() -> Any:
    """Messages the consumer refused, newest first, with reason and a bounded copy."""
    limit, offset = page_args()
    rows = g.db.scalars(select(RejectedMessage).order_by(RejectedMessage.id.desc()).limit(limit).offset(offset))
    return jsonify(items=[{"at": r.received_at.isoformat(), "topic": r.topic, "kiosk": r.kiosk,
                           "event_id": r.event_id, "reason": r.reason, "detail": r.detail, "size": r.size,
                           "raw": r.raw} for r in rows])


@bp.get("/metrics")
@roles("auditor")
def metrics() -> Any:
    """Prometheus text: events stored per kiosk, rejects per reason, kiosks online."""
    lines = ["# HELP assetgate_kiosk_events_total Kiosk events stored, per kiosk.",
             "# TYPE assetgate_kiosk_events_total counter"]
    for kiosk, count in g.db.execute(select(KioskEvent.kiosk, func.count()).group_by(KioskEvent.kiosk)):
        lines.append(f'assetgate_kiosk_events_total{{kiosk="{kiosk}"}} {count}')
    lines += ["# HELP assetgate_rejected_messages_total Messages the consumer refused, per reason.",
              "# TYPE assetgate_rejected_messages_total counter"]
    for reason, count in g.db.execute(select(RejectedMessage.reason, func.count()).group_by(RejectedMessage.reason)):
        lines.append(f'assetgate_rejected_messages_total{{reason="{reason}"}} {count}')
    online = sum(1 for k in g.db.scalars(select(Kiosk).where(Kiosk.revoked_at.is_(None)))
                 if k.status.get("state") == "online")
    lines += ["# HELP assetgate_kiosks_online Enrolled kiosks whose last status is online.",
              "# TYPE assetgate_kiosks_online gauge", f"assetgate_kiosks_online {online}"]
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")
