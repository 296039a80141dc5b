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
    Person,
    PlanLine,
    Purchase,
    PurchaseLine,
    PurchaseRequest,
    SupplyItem,
    SupplyMovement,
)
from server.services import supply_costs

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


# --- office supplies (valued FIFO from purchase prices: services/supply_costs) ---

SUPPLY_BY = ("department", "person", "item")
TOP_BY = ("department", "person")


def _within_days(day: date, start: date | None, end: date | None) -> bool:
    return (start is None or day >= start) and (end is None or day <= end)


def _supply_names(session: Session, by: str) -> dict[int, tuple[str, str, str]]:
    """id -> (code, name, unit) of the items or people a grouping by them shows."""
    if by == "item":
        return {i: (c, n, u) for i, c, n, u in session.execute(
            select(SupplyItem.id, SupplyItem.code, SupplyItem.name, SupplyItem.unit))}
    return {i: (c, n, "") for i, c, n in session.execute(select(Person.id, Person.code, Person.name))}


def supply_consumption(session: Session, by: str, period: str | None, start: date | None, end: date | None) -> Rows:
    """Supplies used (pickups net of returns) per department, person or item, optionally per period,
    at FIFO cost."""
    key_of = {"department": lambda r: r.department, "person": lambda r: r.person_id or 0,
              "item": lambda r: r.item_id}[by]

    def group(row: Any) -> tuple[str, Any] | None:
        day = row.at.date()
        return (period_label(day, period), key_of(row)) if _within_days(day, start, end) else None

    used = supply_costs.consumption(session, group)
    names = _supply_names(session, by) if by != "department" else {}
    columns = [*(["period"] if period else []), *_supply_key_columns(by), "pickups", "consumed_cost"]
    rows = []
    for (label, key), use in sorted(used.items(), key=lambda kv: (kv[0][0], _sort_key(names, kv[0][1]))):
        row: dict[str, Any] = {"period": label} if period else {}
        rows.append({**row, **_supply_key(by, key, names, use), "pickups": use.pickups,
                     "consumed_cost": use.cost})
    return columns, rows


def _supply_key_columns(by: str) -> list[str]:
    return {"department": ["department"], "person": ["taker", "taker_name"],
            "item": ["item", "item_name", "unit", "consumed_quantity"]}[by]


def _sort_key(names: dict[int, tuple[str, str, str]], key: Any) -> str:
    return names.get(key, ("", "", ""))[0] if isinstance(key, int) else str(key)


def _supply_key(by: str, key: Any, names: dict[int, tuple[str, str, str]], use: Any) -> dict[str, Any]:
    if by == "department":
        return {"department": key}
    code, name, unit = names.get(key, ("", "", ""))
    if by == "person":
        return {"taker": code, "taker_name": name}
    return {"item": code, "item_name": name, "unit": unit, "consumed_quantity": use.quantity}


def supply_top_consumers(session: Session, by: str, start: date | None, end: date | None, top: int = 10) -> Rows:
    """The departments or people who used the most supplies (FIFO cost) in the range, and their share."""
    _columns, rows = supply_consumption(session, by, None, start, end)
    total = sum((r["consumed_cost"] for r in rows), ZERO)
    ranked = sorted(rows, key=lambda r: (-r["consumed_cost"], str(r.get("department") or r.get("taker"))))[:top]
    out = [{"rank": n, **r, "share_percent": _ratio(r["consumed_cost"], total)} for n, r in enumerate(ranked, 1)]
    return ["rank", *_supply_key_columns(by), "pickups", "consumed_cost", "share_percent"], out


def supply_stock_value(session: Session) -> Rows:
    """Per item: stock on hand and its value at FIFO cost (the oldest units left are the newest bought)."""
    valuation = supply_costs.value(session, keep=False)
    stock = {item_id: int(total) for item_id, total in session.execute(
        select(SupplyMovement.item_id, func.sum(SupplyMovement.quantity)).group_by(SupplyMovement.item_id))}
    rows = [{"item": item.code, "item_name": item.name, "unit": item.unit, "stock": stock.get(item.id, 0),
             "stock_value": valuation.on_hand(item.id)}
            for item in session.scalars(select(SupplyItem).order_by(SupplyItem.code))]
    return ["item", "item_name", "unit", "stock", "stock_value"], rows
