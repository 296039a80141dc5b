"""Seals' rows as JSON for the API: seals, their history, use requests and uses, take-outs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from server import serialize
from server.models import Seal, SealEvent, SealImprint, SealTakeout, SealUse, SealUseRequest
from server.services import seal_takeouts


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def seal(row: Seal, imprint: SealImprint | None = None, out: SealTakeout | None = None) -> dict[str, Any]:
    return {
        "code": row.code, "name": row.name, "kind": row.kind, "department": row.department,
        "custodian": serialize.person(row.custodian), "status": row.status,
        "made_on": row.made_on.isoformat() if row.made_on else None, "note": row.note,
        "imprint": {"id": imprint.id, "sha256": imprint.sha256, "width": imprint.width, "height": imprint.height,
                    "uploaded_by": imprint.uploaded_by, "uploaded_at": imprint.uploaded_at.isoformat()}
        if imprint else None,
        "out_on": out.id if out else None,  # the take-out it is out on now
        "replaces": _code_of(row, row.replaces_id),  # the seal it was re-made to replace
        "created_at": row.created_at.isoformat(), "updated_at": row.updated_at.isoformat(),
    }


def _code_of(row: Seal, seal_id: int | None) -> str | None:
    from sqlalchemy.orm import object_session

    session = object_session(row) if seal_id is not None else None
    found = session.get(Seal, seal_id) if session is not None else None
    return found.code if found is not None else None


def event(row: SealEvent) -> dict[str, Any]:
    return {"action": row.action, "from_status": row.from_status, "to_status": row.to_status,
            "approval_ref": row.approval_ref, "reason": row.reason, "actor": row.actor, "source": row.source,
            "at": row.at.isoformat()}


def use(row: SealUse) -> dict[str, Any]:
    return {"id": row.id, "request": row.request_id, "copies": row.copies,
            "stamped_by": serialize.person(row.stamped_by), "at": row.at.isoformat(), "recorded_by": row.recorded_by,
            "source": row.source, "recorded_at": row.recorded_at.isoformat(), "note": row.note}


def use_request(row: SealUseRequest, fulfilment: dict[str, Any], uses: list[SealUse] | None = None) -> dict[str, Any]:
    out = {"id": row.id, "seal": {"code": row.seal.code, "name": row.seal.name}, "department": row.department,
           "requester": row.requester, "document_title": row.document_title, "copies": row.copies,
           "recipient": row.recipient, "purpose": row.purpose, "approval": serialize.approval(row.approval),
           "fulfilment": fulfilment, "created_at": row.created_at.isoformat()}
    if uses is not None:
        out["uses"] = [use(u) for u in uses]
    return out


def takeout(row: SealTakeout, now: datetime | None = None) -> dict[str, Any]:
    return {"id": row.id, "seal": {"code": row.seal.code, "name": row.seal.name}, "department": row.department,
            "requester": row.requester, "carrier": serialize.person(row.carrier), "destination": row.destination,
            "purpose": row.purpose, "due_at": row.due_at.isoformat(), "state": seal_takeouts.state(row, now),
            "approval": serialize.approval(row.approval), "out_at": _iso(row.out_at), "out_by": row.out_by,
            "out_source": row.out_source, "returned_at": _iso(row.returned_at), "returned_by": row.returned_by,
            "return_source": row.return_source, "created_at": row.created_at.isoformat()}
