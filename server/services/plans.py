"""Approved procurement plans: lines, their import from CSV/XLSX, and what is left of them.

What a line has used is never stored: ``execution`` sums the purchase lines that point
at it every time it is asked, so the remainder cannot drift from the purchases.

Messages are English templates marked with ``N_`` and their values apart (see server/errors.py);
a column is named as the file's header names it (``approved_qty``), in every language, because
that is what the person fixing the file looks for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Select, func, insert, select
from sqlalchemy.orm import Session

from server import audit
from server.audit import Actor
from server.errors import AlreadyExists, DomainError, Invalid, NotFound
from server.i18n import N_
from server.models import Category, PlanLine, ProcurementMethod, Purchase, PurchaseLine
from server.services import bulk

COLUMNS = ("ref", "budget_year", "department", "category", "approved_qty", "unit_price_cap", "approved_amount",
           "method", "approval_ref")
METHODS = tuple(m.value for m in ProcurementMethod)
CENT = Decimal("0.01")
MAX_MONEY = Decimal("999999999999.99")  # Numeric(14, 2)
Progress = Callable[[int], None]  # called with the number of rows done so far

# Each check has a template for a plain field and one for a field of a numbered line (a purchase's).
_NOT_AMOUNT = (N_("%(field)s %(value)s is not an amount"),
               N_("line %(line)s: %(field)s %(value)s is not an amount"))
_AMOUNT_RANGE = (N_("%(field)s %(value)s must be between 0 and %(most)s"),
                 N_("line %(line)s: %(field)s %(value)s must be between 0 and %(most)s"))
_DECIMALS = (N_("%(field)s %(value)s has more than two decimals"),
             N_("line %(line)s: %(field)s %(value)s has more than two decimals"))


def _bad(templates: tuple[str, str], line: int | None, **params: Any) -> Invalid:
    if line is None:
        return Invalid(templates[0], **params)
    return Invalid(templates[1], line=line, **params)


def money(value: Any, what: str, line: int | None = None) -> Decimal:
    """A non-negative amount with at most two decimals, or Invalid naming ``what`` (and the line)."""
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise _bad(_NOT_AMOUNT, line, field=what, value=str(value)) from None
    if not amount.is_finite() or amount < 0 or amount > MAX_MONEY:
        raise _bad(_AMOUNT_RANGE, line, field=what, value=str(value), most=str(MAX_MONEY))
    if amount != amount.quantize(CENT):
        raise _bad(_DECIMALS, line, field=what, value=str(value))
    return amount.quantize(CENT)


def count(value: Any, what: str, low: int = 1, high: int = 10_000_000) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise Invalid(N_("%(field)s %(value)s is not a whole number"), field=what, value=str(value)) from None
    if not low <= number <= high:
        raise Invalid(N_("%(field)s %(value)s must be between %(low)s and %(high)s"), field=what, value=number,
                      low=low, high=high)
    return number


def check_amount_within_cap(qty: int, cap: Decimal, amount: Decimal) -> None:
    """An approved amount can never be more than the quantity could cost at the unit price cap."""
    if amount > cap * qty:
        raise Invalid(N_("approved_amount %(amount)s is more than approved_qty %(qty)s x unit_price_cap %(cap)s "
                         "= %(most)s"), code="amount_above_cap", amount=amount, qty=qty, cap=cap,
                      most=(cap * qty).quantize(CENT), field="approved_amount")


def _text(value: Any, what: str, size: int) -> str:
    text = str(value or "").strip()
    if not text or len(text) > size:
        raise Invalid(N_("%(field)s must be 1 to %(size)s characters"), field=what, size=size)
    return text


@dataclass(frozen=True)
class LineIn:
    ref: str
    budget_year: int
    department: str
    category: Category
    approved_qty: int
    unit_price_cap: Decimal
    approved_amount: Decimal
    method: str
    approval_ref: str


FORMULA_START = ("=", "+", "-", "@")
FORMULA_CHECKED = ("ref", "category", "approval_ref", "department")


def parse_line(session: Session, row: Mapping[str, Any], categories: dict[str, Category] | None = None) -> LineIn:
    """Check one line's fields (from JSON, CSV or XLSX alike); Invalid names the first bad field."""
    if any(isinstance(v, str) and "\x00" in v for v in row.values()):  # PostgreSQL refuses NUL in text
        raise Invalid(N_("a field contains a NUL character"))
    missing = [c for c in COLUMNS if row.get(c) in (None, "")]
    if missing:
        raise Invalid(N_("missing %(fields)s"), fields=", ".join(missing))
    for column in FORMULA_CHECKED:
        # A reference is a code, never a spreadsheet formula: one that starts like a formula would run in
        # whoever's spreadsheet exports it later (formula injection), so it is refused at the door.
        if str(row[column]).strip()[:1] in FORMULA_START:
            raise Invalid(N_("%(field)s %(value)s looks like a spreadsheet formula; a reference may not start "
                             "with =, +, - or @"), code="formula_refused", field=column,
                          value=str(row[column])[:40])
    method = str(row["method"]).strip()
    if method not in METHODS:
        raise Invalid(N_("method %(value)s must be one of %(choices)s"), value=method, choices=", ".join(METHODS))
    name = str(row["category"]).strip()
    category = (categories or {}).get(name) or session.scalars(select(Category).where(Category.name == name)).first()
    if category is None:
        raise NotFound(N_("no category named %(name)s"), code="unknown_category", name=name)
    line = LineIn(_text(row["ref"], "ref", 40), count(row["budget_year"], "budget_year", 2000, 2200),
                  _text(row["department"], "department", 100), category,
                  count(row["approved_qty"], "approved_qty"), money(row["unit_price_cap"], "unit_price_cap"),
                  money(row["approved_amount"], "approved_amount"), method,
                  _text(row["approval_ref"], "approval_ref", 100))
    check_amount_within_cap(line.approved_qty, line.unit_price_cap, line.approved_amount)
    return line


def _add(session: Session, actor: Actor, line: LineIn) -> PlanLine:
    plan = PlanLine(ref=line.ref, budget_year=line.budget_year, department=line.department, category=line.category,
                    category_id=line.category.id, approved_qty=line.approved_qty,
                    unit_price_cap=line.unit_price_cap, approved_amount=line.approved_amount, method=line.method,
                    approval_ref=line.approval_ref)
    session.add(plan)
    audit.change(session, actor, "plan_line.create", plan)
    return plan


def _exists(ref: str) -> AlreadyExists:
    return AlreadyExists(N_("plan line %(ref)s exists already"), ref=ref)


def create_line(session: Session, actor: Actor, row: Mapping[str, Any]) -> PlanLine:
    line = parse_line(session, row)
    if session.scalars(select(PlanLine.id).where(PlanLine.ref == line.ref)).first():
        raise _exists(line.ref)
    plan = _add(session, actor, line)
    session.flush()
    return plan


def line_by_ref(session: Session, ref: str) -> PlanLine:
    plan = session.scalars(select(PlanLine).where(PlanLine.ref == ref.strip())).first()
    if plan is None:
        raise NotFound(N_("unknown plan line %(ref)s"), code="unknown_plan_line", ref=ref)
    return plan


# --- import ---

@dataclass(frozen=True)
class RowError:
    row: int  # 1-based data row (the header is row 0)
    ref: str
    code: str
    message: str  # English
    template: str = ""  # the message's template and values, for the reader's language
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, row: int, ref: str, exc: DomainError) -> RowError:
        return cls(row, ref, exc.code, exc.message, exc.template, dict(exc.params))

    def localized(self) -> str:
        """The message in the current request's language."""
        from flask_babel import gettext

        if not self.template:
            return self.message
        return gettext(self.template) % self.params if self.params else gettext(self.template)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (a job keeps its preview's rows this way)."""
        return {"row": self.row, "ref": self.ref, "code": self.code, "message": self.message,
                "template": self.template, "params": self.params}


@dataclass
class ImportReport:
    imported: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    skipped_bad: bool = False
    good: int = 0  # rows that passed every check (imported, or would be)

    @property
    def ok(self) -> bool:
        return not self.errors or self.skipped_bad


def check_rows(session: Session, rows: Iterable[Mapping[str, Any]],
               progress: Progress | None = None) -> tuple[list[LineIn], list[RowError]]:
    """Every row of a plan checked against the rules and the plan lines stored so far; writes nothing.

    The preview shows this; ``import_rows`` runs it again inside its own transaction before storing.
    """
    categories = {c.name: c for c in session.scalars(select(Category))}
    existing = set(session.scalars(select(PlanLine.ref)))
    good: list[LineIn] = []
    errors: list[RowError] = []
    seen: set[str] = set()
    for number, row in enumerate(rows, start=1):
        ref = str(row.get("ref") or "").strip()
        try:
            line = parse_line(session, row, categories)
            if line.ref in existing:
                raise _exists(line.ref)
            if line.ref in seen:
                raise AlreadyExists(N_("ref %(ref)s is given twice in this file"), ref=line.ref)
        except (Invalid, NotFound, AlreadyExists) as exc:
            errors.append(RowError.of(number, ref, exc))
        else:
            seen.add(line.ref)
            good.append(line)
        if progress is not None and number % 500 == 0:
            progress(number)
    return good, errors


def import_rows(session: Session, actor: Actor, rows: Iterable[Mapping[str, Any]],
                skip_bad: bool = False, progress: Progress | None = None) -> ImportReport:
    """Import a whole approved plan: every row is checked first; any bad row means nothing is
    imported, unless ``skip_bad`` (then the good rows are, and the bad ones are reported).

    ``progress`` hears the rows checked, then the rows stored (counting on from the rows checked)."""
    rows = list(rows)
    good, errors = check_rows(session, rows, progress)
    report = ImportReport(errors=errors, skipped_bad=skip_bad, good=len(good))
    if report.errors and not skip_bad:
        return report
    _store(session, actor, good, lambda n: progress(len(rows) + n) if progress is not None else None)
    report.imported = [line.ref for line in good]
    return report


def _store(session: Session, actor: Actor, lines: list[LineIn], progress: Progress, chunk: int = 500) -> None:
    """Insert checked lines a chunk at a time (one executemany each), with their audit rows.

    The same rows as ``_add``, without the ORM's unit of work per object: a plan of 20,000 lines is
    stored in seconds, and on SQLite the write lock (which every other request waits for) is held
    that much shorter."""
    for start in range(0, len(lines), chunk):
        part = lines[start:start + chunk]
        values = [{"ref": line.ref, "budget_year": line.budget_year, "department": line.department,
                   "category_id": line.category.id, "approved_qty": line.approved_qty,
                   "unit_price_cap": line.unit_price_cap, "approved_amount": line.approved_amount,
                   "method": line.method, "approval_ref": line.approval_ref} for line in part]
        session.execute(insert(PlanLine), values)
        with bulk.rows(session):
            for row in values:
                audit.record(session, actor, "plan_line.create", "plan_line", row["ref"], None,
                             audit.ledger.normal_of(PlanLine, row))
        progress(start + len(part))


def read_table(data: bytes, filename: str = "", progress: Progress | None = None) -> list[dict[str, Any]]:
    """Rows of a plan file (services/plan_files: CSV in UTF-8 or GB18030/GBK, XLSX; Chinese or English
    headers and methods) keyed by the column codes of COLUMNS."""
    from server.services import plan_files

    return plan_files.read_table(data, filename, progress)


def estimate_rows(data: bytes, filename: str = "") -> int:
    from server.services import plan_files

    return plan_files.estimate_rows(data, filename)


# --- what is left ---

@dataclass(frozen=True)
class Execution:
    line: PlanLine
    used_qty: int
    used_amount: Decimal

    @property
    def remaining_qty(self) -> int:
        return self.line.approved_qty - self.used_qty

    @property
    def remaining_amount(self) -> Decimal:
        return self.line.approved_amount - self.used_amount

    @property
    def percent_used(self) -> Decimal:
        if not self.line.approved_amount:
            return Decimal("0.0")
        return (self.used_amount * 100 / self.line.approved_amount).quantize(Decimal("0.1"))


def usage_query() -> Select[int, int, Decimal]:
    """Quantity and amount used per plan line, summed from the purchase lines of purchases that are not
    voided (the documented query)."""
    return (select(PurchaseLine.plan_line_id, func.sum(PurchaseLine.quantity), func.sum(PurchaseLine.amount))
            .join(Purchase, PurchaseLine.purchase_id == Purchase.id).where(Purchase.voided_at.is_(None))
            .group_by(PurchaseLine.plan_line_id))


def execution(session: Session, year: int | None = None, department: str | None = None,
              category: str | None = None) -> list[Execution]:
    lines = select(PlanLine).order_by(PlanLine.budget_year, PlanLine.ref)
    if year is not None:
        lines = lines.where(PlanLine.budget_year == year)
    if department:
        lines = lines.where(PlanLine.department == department)
    if category:
        lines = lines.join(Category, PlanLine.category_id == Category.id).where(Category.name == category)
    return execution_of(session, list(session.scalars(lines).unique()))


def execution_of(session: Session, plan: list[PlanLine]) -> list[Execution]:
    """What each of these plan lines has used (a page of lines, or all of a year's)."""
    ids = [p.id for p in plan]
    used: dict[int, tuple[int, Decimal]] = {}
    for start in range(0, len(ids), 5000):
        query = usage_query().where(PurchaseLine.plan_line_id.in_(ids[start:start + 5000]))
        for line_id, qty, amount in session.execute(query):
            used[line_id] = (int(qty or 0), Decimal(amount or 0).quantize(CENT))
    return [Execution(p, *used.get(p.id, (0, Decimal("0.00")))) for p in plan]


def filter_choices(session: Session) -> dict[str, list[Any]]:
    """The budget years, departments and categories that plan lines have (for a list's filters)."""
    return {
        "years": list(session.scalars(select(PlanLine.budget_year).distinct().order_by(PlanLine.budget_year.desc()))),
        "departments": list(session.scalars(select(PlanLine.department).distinct().order_by(PlanLine.department))),
        "categories": list(session.scalars(select(Category.name).join(PlanLine, PlanLine.category_id == Category.id)
                                           .distinct().order_by(Category.name))),
    }


def by_category(rows: list[Execution]) -> list[dict[str, Any]]:
    """The remaining plan per category (and year), from per-line execution rows."""
    totals: dict[tuple[int, str], dict[str, Any]] = {}
    for r in rows:
        key = (r.line.budget_year, r.line.category.name)
        t = totals.setdefault(key, {"budget_year": key[0], "category": key[1], "approved_qty": 0, "used_qty": 0,
                                    "approved_amount": Decimal("0.00"), "used_amount": Decimal("0.00")})
        t["approved_qty"] += r.line.approved_qty
        t["used_qty"] += r.used_qty
        t["approved_amount"] += r.line.approved_amount
        t["used_amount"] += r.used_amount
    for t in totals.values():
        t["remaining_qty"] = t["approved_qty"] - t["used_qty"]
        t["remaining_amount"] = t["approved_amount"] - t["used_amount"]
    return [totals[k] for k in sorted(totals)]
