"""Purchases against the approved plan. ``validate`` is the one place that checks a purchase
(``record`` calls it before storing; the purchase form calls it as the person types):

* the line's category equals the plan line's;
* the unit price is not above the plan line's cap;
* the plan line's cumulative quantity never exceeds the approved quantity;
* its cumulative amount never exceeds the approved amount;
* the purchase's method is the plan line's, unless an exception with its approval
  reference is recorded on the purchase;
* the purchase date falls inside each plan line's budget year and is not in the future;
* a unit price of 0 only on a donation or free transfer-in recorded as such, with its approval
  reference.

Exactly at a limit passes, one unit or one cent over fails. The plan lines are locked
first (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite transactions are ``BEGIN
IMMEDIATE`` and so serialised already), so two purchases that together exceed a line
cannot both pass: the second one sums what the first committed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server import audit, params
from server.audit import Actor
from server.errors import Invalid, NotFound, RuleViolation
from server.i18n import N_
from server.models import Category, PlanLine, Purchase, PurchaseLine
from server.services import plans


@dataclass(frozen=True)
class LineIn:
    plan_line: str  # the plan line's ref
    category: str
    quantity: int
    unit_price: Decimal
    description: str = ""


@dataclass(frozen=True)
class Violation:
    """One broken rule: its code, the purchase line (1-based) and field it is about, and the message."""

    rule: str
    template: str
    params: dict[str, Any]
    line: int | None = None
    field: str | None = None  # the request field the rule is about: method, category, quantity, unit_price

    @property
    def message(self) -> str:
        return self.template % self.params

    def localized(self) -> str:
        from flask_babel import gettext

        return gettext(self.template) % self.params


class PlanRefused(RuleViolation):
    """A purchase that breaks the plan: every broken rule, each beside its line and field on a form."""

    def __init__(self, violations: list[Violation]) -> None:
        super().__init__("; ".join(v.message for v in violations), code=violations[0].rule)
        self.violations = violations

    def localized(self) -> str:
        return "; ".join(v.localized() for v in self.violations)


@dataclass(frozen=True)
class Checked:
    """A purchase that passed every rule (``validate``): what ``record`` stores."""

    supplier: str
    reference: str
    method: str
    exception_ref: str | None
    lines: list[LineIn]
    plan: dict[str, PlanLine] = field(repr=False)
    free_kind: str | None = None
    free_ref: str | None = None


def _lines(session: Session, raw: Sequence[LineIn | Mapping[str, Any]]) -> list[LineIn]:
    given = [item if isinstance(item, LineIn) else LineIn(**item) for item in raw]
    names = set(session.scalars(select(Category.name).where(Category.name.in_({g.category for g in given}))))
    out: list[LineIn] = []
    for n, line in enumerate(given, start=1):
        if line.quantity < 1:
            raise Invalid(N_("line %(line)s: quantity must be at least 1"), line=n, field="quantity")
        if line.category not in names:
            raise NotFound(N_("line %(line)s: no category named %(name)s"), code="unknown_category", line=n,
                           name=line.category, field="category")
        out.append(LineIn(line.plan_line, line.category, line.quantity,
                          plans.money(line.unit_price, "unit_price", line=n), line.description))
    if not out:
        raise Invalid(N_("a purchase needs at least one line"))
    return out


def lock_plan_lines(session: Session, refs: set[str], lock: bool = True) -> dict[str, PlanLine]:
    """Load (and lock, in id order, so lockers never deadlock) the plan lines a purchase draws on."""
    ids = select(PlanLine.id).where(PlanLine.ref.in_(refs)).order_by(PlanLine.id)
    if lock and session.get_bind().dialect.name == "postgresql":
        session.execute(ids.with_for_update()).all()
    found = {p.ref: p for p in session.scalars(select(PlanLine).where(PlanLine.ref.in_(refs))).unique()}
    missing = sorted(refs - set(found))
    if missing:
        raise NotFound(N_("unknown plan line %(ref)s"), code="unknown_plan_line", ref=", ".join(missing))
    return found


def _unknown_plan_line(lines: list[LineIn], exc: NotFound) -> NotFound:
    """The first line that names an unknown plan line (so a form can show it beside that line)."""
    missing = set(str(exc.params.get("ref", "")).split(", "))
    n = next(i for i, line in enumerate(lines, start=1) if line.plan_line in missing)
    return NotFound(N_("line %(line)s: unknown plan line %(ref)s"), code="unknown_plan_line", line=n,
                    ref=lines[n - 1].plan_line, field="plan_line")


FREE_KINDS = ("donation", "free_transfer_in")


def _free(free_kind: str | None, free_ref: str | None) -> tuple[str | None, str | None]:
    kind = (free_kind or "").strip() or None
    ref = (free_ref or "").strip() or None
    if kind is not None and kind not in FREE_KINDS:
        raise Invalid(N_("free_kind %(value)s must be one of %(choices)s"), value=kind, choices=", ".join(FREE_KINDS),
                      field="free_kind")
    if kind is not None and (ref is None or len(ref) > 100):
        raise Invalid(N_("a donation or free transfer-in needs its approval reference"), code="approval_required",
                      field="free_approval_ref")
    return kind, ref


def _dated(purchased_on: date | None, lines: list[LineIn], plan: dict[str, PlanLine],
           today: date) -> list[Violation]:
    """The purchase date: not in the future, and inside the budget year of every plan line it draws on."""
    if purchased_on is None:
        return []
    if purchased_on > today:
        return [Violation("date_in_future", N_("the purchase date %(date)s is in the future"),
                          {"date": purchased_on.isoformat()}, field="purchased_on")]
    return [Violation("outside_budget_year", N_(
        "the purchase date %(date)s is outside plan line %(ref)s's budget year %(year)s"),
        {"date": purchased_on.isoformat(), "ref": ref, "year": plan[ref].budget_year}, field="purchased_on")
        for ref in sorted({line.plan_line for line in lines}) if plan[ref].budget_year != purchased_on.year]


def _zero_prices(lines: list[LineIn], free_kind: str | None) -> list[Violation]:
    if free_kind is not None:
        return []
    return [Violation("zero_price", N_(
        "line %(line)s: a unit price of 0 is only for a donation or free transfer-in recorded as such, with its "
        "approval reference"), {"line": n}, n, "unit_price")
        for n, line in enumerate(lines, start=1) if line.unit_price == 0]


def check(session: Session, method: str, exception_ref: str | None, lines: list[LineIn],
          plan: dict[str, PlanLine]) -> list[Violation]:
    """Every rule of the plan broken by these lines, given what the plan lines have used so far."""
    ids = [p.id for p in plan.values()]
    used = {line_id: (int(qty or 0), Decimal(amount or 0).quantize(plans.CENT)) for line_id, qty, amount in
            session.execute(plans.usage_query().where(PurchaseLine.plan_line_id.in_(ids)))}
    out: list[Violation] = []
    for ref in sorted({line.plan_line for line in lines}):
        required = plan[ref].method
        if method != required and not exception_ref:
            out.append(Violation("method_mismatch", N_(
                "method %(method)s is not plan line %(ref)s's required method %(required)s; record a method "
                "exception with its approval reference"), {"method": method, "ref": ref, "required": required},
                field="method"))
    for n, line in enumerate(lines, start=1):
        out += _line_violations(n, line, plan[line.plan_line], used)
    return out


def _line_violations(n: int, line: LineIn, p: PlanLine, used: dict[int, tuple[int, Decimal]]) -> list[Violation]:
    out: list[Violation] = []
    qty_before, amount_before = used.get(p.id, (0, Decimal("0.00")))
    amount = (line.unit_price * line.quantity).quantize(plans.CENT)
    if line.category != p.category.name:
        out.append(Violation("category_mismatch", N_(
            "line %(line)s: category '%(category)s' is not plan line %(ref)s's category '%(plan_category)s'"),
            {"line": n, "category": line.category, "ref": p.ref, "plan_category": p.category.name}, n, "category"))
    if line.unit_price > p.unit_price_cap:
        out.append(Violation("unit_price_cap_exceeded", N_(
            "line %(line)s: unit price %(price)s is above plan line %(ref)s's cap %(cap)s by %(over)s"),
            {"line": n, "price": line.unit_price, "ref": p.ref, "cap": p.unit_price_cap,
             "over": line.unit_price - p.unit_price_cap}, n, "unit_price"))
    if qty_before + line.quantity > p.approved_qty:
        out.append(Violation("quantity_exceeded", N_(
            "line %(line)s: quantity %(quantity)s would bring plan line %(ref)s to %(total)s of %(approved)s "
            "approved, over by %(over)s"),
            {"line": n, "quantity": line.quantity, "ref": p.ref, "total": qty_before + line.quantity,
             "approved": p.approved_qty, "over": qty_before + line.quantity - p.approved_qty}, n, "quantity"))
    if amount_before + amount > p.approved_amount:
        out.append(Violation("amount_exceeded", N_(
            "line %(line)s: amount %(amount)s would bring plan line %(ref)s to %(total)s of %(approved)s "
            "approved, over by %(over)s"),
            {"line": n, "amount": amount, "ref": p.ref, "total": amount_before + amount,
             "approved": p.approved_amount, "over": amount_before + amount - p.approved_amount}, n, "quantity"))
    used[p.id] = (qty_before + line.quantity, amount_before + amount)  # later lines on the same plan line
    return out


def validate(session: Session, supplier: str, method: str, reference: str,
             lines: Sequence[LineIn | Mapping[str, Any]], exception_ref: str | None = None,
             lock: bool = False, purchased_on: date | None = None, free_kind: str | None = None,
             free_approval_ref: str | None = None) -> Checked:
    """Every rule of a purchase, writing nothing: ``record`` calls it (with ``lock``) before storing, and
    the purchase form calls it as the person types. Raises the first problem with the input, or
    PlanRefused naming every rule of the plan the lines break.

    The plan is checked before the supplier and reference, so that a form being filled in shows the
    plan's verdict on its lines before it complains about the fields still empty.
    """
    if method not in plans.METHODS:
        raise Invalid(N_("method %(value)s must be one of %(choices)s"), value=method,
                      choices=", ".join(plans.METHODS), field="method")
    exception_ref = (exception_ref or "").strip() or None
    free_kind, free_ref = _free(free_kind, free_approval_ref)
    checked = _lines(session, lines)
    try:
        plan = lock_plan_lines(session, {line.plan_line for line in checked}, lock)
    except NotFound as exc:
        raise _unknown_plan_line(checked, exc) from None
    violations = (_dated(purchased_on, checked, plan, date.today()) + _zero_prices(checked, free_kind)
                  + check(session, method, exception_ref, checked, plan))
    if violations:
        raise PlanRefused(violations)
    supplier = (supplier or "").strip()
    reference = (reference or "").strip()
    if not supplier or not reference:
        raise Invalid(N_("a purchase needs a supplier and an invoice or contract reference"),
                      field="reference" if supplier else "supplier")
    return Checked(supplier[:200], reference[:100], method, exception_ref, checked, plan, free_kind, free_ref)


def record(session: Session, actor: Actor, supplier: str, purchased_on: date, method: str, reference: str,
           lines: Sequence[LineIn | Mapping[str, Any]], exception_ref: str | None = None,
           free_kind: str | None = None, free_approval_ref: str | None = None) -> Purchase:
    """Record a purchase if it breaks no rule; otherwise PlanRefused naming every rule broken."""
    checked = validate(session, supplier, method, reference, lines, exception_ref, True, purchased_on,
                       free_kind, free_approval_ref)
    purchase = Purchase(supplier=checked.supplier, purchased_on=purchased_on, method=method,
                        reference=checked.reference, method_exception_ref=checked.exception_ref,
                        free_kind=checked.free_kind, free_approval_ref=checked.free_ref, actor=actor.name)
    for line in checked.lines:
        p = checked.plan[line.plan_line]
        purchase.lines.append(PurchaseLine(plan_line=p, category=p.category, quantity=line.quantity,
                                           unit_price=line.unit_price, description=line.description[:200],
                                           amount=(line.unit_price * line.quantity).quantize(plans.CENT)))
    session.add(purchase)
    session.flush()
    audit.change(session, actor, "purchase.create", purchase, extra=describe(purchase), inserted=purchase.lines)
    return purchase


def describe(purchase: Purchase) -> dict[str, Any]:
    return {
        "id": purchase.id, "supplier": purchase.supplier, "purchased_on": purchase.purchased_on.isoformat(),
        "method": purchase.method, "reference": purchase.reference,
        "method_exception_ref": purchase.method_exception_ref,
        "free_kind": purchase.free_kind, "free_approval_ref": purchase.free_approval_ref,
        "voided_at": purchase.voided_at.isoformat() if purchase.voided_at else None,
        "void_reason": purchase.void_reason, "void_approval_ref": purchase.void_approval_ref,
        "total": str(sum((li.amount for li in purchase.lines), Decimal("0.00"))),
        "lines": [{"id": li.id, "plan_line": li.plan_line.ref, "category": li.category.name,
                   "description": li.description, "quantity": li.quantity, "unit_price": str(li.unit_price),
                   "amount": str(li.amount)} for li in purchase.lines],
    }


T = TypeVar("T")
_UNKNOWN = {"purchase": N_("unknown purchase %(id)s"), "purchase line": N_("unknown purchase line %(id)s")}


def get(session: Session, purchase_id: str | int) -> Purchase:
    return _by_id(session, Purchase, purchase_id, "purchase")


def line(session: Session, line_id: str | int) -> PurchaseLine:
    return _by_id(session, PurchaseLine, line_id, "purchase line")


def _by_id(session: Session, model: type[T], row_id: str | int, what: str) -> T:
    number = params.row_id(row_id)
    row = session.get(model, number) if number is not None else None
    if row is None:
        raise NotFound(_UNKNOWN[what], code=f"unknown_{what.replace(' ', '_')}", id=str(row_id)[:40],
                       field=what.replace(" ", "_"))
    return row


def list_purchases(session: Session, limit: int = 100, offset: int = 0) -> tuple[list[Purchase], int]:
    total = session.scalar(select(func.count()).select_from(Purchase)) or 0
    rows = session.scalars(select(Purchase).order_by(Purchase.id.desc()).limit(limit).offset(offset)).all()
    return list(rows), total


def lines_of_plan(session: Session, plan_line_id: int, limit: int = 500) -> list[PurchaseLine]:
    """The purchase lines that draw on one plan line, newest first."""
    return list(session.scalars(select(PurchaseLine).where(PurchaseLine.plan_line_id == plan_line_id)
                                .order_by(PurchaseLine.id.desc()).limit(limit)).unique())
