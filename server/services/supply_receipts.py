"""Receipts (入库) of office supplies, from purchase lines of a supply category.

A procurement category marked as supplies (``categories.supplies``, 办公用品) is not made into
assets: its purchase lines, checked against the plan when they were bought (services/purchases),
are received here into a supply item's stock, each receipt a ledger line carrying the purchase line
and its unit price (the cost FIFO values the pickups at, services/supply_costs). A line is received
at most up to what it bought, summed from its receipts (never a stored counter), and a line is
received one way only: asset intake refuses supply lines, and a category cannot change sides once
a line of it was received.

A receipt entered by mistake is taken back by its **reversal** (冲销, ``reverse``): a ledger line of
its own, minus the receipt's quantity, pointing at it, with the reason; the receipt itself is never
changed. What a line has received is net of its reversals (so it can be received again, rightly),
and FIFO leaves a reversed receipt out (services/supply_costs).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server import audit, params
from server.audit import Actor
from server.errors import AlreadyExists, NotFound, RuleViolation
from server.i18n import N_
from server.models import (
    Asset,
    AssetStatus,
    Category,
    MovementKind,
    Purchase,
    PurchaseLine,
    SupplyItem,
    SupplyMovement,
)
from server.services import directory, purchases, supplies

# What a purchase line has received: its receipts net of their reversals.
RECEIVED_KINDS = (MovementKind.RECEIPT.value, MovementKind.REVERSAL.value)


def mark_category(session: Session, actor: Actor, name: str, is_supplies: bool) -> Category:
    """Say whether a procurement category is office supplies (received into stock) or not (assets)."""
    category = directory.category_by_name(session, (name or "").strip()[:100])
    if category.supplies == is_supplies:
        return category
    lines = select(PurchaseLine.id).where(PurchaseLine.category_id == category.id)
    if is_supplies:
        used = session.scalar(select(func.count()).select_from(Asset).where(
            Asset.purchase_line_id.in_(lines), Asset.status != AssetStatus.RETIRED.value))
    else:
        used = session.scalar(select(func.count()).select_from(SupplyMovement).where(
            SupplyMovement.purchase_line_id.in_(lines)))
    if used and is_supplies:
        raise RuleViolation(N_("assets were already received from purchase lines of %(category)s; it cannot "
                               "become a category of supplies"), code="category_in_use", category=category.name)
    if used:
        raise RuleViolation(N_("supplies were already received from purchase lines of %(category)s; it cannot "
                               "stop being a category of supplies"), code="category_in_use", category=category.name)
    before = audit.state(category)
    category.supplies = is_supplies
    session.flush()
    audit.change(session, actor, "category.supplies", category, before)
    return category


def categories(session: Session) -> list[Category]:
    return list(session.scalars(select(Category).order_by(Category.name)))


def received(session: Session, line_id: int) -> int:
    """Units of a purchase line received into stock so far (the sum of its receipts, net of reversals)."""
    return int(session.scalar(select(func.coalesce(func.sum(SupplyMovement.quantity), 0)).where(
        SupplyMovement.purchase_line_id == line_id, SupplyMovement.kind.in_(RECEIVED_KINDS))) or 0)


def open_lines(session: Session, limit: int = 500) -> list[tuple[PurchaseLine, int]]:
    """Purchase lines of supply categories with units still to receive, newest first, with how many."""
    got = (select(SupplyMovement.purchase_line_id.label("line_id"), func.sum(SupplyMovement.quantity).label("n"))
           .where(SupplyMovement.purchase_line_id.is_not(None), SupplyMovement.kind.in_(RECEIVED_KINDS))
           .group_by(SupplyMovement.purchase_line_id).subquery())
    have = func.coalesce(got.c.n, 0)
    rows = session.execute(
        select(PurchaseLine, have).outerjoin(got, got.c.line_id == PurchaseLine.id)
        .join(Purchase, PurchaseLine.purchase_id == Purchase.id)
        .join(Category, PurchaseLine.category_id == Category.id)
        .where(Category.supplies.is_(True), Purchase.voided_at.is_(None), PurchaseLine.quantity > have)
        .order_by(PurchaseLine.id.desc()).limit(limit))
    return [(line, line.quantity - int(n)) for line, n in rows.unique()]


def _replay(found: SupplyMovement, item_id: int, line_id: int) -> SupplyMovement:
    if (found.item_id, found.purchase_line_id) != (item_id, line_id):
        raise AlreadyExists(N_("request key %(key)s was used for another receipt"), key=found.request_key or "")
    return found


def receive(session: Session, actor: Actor, code: str, purchase_line: str | int, quantity: int | None = None,
            note: str = "", request_key: str | None = None, at: datetime | None = None) -> SupplyMovement:
    """Receive (part of) a supply purchase line into an item's stock; a request key makes a retry harmless."""
    key = (request_key or "").strip()[:64] or None
    note = supplies.clean_text(note, N_("note"), 500, False)
    line = purchases.line(session, purchase_line)
    if session.get_bind().dialect.name == "postgresql":  # two receipts of one line must not both over-receive
        session.execute(select(PurchaseLine.id).where(PurchaseLine.id == line.id).with_for_update()).all()
    item = supplies.item_by_code(session, code, lock=True)
    if key is not None:
        found = session.scalars(select(SupplyMovement).where(SupplyMovement.request_key == key)).first()
        if found is not None:
            return _replay(found, item.id, line.id)
    _check_line(line)
    left = line.quantity - received(session, line.id)
    quantity = left if quantity is None else quantity
    if not 1 <= quantity <= left:
        raise RuleViolation(N_("purchase line %(line)s has %(left)s of %(bought)s units left to receive; "
                               "%(asked)s asked"), code="intake_exceeded", line=line.id, left=left,
                            bought=line.quantity, asked=quantity, field="quantity")
    return supplies.record_movement(session, actor, item, MovementKind.RECEIPT, quantity, at=at, purpose=note,
                                    purchase_line_id=line.id, unit_cost=line.unit_price, request_key=key)


def _check_line(line: PurchaseLine) -> None:
    if not line.category.supplies:
        raise RuleViolation(N_("purchase line %(line)s is for %(category)s, which is not a category of office "
                               "supplies: receive it as assets (intake)"), code="not_supplies", line=line.id,
                            category=line.category.name, field="purchase_line")
    if line.purchase.voided_at is not None:
        raise RuleViolation(N_("purchase %(id)s is voided; nothing of it can be received"), code="purchase_voided",
                            id=line.purchase_id, field="purchase_line")


def reversal_of(session: Session, receipt_id: int) -> SupplyMovement | None:
    """The line that reversed a receipt, if one did."""
    return session.scalars(select(SupplyMovement).where(SupplyMovement.reverses_id == receipt_id)).first()


def reversed_among(session: Session, movement_ids: list[int]) -> set[int]:
    """Which of these ledger lines are receipts that were reversed (a page of the ledger)."""
    if not movement_ids:
        return set()
    return set(session.scalars(select(SupplyMovement.reverses_id).where(SupplyMovement.reverses_id.in_(movement_ids))))


def receipt_of(session: Session, item: SupplyItem, receipt_id: str | int) -> SupplyMovement:
    """A receipt of the item's ledger, by its line number; anything else is not found."""
    number = params.row_id(receipt_id)
    found = session.get(SupplyMovement, number) if number is not None else None
    if found is None or found.item_id != item.id or found.kind != MovementKind.RECEIPT.value:
        raise NotFound(N_("%(item)s has no receipt %(id)s"), code="unknown_receipt", item=item.code,
                       id=str(receipt_id)[:20])
    return found


def reverse(session: Session, actor: Actor, code: str, receipt_id: str | int, reason: str) -> SupplyMovement:
    """Take back a receipt entered by mistake: a ``reversal`` line of minus its quantity, with the reason,
    the receipt's purchase line and cost, pointing at the receipt. Refused when the receipt is reversed
    already, or when its units are no longer all in stock (the ledger would go below zero)."""
    why = supplies.clean_text(reason, N_("reason"), 500)
    item = supplies.item_by_code(session, code, lock=True)  # serialises reversals and pickups of the item
    receipt = receipt_of(session, item, receipt_id)
    done = reversal_of(session, receipt.id)
    if done is not None:
        raise RuleViolation(N_("receipt %(id)s is reversed already (ledger line %(by)s)"), code="already_reversed",
                            id=receipt.id, by=done.id)
    have = supplies.stock(session, item.id)
    if have < receipt.quantity:
        raise RuleViolation(N_("receipt %(id)s brought in %(quantity)s %(unit)s but only %(stock)s are in stock: "
                               "reversing it would take the stock below zero"), code="insufficient_stock",
                            id=receipt.id, quantity=receipt.quantity, unit=item.unit, stock=have)
    return supplies.record_movement(session, actor, item, MovementKind.REVERSAL, -receipt.quantity, purpose=why,
                                    purchase_line_id=receipt.purchase_line_id, unit_cost=receipt.unit_cost,
                                    stock_before=have, reverses_id=receipt.id)


def describe_line(line: PurchaseLine, left: int) -> dict[str, Any]:
    return {"id": line.id, "purchase": line.purchase_id, "category": line.category.name,
            "description": line.description, "quantity": line.quantity, "unit_price": str(line.unit_price),
            "left": left, "supplier": line.purchase.supplier, "purchased_on": line.purchase.purchased_on.isoformat()}
