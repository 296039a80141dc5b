"""A reorder becomes a purchase request (申购).

An item at or under its reorder level may be asked for through the one purchase-request path
(``purchase_requests.submit``, with its approval chain), in a category of office supplies, so that
what is bought can later be received into the item's stock. The link is kept
(``supply_reorder_requests``): the reorder list shows the request and its state, and the same
reorder is not asked twice: while the item's notification is open, one request; without an open
notification (an item that never rose above its level), not while an earlier request still waits.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from server import audit
from server.audit import Actor
from server.errors import AlreadyExists, Invalid, RuleViolation
from server.i18n import N_
from server.models import (
    Approval,
    ApprovalState,
    Category,
    MovementKind,
    PurchaseRequest,
    SupplyAlert,
    SupplyItem,
    SupplyMovement,
    SupplyReorderRequest,
)
from server.services import purchase_requests, supplies


@dataclass(frozen=True)
class ReorderIn:
    department: str
    reason: str
    category: str = ""  # empty: the item's own category when it is one of supplies, or the only one there is
    quantity: int | None = None  # empty: the item's reorder quantity
    estimated_unit_price: Decimal | str | None = None  # empty: the last receipt's cost, or the item's price


def supply_categories(session: Session) -> list[Category]:
    return list(session.scalars(select(Category).where(Category.supplies.is_(True)).order_by(Category.name)))


def default_category(session: Session, item: SupplyItem) -> str:
    names = [c.name for c in supply_categories(session)]
    if item.category in names:
        return item.category
    return names[0] if len(names) == 1 else ""


def last_cost(session: Session, item: SupplyItem) -> Decimal | None:
    """What the item cost when last received (a reversed receipt was a mistake: not that one), else its
    unit price: the estimate a request starts from."""
    taken_back = select(SupplyMovement.reverses_id).where(SupplyMovement.item_id == item.id,
                                                          SupplyMovement.reverses_id.is_not(None))
    cost = session.scalar(select(SupplyMovement.unit_cost).where(
        SupplyMovement.item_id == item.id, SupplyMovement.kind == MovementKind.RECEIPT.value,
        SupplyMovement.unit_cost.is_not(None), SupplyMovement.id.not_in(taken_back))
        .order_by(SupplyMovement.id.desc()).limit(1))
    return cost if cost is not None else item.unit_price


def open_alert(session: Session, item_id: int) -> SupplyAlert | None:
    return session.scalars(select(SupplyAlert).where(SupplyAlert.item_id == item_id, SupplyAlert.cleared_at.is_(None))
                           .order_by(SupplyAlert.id.desc()).limit(1)).first()


def _asked_already(session: Session, item_id: int, alert: SupplyAlert | None) -> PurchaseRequest | None:
    query = (select(PurchaseRequest).join(SupplyReorderRequest, SupplyReorderRequest.purchase_request_id ==
                                          PurchaseRequest.id)
             .join(Approval, PurchaseRequest.approval_id == Approval.id)
             .where(SupplyReorderRequest.item_id == item_id, Approval.state.in_(
                 [ApprovalState.PENDING.value, ApprovalState.APPROVED.value])))
    if alert is not None:
        query = query.where(SupplyReorderRequest.created_at >= alert.raised_at)
    else:
        query = query.where(Approval.state == ApprovalState.PENDING.value)
    return session.scalars(query.order_by(PurchaseRequest.id.desc()).limit(1)).first()


def request(session: Session, actor: Actor, code: str, data: ReorderIn, principal_above: Decimal) -> PurchaseRequest:
    """Turn an item's reorder into a purchase request through the purchase-request approval chain."""
    item = supplies.item_by_code(session, code, lock=True)
    stock = supplies.stock(session, item.id)
    if stock > item.reorder_level:
        raise RuleViolation(N_("%(item)s has %(stock)s in stock, above its reorder level %(level)s"),
                            code="not_below_reorder", item=item.name, stock=stock, level=item.reorder_level)
    alert = open_alert(session, item.id)
    earlier = _asked_already(session, item.id, alert)
    if earlier is not None:
        raise AlreadyExists(N_("purchase request %(id)s already asks for this reorder"), code="reorder_requested",
                            id=earlier.id)
    category = (data.category or default_category(session, item)).strip()
    if category not in [c.name for c in supply_categories(session)]:
        raise Invalid(N_("choose a category of office supplies for the request"), code="not_supplies",
                      field="category")
    quantity = data.quantity if data.quantity is not None else item.reorder_quantity
    price = data.estimated_unit_price if data.estimated_unit_price not in (None, "") else last_cost(session, item)
    if price is None:
        raise Invalid(N_("the estimated unit price is required"), code="required", field="estimated_unit_price")
    made = purchase_requests.submit(session, actor, purchase_requests.RequestIn(
        department=data.department, item=f"{item.name[:180]} ({item.code})", category=category, quantity=quantity,
        estimated_unit_price=price, reason=data.reason), principal_above)
    link = SupplyReorderRequest(item_id=item.id, purchase_request_id=made.id, alert_id=alert.id if alert else None,
                                actor=actor.name)
    session.add(link)
    session.flush()
    # The item is unchanged; its full state goes with the request so the ledger check still finds it.
    audit.change(session, actor, "supply.reorder_request", item, audit.state(item),
                 {"purchase_request": made.id, "stock": stock, "level": item.reorder_level, "quantity": quantity},
                 inserted=[link])
    return made


def requests_of(session: Session, item_ids: list[int]) -> dict[int, PurchaseRequest]:
    """The newest purchase request of each item's reorders (for the reorder list)."""
    rows = session.execute(select(SupplyReorderRequest.item_id, PurchaseRequest)
                           .join(PurchaseRequest, PurchaseRequest.id == SupplyReorderRequest.purchase_request_id)
                           .where(SupplyReorderRequest.item_id.in_(item_ids))
                           .order_by(SupplyReorderRequest.id)).unique()
    return {item_id: made for item_id, made in rows}
