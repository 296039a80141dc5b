"""Cost indicators (issue 11): every figure compared with an independent computation over the same
rows; unknown report arguments refused; from/to honoured."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from server.audit import SYSTEM
from server.services import assets, departments, directory, lifecycle, plans, purchases, reports

YEAR = date.today().year
MAINTENANCE = [  # asset index, day, cost
    (0, date(YEAR, 1, 15), "380.00"), (0, date(YEAR, 3, 2), "19.99"), (1, date(YEAR, 2, 10), "1200.50"),
    (2, date(YEAR - 1, 11, 30), "0.01"), (3, date(YEAR, 3, 31), "75.25"),
]
ASSETS = [("Printer A", "Printer", "1899.00", "IT", 800), ("Printer B", "Printer", "1999.99", "Finance", 200),
          ("Server", "Server", "28500.00", "IT", 2000), ("Chair", "Chair", "300.10", "Finance", 10)]
PURCHASES = [  # year, plan ref, quantity, unit price
    (YEAR - 1, "A", 2, "1000.00"), (YEAR, "A", 3, "1000.00"), (YEAR, "B", 1, "25000.00"), (YEAR, "C", 4, "250.25")]
LINES = {"A": ("IT", "Printer", 10, "1200.00"), "B": ("IT", "Server", 2, "30000.00"),
         "C": ("Finance", "Chair", 20, "300.00")}


def _seed(session: Any) -> list[str]:
    for name in ("Printer", "Server", "Chair"):
        directory.get_or_create_category(session, SYSTEM, name)
    codes = [assets.create_asset(session, SYSTEM, name, category, price=Decimal(price), department=dept,
                                 acquired_on=date.today() - timedelta(days=days)).code
             for name, category, price, dept, days in ASSETS]
    for index, day, cost in MAINTENANCE:
        lifecycle.record_maintenance(session, SYSTEM, codes[index], day, "vendor", cost, "service")
    lifecycle.dispose(session, SYSTEM, codes[3], "scrapped", "ref-1")
    for ref, (dept, category, qty, cap) in LINES.items():
        for year in (YEAR - 1, YEAR):
            plans.create_line(session, SYSTEM, {
                "ref": f"{year}-{ref}", "budget_year": year, "department": dept, "category": category,
                "approved_qty": qty, "unit_price_cap": cap, "approved_amount": str(Decimal(cap) * qty),
                "method": "online_inquiry", "approval_ref": "x"})
    for year, ref, qty, price in PURCHASES:
        purchases.record(session, SYSTEM, "shop", date(year, 1, 10), "online_inquiry", f"inv-{year}-{ref}",
                         [{"plan_line": f"{year}-{ref}", "category": LINES[ref][1], "quantity": qty,
                           "unit_price": price}])
    departments.set_staff(session, SYSTEM, "IT", 7)
    return codes


def test_maintenance_cost_by_each_grouping(engine_sessions: Any) -> None:
    with engine_sessions() as session, session.begin():
        codes = _seed(session)
        for by in ("asset", "category", "department"):
            expected: dict[str, Decimal] = defaultdict(Decimal)
            for index, _day, cost in MAINTENANCE:
                name, category, _price, dept, _days = ASSETS[index]
                expected[{"asset": codes[index], "category": category, "department": dept}[by]] += Decimal(cost)
            got = {r[by]: r["cost"] for r in reports.build(session, "maintenance-cost", {"by": by}).rows}
            assert got == expected, by
        quarterly = reports.build(session, "maintenance-cost", {"by": "category", "period": "quarter",
                                                                "from": f"{YEAR}-01-01"}).rows
        # from 1 January: the server's service of last November is left out
        assert {(r["period"], r["category"]): r["cost"] for r in quarterly} == {
            (f"{YEAR}-Q1", "Printer"): Decimal("380.00") + Decimal("19.99") + Decimal("1200.50"),
            (f"{YEAR}-Q1", "Chair"): Decimal("75.25")}


def test_total_cost_of_ownership(engine_sessions: Any) -> None:
    with engine_sessions() as session, session.begin():
        codes = _seed(session)
        rows = {r["asset"]: r for r in reports.build(session, "total-cost", {}).rows}
        for index, (_name, _category, price, _dept, days) in enumerate(ASSETS):
            upkeep = sum((Decimal(c) for i, _d, c in MAINTENANCE if i == index), Decimal("0"))
            row = rows[codes[index]]
            assert row["price"] == Decimal(price) and row["maintenance"] == upkeep
            assert row["total_cost"] == Decimal(price) + upkeep
            years = (Decimal(days) / Decimal("365.25")).quantize(Decimal("0.01"))
            assert row["years_in_use"] == years
            expected = (row["total_cost"] / years).quantize(Decimal("0.01")) if years >= 1 else None
            assert row["cost_per_year"] == expected


def test_spend_per_department_per_head_and_year_over_year(engine_sessions: Any) -> None:
    with engine_sessions() as session, session.begin():
        _seed(session)
        expected: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
        for year, ref, qty, price in PURCHASES:
            expected[(year, LINES[ref][0])] += Decimal(price) * qty
        rows = {(r["year"], r["department"]): r for r in reports.build(session, "spend-by-department", {}).rows}
        assert {k: r["amount"] for k, r in rows.items()} == expected
        it = rows[(YEAR, "IT")]
        assert it["staff"] == 7 and it["per_head"] == (expected[(YEAR, "IT")] / 7).quantize(Decimal("0.01"))
        assert it["previous_year"] == expected[(YEAR - 1, "IT")]
        change = (expected[(YEAR, "IT")] - expected[(YEAR - 1, "IT")]) * 100 / expected[(YEAR - 1, "IT")]
        assert it["change_percent"] == change.quantize(Decimal("0.1"))
        assert rows[(YEAR, "Finance")]["per_head"] is None  # no staff count kept: no per-head figure
        only = reports.build(session, "spend-by-department", {"year": str(YEAR)}).rows
        assert {r["year"] for r in only} == {YEAR}


def test_execution_rate_per_department_and_category(engine_sessions: Any) -> None:
    with engine_sessions() as session, session.begin():
        _seed(session)
        rows = reports.build(session, "execution-rate", {"year": str(YEAR)}).rows
        for row in rows:
            ref = next(r for r, (d, c, _q, _p) in LINES.items() if (d, c) == (row["department"], row["category"]))
            _dept, _cat, qty, cap = LINES[ref]
            approved = Decimal(cap) * qty
            used = sum((Decimal(p) * q for y, r, q, p in PURCHASES if y == YEAR and r == ref), Decimal("0"))
            assert (row["approved_amount"], row["used_amount"]) == (approved, used)
            assert row["percent_used"] == (used * 100 / approved).quantize(Decimal("0.1"))
        assert len(rows) == 3


def test_unknown_arguments_are_refused_and_dates_honoured(client: Any, sessions: Any, tokens: Any) -> None:
    with sessions() as session, session.begin():
        _seed(session)
    headers = tokens.headers("auditor")
    typo = client.get("/api/v1/reports/spend?yaer=2026", headers={**headers, "Accept-Language": "en"})
    assert typo.status_code == 400 and typo.get_json()["error"]["code"] == "unknown_parameter"
    assert "yaer" in typo.get_json()["error"]["message"]
    assert client.get("/api/v1/reports/spend?format=csv&year=2026", headers=headers).status_code == 200
    bad = client.get("/api/v1/reports/spend?from=2026-13-01", headers=headers)
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "bad_filter"
    backwards = client.get(f"/api/v1/reports/spend?from={YEAR}-02-01&to={YEAR}-01-01", headers=headers)
    assert backwards.status_code == 422
    this_year = client.get(f"/api/v1/reports/spend?period=year&from={YEAR}-01-01&to={YEAR}-12-31",
                           headers=headers).get_json()["rows"]
    assert {r["period"] for r in this_year} == {str(YEAR)}


@pytest.mark.parametrize("name", ["maintenance-cost", "total-cost", "spend-by-department", "execution-rate",
                                  "requests"])
def test_indicator_pages_draw_in_both_languages(client: Any, sessions: Any, name: str) -> None:
    from server import auth

    with sessions() as session, session.begin():
        _seed(session)
        auth.create_user(session, SYSTEM, "aud", "correct horse battery", "auditor")
    client.post("/login", data={"username": "aud", "password": "correct horse battery"})
    zh = client.get(f"/reports/{name}")
    assert zh.status_code == 200 and "<svg" in zh.get_data(as_text=True)
    en = client.get(f"/reports/{name}", headers={"Accept-Language": "en"})
    assert en.status_code == 200 and reports.TITLES[name] in en.get_data(as_text=True)


def test_staff_counts_are_kept_by_the_admin(client: Any, tokens: Any) -> None:
    made = client.post("/api/v1/departments", json={"name": "IT", "staff_count": 12}, headers=tokens.headers("admin"))
    assert made.status_code == 201
    assert client.post("/api/v1/departments", json={"name": "IT", "staff_count": 1},
                       headers=tokens.headers("auditor")).status_code == 403
    listed = client.get("/api/v1/departments", headers=tokens.headers("auditor")).get_json()
    assert listed["items"] == [{"name": "IT", "staff_count": 12}]
