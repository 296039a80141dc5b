"""REST: supply items with their stock, the ledger, and the movements (receipt and its reversal, pickup, return,
adjustment)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import g, jsonify, request
from pydantic import Field

from server import serialize
from server.api import Body, accepts, bp
from server.auth import READERS, roles
from server.models import SupplyItem, SupplyMovement
from server.services import paging, supplies, supply_receipts

KEEPERS = ("storekeeper",)


class ItemIn(Body):
    name: str = Field(min_length=1, max_length=200)
    unit: str = Field(min_length=1, max_length=20)
    category: str = Field("", max_length=100)
    location: str = Field("", max_length=100)
    reorder_level: int = Field(0, ge=0, le=1_000_000)
    reorder_quantity: int = Field(0, ge=0, le=1_000_000)
    valuable: bool = False
    everyday_max: int | None = Field(None, ge=0, le=1_000_000)
    unit_price: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2)


class ReceiptIn(Body):
    purchase_line: int = Field(ge=1, le=2**31 - 1, description="a purchase line of a supply category")
    quantity: int | None = Field(None, ge=1, le=supplies.MAX_QUANTITY, description="empty: all that is left")
    note: str = Field("", max_length=500)


class ReversalIn(Body):
    reason: str = Field(min_length=1, max_length=500, description="why the receipt was a mistake")


class SupplyCategoryIn(Body):
    category: str = Field(min_length=1, max_length=100)
    supplies: bool


class PickupIn(Body):
    quantity: int = Field(ge=1, le=supplies.MAX_QUANTITY)
    taker: str = Field(min_length=1, max_length=40)
    purpose: str = Field("", max_length=200)
    department: str = Field("", max_length=100)
    requisition: int | None = Field(None, ge=1, le=2**31 - 1)


class ReturnIn(Body):
    quantity: int = Field(ge=1, le=supplies.MAX_QUANTITY)
    taker: str = Field(min_length=1, max_length=40)
    reason: str = Field("", max_length=500)


class AdjustmentIn(Body):
    delta: int = Field(ge=-supplies.MAX_QUANTITY, le=supplies.MAX_QUANTITY)
    reason: str = Field(min_length=1, max_length=500)


def _limit() -> int:
    return min(max(request.args.get("limit", 50, type=int), 1), 500)


@bp.get("/supplies")
@roles(*READERS)
def list_supplies() -> Any:
    """Supply items with their stock, by code; filters category and below_reorder=1; keyset pages."""
    query = supplies.listing(g.db, request.args.get("category"), request.args.get("below_reorder") == "1")
    page = paging.keyset_page(g.db, query, [SupplyItem.code], request.args.get("after"), False, _limit())
    stock = supplies.stocks_of(g.db, [i.id for i in page.items])
    return jsonify(items=[serialize.supply_item(i, stock[i.id]) for i in page.items], next=page.next_cursor)


@bp.post("/supplies")
@roles(*KEEPERS)
@accepts(ItemIn)
def create_supply(body: ItemIn) -> Any:
    """A new supply item (its S- code is issued); stock starts at zero."""
    item = supplies.create_item(g.db, g.actor, supplies.ItemIn(**body.model_dump()))
    g.db.commit()
    return jsonify(serialize.supply_item(item, 0)), 201


@bp.get("/supplies/<code>")
@roles(*READERS)
def get_supply(code: str) -> Any:
    """One item with its stock and a page of its ledger, newest first (after=cursor)."""
    item = supplies.item_by_code(g.db, code)
    page = paging.keyset_page(g.db, supplies.ledger(item), [SupplyMovement.id], request.args.get("after"), True,
                              _limit())
    return jsonify(item=serialize.supply_item(item, supplies.stock(g.db, item.id)),
                   ledger=[serialize.supply_movement(m) for m in page.items], next=page.next_cursor)


def _answer(code: str, movement: SupplyMovement) -> Any:
    g.db.commit()
    item = supplies.item_by_code(g.db, code)
    return jsonify(movement=serialize.supply_movement(movement), stock=supplies.stock(g.db, item.id)), 201


@bp.post("/supplies/<code>/receipts")
@roles(*KEEPERS)
@accepts(ReceiptIn)
def receive_supply(code: str, body: ReceiptIn) -> Any:
    """Stock received from a purchase line of a supply category (its unit price is the receipt's cost)."""
    return _answer(code, supply_receipts.receive(g.db, g.actor, code, body.purchase_line, body.quantity,
                                                 body.note))


@bp.post("/supplies/<code>/receipts/<receipt_id>/reversal")
@roles(*KEEPERS)
@accepts(ReversalIn)
def reverse_supply_receipt(code: str, receipt_id: str, body: ReversalIn) -> Any:
    """Reverse a receipt entered by mistake (once; refused if its units are no longer all in stock)."""
    return _answer(code, supply_receipts.reverse(g.db, g.actor, code, receipt_id, body.reason))


@bp.get("/supplies/receivable")
@roles(*READERS)
def receivable_supplies() -> Any:
    """Purchase lines of supply categories with units still to receive, newest first."""
    return jsonify(items=[supply_receipts.describe_line(line, left)
                          for line, left in supply_receipts.open_lines(g.db)])


@bp.get("/supply-categories")
@roles(*READERS)
def supply_categories() -> Any:
    """Procurement categories and whether each is office supplies (received into stock, not as assets)."""
    return jsonify(items=[{"name": c.name, "supplies": c.supplies} for c in supply_receipts.categories(g.db)])


@bp.post("/supply-categories")
@roles(*KEEPERS)
@accepts(SupplyCategoryIn)
def mark_supply_category(body: SupplyCategoryIn) -> Any:
    """Say whether a category is office supplies; refused once a line of it was received the other way."""
    category = supply_receipts.mark_category(g.db, g.actor, body.category, body.supplies)
    g.db.commit()
    return jsonify(name=category.name, supplies=category.supplies)


@bp.post("/supplies/<code>/pickups")
@roles(*KEEPERS)
@accepts(PickupIn)
def pick_up_supply(code: str, body: PickupIn) -> Any:
    """A pickup: who, department (default: theirs), how many, what for; below zero -> insufficient_stock."""
    data = supplies.PickupIn(item=code, **body.model_dump())
    return _answer(code, supplies.pickup(g.db, g.actor, data))


@bp.post("/supplies/<code>/returns")
@roles(*KEEPERS)
@accepts(ReturnIn)
def return_supply(code: str, body: ReturnIn) -> Any:
    """Unused supplies brought back."""
    return _answer(code, supplies.give_back(g.db, g.actor, code, body.quantity, body.taker, body.reason))


@bp.post("/supplies/<code>/adjustments")
@roles(*KEEPERS)
@accepts(AdjustmentIn)
def adjust_supply(code: str, body: AdjustmentIn) -> Any:
    """A correction of the count with its reason."""
    return _answer(code, supplies.adjust(g.db, g.actor, code, body.delta, body.reason))


from server.api import supply_admin  # noqa: E402,F401  (reorder requests, pickup conflicts)
