"""REST: use requests (用印申请) and the uses recorded on them (用印登记); take-outs (外带) and their
out and back records. Both kinds of request go through the shared approval chain."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from flask import current_app, g, jsonify, request
from pydantic import AwareDatetime, Field

from server import seal_serialize as out
from server import settings_of
from server.api import Body, CodeText, Param, accepts, bp, choice, query
from server.api.seals import KEEPERS, limit
from server.auth import READERS, roles
from server.models import SealTakeout, SealUseRequest
from server.services import approvals, paging, seal_takeouts, seal_uses, seals

REQUESTERS = ("storekeeper", "guard")
STATES = ("pending", "approved", "rejected", "withdrawn")


class SealUseRequestIn(Body):
    seal: CodeText
    document_title: str = Field(min_length=1, max_length=300)
    copies: int = Field(ge=1, le=seal_uses.MAX_COPIES)
    recipient: str = Field(min_length=1, max_length=200)
    purpose: str = Field(min_length=1, max_length=2000)
    department: str = Field(min_length=1, max_length=100)


class SealDecisionIn(Body):
    decision: Literal["approve", "reject"]
    quantity: int | None = Field(None, ge=1, le=seal_uses.MAX_COPIES)  # use requests: copies approved
    reason: str = Field("", max_length=2000)


class SealUseIn(Body):
    request: int | None = Field(None, ge=1, le=2**63 - 1)
    copies: int = Field(ge=1, le=seal_uses.MAX_COPIES)
    stamped_by: str = Field("", max_length=300)
    at: AwareDatetime | None = None
    note: str = Field("", max_length=1000)


class SealTakeoutIn(Body):
    seal: CodeText
    carrier: CodeText
    destination: str = Field(min_length=1, max_length=200)
    purpose: str = Field(min_length=1, max_length=2000)
    due_at: AwareDatetime
    department: str = Field(min_length=1, max_length=100)


class SealCarrierIn(Body):
    carrier: CodeText


class SealReturnIn(Body):
    at: AwareDatetime | None = None


def _seal_filter() -> Any:
    code = request.args.get("seal")
    return seals.by_code(g.db, code) if code else None


def _use_request(found: SealUseRequest, with_uses: bool = True) -> dict[str, Any]:
    return out.use_request(found, seal_uses.fulfilment(g.db, found),
                           seal_uses.uses_of(g.db, found.id) if with_uses else None)


@bp.get("/seal-requests")
@roles(*READERS)
@query(choice("state", "Only requests in this state.", STATES), Param("department", "Only this department's."),
       Param("seal", "Only requests for this seal (A- code)."), Param("after", "The cursor of the page before."))
def list_seal_requests() -> Any:
    """Use requests, newest first; keyset pages (after=cursor)."""
    stmt = seal_uses.listing(request.args.get("state"), request.args.get("department"), _seal_filter())
    page = paging.keyset_page(g.db, stmt, [SealUseRequest.id], request.args.get("after"), True, limit())
    return jsonify(items=[_use_request(r, False) for r in page.items], next=page.next_cursor)


@bp.post("/seal-requests")
@roles(*REQUESTERS)
@accepts(SealUseRequestIn)
def submit_seal_request(body: SealUseRequestIn) -> Any:
    """Ask to use a seal on a document; the leader in charge of the department approves."""
    made = seal_uses.submit(g.db, g.actor, seal_uses.UseRequestIn(**body.model_dump()),
                            settings_of(current_app).principal_approval_above)
    g.db.commit()
    return jsonify(_use_request(made)), 201


@bp.get("/seal-requests/<int:request_id>")
@roles(*READERS)
def get_seal_request(request_id: int) -> Any:
    """One use request: its decisions, copies approved and stamped, and its uses."""
    return jsonify(_use_request(seal_uses.by_id(g.db, request_id)))


@bp.post("/seal-requests/<int:request_id>/decision")
@roles(*READERS)
@accepts(SealDecisionIn)
def decide_seal_request(request_id: int, body: SealDecisionIn) -> Any:
    """Approve (optionally fewer copies) or reject with a reason: only an approver of the step may."""
    found = seal_uses.by_id(g.db, request_id)
    approvals.decide(g.db, g.actor, found.approval_id, body.decision, body.quantity, body.reason)
    g.db.commit()
    return jsonify(_use_request(found))


@bp.post("/seal-requests/<int:request_id>/withdraw")
@roles(*REQUESTERS)
def withdraw_seal_request(request_id: int) -> Any:
    """The requester takes back a use request still waiting."""
    found = seal_uses.by_id(g.db, request_id)
    approvals.withdraw(g.db, g.actor, found.approval_id)
    g.db.commit()
    return jsonify(_use_request(found))


@bp.post("/seals/<code>/uses")
@roles(*KEEPERS)
@accepts(SealUseIn)
def record_seal_use(code: str, body: SealUseIn) -> Any:
    """用印登记: a use of the seal on an approved request (copies within what is left of it)."""
    use = seal_uses.record_use(g.db, g.actor, code, seal_uses.UseIn(**body.model_dump()))
    g.db.commit()
    return jsonify(out.use(use)), 201


@bp.get("/seal-takeouts")
@roles(*READERS)
@query(choice("state", "Only take-outs in this state (out includes overdue).", seal_takeouts.STATES),
       Param("seal", "Only this seal's (A- code)."), Param("after", "The cursor of the page before."))
def list_seal_takeouts() -> Any:
    """Take-outs, newest first; keyset pages (after=cursor)."""
    stmt = seal_takeouts.listing(request.args.get("state"), _seal_filter())
    page = paging.keyset_page(g.db, stmt, [SealTakeout.id], request.args.get("after"), True, limit())
    return jsonify(items=[out.takeout(t) for t in page.items], next=page.next_cursor)


@bp.get("/seal-takeouts/overdue")
@roles(*READERS)
def overdue_seal_takeouts() -> Any:
    """Seals out of the office past their due time, the longest overdue first."""
    return jsonify(items=[out.takeout(t) for t in seal_takeouts.overdue(g.db)])


@bp.post("/seal-takeouts")
@roles(*REQUESTERS)
@accepts(SealTakeoutIn)
def submit_seal_takeout(body: SealTakeoutIn) -> Any:
    """Ask to take a seal out of the office (who carries it, where, what for, due back when)."""
    data = seal_takeouts.TakeoutIn(**body.model_dump())
    made = seal_takeouts.submit(g.db, g.actor, data, settings_of(current_app).principal_approval_above)
    g.db.commit()
    return jsonify(out.takeout(made)), 201


@bp.get("/seal-takeouts/<int:takeout_id>")
@roles(*READERS)
def get_seal_takeout(takeout_id: int) -> Any:
    """One take-out: its decision, when it went out and came back."""
    return jsonify(out.takeout(seal_takeouts.by_id(g.db, takeout_id)))


@bp.post("/seal-takeouts/<int:takeout_id>/decision")
@roles(*READERS)
@accepts(SealDecisionIn)
def decide_seal_takeout(takeout_id: int, body: SealDecisionIn) -> Any:
    """Approve or reject (with a reason) a take-out: only an approver of the step may."""
    found = seal_takeouts.by_id(g.db, takeout_id)
    approvals.decide(g.db, g.actor, found.approval_id, body.decision, None, body.reason)
    g.db.commit()
    return jsonify(out.takeout(found))


@bp.post("/seal-takeouts/<int:takeout_id>/withdraw")
@roles(*REQUESTERS)
def withdraw_seal_takeout(takeout_id: int) -> Any:
    """The requester takes back a take-out request still waiting."""
    found = seal_takeouts.by_id(g.db, takeout_id)
    approvals.withdraw(g.db, g.actor, found.approval_id)
    g.db.commit()
    return jsonify(out.takeout(found))


@bp.post("/seals/<code>/takeout")
@roles(*KEEPERS)
@accepts(SealCarrierIn)
def take_seal_out(code: str, body: SealCarrierIn) -> Any:
    """The seal leaves with its carrier (as the kiosk's asset.checkout does): only on an approved take-out."""
    trip = seal_takeouts.take_out(g.db, g.actor, code, body.carrier)
    g.db.commit()
    return jsonify(out.takeout(trip))


@bp.post("/seals/<code>/return")
@roles(*KEEPERS)
@accepts(SealReturnIn)
def bring_seal_back(code: str, body: SealReturnIn) -> Any:
    """The seal is back in the office (as the kiosk's asset.checkin does)."""
    at: datetime | None = body.at
    trip = seal_takeouts.bring_back(g.db, g.actor, code, at=at)
    g.db.commit()
    return jsonify(out.takeout(trip))
