"""REST: the reorder list and reorders turned into purchase requests; pickup conflicts and their settlement."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from flask import current_app, g, jsonify, request
from pydantic import Field

from server import serialize, settings_of
from server.api import Body, accepts, bp, choice, query
from server.auth import READERS, roles
from server.services import supplies, supply_conflicts, supply_reorder

KEEPERS = ("storekeeper",)


class ReorderIn(Body):
    department: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=2000)
    category: str = Field("", max_length=100, description="a category of supplies; empty: the item's, or the only one")
    quantity: int | None = Field(None, ge=1, le=supplies.MAX_QUANTITY, description="empty: the reorder quantity")
    estimated_unit_price: Decimal | None = Field(None, gt=0, max_digits=14, decimal_places=2,
                                                 description="empty: the last receipt's cost, or the unit price")


class SettleIn(Body):
    action: Literal["accept", "adjust"]
    note: str = Field(min_length=1, max_length=500)
    delta: int | None = Field(None, ge=-supplies.MAX_QUANTITY, le=supplies.MAX_QUANTITY,
                              description="adjust: the correction (+ or -), not zero")


@bp.get("/supplies/reorder")
@roles(*READERS)
def reorder() -> Any:
    """Items at or under their reorder level, with the open notification (since when) and their purchase request."""
    rows = supplies.reorder_list(g.db)
    asked = supply_reorder.requests_of(g.db, [item.id for item, _stock, _alert in rows])
    return jsonify(items=[{**serialize.supply_item(item, stock),
                           "alert_since": alert.raised_at.isoformat() if alert else None,
                           "purchase_request": {"id": asked[item.id].id, "state": asked[item.id].approval.state}
                           if item.id in asked else None}
                          for item, stock, alert in rows])


@bp.post("/supplies/<code>/reorder-request")
@roles(*KEEPERS)
@accepts(ReorderIn)
def request_reorder(code: str, body: ReorderIn) -> Any:
    """Turn an item's reorder into a purchase request (申购) with its approval chain."""
    made = supply_reorder.request(g.db, g.actor, code, supply_reorder.ReorderIn(**body.model_dump()),
                                  settings_of(current_app).principal_approval_above)
    g.db.commit()
    return jsonify(purchase_request=made.id, state=made.approval.state, quantity=made.quantity,
                   category=made.category.name, estimated_unit_price=str(made.estimated_unit_price)), 201


def _conflict(found: supply_conflicts.Conflict) -> dict[str, Any]:
    done = found.settlement
    return {**serialize.supply_movement(found.movement), "item": found.movement.item.code, "why": found.why,
            "settlement": None if done is None else {
                "action": done.action, "note": done.note, "adjustment": done.adjustment_id, "by": done.decided_by,
                "at": done.decided_at.isoformat()}}


@bp.get("/supplies/conflicts")
@roles(*READERS)
@query(choice("state", "open (the default), settled or all", supply_conflicts.STATES))
def pickup_conflicts() -> Any:
    """Offline pickups that took stock below zero or lacked an approved requisition, newest first."""
    rows = supply_conflicts.listing(g.db, request.args.get("state") or "open")
    return jsonify(items=[_conflict(c) for c in rows])


@bp.post("/supplies/conflicts/<int:movement_id>/settlement")
@roles(*KEEPERS)
@accepts(SettleIn)
def settle_conflict(movement_id: int, body: SettleIn) -> Any:
    """Settle one pickup conflict, once: accept it with a note, or adjust the stock (a ledger line of its own)."""
    supply_conflicts.settle(g.db, g.actor, movement_id, body.action, body.note, body.delta)
    g.db.commit()
    return jsonify(_conflict(supply_conflicts.get(g.db, movement_id))), 201
