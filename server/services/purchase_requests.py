"""Purchase requests (申购): what a department asks for before anything is bought.

A request names the item, its category, the quantity, an estimated unit price and the reason, and
whether it replaces an asset. Its approval chain (services/approvals) decides it; an approved
request may then be linked to the plan line and the purchase that fulfil it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server import audit
from server.audit import Actor
from server.errors import IllegalTransition, Invalid, NotFound, RuleViolation, Term
from server.i18n import N_
from server.models import Approval, ApprovalState, Purchase, PurchaseLine, PurchaseRequest
from server.services import approvals, assets, directory, plans

KIND = "purchase_request"


@dataclass(frozen=True)
class RequestIn:
    department: str
    item: str
    category: str
    quantity: int
    estimated_unit_price: Decimal | str
    reason: str
    replaces: str | None = None  # an asset code


def _text(value: str, what: str, size: int) -> str:
    value = (value or "").strip()
    if not value:
        raise Invalid(N_("%(what)s is required"), code="required", what=what)
    if len(value) > size:
        raise Invalid(N_("%(what)s is longer than %(size)s characters"), code="too_long", what=what, size=size)
    return value


def submit(session: Session, actor: Actor, data: RequestIn, principal_above: Decimal) -> PurchaseRequest:
    """Record a request and open its approval chain (the amount decides the levels)."""
    if not 1 <= data.quantity <= 100_000:
        raise Invalid(N_("the quantity must be between 1 and 100000"), code="bad_quantity")
    price = plans.money(data.estimated_unit_price, "estimated unit price")
    if price <= 0:
        raise Invalid(N_("the estimated unit price must be above zero"), code="bad_price")
    category = directory.category_by_name(session, data.category)
    replaces = assets.asset_by_code(session, data.replaces) if data.replaces else None
    department = _text(data.department, Term(N_("department")), 100)
    amount = (price * data.quantity).quantize(Decimal("0.01"))
    chain = approvals.open_chain(session, actor, KIND, department, amount, data.quantity, principal_above)
    request = PurchaseRequest(department=department, requester=actor.name, item=_text(data.item, Term(N_("item")), 200),
                              category_id=category.id, quantity=data.quantity, estimated_unit_price=price,
                              reason=_text(data.reason, Term(N_("reason")), 2000),
                              replaces_asset_id=replaces.id if replaces else None, approval_id=chain.id)
    session.add(request)
    session.flush()
    audit.change(session, actor, "purchase_request.submit", request)
    return request


def by_id(session: Session, request_id: int) -> PurchaseRequest:
    request = session.get(PurchaseRequest, request_id)
    if request is None:
        raise NotFound(N_("there is no purchase request %(id)s"), id=request_id)
    return request


def by_approval(session: Session, approval_id: int) -> PurchaseRequest | None:
    return session.scalars(select(PurchaseRequest).where(PurchaseRequest.approval_id == approval_id)).first()


def link(session: Session, actor: Actor, request_id: int, plan_line_ref: str | None,
         purchase_id: int | None) -> PurchaseRequest:
    """Tie an approved request to the plan line and/or purchase that fulfil it (same category)."""
    request = by_id(session, request_id)
    if request.approval.state != ApprovalState.APPROVED:
        raise IllegalTransition(N_("only an approved request can be linked to a plan line or purchase"))
    before = audit.state(request)
    if plan_line_ref:
        line = plans.line_by_ref(session, plan_line_ref)
        if line.category_id != request.category_id:
            raise RuleViolation(N_("plan line %(ref)s is for another category"), code="category_mismatch",
                                ref=line.ref)
        request.plan_line = line
    if purchase_id is not None:
        purchase = session.get(Purchase, purchase_id)
        if purchase is None:
            raise NotFound(N_("there is no purchase %(id)s"), id=purchase_id)
        categories = {line.category_id for line in purchase.lines}
        if request.category_id not in categories:
            raise RuleViolation(N_("purchase %(id)s has no line of this category"), code="category_mismatch",
                                id=purchase_id)
        request.purchase_id = purchase.id
    session.flush()  # the plan line's id, set through its relationship
    audit.change(session, actor, "purchase_request.link", request, before)
    return request


def listing(session: Session, state: str | None = None, department: str | None = None) -> Any:
    """The select for the list page and the API (keyset-paged by the caller)."""
    query = select(PurchaseRequest).join(Approval, PurchaseRequest.approval_id == Approval.id)
    if state:
        if state not in {s.value for s in ApprovalState}:
            raise Invalid(N_("unknown state %(state)s"), state=state[:20])
        query = query.where(Approval.state == state)
    if department:
        query = query.where(PurchaseRequest.department == department[:100])
    return query


def counts_by(session: Session) -> list[dict[str, Any]]:
    """Requests per department and state, with their estimated amounts (the requests report)."""
    amount = func.sum(PurchaseRequest.estimated_unit_price * PurchaseRequest.quantity)
    rows = session.execute(
        select(PurchaseRequest.department, Approval.state, func.count(), amount)
        .join(Approval, PurchaseRequest.approval_id == Approval.id)
        .group_by(PurchaseRequest.department, Approval.state)
        .order_by(PurchaseRequest.department, Approval.state)).all()
    return [{"department": d, "state": s, "count": int(n), "amount": Decimal(str(a or 0)).quantize(Decimal("0.01"))}
            for d, s, n, a in rows]


def fulfilled_quantity(session: Session, request: PurchaseRequest) -> int:
    """How many of the request's category its linked purchase bought (for the request page)."""
    if request.purchase_id is None:
        return 0
    total = session.scalar(select(func.coalesce(func.sum(PurchaseLine.quantity), 0)).where(
        PurchaseLine.purchase_id == request.purchase_id, PurchaseLine.category_id == request.category_id))
    return int(total or 0)
