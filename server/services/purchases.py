"""Purchases against the approved plan. ``record`` is the one place that checks a purchase:

* the line's category equals the plan line's;
* the unit price is not above the plan line's cap;
* the plan line's cumulative quantity never exceeds the approved quantity;
* its cumulative amount never exceeds the approved amount;
* the purchase's method is the plan line's, unless an exception with its approval
  reference is recorded on the purchase.

Exactly at a limit passes, one unit or one cent over fails. The plan lines are locked
first (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite transactions are ``BEGIN
IMMEDIATE`` and so serialised already), so two purchases that together exceed a line
cannot both pass: the second one sums what the first committed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server import audit, params
from server.audit import Actor
from server.errors import Invalid, NotFound, RuleViolation
from server.models import PlanLine, Purchase, PurchaseLine
from server.services import directory, plans


@dataclass(frozen=True)
class LineIn:
    plan_line: str  # the plan line's ref
    category: str
    quantity: int
    unit_price: Decimal
    description: str = ""


@dataclass(frozen=True)
class Violation:
    rule: str
    message: str


def _lines(raw: Sequence[LineIn | Mapping[str, Any]]) -> list[LineIn]:
    out: list[LineIn] = []
    for item in raw:
        line = item if isinstance(item, LineIn) else LineIn(**item)
        if line.quantity < 1:
            raise Invalid(f"line {len(out) + 1}: quantity must be at least 1")
        out.append(LineIn(line.plan_line, line.category, line.quantity,
                          plans.money(line.unit_price, f"line {len(out) + 1}: unit_price"), line.description))
    if not out:
        raise Invalid("a purchase needs at least one line")
    return out


def lock_plan_lines(session: Session, refs: set[str]) -> dict[str, PlanLine]:
    """Load and lock the plan lines a purchase draws on (in id order, so lockers never deadlock)."""
    ids = select(PlanLine.id).where(PlanLine.ref.in_(refs)).order_by(PlanLine.id)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(ids.with_for_update()).all()
    found = {p.ref: p for p in session.scalars(select(PlanLine).where(PlanLine.ref.in_(refs))).unique()}
    missing = sorted(refs - set(found))
    if missing:
        raise NotFound(f"unknown plan line {', '.join(missing)}", code="unknown_plan_line")
    return found


def check(session: Session, method: str, exception_ref: str | None, lines: list[LineIn],
          plan: dict[str, PlanLine]) -> list[Violation]:
    """Every rule broken by these lines, given what the plan lines have used so far."""
    ids = [p.id for p in plan.values()]
    used = {line_id: (int(qty or 0), Decimal(amount or 0).quantize(plans.CENT)) for line_id, qty, amount in
            session.execute(plans.usage_query().where(PurchaseLine.plan_line_id.in_(ids)))}
    out: list[Violation] = []
    for ref in sorted({line.plan_line for line in lines}):
        required = plan[ref].method
        if method != required and not exception_ref:
            out.append(Violation("method_mismatch", f"method {method} is not plan line {ref}'s required method "
                                 f"{required}; record a method exception with its approval reference"))
    for n, line in enumerate(lines, start=1):
        p = plan[line.plan_line]
        qty_before, amount_before = used.get(p.id, (0, Decimal("0.00")))
        amount = (line.unit_price * line.quantity).quantize(plans.CENT)
        if line.category != p.category.name:
            out.append(Violation("category_mismatch", f"line {n}: category {line.category!r} is not plan line "
                                 f"{p.ref}'s category {p.category.name!r}"))
        if line.unit_price > p.unit_price_cap:
            out.append(Violation("unit_price_cap_exceeded", f"line {n}: unit price {line.unit_price} is above plan "
                                 f"line {p.ref}'s cap {p.unit_price_cap} by {line.unit_price - p.unit_price_cap}"))
        if qty_before + line.quantity > p.approved_qty:
            over = qty_before + line.quantity - p.approved_qty
            out.append(Violation("quantity_exceeded", f"line {n}: quantity {line.quantity} would bring plan line "
                                 f"{p.ref} to {qty_before + line.quantity} of {p.approved_qty} approved, "
                                 f"over by {over}"))
        if amount_before + amount > p.approved_amount:
            over_amount = amount_before + amount - p.approved_amount
            out.append(Violation("amount_exceeded", f"line {n}: amount {amount} would bring plan line {p.ref} to "
                                 f"{amount_before + amount} of {p.approved_amount} approved, over by {over_amount}"))
        used[p.id] = (qty_before + line.quantity, amount_before + amount)  # later lines on the same plan line
    return out


def record(session: Session, actor: Actor, supplier: str, purchased_on: date, method: str, reference: str,
           lines: Sequence[LineIn | Mapping[str, Any]], exception_ref: str | None = None) -> Purchase:
    """Record a purchase if it breaks no rule; otherwise RuleViolation naming every rule broken."""
    if method not in plans.METHODS:
        raise Invalid(f"method {method!r} must be one of {', '.join(plans.METHODS)}")
    supplier = (supplier or "").strip()
    reference = (reference or "").strip()
    if not supplier or not reference:
        raise Invalid("a purchase needs a supplier and an invoice or contract reference")
    exception_ref = (exception_ref or "").strip() or None
    checked = _lines(lines)
    for line in checked:
        directory.category_by_name(session, line.category)
    plan = lock_plan_lines(session, {line.plan_line for line in checked})
    violations = check(session, method, exception_ref, checked, plan)
    if violations:
        raise RuleViolation("; ".join(v.message for v in violations), code=violations[0].rule)
    purchase = Purchase(supplier=supplier[:200], purchased_on=purchased_on, method=method,
                        reference=reference[:100], method_exception_ref=exception_ref, actor=actor.name)
    for line in checked:
        p = plan[line.plan_line]
        purchase.lines.append(PurchaseLine(plan_line=p, category=p.category, quantity=line.quantity,
                                           unit_price=line.unit_price, description=line.description[:200],
                                           amount=(line.unit_price * line.quantity).quantize(plans.CENT)))
    session.add(purchase)
    session.flush()
    audit.record(session, actor, "purchase.create", "purchase", purchase.id, None, describe(purchase))
    return purchase


def describe(purchase: Purchase) -> dict[str, Any]:
    return {
        "id": purchase.id, "supplier": purchase.supplier, "purchased_on": purchase.purchased_on.isoformat(),
        "method": purchase.method, "reference": purchase.reference,
        "method_exception_ref": purchase.method_exception_ref,
        "total": str(sum((li.amount for li in purchase.lines), Decimal("0.00"))),
        "lines": [{"id": li.id, "plan_line": li.plan_line.ref, "category": li.category.name,
                   "description": li.description, "quantity": li.quantity, "unit_price": str(li.unit_price),
                   "amount": str(li.amount)} for li in purchase.lines],
    }


T = TypeVar("T")


def get(session: Session, purchase_id: str | int) -> Purchase:
    return _by_id(session, Purchase, purchase_id, "purchase")


def line(session: Session, line_id: str | int) -> PurchaseLine:
    return _by_id(session, PurchaseLine, line_id, "purchase line")


def _by_id(session: Session, model: type[T], row_id: str | int, what: str) -> T:
    code = f"unknown_{what.replace(' ', '_')}"
    number = params.row_id(row_id)
    row = session.get(model, number) if number is not None else None
    if row is None:
        raise NotFound(f"unknown {what} {row_id}", code=code)
    return row


def list_purchases(session: Session, limit: int = 100, offset: int = 0) -> tuple[list[Purchase], int]:
    total = session.scalar(select(func.count()).select_from(Purchase)) or 0
    rows = session.scalars(select(Purchase).order_by(Purchase.id.desc()).limit(limit).offset(offset)).all()
    return list(rows), total
