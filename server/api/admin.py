"""REST: audit log, kiosks and the consumer's rejected log."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify
from sqlalchemy import select

from server import audit, serialize
from server.api import bp, page_args
from server.auth import roles
from server.models import AuditEntry, RejectedMessage
from server.services import kiosks


@bp.get("/audit")
@roles("auditor")
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
def rejected_log() -> Any:
    """Messages the consumer refused, newest first, with reason and a bounded copy."""
    limit, offset = page_args()
    rows = g.db.scalars(select(RejectedMessage).order_by(RejectedMessage.id.desc()).limit(limit).offset(offset))
    return jsonify(items=[{"at": r.received_at.isoformat(), "topic": r.topic, "kiosk": r.kiosk,
                           "event_id": r.event_id, "reason": r.reason, "detail": r.detail, "size": r.size,
                           "raw": r.raw} for r in rows])
