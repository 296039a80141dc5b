"""The gate's rows as JSON for the API (passes, visits, on-site rows, permits, alerts, watchlist)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from server.models import ExitPermit, GateAlert, Notification, Visit
from server.services import exit_permits
from server.services.visitors import PassView
from server.services.visits import OnSite
from server.services.watchlist import EntryView


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def visit(row: Visit, plate: str = "") -> dict[str, Any]:
    return {"id": row.id, "pass": row.visitor_pass.code, "signed_in_at": row.signed_in_at.isoformat(),
            "recorded_at": row.recorded_at.isoformat(), "in_source": row.in_source, "plate": plate or None,
            "signed_out_at": _iso(row.signed_out_at), "out_kind": row.out_kind, "out_source": row.out_source,
            "conflict": row.conflict}


def visitor_pass(view: PassView) -> dict[str, Any]:
    return {
        "code": view.code, "kind": view.kind, "status": view.status,
        "host": {"code": view.host_code, "name": view.host_name}, "purpose": view.purpose,
        "valid_from": view.valid_from.isoformat(), "valid_until": view.valid_until.isoformat(),
        "name": view.name, "organisation": view.organisation, "id_last4": view.id_last4 or None,
        "plate": view.plate or None, "created_by": view.created_by, "created_at": view.created_at.isoformat(),
        "approval": {"id": view.approval_id, "state": view.approval_state} if view.approval_id else None,
        "revoked_at": _iso(view.revoked_at), "revoke_reason": view.revoke_reason or None, "purged": view.purged,
        "visits": [visit(v) for v in view.visits],
    }


def on_site(row: OnSite) -> dict[str, Any]:
    return {"pass": row.code, "name": row.name, "organisation": row.organisation,
            "host": {"code": row.host_code, "name": row.host_name}, "purpose": row.purpose,
            "plate": row.plate or None, "since": row.since.isoformat(), "gate": row.source, "conflict": row.conflict}


def permit(row: ExitPermit) -> dict[str, Any]:
    return {
        "id": row.id, "state": exit_permits.state_of(row), "reason": row.reason, "carrier": row.carrier,
        "valid_until": row.valid_until.isoformat(), "loan": row.loan,
        "expected_return": row.expected_return.isoformat() if row.expected_return else None,
        "issued_by": row.issued_by, "created_at": row.created_at.isoformat(), "revoked_at": _iso(row.revoked_at),
        "assets": [{"code": item.asset.code, "name": item.asset.name, "exited_at": _iso(item.exited_at),
                    "returned_at": _iso(item.returned_at)} for item in row.items],
    }


def alert(row: GateAlert) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "at": row.at.isoformat(), "source": row.source, "subject": row.subject,
            "detail": row.detail, "resolved_at": _iso(row.resolved_at), "resolved_by": row.resolved_by}


def notification(row: Notification) -> dict[str, Any]:
    return {"id": row.id, "channel": row.channel, "kind": row.kind, "recipient": row.recipient,
            "attempts": row.attempts, "created_at": row.created_at.isoformat(), "sent_at": _iso(row.sent_at),
            "failed_at": _iso(row.failed_at), "next_attempt_at": _iso(row.next_attempt_at),
            "last_error": row.last_error or None}


def watch_entry(row: EntryView) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "label": row.label, "aliases": row.aliases, "note": row.note,
            "created_by": row.created_by}
