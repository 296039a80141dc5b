"""The archive's rows as the REST API sends them: codes stay codes, times are ISO 8601 in UTC."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from server import serialize
from server.models import ArchiveClass, ArchiveConflict, ArchiveDestruction, ArchiveLoan, ArchiveVolume
from server.services import archive_conflicts, archive_destruction, archive_loans


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def archive_class(row: ArchiveClass) -> dict[str, Any]:
    return {"code": row.code, "name": row.name, "loan_days": row.loan_days, "on_site_only": row.on_site_only}


def volume(row: ArchiveVolume, loan: ArchiveLoan | None = None) -> dict[str, Any]:
    asset = row.asset
    return {
        "code": asset.code, "title": asset.name, "kind": row.kind, "reference": row.reference,
        "class": row.archive_class.code, "year": row.year, "retention": row.retention,
        "retention_until": row.retention_until.isoformat() if row.retention_until else None,
        "confidentiality": row.confidentiality, "on_site_only": archive_loans.on_site_only(row),
        "shelf": asset.location.code if asset.location else None, "status": asset.status,
        "parent": _code_of(row, row.parent_id) if row.parent_id else None, "on_loan": loan.id if loan else None,
    }


def _code_of(row: ArchiveVolume, asset_id: int) -> str | None:
    from sqlalchemy.orm import object_session

    session = object_session(row)
    parent = session.get(ArchiveVolume, asset_id) if session else None
    return parent.asset.code if parent else None


def loan(row: ArchiveLoan) -> dict[str, Any]:
    return {
        "id": row.id, "volume": row.volume.asset.code, "title": row.volume.asset.name,
        "borrower": row.borrower.code, "borrower_name": row.borrower.name, "department": row.department,
        "purpose": row.purpose, "on_site": row.on_site, "due_on": row.due_on.isoformat(),
        "state": archive_loans.state(row), "requester": row.requester, "lent_at": _time(row.lent_at),
        "lent_by": row.lent_by, "due_at": _time(row.due_at), "returned_at": _time(row.returned_at),
        "returned_by": row.returned_by, "late": archive_loans.late(row), "reminders": row.reminders,
        # None: lent at a kiosk off line without a request (a conflict for the archive manager)
        "approval": serialize.approval(row.approval) if row.approval is not None else None,
        "created_at": row.created_at.isoformat(),
    }


def destruction(row: ArchiveDestruction) -> dict[str, Any]:
    return {
        "id": row.id, "state": archive_destruction.state(row), "requester": row.requester, "reason": row.reason,
        "volumes": [item.volume.asset.code for item in row.items], "destroyed_at": _time(row.destroyed_at),
        "executor": row.executor, "witnesses": archive_destruction.witness_list(row.witnesses or ""),
        "method": row.method, "recorded_by": row.recorded_by, "approval": serialize.approval(row.approval),
        "created_at": row.created_at.isoformat(),
    }


def conflict(row: ArchiveConflict) -> dict[str, Any]:
    return {
        "id": row.id, "kind": row.kind, "reason": row.reason, "message": archive_conflicts.describe(row),
        "volume": row.volume.asset.code, "borrower": row.borrower.code if row.borrower else None,
        "loan": row.loan_id, "kiosk": row.kiosk, "event": row.kiosk_event_id, "at": row.at.isoformat(),
        "recorded_at": row.recorded_at.isoformat(), "settled_at": _time(row.settled_at),
        "settled_by": row.settled_by, "note": row.note,
    }
