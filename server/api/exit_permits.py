"""REST: exit permits (物品放行条): issue, revoke, list; an asset scanned at the gate desk; overdue loans."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from flask import g, jsonify, request
from pydantic import AwareDatetime, Field

from server import gate_serialize as out
from server.api import Body, accepts, bp
from server.api.visitors import DESK, refused
from server.auth import READERS, roles
from server.errors import DomainError
from server.models import ExitPermit
from server.services import exit_permits, paging

ISSUERS = ("storekeeper",)  # admin always may


class PermitBody(Body):
    assets: list[Annotated[str, Field(max_length=300)]] = Field(min_length=1, max_length=exit_permits.MAX_ASSETS,
                                                                 description="A- codes")
    reason: str = Field(min_length=1, max_length=2000)
    carrier: str = Field(min_length=1, max_length=200)
    valid_until: AwareDatetime
    loan: bool = False
    expected_return: date | None = None


class GateScanIn(Body):
    tag: str = Field(min_length=1, max_length=300)


@bp.get("/exit-permits")
@roles(*READERS)
def list_permits() -> Any:
    """Permits, newest first; ?state=active|loans_out|overdue|revoked; keyset pages (after=cursor)."""
    query = exit_permits.listing(g.db, request.args.get("state") or None)
    page = paging.keyset_page(g.db, query, [ExitPermit.id], request.args.get("after"), True,
                              min(max(request.args.get("limit", 50, type=int), 1), 500))
    return jsonify(items=[out.permit(p) for p in page.items], next=page.next_cursor)


@bp.post("/exit-permits")
@roles(*ISSUERS)
@accepts(PermitBody)
def issue_permit(body: PermitBody) -> Any:
    """Issue an exit permit for one or more assets (a loan names the day it is expected back)."""
    permit = exit_permits.issue(g.db, g.actor, exit_permits.PermitIn(
        assets=body.assets, reason=body.reason, carrier=body.carrier, valid_until=body.valid_until, loan=body.loan,
        expected_return=body.expected_return))
    g.db.commit()
    return jsonify(out.permit(permit)), 201


@bp.get("/exit-permits/overdue")
@roles(*READERS)
def overdue_loans() -> Any:
    """Assets out on a loan past the day they were expected back."""
    return jsonify(items=[{"permit": item.permit_id, "asset": item.asset.code, "name": item.asset.name,
                           "exited_at": item.exited_at.isoformat() if item.exited_at else None,
                           "expected_return": item.permit.expected_return.isoformat()
                           if item.permit.expected_return else None, "carrier": item.permit.carrier}
                          for item in exit_permits.overdue(g.db)])


@bp.post("/exit-permits/gate")
@roles(*DESK)
@accepts(GateScanIn)
def gate_scan(body: GateScanIn) -> Any:
    """An asset at the gate desk: it leaves with a valid permit, comes back from a loan, or is refused."""
    try:
        done = exit_permits.at_gate(g.db, g.actor, body.tag)
    except DomainError as exc:
        refused(exc)
    g.db.commit()
    return jsonify(action=done.action, asset=done.asset_code, permit=done.permit.id, loan_closed=done.closed)


@bp.get("/exit-permits/<int:permit_id>")
@roles(*READERS)
def get_permit(permit_id: int) -> Any:
    """One permit with its assets, when each left and came back."""
    return jsonify(out.permit(exit_permits.get(g.db, permit_id)))


@bp.post("/exit-permits/<int:permit_id>/revoke")
@roles(*ISSUERS)
def revoke_permit(permit_id: int) -> Any:
    """Revoke a permit: its assets may not leave with it any more."""
    permit = exit_permits.revoke(g.db, g.actor, permit_id)
    g.db.commit()
    return jsonify(out.permit(permit))
