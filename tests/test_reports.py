"""Decision reports: every figure checked against a known ledger, JSON and CSV alike."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from server import exports
from server.errors import Invalid
from server.services import assets, intake, lifecycle, reports
from tests.procurement_support import ACTOR, buy, office, plan_line


@pytest.fixture
def ledger(engine_sessions: Any) -> Any:
    with engine_sessions() as session, session.begin():
        where = office(session)
        plan_line(session, "2026-IT-01", qty=10, cap="6000.00", amount="50000.00")
        plan_line(session, "2026-PR-01", "Printer", qty=4, cap="2000.00", amount="6000.00", method="online_inquiry")
        plan_line(session, "2025-IT-01", qty=2, cap="5000.00", amount="9000.00", year=2025)
        a = buy(session, qty=2, price="5000.00", on=date(2026, 1, 20))  # Q1, Jan: 10000.00
        buy(session, qty=1, price="5999.99", on=date(2026, 2, 3))  # Q1, Feb: 5999.99
        buy(session, "2026-PR-01", qty=3, price="1500.50", category="Printer", method="public_tender",
            exception_ref="EXC-1", on=date(2026, 4, 1))  # Q2: 4501.50 by exception
        buy(session, "2025-IT-01", qty=1, price="4500.00", on=date(2025, 11, 30))
        got = intake.receive(session, ACTOR, a.lines[0].id, "k1", where.store, received_on=date(2026, 1, 25))
        assets.move(session, ACTOR, got.codes[0], where.room)
        lifecycle.dispose(session, ACTOR, got.codes[1], "scrapped", "D-1")
    with engine_sessions() as session:
        yield session


def test_spend_by_month_quarter_year(ledger: Any) -> None:
    rows = reports.spend(ledger, "month", 2026).rows
    assert [(r["period"], r["category"], r["amount"]) for r in rows] == [
        ("2026-01", "Laptop", Decimal("10000.00")), ("2026-02", "Laptop", Decimal("5999.99")),
        ("2026-04", "Printer", Decimal("4501.50"))]
    quarters = reports.spend(ledger, "quarter").rows
    assert [(r["period"], r["category"], str(r["amount"])) for r in quarters] == [
        ("2025-Q4", "Laptop", "4500.00"), ("2026-Q1", "Laptop", "15999.99"), ("2026-Q2", "Printer", "4501.50")]
    years = reports.spend(ledger, "year").rows
    assert [(r["period"], r["category"], r["quantity"]) for r in years] == [
        ("2025", "Laptop", 1), ("2026", "Laptop", 3), ("2026", "Printer", 3)]
    with pytest.raises(Invalid):
        reports.spend(ledger, "week")


def test_spend_by_method(ledger: Any) -> None:
    rows = {r["method"]: r for r in reports.spend_by_method(ledger).rows}
    assert rows["framework_agreement"]["amount"] == Decimal("20499.99")
    assert rows["framework_agreement"]["purchases"] == 3
    assert rows["public_tender"]["amount_by_exception"] == Decimal("4501.50")
    assert reports.spend_by_method(ledger, 2025).rows[0]["amount"] == Decimal("4500.00")


def test_plan_execution(ledger: Any) -> None:
    rows = {r["ref"]: r for r in reports.plan_execution(ledger, 2026).rows}
    assert set(rows) == {"2026-IT-01", "2026-PR-01"}
    it = rows["2026-IT-01"]
    assert (it["used_qty"], it["remaining_qty"], it["received_qty"], it["used_amount"], it["remaining_amount"],
            it["percent_used"]) == (3, 7, 2, Decimal("15999.99"), Decimal("34000.01"), Decimal("32.0"))


def test_assets_by_each_dimension(ledger: Any, engine_sessions: Any) -> None:
    by_status = {r["status"]: (r["count"], r["value"]) for r in reports.assets_by(ledger, "status").rows}
    assert by_status == {"disposed": (1, Decimal("5000.00")), "in_use": (1, Decimal("5000.00"))}
    assert [(r["category"], r["count"]) for r in reports.assets_by(ledger, "category").rows] == [("Laptop", 2)]
    locations = reports.assets_by(ledger, "location").rows
    assert sorted((r["location"] or "", r["name"], r["count"]) for r in locations)[0][2] == 1
    assert [r["location"] is None for r in locations].count(True) == 1  # the disposed one is nowhere
    assert reports.assets_by(ledger, "department").rows == [{"department": "IT", "count": 2,
                                                             "value": Decimal("10000.00")}]
    with pytest.raises(Invalid):
        reports.assets_by(ledger, "colour")


def test_bought_per_year_and_csv(ledger: Any) -> None:
    report = reports.bought_per_year(ledger)
    assert report.rows == [{"year": 2026, "count": 2, "value": Decimal("10000.00")}]
    rows = [[row[k] for k in report.columns] for row in report.rows]
    parsed = list(csv.DictReader(io.StringIO(exports.to_csv(report.columns, rows).decode("utf-8-sig"))))
    assert parsed == [{"year": "2026", "count": "2", "value": "10000.00"}]


def test_rest_reports(client: Any, tokens: Any, sessions: Any) -> None:
    with sessions() as session, session.begin():
        office(session)
        plan_line(session)
        buy(session, qty=2, price="100.10", on=date(2026, 7, 1))
    h = tokens.headers("auditor")
    assert "plan-execution" in client.get("/api/v1/reports", headers=h).get_json()["items"]
    r = client.get("/api/v1/reports/spend?period=quarter", headers=h).get_json()
    assert r["rows"] == [{"period": "2026-Q3", "category": "Laptop", "quantity": 2, "amount": "200.20"}]
    text = client.get("/api/v1/reports/plan-execution?format=csv", headers=h)
    assert text.mimetype == "text/csv" and "2026-IT-01,2026,IT,Laptop" in text.get_data(as_text=True)
    for name in ("spend-by-method", "assets?by=location", "bought-per-year", "overdue?controlled=1", "usage-log"):
        assert client.get(f"/api/v1/reports/{name}", headers=h).status_code == 200, name
    bad = client.get("/api/v1/reports/nope", headers=h)
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "unknown_report"
    assert client.get("/api/v1/reports/spend", headers=tokens.headers("guard")).status_code == 403
