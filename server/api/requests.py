"""REST: purchase requests (申购) and their approval chain; the approver's to-do list; approver grants."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from flask import current_app, g, jsonify, request
from pydantic import Field

from server import serialize, settings_of
from server.api import Body, accepts, bp
from server.auth import READERS, roles
from server.models import PurchaseRequest
from server.services import approvals, paging, purchase_requests

REQUESTERS = ("storekeeper", "guard")


class PurchaseRequestIn(Body):
    department: str = Field(min_length=1, max_length=100)
    item: str = Field(min_length=1, max_length=200)
    category: str = Field(min_length=1, max_length=100)
    quantity: int = Field(ge=1, le=100_000)
    estimated_unit_price: Decimal = Field(gt=0, max_digits=14, decimal_places=2)
    reason: str = Field(min_length=1, max_length=2000)
    replaces: str | None = Field(None, max_length=300)


class DecisionIn(Body):
    decision: Literal["approve", "reject"]
    quantity: int | None = Field(None, ge=1, le=100_000)
    reason: str = Field("", max_length=2000)


class LinkIn(Body):
    plan_line: str | None = Field(None, max_length=40)
    purchase_id: int | None = Field(None, ge=1, le=2**31 - 1)


class GrantIn(Body):
    username: str = Field(min_length=1, max_length=80)
    level: Literal["leader", "principal", "archive_manager"]
    department: str = Field("", max_length=100)


@bp.get("/requests")
@roles(*READERS)
def list_requests() -> Any:
    """Purchase requests, newest first; filters state and department; keyset pages (after=cursor)."""
    query = purchase_requests.listing(g.db, request.args.get("state"), request.args.get("department"))
    page = paging.keyset_page(g.db, query, [PurchaseRequest.id], request.args.get("after"), True,
                              min(max(request.args.get("limit", 50, type=int), 1), 500))
    return jsonify(items=[serialize.purchase_request(r) for r in page.items], next=page.next_cursor)


@bp.post("/requests")
@roles(*REQUESTERS)
@accepts(PurchaseRequestIn)
def submit_request(body: PurchaseRequestIn) -> Any:
    """Submit a purchase request; its approval chain follows from the amount."""
    made = purchase_requests.submit(g.db, g.actor, purchase_requests.RequestIn(**body.model_dump()),
                                    settings_of(current_app).principal_approval_above)
    g.db.commit()
    return jsonify(serialize.purchase_request(made)), 201


@bp.get("/requests/<int:request_id>")
@roles(*READERS)
def get_request(request_id: int) -> Any:
    """One purchase request with every decision so far."""
    return jsonify(serialize.purchase_request(purchase_requests.by_id(g.db, request_id)))


@bp.post("/requests/<int:request_id>/decision")
@roles(*READERS)
@accepts(DecisionIn)
def decide_request(request_id: int, body: DecisionIn) -> Any:
    """Approve (optionally a smaller quantity) or reject with a reason: only an approver of the step may."""
    found = purchase_requests.by_id(g.db, request_id)
    approvals.decide(g.db, g.actor, found.approval_id, body.decision, body.quantity, body.reason)
    g.db.commit()
    return jsonify(serialize.purchase_request(found))


@bp.post("/requests/<int:request_id>/withdraw")
@roles(*REQUESTERS)
def withdraw_request(request_id: int) -> Any:
    """The requester takes back a request still waiting for a decision."""
    found = purchase_requests.by_id(g.db, request_id)
    approvals.withdraw(g.db, g.actor, found.approval_id)
    g.db.commit()
    return jsonify(serialize.purchase_request(found))


@bp.post("/requests/<int:request_id>/link")
@roles("storekeeper")
@accepts(LinkIn)
def link_request(request_id: int, body: LinkIn) -> Any:
    """Tie an approved request to the plan line and/or purchase that fulfil it."""
    linked = purchase_requests.link(g.db, g.actor, request_id, body.plan_line, body.purchase_id)
    g.db.commit()
    return jsonify(serialize.purchase_request(linked))


@bp.get("/approvals/todo")
@roles(*READERS)
def approvals_todo() -> Any:
    """Requests waiting for a decision by the caller."""
    return jsonify(items=[serialize.approval(a) for a in approvals.waiting_for(g.db, g.actor.name)])


@bp.get("/approvers")
@roles()
def list_grants() -> Any:
    """Who may approve at which level, for which department ("" = all)."""
    return jsonify(items=[{"id": r.id, "username": r.user.username, "level": r.level, "department": r.department}
                          for r in approvals.grants(g.db)])


@bp.post("/approvers")
@roles()
@accepts(GrantIn)
def add_grant(body: GrantIn) -> Any:
    """Make a user an approver at a level, for one department or all."""
    row = approvals.grant(g.db, g.actor, body.username, body.level, body.department)
    g.db.commit()
    return jsonify(id=row.id, username=body.username, level=row.level, department=row.department), 201


@bp.post("/approvers/<int:grant_id>/revoke")
@roles()
def revoke_grant(grant_id: int) -> Any:
    """Take an approver grant away."""
    approvals.revoke_grant(g.db, g.actor, grant_id)
    g.db.commit()
    return jsonify(revoked=grant_id)
