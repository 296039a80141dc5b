"""Decision reports. Each is one documented query over the ledger (docs/reports.md) and gives
column names and rows, which the API sends as JSON or CSV. Money is summed by the database
and returned as Decimal to the cent.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, case, cast, extract, func, select
from sqlalchemy.orm import Session

from server import params
from server.errors import Invalid
from server.models import Asset, Category, Location, PlanLine, Purchase, PurchaseLine
from server.services import lifecycle, plans

CENT = Decimal("0.01")
PERIODS = ("month", "quarter", "year")
ASSET_DIMENSIONS = ("status", "category", "location", "department")


@dataclass(frozen=True)
class Report:
    name: str
    columns: list[str]
    rows: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {"report": self.name, "columns": self.columns,
                "rows": [{k: _plain(v) for k, v in row.items()} for row in self.rows]}

    def as_csv(self) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, self.columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in self.rows:
            writer.writerow({k: "" if v is None else _plain(v) for k, v in row.items()})
        return out.getvalue()


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


def _year_filter(query: Any, column: Any, year: int | None) -> Any:
    return query if year is None else query.where(cast(extract("year", column), Integer) == year)


def spend(session: Session, period: str = "month", year: int | None = None) -> Report:
    """Spend per period (month, quarter or year) and category, from the purchase lines."""
    if period not in PERIODS:
        raise Invalid(f"period must be one of {', '.join(PERIODS)}")
    y = cast(extract("year", Purchase.purchased_on), Integer)
    m = cast(extract("month", Purchase.purchased_on), Integer)
    part: Any = {"month": m, "quarter": (m + 2) // 3, "year": y}[period]
    query = (select(y, part, Category.name, func.sum(PurchaseLine.quantity), func.sum(PurchaseLine.amount))
             .join(Purchase, PurchaseLine.purchase_id == Purchase.id)
             .join(Category, PurchaseLine.category_id == Category.id)
             .group_by(y, part, Category.name).order_by(y, part, Category.name))
    rows = []
    for yy, pp, category, qty, amount in session.execute(_year_filter(query, Purchase.purchased_on, year)):
        label = {"month": f"{yy}-{int(pp):02d}", "quarter": f"{yy}-Q{int(pp)}", "year": f"{yy}"}[period]
        rows.append({"period": label, "category": category, "quantity": int(qty), "amount": _money(amount)})
    return Report("spend", ["period", "category", "quantity", "amount"], rows)


def spend_by_method(session: Session, year: int | None = None) -> Report:
    """Spend per procurement method, with how much of it went through a recorded method exception."""
    exc = func.sum(case((Purchase.method_exception_ref.is_not(None), PurchaseLine.amount), else_=0))
    query = (select(Purchase.method, func.count(func.distinct(Purchase.id)), func.sum(PurchaseLine.amount), exc)
             .join(PurchaseLine, PurchaseLine.purchase_id == Purchase.id)
             .group_by(Purchase.method).order_by(Purchase.method))
    found = session.execute(_year_filter(query, Purchase.purchased_on, year))
    rows = [{"method": method, "purchases": int(count), "amount": _money(amount),
             "amount_by_exception": _money(by_exception)} for method, count, amount, by_exception in found]
    return Report("spend-by-method", ["method", "purchases", "amount", "amount_by_exception"], rows)


def plan_execution(session: Session, year: int | None = None) -> Report:
    """Per plan line: approved, used (purchased), received (assets taken in), remaining, % used."""
    lines = plans.execution(session, year)
    received_query = (select(PurchaseLine.plan_line_id, func.count(Asset.id))
                      .join(Asset, Asset.purchase_line_id == PurchaseLine.id).group_by(PurchaseLine.plan_line_id))
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
    if by not in ASSET_DIMENSIONS:
        raise Invalid(f"by must be one of {', '.join(ASSET_DIMENSIONS)}")
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
    """Assets acquired per year (by acquisition date) with their total value, disposed ones included."""
    y = cast(extract("year", Asset.acquired_on), Integer)
    query = (select(y, func.count(Asset.id), func.sum(Asset.price))
             .where(Asset.acquired_on.is_not(None)).group_by(y).order_by(y))
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


def usage_log(session: Session) -> Report:
    columns = ["asset", "name", "category", "out_at", "person", "person_name", "purpose", "approval_ref", "due_at",
               "returned_at", "late", "actor", "source"]
    return Report("usage-log", columns, lifecycle.usage_log(session))


def build(session: Session, name: str, args: dict[str, str]) -> Report:
    """A report by its name and its query-string arguments."""
    maker = REPORTS.get(name)
    if maker is None:
        raise Invalid(f"no report {name!r}; reports: {', '.join(REPORTS)}", code="unknown_report")
    return maker(session, args)


def _year(args: dict[str, str]) -> int | None:
    raw = args.get("year")
    return None if raw is None or raw == "" else params.year(raw)


REPORTS: dict[str, Callable[[Session, dict[str, str]], Report]] = {
    "spend": lambda s, a: spend(s, a.get("period", "month"), _year(a)),
    "spend-by-method": lambda s, a: spend_by_method(s, _year(a)),
    "plan-execution": lambda s, a: plan_execution(s, _year(a)),
    "assets": lambda s, a: assets_by(s, a.get("by", "status")),
    "bought-per-year": lambda s, a: bought_per_year(s),
    "overdue": lambda s, a: overdue(s, a.get("controlled", "") in {"1", "true", "yes"}),
    "usage-log": lambda s, a: usage_log(s),
}
