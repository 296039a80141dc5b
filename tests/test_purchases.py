"""Purchases against the plan: every rule, at and one step over each limit, and the exact refusals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from server.errors import NotFound, RuleViolation
from server.models import AuditEntry, Purchase, PurchaseLine
from server.services import plans, purchases
from tests.procurement_support import ACTOR, buy, office, plan_line


@pytest.fixture
def db(engine_sessions: Any) -> Any:
    with engine_sessions() as session, session.begin():
        office(session)
        plan_line(session)  # 10 laptops, cap 6000.00, 50000.00, framework agreement
    with engine_sessions() as session:
        yield session


def test_exactly_at_every_limit_passes(db: Any) -> None:
    buy(db, qty=5, price="6000.00")  # unit price exactly at the cap
    buy(db, qty=3, price="6000.00")
    buy(db, qty=2, price="1000.00")  # quantity exactly 10 and amount exactly 50000.00
    db.commit()
    [row] = plans.execution(db)
    assert (row.used_qty, row.used_amount, row.remaining_qty, row.remaining_amount) == (
        10, Decimal("50000.00"), 0, Decimal("0.00"))
    assert row.percent_used == Decimal("100.0")


def test_unit_price_one_cent_over_the_cap(db: Any) -> None:
    with pytest.raises(RuleViolation) as err:
        buy(db, qty=1, price="6000.01")
    assert err.value.code == "unit_price_cap_exceeded"
    assert err.value.message == "line 1: unit price 6000.01 is above plan line 2026-IT-01's cap 6000.00 by 0.01"


def test_amount_one_cent_over(db: Any) -> None:
    buy(db, qty=8, price="6000.00")  # 48000.00
    with pytest.raises(RuleViolation) as err:
        buy(db, qty=1, price="2000.01")
    assert err.value.code == "amount_exceeded"
    assert err.value.message == ("line 1: amount 2000.01 would bring plan line 2026-IT-01 to 50000.01 of "
                                 "50000.00 approved, over by 0.01")
    buy(db, qty=1, price="2000.00")  # the cent less passes


def test_quantity_one_over(db: Any) -> None:
    buy(db, qty=9, price="100.00")
    with pytest.raises(RuleViolation) as err:
        buy(db, qty=2, price="100.00")
    assert err.value.code == "quantity_exceeded"
    assert err.value.message == ("line 1: quantity 2 would bring plan line 2026-IT-01 to 11 of 10 approved, "
                                 "over by 1")


def test_category_must_equal_the_plan_lines(db: Any) -> None:
    with pytest.raises(RuleViolation) as err:
        buy(db, category="Printer")
    assert err.value.code == "category_mismatch"
    assert err.value.message == "line 1: category 'Printer' is not plan line 2026-IT-01's category 'Laptop'"


def test_method_needs_the_plans_or_a_recorded_exception(db: Any) -> None:
    with pytest.raises(RuleViolation) as err:
        buy(db, method="online_inquiry")
    assert err.value.code == "method_mismatch"
    assert "not plan line 2026-IT-01's required method framework_agreement" in err.value.message
    purchase = buy(db, method="online_inquiry", exception_ref="EXC-2026-7")
    assert purchase.method_exception_ref == "EXC-2026-7"


def test_several_lines_on_one_plan_line_add_up(db: Any) -> None:
    lines = [purchases.LineIn("2026-IT-01", "Laptop", 6, Decimal("5000.00")),
             purchases.LineIn("2026-IT-01", "Laptop", 5, Decimal("100.00"))]
    with pytest.raises(RuleViolation) as err:
        purchases.record(db, ACTOR, "ACME", date(2026, 3, 1), "framework_agreement", "INV-9", lines)
    assert err.value.code == "quantity_exceeded" and "line 2" in err.value.message and "over by 1" in err.value.message


def test_every_broken_rule_is_named(db: Any) -> None:
    with pytest.raises(RuleViolation) as err:
        buy(db, qty=11, price="7000.00", method="other", category="Printer")
    message = err.value.message
    for part in ("method other", "category 'Printer'", "by 1000.00", "11 of 10", "77000.00 of 50000.00"):
        assert part in message


def test_refusal_writes_nothing(db: Any) -> None:
    before = db.scalar(select(func.count()).select_from(AuditEntry))
    with pytest.raises(RuleViolation):
        buy(db, qty=11)
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Purchase)) == 0
    assert db.scalar(select(func.count()).select_from(AuditEntry)) == before


def test_unknown_plan_line(db: Any) -> None:
    with pytest.raises(NotFound) as err:
        buy(db, ref="2026-XX-99")
    assert err.value.code == "unknown_plan_line"


def test_remaining_is_derived_per_line_and_category(db: Any) -> None:
    plan_line(db, "2026-IT-02", qty=4, cap="3000.00", amount="10000.00")
    plan_line(db, "2026-PR-01", category="Printer", qty=2, cap="2000.00", amount="3000.00", method="online_inquiry")
    buy(db, "2026-IT-02", qty=2, price="2500.50")
    buy(db, "2026-PR-01", qty=1, price="1999.99", category="Printer", method="online_inquiry")
    rows = {r.line.ref: r for r in plans.execution(db)}
    assert rows["2026-IT-02"].remaining_amount == Decimal("4999.00")
    assert rows["2026-PR-01"].remaining_amount == Decimal("1000.01")
    cats = {c["category"]: c for c in plans.by_category(list(rows.values()))}
    assert cats["Laptop"]["remaining_qty"] == 12 and cats["Laptop"]["used_amount"] == Decimal("5001.00")
    stored = db.scalar(select(func.sum(PurchaseLine.amount)))
    assert Decimal(stored).quantize(Decimal("0.01")) == Decimal("7000.99")


def test_rest_purchase_and_refusal(client: Any, tokens: Any, sessions: Any) -> None:
    with sessions() as session, session.begin():
        office(session)
        plan_line(session)
    h = tokens.headers("storekeeper")
    body = {"supplier": "ACME", "purchased_on": "2026-04-01", "method": "framework_agreement", "reference": "C-1",
            "lines": [{"plan_line": "2026-IT-01", "category": "Laptop", "quantity": 2, "unit_price": "6000.00"}]}
    r = client.post("/api/v1/purchases", json=body, headers=h)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["total"] == "12000.00"
    body["lines"][0]["unit_price"] = "6000.01"
    r = client.post("/api/v1/purchases", json=body, headers=h)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "unit_price_cap_exceeded"
    # The API speaks the reader's language (Chinese by default); the English text stays in exc.message.
    assert r.get_json()["error"]["message"] == ("第 1 行：单价 6000.01 超过计划明细 2026-IT-01 的单价上限 6000.00，"
                                                "超出 0.01")
    english = client.post("/api/v1/purchases", json=body, headers={**h, "Accept-Language": "en"})
    assert "is above plan line 2026-IT-01's cap 6000.00 by 0.01" in english.get_json()["error"]["message"]
    body["lines"][0]["unit_price"] = "1.001"
    assert client.post("/api/v1/purchases", json=body, headers=h).get_json()["error"]["code"] == "bad_schema"
    plan = client.get("/api/v1/plans/2026-IT-01", headers=tokens.headers("auditor")).get_json()
    assert plan["used_qty"] == 2 and plan["remaining_amount"] == "38000.00" and plan["percent_used"] == "24.0"
    listed = client.get("/api/v1/purchases", headers=h).get_json()
    assert listed["total"] == 1 and listed["items"][0]["lines"][0]["plan_line"] == "2026-IT-01"
    assert client.post("/api/v1/purchases", json=body, headers=tokens.headers("guard")).status_code == 403
