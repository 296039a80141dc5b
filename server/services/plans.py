"""Approved procurement plans: lines, their import from CSV/XLSX, and what is left of them.

What a line has used is never stored: ``execution`` sums the purchase lines that point
at it every time it is asked, so the remainder cannot drift from the purchases.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from server import audit
from server.audit import Actor
from server.errors import AlreadyExists, Invalid, NotFound
from server.i18n import N_
from server.models import Category, PlanLine, ProcurementMethod, PurchaseLine

COLUMNS = ("ref", "budget_year", "department", "category", "approved_qty", "unit_price_cap", "approved_amount",
           "method", "approval_ref")
METHODS = tuple(m.value for m in ProcurementMethod)
LINE_FIELDS = ("ref", "budget_year", "department", "category_id", "approved_qty", "unit_price_cap",
               "approved_amount", "method", "approval_ref")
CENT = Decimal("0.01")
MAX_MONEY = Decimal("999999999999.99")  # Numeric(14, 2)


def money(value: Any, what: str) -> Decimal:
    """A non-negative amount with at most two decimals, or Invalid naming ``what``."""
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise Invalid(f"{what} {value!r} is not an amount") from None
    if not amount.is_finite() or amount < 0 or amount > MAX_MONEY:
        raise Invalid(f"{what} {value!r} must be between 0 and {MAX_MONEY}")
    if amount != amount.quantize(CENT):
        raise Invalid(f"{what} {value!r} has more than two decimals")
    return amount.quantize(CENT)


def _count(value: Any, what: str, low: int = 1, high: int = 10_000_000) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise Invalid(f"{what} {value!r} is not a whole number") from None
    if not low <= number <= high:
        raise Invalid(f"{what} {number} must be between {low} and {high}")
    return number


def _text(value: Any, what: str, size: int) -> str:
    text = str(value or "").strip()
    if not text or len(text) > size:
        raise Invalid(f"{what} must be 1 to {size} characters")
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


def parse_line(session: Session, row: Mapping[str, Any], categories: dict[str, Category] | None = None) -> LineIn:
    """Check one line's fields (from JSON, CSV or XLSX alike); Invalid names the first bad field."""
    if any(isinstance(v, str) and "\x00" in v for v in row.values()):  # PostgreSQL refuses NUL in text
        raise Invalid(N_("a field contains a NUL character"))
    missing = [c for c in COLUMNS if row.get(c) in (None, "")]
    if missing:
        raise Invalid(f"missing {', '.join(missing)}")
    method = str(row["method"]).strip()
    if method not in METHODS:
        raise Invalid(f"method {method!r} must be one of {', '.join(METHODS)}")
    name = str(row["category"]).strip()
    category = (categories or {}).get(name) or session.scalars(select(Category).where(Category.name == name)).first()
    if category is None:
        raise NotFound(f"no category named {name!r}", code="unknown_category")
    return LineIn(_text(row["ref"], "ref", 40), _count(row["budget_year"], "budget_year", 2000, 2200),
                  _text(row["department"], "department", 100), category,
                  _count(row["approved_qty"], "approved_qty"), money(row["unit_price_cap"], "unit_price_cap"),
                  money(row["approved_amount"], "approved_amount"), method,
                  _text(row["approval_ref"], "approval_ref", 100))


def _add(session: Session, actor: Actor, line: LineIn) -> PlanLine:
    plan = PlanLine(ref=line.ref, budget_year=line.budget_year, department=line.department, category=line.category,
                    category_id=line.category.id, approved_qty=line.approved_qty,
                    unit_price_cap=line.unit_price_cap, approved_amount=line.approved_amount, method=line.method,
                    approval_ref=line.approval_ref)
    session.add(plan)
    audit.record(session, actor, "plan_line.create", "plan_line", line.ref, None, audit.snapshot(plan, LINE_FIELDS))
    return plan


def create_line(session: Session, actor: Actor, row: Mapping[str, Any]) -> PlanLine:
    line = parse_line(session, row)
    if session.scalars(select(PlanLine.id).where(PlanLine.ref == line.ref)).first():
        raise AlreadyExists(f"plan line {line.ref} exists already")
    plan = _add(session, actor, line)
    session.flush()
    return plan


def line_by_ref(session: Session, ref: str) -> PlanLine:
    plan = session.scalars(select(PlanLine).where(PlanLine.ref == ref.strip())).first()
    if plan is None:
        raise NotFound(f"unknown plan line {ref}", code="unknown_plan_line")
    return plan


# --- import ---

@dataclass(frozen=True)
class RowError:
    row: int  # 1-based data row (the header is row 0)
    ref: str
    code: str
    message: str


@dataclass
class ImportReport:
    imported: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    skipped_bad: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors or self.skipped_bad


def import_rows(session: Session, actor: Actor, rows: Iterable[Mapping[str, Any]],
                skip_bad: bool = False) -> ImportReport:
    """Import a whole approved plan: every row is checked first; any bad row means nothing is
    imported, unless ``skip_bad`` (then the good rows are, and the bad ones are reported)."""
    report = ImportReport(skipped_bad=skip_bad)
    categories = {c.name: c for c in session.scalars(select(Category))}
    existing = set(session.scalars(select(PlanLine.ref)))
    good: list[LineIn] = []
    seen: set[str] = set()
    for number, row in enumerate(rows, start=1):
        ref = str(row.get("ref") or "").strip()
        try:
            line = parse_line(session, row, categories)
            if line.ref in existing or line.ref in seen:
                raise AlreadyExists(f"plan line {line.ref} exists already" if line.ref in existing
                                    else f"ref {line.ref} is given twice in this file")
        except (Invalid, NotFound, AlreadyExists) as exc:
            report.errors.append(RowError(number, ref, exc.code, exc.message))
            continue
        seen.add(line.ref)
        good.append(line)
    if report.errors and not skip_bad:
        return report
    for line in good:
        _add(session, actor, line)
        report.imported.append(line.ref)
    session.flush()
    return report


def read_table(data: bytes, filename: str = "") -> list[dict[str, Any]]:
    """Rows of a CSV (UTF-8, BOM allowed) or XLSX file (first sheet) as dicts keyed by the header."""
    if filename.lower().endswith(".xlsx") or data[:2] == b"PK":
        return _read_xlsx(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid("the CSV file is not UTF-8") from None
    reader = csv.DictReader(io.StringIO(text))
    try:
        _check_header(reader.fieldnames or [])
        return [{k.strip(): v for k, v in row.items() if k} for row in reader]
    except csv.Error as exc:  # a field over csv.field_size_limit (128 KiB), a bad quote: was a 500
        raise Invalid(N_("the CSV file cannot be read at row %(row)s: %(problem)s"), code="bad_file",
                      row=reader.line_num, problem=str(exc)) from None  # lines read before it: its data row


def _read_xlsx(data: bytes) -> list[dict[str, Any]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several unrelated types for a bad file
        raise Invalid(f"cannot read the XLSX file: {exc}") from None
    sheet = book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = [str(h or "").strip() for h in next(rows, ())]
    _check_header(header)
    out = [dict(zip(header, ("" if v is None else v for v in values), strict=False))
           for values in rows if any(v not in (None, "") for v in values)]
    book.close()
    return out


def _check_header(header: Iterable[str]) -> None:
    missing = [c for c in COLUMNS if c not in {h.strip() for h in header}]
    if missing:
        raise Invalid(f"the header lacks the columns {', '.join(missing)} (expected: {', '.join(COLUMNS)})")


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
    """Quantity and amount used per plan line, summed from the purchase lines (the documented query)."""
    return (select(PurchaseLine.plan_line_id, func.sum(PurchaseLine.quantity), func.sum(PurchaseLine.amount))
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
    plan = list(session.scalars(lines).unique())
    ids = [p.id for p in plan]
    used: dict[int, tuple[int, Decimal]] = {}
    for start in range(0, len(ids), 5000):
        query = usage_query().where(PurchaseLine.plan_line_id.in_(ids[start:start + 5000]))
        for line_id, qty, amount in session.execute(query):
            used[line_id] = (int(qty or 0), Decimal(amount or 0).quantize(CENT))
    return [Execution(p, *used.get(p.id, (0, Decimal("0.00")))) for p in plan]


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
