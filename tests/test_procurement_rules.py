"""Rules found missing when tried black-box: a transfer needs its approval reference; a purchase's date
inside its plan line's budget year and not in the future; a unit price of 0 only for a donation or free
transfer-in recorded as such, with approval. Each refusal in both languages."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from server.errors import Invalid
from server.models import Location, Purchase
from server.services import assets, lifecycle, purchases
from tests.procurement_support import ACTOR, office, plan_line


@pytest.fixture
def db(engine_sessions: Any) -> Any:
    with engine_sessions() as session, session.begin():
        office(session)
        plan_line(session, year=date.today().year)
    with engine_sessions() as session:
        yield session


def _buy(db: Any, on: date, price: str = "5000.00", **free: Any) -> Purchase:
    ref = "2026-IT-01"
    return purchases.record(db, ACTOR, "ACME", on, "framework_agreement", "INV-1",
                            [purchases.LineIn(ref, "Laptop", 1, Decimal(price))], **free)


def _count(db: Any) -> int:
    return db.scalar(select(func.count()).select_from(Purchase)) or 0


def test_transfer_needs_an_approval_reference(db: Any, app: Any) -> None:
    store = db.scalars(select(Location.code).where(Location.kind == "storeroom")).one()
    code = assets.create_asset(db, ACTOR, "Laptop 1", "Laptop", store).code
    with pytest.raises(Invalid) as err:
        lifecycle.transfer(db, ACTOR, code, "Finance", "  ")
    assert err.value.code == "approval_required" and err.value.params["field"] == "approval_ref"
    assert "approval reference" in err.value.message
    with app.test_request_context(headers={"Accept-Language": "zh"}):
        assert "批复文号" in err.value.localized()
    lifecycle.transfer(db, ACTOR, code, "Finance", "调拨〔2026〕1号")
    assert assets.history(db, code)[-1].data["approval_ref"] == "调拨〔2026〕1号"


def test_purchase_date_inside_the_budget_year_and_not_in_the_future(db: Any, app: Any) -> None:
    today = date.today()
    with pytest.raises(purchases.PlanRefused) as future:
        _buy(db, today + timedelta(days=1))
    assert [v.rule for v in future.value.violations] == ["date_in_future"]
    with pytest.raises(purchases.PlanRefused) as before:
        _buy(db, date(today.year - 1, 12, 31))
    [v] = before.value.violations
    assert (v.rule, v.field) == ("outside_budget_year", "purchased_on")
    assert f"budget year {today.year}" in v.message
    with app.test_request_context(headers={"Accept-Language": "zh"}):
        assert "预算年度" in before.value.localized()
    db.rollback()
    assert _count(db) == 0
    _buy(db, today)  # today, and 1 January of the year, are inside
    _buy(db, date(today.year, 1, 1))
    assert _count(db) == 2


def test_zero_price_only_for_a_recorded_donation_with_approval(db: Any, app: Any) -> None:
    today = date.today()
    with pytest.raises(purchases.PlanRefused) as zero:
        _buy(db, today, "0.00")
    [v] = zero.value.violations
    assert (v.rule, v.line, v.field) == ("zero_price", 1, "unit_price")
    with app.test_request_context(headers={"Accept-Language": "zh"}):
        assert "捐赠" in zero.value.localized()
    with pytest.raises(Invalid) as no_ref:
        _buy(db, today, "0.00", free_kind="donation")
    assert no_ref.value.code == "approval_required" and no_ref.value.params["field"] == "free_approval_ref"
    with pytest.raises(Invalid):
        _buy(db, today, "0.00", free_kind="gift", free_approval_ref="X")
    db.rollback()
    assert _count(db) == 0
    gift = _buy(db, today, "0.00", free_kind="donation", free_approval_ref="捐〔2026〕2号")
    moved = _buy(db, today, "0.00", free_kind="free_transfer_in", free_approval_ref="调〔2026〕3号")
    described = purchases.describe(gift)
    assert (described["free_kind"], described["free_approval_ref"], described["total"]) == (
        "donation", "捐〔2026〕2号", "0.00")
    assert moved.free_kind == "free_transfer_in"


def test_rest_refusals(client: Any, tokens: Any, sessions: Any) -> None:
    with sessions() as session, session.begin():
        office(session)
        plan_line(session, year=date.today().year)
    h = {**tokens.headers("storekeeper"), "Accept-Language": "en"}
    body = {"supplier": "ACME", "purchased_on": date.today().isoformat(), "method": "framework_agreement",
            "reference": "INV-9", "lines": [{"plan_line": "2026-IT-01", "category": "Laptop", "quantity": 1,
                                             "unit_price": "0.00"}]}
    r = client.post("/api/v1/purchases", json=body, headers=h)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "zero_price"
    r = client.post("/api/v1/purchases", json={**body, "free_kind": "donation", "free_approval_ref": "D-1"},
                    headers=h)
    assert r.status_code == 201 and r.get_json()["free_kind"] == "donation"
    late = {**body, "purchased_on": (date.today() + timedelta(days=3)).isoformat(), "lines": [
        {**body["lines"][0], "unit_price": "10.00"}]}
    r = client.post("/api/v1/purchases", json=late, headers={**h, "Accept-Language": "zh"})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "date_in_future"
    assert "未来" in r.get_json()["error"]["message"]
