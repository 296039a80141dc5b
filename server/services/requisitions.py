"""Requisitions (领用申请): supplies beyond everyday use, and every valuable item, are asked for first.

A requisition names the item, how many, the department and the purpose; its approval chain is the
shared one (``services.approvals``, kind "requisition"): the leader in charge, plus the principal
leader when the value (quantity x the item's unit price) is above ``principal_approval_above``.
Approval may be partial (fewer than asked). Pickups then fulfil it (``supplies.pickup``), never
beyond what was approved.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from server import audit
from server.audit import Actor
from server.errors import Invalid, NotFound
from server.i18n import N_
from server.models import Approval, ApprovalState, Requisition
from server.services import approvals, supplies

KIND = "requisition"


@dataclass(frozen=True)
class RequisitionIn:
    item: str  # S- code
    quantity: int
    department: str
    purpose: str


def submit(session: Session, actor: Actor, data: RequisitionIn, principal_above: Decimal) -> Requisition:
    """Record a requisition and open its approval chain (its value decides the levels)."""
    if not 1 <= data.quantity <= supplies.MAX_QUANTITY:
        raise Invalid(N_("the quantity must be between 1 and 100000"), code="bad_quantity")
    department = supplies.clean_text(data.department, N_("department"), 100)
    purpose = supplies.clean_text(data.purpose, N_("purpose of use"), 2000)
    item = supplies.item_by_code(session, data.item)
    amount = (item.unit_price * data.quantity).quantize(Decimal("0.01")) if item.unit_price is not None else None
    chain = approvals.open_chain(session, actor, KIND, department, amount, data.quantity, principal_above)
    made = Requisition(item_id=item.id, department=department, requester=actor.name, quantity=data.quantity,
                       purpose=purpose, approval_id=chain.id)
    session.add(made)
    session.flush()
    audit.change(session, actor, "requisition.submit", made, extra={"item": item.code})
    return made


def by_id(session: Session, requisition_id: int) -> Requisition:
    found = session.get(Requisition, requisition_id)
    if found is None:
        raise NotFound(N_("no requisition %(id)s"), id=requisition_id)
    return found


def by_approval(session: Session, approval_id: int) -> Requisition:
    return session.scalars(select(Requisition).where(Requisition.approval_id == approval_id)).one()


def listing(session: Session, state: str | None = None, department: str | None = None) -> Select[Any]:
    """Requisitions for keyset pages by id; filters validated."""
    query = select(Requisition).join(Approval, Requisition.approval_id == Approval.id)
    if state:
        if state not in {s.value for s in ApprovalState}:
            raise Invalid(N_("unknown state %(state)s"), state=state[:40])
        query = query.where(Approval.state == state)
    if department:
        query = query.where(Requisition.department == department[:100])
    return query


def fulfilment(session: Session, found: Requisition) -> dict[str, int | None]:
    """Asked, approved, picked up so far, and what is left to pick up."""
    approved = found.approval.approved_quantity if found.approval.state == ApprovalState.APPROVED else None
    picked = supplies.picked_for(session, found.id)
    return {"asked": found.quantity, "approved": approved, "picked": picked,
            "left": None if approved is None else max(approved - picked, 0)}
