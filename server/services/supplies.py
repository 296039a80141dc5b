"""Office supplies: items with S- codes, and stock as a ledger of movements.

Stock is never a stored number: it is the sum of an item's movements, read from the index
(item_id, id, quantity) alone, so it cannot drift and cannot change without a ledger line.
A movement that takes stock out locks the item's row first, so two pickups at once cannot both
spend the last unit; a live pickup below zero is refused (``insufficient_stock``), while an
offline kiosk pickup that went below zero is stored and flagged as a conflict (nothing is lost).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session

from contract import codes
from server import audit
from server.audit import Actor
from server.errors import Invalid, NotFound, RuleViolation, Term
from server.i18n import N_
from server.models import (
    Approval,
    ApprovalState,
    MovementKind,
    Person,
    Requisition,
    SupplyAlert,
    SupplyItem,
    SupplyMovement,
    utcnow,
)
from server.services import codes as code_service
from server.services import directory, notify

MAX_QUANTITY = 100_000


@dataclass(frozen=True)
class ItemIn:
    name: str
    unit: str
    category: str = ""
    location: str = ""
    reorder_level: int = 0
    reorder_quantity: int = 0
    valuable: bool = False
    everyday_max: int | None = None  # the most one pickup may take without a requisition; None: no limit
    unit_price: Decimal | str | None = None


def _price(value: Decimal | str | None) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        price = Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise Invalid(N_("the unit price must be a number"), code="bad_price") from None
    if not Decimal(0) <= price < Decimal("1e12"):
        raise Invalid(N_("the unit price must be a number"), code="bad_price")
    return price


def clean_text(value: str | None, what: str, size: int, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise Invalid(N_("%(what)s is required"), code="required", what=Term(what))
    if len(value) > size:
        raise Invalid(N_("%(what)s is longer than %(size)s characters"), code="too_long", what=Term(what), size=size)
    return value


def _count(value: int, what: str) -> int:
    if not 0 <= value <= 1_000_000:
        raise Invalid(N_("%(what)s must be between 0 and 1000000"), code="bad_level", what=Term(what))
    return value


def _quantity(value: int) -> int:
    if not 1 <= value <= MAX_QUANTITY:
        raise Invalid(N_("the quantity must be between 1 and 100000"), code="bad_quantity")
    return value


def create_item(session: Session, actor: Actor, data: ItemIn) -> SupplyItem:
    """A new supply item with a freshly issued S- code and no stock (receipts add it)."""
    item = SupplyItem(
        code=code_service.issue(session, codes.Kind.SUPPLY)[0], name=clean_text(data.name, N_("item name"), 200),
        unit=clean_text(data.unit, N_("unit"), 20), category=clean_text(data.category, N_("category"), 100, False),
        location=clean_text(data.location, N_("storeroom location"), 100, False),
        reorder_level=_count(data.reorder_level, N_("reorder level")),
        reorder_quantity=_count(data.reorder_quantity, N_("reorder quantity")), valuable=bool(data.valuable),
        everyday_max=None if data.everyday_max is None else _count(data.everyday_max, N_("everyday limit")),
        unit_price=_price(data.unit_price))
    session.add(item)
    session.flush()
    audit.change(session, actor, "supply.create", item)
    return item


def item_by_code(session: Session, code: str, *, lock: bool = False) -> SupplyItem:
    normal = directory.normal_code(code, codes.Kind.SUPPLY)
    stmt = select(SupplyItem).where(SupplyItem.code == normal)
    item = session.scalars(stmt.with_for_update() if lock else stmt).first()
    if item is None:
        raise NotFound(N_("unknown supply item %(item)s"), item=normal)
    return item


# Built once: the statement is the same for every item (a pickup reads it at least twice).
_STOCK = (select(func.coalesce(func.sum(SupplyMovement.quantity), 0))
          .where(SupplyMovement.item_id == bindparam("item_id")))


def stock(session: Session, item_id: int) -> int:
    """The item's current stock: the sum of its ledger."""
    return int(session.scalar(_STOCK, {"item_id": item_id}) or 0)


def stock_column() -> Any:
    """A correlated ``stock`` expression for queries over items."""
    return (select(func.coalesce(func.sum(SupplyMovement.quantity), 0))
            .where(SupplyMovement.item_id == SupplyItem.id).correlate(SupplyItem).scalar_subquery())


def listing(session: Session, category: str | None = None, below_reorder: bool = False) -> Select[Any]:
    """Items with their stock (a second column), for keyset pages by code."""
    level = stock_column()
    stmt = select(SupplyItem)
    if category:
        stmt = stmt.where(SupplyItem.category == category)
    if below_reorder:
        stmt = stmt.where(level <= SupplyItem.reorder_level)
    return stmt


def ledger(item: SupplyItem) -> Select[Any]:
    """The item's movements, for keyset pages newest first by id."""
    return select(SupplyMovement).where(SupplyMovement.item_id == item.id)


def record_movement(session: Session, actor: Actor, item: SupplyItem, kind: MovementKind, quantity: int, *,
                    at: datetime | None = None, person: Person | None = None, department: str = "",
                    purpose: str = "", kiosk_event_id: str | None = None, conflict: bool = False,
                    requisition: Requisition | None = None, purchase_line_id: int | None = None,
                    unit_cost: Decimal | None = None, stocktake_id: int | None = None,
                    request_key: str | None = None, stock_before: int | None = None,
                    reverses_id: int | None = None) -> SupplyMovement:
    """The one write path of the ledger: every movement (receipt, pickup, return, adjustment, stocktake
    difference, a receipt's reversal) is a row added here, audited, and watched for the reorder level. The caller has
    checked its rules and locked the item (``item_by_code(..., lock=True)``); ``stock_before`` is the
    stock it read under that lock, if it did (one read less)."""
    movement = SupplyMovement(
        item_id=item.id, kind=kind.value, quantity=quantity, at=at or utcnow(), actor=actor.name,
        source=actor.source, person_id=person.id if person else None, department=department, purpose=purpose,
        kiosk_event_id=kiosk_event_id, conflict=conflict, requisition_id=requisition.id if requisition else None,
        purchase_line_id=purchase_line_id, unit_cost=unit_cost, stocktake_id=stocktake_id, request_key=request_key,
        reverses_id=reverses_id)
    # The item's state with the movement it gained (described in the audit row, which it points back at).
    audit.change(session, actor, f"supply.{kind.value}", item, extra={
        "quantity": quantity, "person": person.code if person else None, "department": department,
        "purpose": purpose, "conflict": conflict, "requisition": requisition.id if requisition else None,
        "purchase_line": purchase_line_id, "unit_cost": unit_cost, "stocktake": stocktake_id,
        **({"reverses": reverses_id} if reverses_id is not None else {})}, inserted=[movement])
    session.add(movement)
    session.flush()
    _watch_reorder(session, item, quantity, stock_before)
    return movement


def _watch_reorder(session: Session, item: SupplyItem, quantity: int, before: int | None) -> None:
    """Raise a reorder alert when this movement crossed the level downwards (once per crossing, not
    once per pickup), with its notification queued for delivery (services/notify), and clear the open
    one when stock rose above the level again."""
    if before is None:
        after = stock(session, item.id)
        before = after - quantity
    else:
        after = before + quantity
    if before > item.reorder_level >= after:
        alert = SupplyAlert(item_id=item.id, stock=after)
        session.add(alert)
        session.flush()
        # Queued in this transaction, sent later by the scheduler: a webhook or mail server that is
        # down never holds up or breaks the pickup, and a pickup rolled back sends nothing.
        notify.enqueue_reorder(session, {
            "item": item.code, "name": item.name, "unit": item.unit, "stock": after, "level": item.reorder_level,
            "reorder_quantity": item.reorder_quantity, "location": item.location, "alert": alert.id,
            "at": alert.raised_at.isoformat()})
    elif after > item.reorder_level >= before:
        for alert in session.scalars(select(SupplyAlert).where(SupplyAlert.item_id == item.id,
                                                               SupplyAlert.cleared_at.is_(None))):
            alert.cleared_at = utcnow()
        session.flush()


def needs_requisition(item: SupplyItem, quantity: int) -> bool:
    """Valuable items always, others beyond everyday use (more than ``everyday_max`` at once)."""
    return item.valuable or (item.everyday_max is not None and quantity > item.everyday_max)


def picked_for(session: Session, requisition_id: int) -> int:
    """How much the pickups that fulfil a requisition took (net of none: returns are not tied to it)."""
    return -int(session.scalar(select(func.coalesce(func.sum(SupplyMovement.quantity), 0)).where(
        SupplyMovement.requisition_id == requisition_id, SupplyMovement.kind == MovementKind.PICKUP.value)) or 0)


def _requisition_for(session: Session, item: SupplyItem, department: str, quantity: int,
                     given: int | None) -> Requisition | None:
    """The approved requisition this pickup fulfils: the one given, or else the department's oldest
    approved one for the item with enough left. Refuses a given one that does not fit."""
    query = (select(Requisition).join(Approval, Requisition.approval_id == Approval.id)
             .where(Requisition.item_id == item.id, Approval.state == ApprovalState.APPROVED.value))
    if given is not None:
        found = session.scalars(select(Requisition).where(Requisition.id == given)).first()
        if found is None or found.item_id != item.id:
            raise NotFound(N_("requisition %(id)s is not for %(item)s"), id=given, item=item.code)
        if found.approval.state != ApprovalState.APPROVED:
            raise RuleViolation(N_("requisition %(id)s is not approved"), code="requisition_not_approved", id=given)
        left = (found.approval.approved_quantity or 0) - picked_for(session, found.id)
        if quantity > left:
            raise RuleViolation(N_("requisition %(id)s has %(left)s left, %(quantity)s asked"),
                                code="requisition_exceeded", id=given, left=left, quantity=quantity)
        return found
    for candidate in session.scalars(query.where(Requisition.department == department).order_by(Requisition.id)):
        if (candidate.approval.approved_quantity or 0) - picked_for(session, candidate.id) >= quantity:
            return candidate
    return None


def _take(session: Session, item: SupplyItem, quantity: int, live: bool) -> tuple[bool, int]:
    """Whether taking ``quantity`` is a conflict (offline below zero; a live one below zero is refused),
    and the stock before it."""
    have = stock(session, item.id)
    if have >= quantity:
        return False, have
    if live:
        raise RuleViolation(N_("only %(stock)s %(unit)s of %(item)s in stock, %(quantity)s asked"),
                            code="insufficient_stock", stock=have, unit=item.unit, item=item.name, quantity=quantity)
    return True, have


@dataclass(frozen=True)
class PickupIn:
    item: str  # S- code
    quantity: int
    taker: str  # P- code
    purpose: str = ""
    department: str = ""  # empty: the taker's department
    requisition: int | None = None  # empty: the department's approved one for the item, if needed


def pickup(session: Session, actor: Actor, data: PickupIn, *, at: datetime | None = None, live: bool = True,
           kiosk_event_id: str | None = None) -> SupplyMovement:
    """Someone takes supplies: who, for which department, how many, what for."""
    quantity = _quantity(data.quantity)
    purpose = clean_text(data.purpose, N_("purpose of use"), 200, False)
    person = directory.person_by_code(session, data.taker)
    department = clean_text(data.department or person.department, N_("department"), 100, False)
    item = item_by_code(session, data.item, lock=True)
    requisition = None
    missing_requisition = False
    if data.requisition is not None or needs_requisition(item, quantity):
        requisition = _requisition_for(session, item, department, quantity, data.requisition)
        if requisition is None and live:
            raise RuleViolation(N_("%(item)s needs an approved requisition for this pickup"),
                                code="requisition_required", item=item.name)
        missing_requisition = requisition is None  # off line: it happened; the storekeeper reviews it
    below_zero, have = _take(session, item, quantity, live)
    return record_movement(session, actor, item, MovementKind.PICKUP, -quantity, at=at, person=person,
                           department=department, purpose=purpose, kiosk_event_id=kiosk_event_id,
                           conflict=below_zero or missing_requisition, requisition=requisition, stock_before=have)


def give_back(session: Session, actor: Actor, code: str, quantity: int, taker: str, reason: str = "") -> SupplyMovement:
    """Unused supplies brought back to the storeroom."""
    person = directory.person_by_code(session, taker)
    item = item_by_code(session, code, lock=True)
    return record_movement(session, actor, item, MovementKind.RETURN, _quantity(quantity), person=person,
                           department=person.department, purpose=clean_text(reason, N_("reason"), 500, False))


def adjust(session: Session, actor: Actor, code: str, delta: int, reason: str) -> SupplyMovement:
    """A correction of the count, with its reason (required); it cannot take stock below zero."""
    if delta == 0 or abs(delta) > MAX_QUANTITY:
        raise Invalid(N_("the adjustment must be between -100000 and 100000 and not zero"), code="bad_quantity")
    why = clean_text(reason, N_("reason"), 500)
    item = item_by_code(session, code, lock=True)
    have = _take(session, item, -delta, live=True)[1] if delta < 0 else None
    return record_movement(session, actor, item, MovementKind.ADJUSTMENT, delta, purpose=why, stock_before=have)


def stocks_of(session: Session, item_ids: list[int]) -> dict[int, int]:
    """Stock of several items in one grouped query (a page of the list)."""
    rows = session.execute(select(SupplyMovement.item_id, func.sum(SupplyMovement.quantity))
                           .where(SupplyMovement.item_id.in_(item_ids)).group_by(SupplyMovement.item_id))
    found = {item_id: int(total) for item_id, total in rows}
    return {item_id: found.get(item_id, 0) for item_id in item_ids}


def reorder_list(session: Session) -> list[tuple[SupplyItem, int, SupplyAlert | None]]:
    """Items at or under their reorder level, with their stock and the open alert (since when)."""
    items = list(session.scalars(listing(session, below_reorder=True).order_by(SupplyItem.code).limit(1000)))
    stock_by_id = stocks_of(session, [i.id for i in items])
    open_alerts = {a.item_id: a for a in session.scalars(select(SupplyAlert).where(
        SupplyAlert.cleared_at.is_(None), SupplyAlert.item_id.in_([i.id for i in items])))}
    return [(i, stock_by_id[i.id], open_alerts.get(i.id)) for i in items]


def alerts(session: Session, open_only: bool = True) -> list[SupplyAlert]:
    """Reorder notifications, newest first."""
    query = select(SupplyAlert).order_by(SupplyAlert.id.desc()).limit(500)
    return list(session.scalars(query.where(SupplyAlert.cleared_at.is_(None)) if open_only else query))
