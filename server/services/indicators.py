"""Cost indicators (the figures an office's leaders ask for): maintenance cost, total cost of
ownership, spend per department and per head, plan execution rate, purchase requests.

Each function returns (columns, rows) for ``services.reports`` to wrap as a report. Money that is
stored as text in event data (maintenance costs) is summed in Python as Decimal, to the cent and
exact; money in NUMERIC columns is summed by the database as the other reports do.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Integer, cast, extract, func, select
from sqlalchemy.orm import Session

from server.models import (
    Approval,
    Asset,
    AssetEvent,
    AssetStatus,
    Category,
    Department,
    PlanLine,
    Purchase,
    PurchaseLine,
    PurchaseRequest,
)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
Rows = tuple[list[str], list[dict[str, Any]]]
MAINTENANCE_BY = ("asset", "category", "department")


def _cents(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT, ROUND_HALF_UP)


def _ratio(part: Decimal, whole: Decimal) -> Decimal | None:
    return None if not whole else (part * 100 / whole).quantize(Decimal("0.1"), ROUND_HALF_UP)


def period_label(day: date, period: str | None) -> str:
    if period == "month":
        return f"{day.year}-{day.month:02d}"
    if period == "quarter":
        return f"{day.year}-Q{(day.month + 2) // 3}"
    return str(day.year) if period == "year" else ""


def _maintenance_events(session: Session, start: date | None, end: date | None) -> list[tuple[Asset, date, Decimal]]:
    """(asset, service date, cost) of every maintenance record, the date within [start, end]."""
    query = (select(AssetEvent.data, AssetEvent.at, Asset).join(Asset, AssetEvent.asset_id == Asset.id)
             .where(AssetEvent.type == "asset.maintenance"))
    found = []
    for data, at, asset in session.execute(query):
        day = date.fromisoformat(data["date"]) if data.get("date") else at.date()
        if (start is None or day >= start) and (end is None or day <= end):
            found.append((asset, day, _cents(data.get("cost"))))
    return found


def maintenance_cost(session: Session, by: str, period: str | None, start: date | None, end: date | None) -> Rows:
    """Maintenance and repair cost per asset, category or department, optionally per period."""
    totals: dict[tuple[str, str, str], list[Any]] = defaultdict(lambda: [0, ZERO])
    for asset, day, cost in _maintenance_events(session, start, end):
        ident, label = {"asset": (asset.code, asset.name), "category": (asset.category.name, ""),
                         "department": (asset.department, "")}[by]
        entry = totals[(period_label(day, period), ident, label)]
        entry[0] += 1
        entry[1] += cost
    columns = [*(["period"] if period else []), by, *(["name"] if by == "asset" else []), "records", "cost"]
    rows = []
    for (period_key, ident, name), (count, cost) in sorted(totals.items()):
        row: dict[str, Any] = {"period": period_key} if period else {}
        row[by] = ident
        if by == "asset":
            row["name"] = name
        rows.append({**row, "records": count, "cost": cost})
    return columns, rows


def _disposed_on(session: Session) -> dict[int, date]:
    query = select(AssetEvent.asset_id, func.min(AssetEvent.at)).where(
        AssetEvent.type == "asset.dispose", AssetEvent.applied.is_(True)).group_by(AssetEvent.asset_id)
    return {asset_id: at.date() for asset_id, at in session.execute(query)}


def total_cost_of_ownership(session: Session, today: date | None = None) -> Rows:
    """Per asset: price plus maintenance, years in use (acquisition to disposal or today), cost per year."""
    today = today or date.today()
    upkeep: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for asset, _day, cost in _maintenance_events(session, None, None):
        upkeep[asset.id] += cost
    ended = _disposed_on(session)
    rows = []
    for asset in session.scalars(select(Asset).where(Asset.status != AssetStatus.RETIRED.value)
                                  .where(Asset.price.is_not(None) | Asset.id.in_(list(upkeep)))
                                 .order_by(Asset.code)):
        price = _cents(asset.price)
        total = price + upkeep[asset.id]
        years = None
        if asset.acquired_on is not None:
            days = ((ended.get(asset.id) or today) - asset.acquired_on).days
            years = (Decimal(max(days, 0)) / Decimal("365.25")).quantize(CENT, ROUND_HALF_UP)
        per_year = (total / years).quantize(CENT, ROUND_HALF_UP) if years and years >= 1 else None
        rows.append({"asset": asset.code, "name": asset.name, "category": asset.category.name,
                     "department": asset.department, "status": asset.status, "price": price,
                     "maintenance": upkeep[asset.id], "total_cost": total, "years_in_use": years,
                     "cost_per_year": per_year})
    columns = ["asset", "name", "category", "department", "status", "price", "maintenance", "total_cost",
               "years_in_use", "cost_per_year"]
    return columns, rows


def spend_by_department(session: Session, year: int | None, start: date | None, end: date | None) -> Rows:
    """Spend per budget department and year (purchases by their plan line's department), per head
    (the staff count the admin keeps), and the change against the year before."""
    y = cast(extract("year", Purchase.purchased_on), Integer)
    query = (select(y, PlanLine.department, func.sum(PurchaseLine.amount))
             .join(Purchase, PurchaseLine.purchase_id == Purchase.id)
             .join(PlanLine, PurchaseLine.plan_line_id == PlanLine.id).where(Purchase.voided_at.is_(None))
             .group_by(y, PlanLine.department))
    if start is not None:
        query = query.where(Purchase.purchased_on >= start)
    if end is not None:
        query = query.where(Purchase.purchased_on <= end)
    amounts = {(int(yy), dept): _cents(total) for yy, dept, total in session.execute(query)}
    staff = dict(session.execute(select(Department.name, Department.staff_count)).all())
    rows = []
    for (yy, dept), amount in sorted(amounts.items()):
        if year is not None and yy != year:
            continue
        heads = staff.get(dept)
        before = amounts.get((yy - 1, dept))
        rows.append({"year": yy, "department": dept, "amount": amount, "staff": heads,
                     "per_head": (amount / heads).quantize(CENT, ROUND_HALF_UP) if heads else None,
                     "previous_year": before,
                     "change_percent": _ratio(amount - before, before) if before else None})
    return ["year", "department", "amount", "staff", "per_head", "previous_year", "change_percent"], rows


def execution_rate(session: Session, year: int | None) -> Rows:
    """Plan execution rate per department and category: approved amount, used amount, used / approved."""
    used = (select(PurchaseLine.plan_line_id.label("line"), func.sum(PurchaseLine.amount).label("used"))
            .join(Purchase, PurchaseLine.purchase_id == Purchase.id).where(Purchase.voided_at.is_(None))
            .group_by(PurchaseLine.plan_line_id).subquery())
    query = (select(PlanLine.department, Category.name, func.sum(PlanLine.approved_amount),
                    func.sum(func.coalesce(used.c.used, 0)))
             .join(Category, PlanLine.category_id == Category.id).outerjoin(used, used.c.line == PlanLine.id)
             .group_by(PlanLine.department, Category.name).order_by(PlanLine.department, Category.name))
    if year is not None:
        query = query.where(PlanLine.budget_year == year)
    rows = []
    for dept, category, approved, spent in session.execute(query):
        approved, spent = _cents(approved), _cents(spent)
        rows.append({"department": dept, "category": category, "approved_amount": approved, "used_amount": spent,
                     "remaining_amount": approved - spent, "percent_used": _ratio(spent, approved)})
    return ["department", "category", "approved_amount", "used_amount", "remaining_amount", "percent_used"], rows


def requests_by(session: Session, start: date | None, end: date | None) -> Rows:
    """Purchase requests per department and state, with their estimated amounts."""
    query = (select(PurchaseRequest.department, Approval.state, PurchaseRequest.quantity,
                    PurchaseRequest.estimated_unit_price, PurchaseRequest.created_at)
             .join(Approval, PurchaseRequest.approval_id == Approval.id))
    totals: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0, ZERO])
    for dept, state, quantity, price, created in session.execute(query):
        day = created.date()
        if (start is None or day >= start) and (end is None or day <= end):
            totals[(dept, state)][0] += 1
            totals[(dept, state)][1] += _cents(price) * quantity
    rows = [{"department": d, "request_state": s, "requests": n, "amount": a}
            for (d, s), (n, a) in sorted(totals.items())]
    return ["department", "request_state", "requests", "amount"], rows
