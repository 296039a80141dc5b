"""REST: requisitions (领用申请) of supplies and their approval chain (the shared one, kind "requisition")."""

from __future__ import annotations

from typing import Any, Literal

from flask import current_app, g, jsonify, request
from pydantic import Field

from server import serialize, settings_of
from server.api import Body, accepts, bp
from server.auth import READERS, roles
from server.models import Requisition
from server.services import approvals, paging, requisitions

REQUESTERS = ("storekeeper", "guard")


class RequisitionIn(Body):
    item: str = Field(min_length=1, max_length=300)
    quantity: int = Field(ge=1, le=100_000)
    department: str = Field(min_length=1, max_length=100)
    purpose: str = Field(min_length=1, max_length=2000)


class DecisionIn(Body):
    decision: Literal["approve", "reject"]
    quantity: int | None = Field(None, ge=1, le=100_000)
    reason: str = Field("", max_length=2000)


def _out(found: Requisition) -> dict[str, Any]:
    return serialize.requisition(found, requisitions.fulfilment(g.db, found))


@bp.get("/requisitions")
@roles(*READERS)
def list_requisitions() -> Any:
    """Requisitions, newest first; filters state and department; keyset pages (after=cursor)."""
    query = requisitions.listing(g.db, request.args.get("state"), request.args.get("department"))
    page = paging.keyset_page(g.db, query, [Requisition.id], request.args.get("after"), True,
                              min(max(request.args.get("limit", 50, type=int), 1), 500))
    return jsonify(items=[_out(r) for r in page.items], next=page.next_cursor)


@bp.post("/requisitions")
@roles(*REQUESTERS)
@accepts(RequisitionIn)
def submit_requisition(body: RequisitionIn) -> Any:
    """Ask for supplies; the approval chain follows from the value."""
    made = requisitions.submit(g.db, g.actor, requisitions.RequisitionIn(**body.model_dump()),
                               settings_of(current_app).principal_approval_above)
    g.db.commit()
    return jsonify(_out(made)), 201


@bp.get("/requisitions/<int:requisition_id>")
@roles(*READERS)
def get_requisition(requisition_id: int) -> Any:
    """One requisition: its decisions and how much of it was picked up."""
    return jsonify(_out(requisitions.by_id(g.db, requisition_id)))


@bp.post("/requisitions/<int:requisition_id>/decision")
@roles(*READERS)
@accepts(DecisionIn)
def decide_requisition(requisition_id: int, body: DecisionIn) -> Any:
    """Approve (optionally fewer) or reject with a reason: only an approver of the step may."""
    found = requisitions.by_id(g.db, requisition_id)
    approvals.decide(g.db, g.actor, found.approval_id, body.decision, body.quantity, body.reason)
    g.db.commit()
    return jsonify(_out(found))


@bp.post("/requisitions/<int:requisition_id>/withdraw")
@roles(*REQUESTERS)
def withdraw_requisition(requisition_id: int) -> Any:
    """The requester takes back a requisition still waiting."""
    found = requisitions.by_id(g.db, requisition_id)
    approvals.withdraw(g.db, g.actor, found.approval_id)
    g.db.commit()
    return jsonify(_out(found))
