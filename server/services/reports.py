"""Decision reports. Each is one documented query over the ledger (docs/reports.md) and gives
column keys and rows, which the API sends as JSON, CSV or XLSX and the web shows as a table
and a chart. Money is summed by the database and returned as Decimal to the cent.

``COLUMNS`` names every column for a person (English, marked for the catalogue) and says what
kind of value it holds, so the web table, the chart and the files all show it the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, case, cast, extract, func, select
from sqlalchemy.orm import Session

from server.errors import DomainError, Invalid
from server.i18n import N_
from server.models import Asset, AssetStatus, Category, Location, PlanLine, Purchase, PurchaseLine
from server.services import archive_reports, archives, indicators, lifecycle, plans, vehicle_reports

CENT = Decimal("0.01")
PERIODS = ("month", "quarter", "year")
ASSET_DIMENSIONS = ("status", "category", "location", "department")
READERS = ("storekeeper", "auditor")  # and admin: who may read reports, on the web and the API
YEARS = (1900, 2999)


class BadFilter(Invalid):
    """A report argument with a value the report does not take; the ``field`` parameter names it."""

    code = "bad_filter"

    def __init__(self, message: str, *, field: str, **params: Any) -> None:
        super().__init__(message, field=field, **params)
        self.field = field


@dataclass(frozen=True)
class Report:
    name: str
    columns: list[str]
    rows: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {"report": self.name, "columns": self.columns,
                "rows": [{k: _plain(v) for k, v in row.items()} for row in self.rows]}

    def column(self, key: str) -> Column:
        """What column ``key`` of this report is called and holds."""
        return COLUMN_OVERRIDES.get((self.name, key)) or COLUMNS.get(key) or Column(key)


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


def _year_filter(query: Any, column: Any, year: int | None) -> Any:
    return query if year is None else query.where(cast(extract("year", column), Integer) == year)


def _within(query: Any, column: Any, start: date | None, end: date | None) -> Any:
    if start is not None:
        query = query.where(column >= start)
    return query if end is None else query.where(column <= end)


def spend(session: Session, period: str = "month", year: int | None = None, start: date | None = None,
          end: date | None = None) -> Report:
    """Spend per period (month, quarter or year) and category, from the purchase lines."""
    check_choice("period", period, PERIODS)
    y = cast(extract("year", Purchase.purchased_on), Integer)
    m = cast(extract("month", Purchase.purchased_on), Integer)
    part: Any = {"month": m, "quarter": (m + 2) // 3, "year": y}[period]
    query = (select(y, part, Category.name, func.sum(PurchaseLine.quantity), func.sum(PurchaseLine.amount))
             .join(Purchase, PurchaseLine.purchase_id == Purchase.id)
             .join(Category, PurchaseLine.category_id == Category.id).where(Purchase.voided_at.is_(None))
             .group_by(y, part, Category.name).order_by(y, part, Category.name))
    rows = []
    query = _within(_year_filter(query, Purchase.purchased_on, year), Purchase.purchased_on, start, end)
    for yy, pp, category, qty, amount in session.execute(query):
        label = {"month": f"{yy}-{int(pp):02d}", "quarter": f"{yy}-Q{int(pp)}", "year": f"{yy}"}[period]
        rows.append({"period": label, "category": category, "quantity": int(qty), "amount": _money(amount)})
    return Report("spend", ["period", "category", "quantity", "amount"], rows)


def spend_by_method(session: Session, year: int | None = None, start: date | None = None,
                    end: date | None = None) -> Report:
    """Spend per procurement method, with how much of it went through a recorded method exception."""
    exc = func.sum(case((Purchase.method_exception_ref.is_not(None), PurchaseLine.amount), else_=0))
    query = (select(Purchase.method, func.count(func.distinct(Purchase.id)), func.sum(PurchaseLine.amount), exc)
             .join(PurchaseLine, PurchaseLine.purchase_id == Purchase.id).where(Purchase.voided_at.is_(None))
             .group_by(Purchase.method).order_by(Purchase.method))
    found = session.execute(_within(_year_filter(query, Purchase.purchased_on, year), Purchase.purchased_on,
                                    start, end))
    rows = [{"method": method, "purchases": int(count), "amount": _money(amount),
             "amount_by_exception": _money(by_exception)} for method, count, amount, by_exception in found]
    return Report("spend-by-method", ["method", "purchases", "amount", "amount_by_exception"], rows)


def plan_execution(session: Session, year: int | None = None) -> Report:
    """Per plan line: approved, used (purchased), received (assets taken in), remaining, % used."""
    lines = plans.execution(session, year)
    received_query = (select(PurchaseLine.plan_line_id, func.count(Asset.id))
                      .join(Asset, Asset.purchase_line_id == PurchaseLine.id)
                      .where(Asset.status != AssetStatus.RETIRED.value).group_by(PurchaseLine.plan_line_id))
    if year is not None:
        received_query = received_query.join(PlanLine, PlanLine.id == PurchaseLine.plan_line_id).where(
            PlanLine.budget_year == year)
    received: dict[int, int] = {line_id: count for line_id, count in session.execute(received_query)}
    columns = ["ref", "budget_year", "department", "category", "method", "approved_qty", "used_qty",
               "remaining_qty", "received_qty", "approved_amount", "used_amount", "remaining_amount",
               "percent_used"]
    rows = [{"ref": r.line.ref, "budget_year": r.line.budget_year, "department": r.line.department,
             "category": r.line.category.name, "method": r.line.method, "approved_qty": r.line.approved_qty,
             "used_qty": r.used_qty, "remaining_qty": r.remaining_qty, "received_qty": received.get(r.line.id, 0),
             "approved_amount": r.line.approved_amount, "used_amount": r.used_amount,
             "remaining_amount": r.remaining_amount, "percent_used": r.percent_used} for r in lines]
    return Report("plan-execution", columns, rows)


def assets_by(session: Session, by: str = "status") -> Report:
    """How many assets and their value (sum of prices) per status, category, location or department."""
    check_choice("by", by, ASSET_DIMENSIONS)
    key: Any = {"status": Asset.status, "category": Category.name, "location": Location.code,
                "department": Asset.department}[by]
    query = (select(key, func.count(Asset.id), func.sum(Asset.price)).select_from(Asset)
             .join(Category, Asset.category_id == Category.id)
             .outerjoin(Location, Asset.location_id == Location.id).group_by(key).order_by(key))
    names = {c: n for c, n in session.execute(select(Location.code, Location.name))} if by == "location" else {}
    rows = [{by: value, **({"name": names.get(value, "")} if by == "location" else {}), "count": int(count),
             "value": _money(total)} for value, count, total in session.execute(query)]
    return Report(f"assets-by-{by}", [by, *(["name"] if by == "location" else []), "count", "value"], rows)


def bought_per_year(session: Session) -> Report:
    """Assets acquired per year (by acquisition date) with their total value, disposed ones included
    (retired ones, of a reversed intake, were never really acquired)."""
    y = cast(extract("year", Asset.acquired_on), Integer)
    query = (select(y, func.count(Asset.id), func.sum(Asset.price))
             .where(Asset.acquired_on.is_not(None), Asset.status != AssetStatus.RETIRED.value)
             .group_by(y).order_by(y))
    rows = [{"year": int(year), "count": int(count), "value": _money(total)}
            for year, count, total in session.execute(query)]
    return Report("bought-per-year", ["year", "count", "value"], rows)


def overdue(session: Session, controlled_only: bool = False) -> Report:
    rows = [{"asset": o.asset.code, "name": o.asset.name, "category": o.asset.category.name,
             "controlled": o.asset.category.controlled,
             "custodian": o.asset.custodian.code if o.asset.custodian else None,
             "custodian_name": o.asset.custodian.name if o.asset.custodian else None,
             "due_at": o.due_at.isoformat(), "late_by_hours": o.late_by_hours}
            for o in lifecycle.overdue(session, controlled_only=controlled_only)]
    return Report("overdue", ["asset", "name", "category", "controlled", "custodian", "custodian_name", "due_at",
                              "late_by_hours"], rows)


def usage_log(session: Session, start: date | None = None, end: date | None = None) -> Report:
    columns = ["asset", "name", "category", "out_at", "person", "person_name", "purpose", "approval_ref", "due_at",
               "returned_at", "late", "actor", "source"]
    since = datetime.combine(start, time.min, UTC) if start else None
    until = datetime.combine(end + timedelta(days=1), time.min, UTC) if end else None
    return Report("usage-log", columns, lifecycle.usage_log(session, since, until))


def _indicator(name: str, found: tuple[list[str], list[dict[str, Any]]]) -> Report:
    return Report(name, *found)


class UnknownParameter(DomainError):
    """An argument no report of this name takes: a typo must not silently give unfiltered figures."""

    code = "unknown_parameter"
    status = 400


def build(session: Session, name: str, args: dict[str, str]) -> Report:
    """A report by its name and its query-string arguments; an argument it does not take is refused."""
    maker = REPORTS.get(name)
    if maker is None:
        raise Invalid(N_("There is no report %(name)s; the reports are: %(names)s."), code="unknown_report",
                      name=name[:40], names=", ".join(REPORTS))
    unknown = sorted(set(args) - ARGUMENTS.get(name, set()))
    if unknown:
        raise UnknownParameter(N_("The report %(name)s does not take %(unknown)s; it takes: %(known)s."),
                               name=name, unknown=", ".join(u[:40] for u in unknown[:5]),
                               known=", ".join(sorted(ARGUMENTS.get(name, set()))) or "-")
    return maker(session, args)


def _date(args: dict[str, str], field: str) -> date | None:
    raw = args.get(field, "").strip()
    if raw == "":
        return None
    try:
        day = date.fromisoformat(raw) if len(raw) == 10 and raw.isascii() else None
    except ValueError:
        day = None
    if day is None or not YEARS[0] <= day.year <= YEARS[1]:
        raise BadFilter(N_("%(field)s must be a date such as 2026-12-01, not %(value)s."), field=field,
                        value=repr(raw[:40]))
    return day


def _range(args: dict[str, str]) -> tuple[date | None, date | None]:
    """The from/to dates (both included); to before from is refused."""
    start, end = _date(args, "from"), _date(args, "to")
    if start and end and end < start:
        raise BadFilter(N_("The end date is before the start date."), field="to")
    return start, end


def check_choice(field: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise BadFilter(N_("%(field)s must be one of %(choices)s, not %(value)s."), field=field,
                        choices=", ".join(choices), value=repr(value[:40]))


def _year(args: dict[str, str]) -> int | None:
    raw = args.get("year", "").strip()
    if raw == "":
        return None
    if not (raw.isascii() and raw.isdigit() and YEARS[0] <= int(raw) <= YEARS[1]):
        raise BadFilter(N_("The year must be a whole number from %(low)s to %(high)s, not %(value)s."),
                        field="year", low=YEARS[0], high=YEARS[1], value=repr(raw[:40]))
    return int(raw)


FLAGS = {"": False, "0": False, "false": False, "no": False, "1": True, "true": True, "yes": True}


def _flag(args: dict[str, str], field: str) -> bool:
    raw = args.get(field, "").strip().lower()
    if raw not in FLAGS:
        raise BadFilter(N_("%(field)s must be 1 or 0 (yes or no), not %(value)s."), field=field,
                        value=repr(raw[:40]))
    return FLAGS[raw]


def _span(args: dict[str, str]) -> tuple[datetime | None, datetime | None]:
    """The from/to dates as times: from the start of the first day to the end of the last (UTC)."""
    start, end = _range(args)
    return (datetime.combine(start, time.min, UTC) if start else None,
            datetime.combine(end + timedelta(days=1), time.min, UTC) if end else None)


def _days(args: dict[str, str], field: str, default: int) -> int:
    raw = args.get(field, "").strip()
    if raw == "":
        return default
    if not (raw.isascii() and raw.isdigit() and int(raw) <= 3650):
        raise BadFilter(N_("%(field)s must be a whole number of days from 0 to 3650, not %(value)s."), field=field,
                        value=repr(raw[:40]))
    return int(raw)


def _maintenance(session: Session, args: dict[str, str]) -> Report:
    by = args.get("by") or "category"
    check_choice("by", by, indicators.MAINTENANCE_BY)
    period = args.get("period") or None
    if period is not None:
        check_choice("period", period, PERIODS)
    return _indicator("maintenance-cost", indicators.maintenance_cost(session, by, period, *_range(args)))


def _option(args: dict[str, str], field: str, choices: tuple[str, ...], default: str | None) -> str | None:
    """An argument that takes one of ``choices`` (empty: ``default``)."""
    value = args.get(field) or default
    if value is not None:
        check_choice(field, value, choices)
    return value


REPORTS: dict[str, Callable[[Session, dict[str, str]], Report]] = {
    "spend": lambda s, a: spend(s, a.get("period") or "month", _year(a), *_range(a)),
    "spend-by-method": lambda s, a: spend_by_method(s, _year(a), *_range(a)),
    "plan-execution": lambda s, a: plan_execution(s, _year(a)),
    "assets": lambda s, a: assets_by(s, a.get("by") or "status"),
    "bought-per-year": lambda s, a: bought_per_year(s),
    "overdue": lambda s, a: overdue(s, _flag(a, "controlled")),
    "usage-log": lambda s, a: usage_log(s, *_range(a)),
    "maintenance-cost": _maintenance,
    "total-cost": lambda s, a: _indicator("total-cost", indicators.total_cost_of_ownership(s)),
    "spend-by-department": lambda s, a: _indicator(
        "spend-by-department", indicators.spend_by_department(s, _year(a), *_range(a))),
    "execution-rate": lambda s, a: _indicator("execution-rate", indicators.execution_rate(s, _year(a))),
    "requests": lambda s, a: _indicator("requests", indicators.requests_by(s, *_range(a))),
    "supply-consumption": lambda s, a: _indicator("supply-consumption", indicators.supply_consumption(
        s, _option(a, "by", indicators.SUPPLY_BY, "department") or "", _option(a, "period", PERIODS, None),
        *_range(a))),
    "supply-top-consumers": lambda s, a: _indicator("supply-top-consumers", indicators.supply_top_consumers(
        s, _option(a, "by", indicators.TOP_BY, "department") or "", *_range(a))),
    "supply-stock-value": lambda s, a: _indicator("supply-stock-value", indicators.supply_stock_value(s)),
    "archive-loans": lambda s, a: _indicator("archive-loans", archive_reports.loans_by(s, *_span(a))),
    "archive-overdue": lambda s, a: _indicator("archive-overdue", archive_reports.overdue_loans(s)),
    "archive-review": lambda s, a: _indicator("archive-review", archive_reports.due_for_review(
        s, archives.today(s), _days(a, "within", archive_reports.REVIEW_WITHIN_DAYS))),
}
# The arguments each report takes; any other is refused (UnknownParameter), never silently ignored.
ARGUMENTS: dict[str, set[str]] = {
    "spend": {"period", "year", "from", "to"},
    "spend-by-method": {"year", "from", "to"},
    "plan-execution": {"year"},
    "assets": {"by"},
    "bought-per-year": set(),
    "overdue": {"controlled"},
    "usage-log": {"from", "to"},
    "maintenance-cost": {"by", "period", "from", "to"},
    "total-cost": set(),
    "spend-by-department": {"year", "from", "to"},
    "execution-rate": {"year"},
    "requests": {"from", "to"},
    "supply-consumption": {"by", "period", "from", "to"},
    "supply-top-consumers": {"by", "from", "to"},
    "supply-stock-value": set(),
    "archive-loans": {"from", "to"},
    "archive-overdue": set(),
    "archive-review": {"within"},
}

TITLES = {
    "spend": N_("Spend by period and category"),
    "spend-by-method": N_("Spend by procurement method"),
    "plan-execution": N_("Procurement plan execution"),
    "assets": N_("Assets by status, category, location or department"),
    "bought-per-year": N_("Assets acquired per year"),
    "overdue": N_("Overdue check-outs"),
    "usage-log": N_("Usage log of controlled items"),
    "maintenance-cost": N_("Maintenance cost"),
    "total-cost": N_("Total cost of ownership"),
    "spend-by-department": N_("Spend per department and per head"),
    "execution-rate": N_("Plan execution rate by department and category"),
    "requests": N_("Purchase requests by department and state"),
    "supply-consumption": N_("Office supplies used"),
    "supply-top-consumers": N_("Top consumers of office supplies"),
    "supply-stock-value": N_("Office supplies in stock and their value"),
    "archive-loans": N_("Archive loans by department and class"),
    "archive-overdue": N_("Overdue archive loans"),
    "archive-review": N_("Archive volumes due for review"),
}
DESCRIPTIONS = {
    "spend": N_("What was spent in each month, quarter or year, per procurement category."),
    "spend-by-method": N_("Spend per procurement method, and how much of it was an approved exception."),
    "plan-execution": N_("Per plan line: approved, used, remaining and received, and the execution rate."),
    "assets": N_("How many assets there are and what they cost, grouped the way you choose."),
    "bought-per-year": N_("Assets acquired each year and their value, disposed ones included."),
    "overdue": N_("Checked-out assets past their due time, oldest first."),
    "usage-log": N_("Every check-out of a controlled item: who, why, approval, due, back, late."),
    "maintenance-cost": N_("Maintenance and repair cost per asset, category or department, by period."),
    "total-cost": N_("Per asset: price plus maintenance, years in use and cost per year."),
    "spend-by-department": N_("Spend per department and year, per head, and the change from the year before."),
    "execution-rate": N_("Approved and used amounts of the plan per department and category."),
    "requests": N_("How many purchase requests each department made, by state, and their estimated amounts."),
    "supply-consumption": N_("Supplies picked up, net of returns, per department, person or item and period, at "
                             "their purchase cost (first in, first out)."),
    "supply-top-consumers": N_("The departments or people who used the most supplies, by cost, and their share."),
    "supply-stock-value": N_("Per item: what is in stock and what it cost (first in, first out)."),
    "archive-loans": N_("Volumes lent per borrower's department and archive class: read on site, late, still out."),
    "archive-overdue": N_("Archive loans out past their due date, the longest overdue first."),
    "archive-review": N_("Volumes whose retention period has ended or ends within the days given: to appraise."),
}


@dataclass(frozen=True)
class Column:
    label: str  # English, marked with N_; translated where it is shown
    kind: str = "text"  # text, count, money, number, percent, year, datetime, bool, status, method, approval_state


COLUMNS: dict[str, Column] = {
    "period": Column(N_("Period")),
    "category": Column(N_("Procurement category")),
    "quantity": Column(N_("Quantity"), "count"),
    "amount": Column(N_("Amount"), "money"),
    "method": Column(N_("Procurement method"), "method"),
    "purchases": Column(N_("Number of purchases"), "count"),
    "amount_by_exception": Column(N_("Of which by approved exception"), "money"),
    "ref": Column(N_("Plan line")),
    "budget_year": Column(N_("Budget year"), "year"),
    "department": Column(N_("Department")),
    "approved_qty": Column(N_("Approved quantity"), "count"),
    "used_qty": Column(N_("Quantity used"), "count"),
    "remaining_qty": Column(N_("Quantity remaining"), "count"),
    "received_qty": Column(N_("Quantity received"), "count"),
    "approved_amount": Column(N_("Approved amount"), "money"),
    "used_amount": Column(N_("Amount used"), "money"),
    "remaining_amount": Column(N_("Amount remaining"), "money"),
    "percent_used": Column(N_("Execution rate (%)"), "percent"),
    "status": Column(N_("Status"), "status"),
    "location": Column(N_("Location code")),
    "name": Column(N_("Name")),
    "count": Column(N_("Number of assets"), "count"),
    "value": Column(N_("Value"), "money"),
    "year": Column(N_("Year"), "year"),
    "asset": Column(N_("Asset code")),
    "controlled": Column(N_("Controlled item"), "bool"),
    "custodian": Column(N_("Custodian code")),
    "custodian_name": Column(N_("Custodian")),
    "due_at": Column(N_("Due at"), "datetime"),
    "late_by_hours": Column(N_("Hours late"), "number"),
    "out_at": Column(N_("Checked out at"), "datetime"),
    "person": Column(N_("Checked out to (code)")),
    "person_name": Column(N_("Checked out to")),
    "purpose": Column(N_("Purpose")),
    "approval_ref": Column(N_("Approval reference")),
    "returned_at": Column(N_("Returned at"), "datetime"),
    "late": Column(N_("Late"), "bool"),
    "actor": Column(N_("Recorded by")),
    "source": Column(N_("Via")),
    "records": Column(N_("Records"), "count"),
    "cost": Column(N_("Cost"), "money"),
    "price": Column(N_("Price"), "money"),
    "maintenance": Column(N_("Maintenance cost"), "money"),
    "total_cost": Column(N_("Total cost"), "money"),
    "years_in_use": Column(N_("Years in use"), "number"),
    "cost_per_year": Column(N_("Cost per year"), "money"),
    "staff": Column(N_("Staff"), "count"),
    "per_head": Column(N_("Per head"), "money"),
    "previous_year": Column(N_("Previous year"), "money"),
    "change_percent": Column(N_("Change (%)"), "percent"),
    "request_state": Column(N_("State"), "approval_state"),
    "requests": Column(N_("Requests"), "count"),
    "taker": Column(N_("Taken by (code)")),
    "taker_name": Column(N_("Taken by")),
    "item": Column(N_("Item code")),
    "item_name": Column(N_("Item")),
    "unit": Column(N_("Unit")),
    "consumed_quantity": Column(N_("Quantity taken, net of returns"), "count"),
    "pickups": Column(N_("Pickups"), "count"),
    "consumed_cost": Column(N_("Cost used (FIFO)"), "money"),
    "rank": Column(N_("Rank"), "count"),
    "share_percent": Column(N_("Share (%)"), "percent"),
    "stock": Column(N_("In stock"), "number"),
    "stock_value": Column(N_("Stock value (FIFO)"), "money"),
}
COLUMNS |= {key: Column(label, kind) for key, (label, kind) in archive_reports.COLUMNS.items()}
# The same key named otherwise in one report: asset categories are not procurement categories.
COLUMN_OVERRIDES: dict[tuple[str, str], Column] = {
    (report, "category"): Column(N_("Asset category"))
    for report in ("assets-by-category", "overdue", "usage-log", "maintenance-cost", "total-cost")
} | {("assets-by-location", "name"): Column(N_("Location"))}


def _vehicle_indicator(name: str, make: vehicle_reports.Indicator) -> Callable[[Session, dict[str, str]], Report]:
    return lambda session, args: _indicator(name, make(session, *_range(args)))


# The official vehicles' indicators join the family (services.vehicle_reports), each taking from and to.
for _name, (_make, _title, _text) in vehicle_reports.FAMILY.items():
    REPORTS[_name], ARGUMENTS[_name] = _vehicle_indicator(_name, _make), {"from", "to"}
    TITLES[_name], DESCRIPTIONS[_name] = _title, _text
COLUMNS.update({key: Column(label, kind) for key, (label, kind) in vehicle_reports.COLUMNS.items()})
