"""FIFO cost of supplies used (from purchase prices) and the consumption reports of the cost-indicator
family: by department, person, item and period, the top consumers, the stock's value; REST and web."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from server.audit import SYSTEM, Actor
from server.models import SupplyMovement
from server.services import directory, reports, stocktake_supplies, stocktakes, supplies, supply_costs
from tests.admin_support import login
from tests.storeroom_support import stock_up

KEEPER = Actor("keeper", "web", "storekeeper")
MARCH, APRIL = datetime(2026, 3, 10, 9, tzinfo=UTC), datetime(2026, 4, 10, 9, tzinfo=UTC)


@pytest.fixture
def books(sessions: Any) -> dict[str, str]:
    """Paper bought 10 at 2.00 then 10 at 3.00; Li (Finance) and Wang (IT)."""
    with sessions() as session, session.begin():
        paper = supplies.create_item(session, KEEPER, supplies.ItemIn(name="A4 paper", unit="ream")).code
        stock_up(session, paper, 10, "2.00")
        stock_up(session, paper, 10, "3.00")
        li = directory.create_person(session, SYSTEM, "Li Na", "Finance").code
        wang = directory.create_person(session, SYSTEM, "Wang Wei", "IT").code
    return {"paper": paper, "li": li, "wang": wang}


def _pick(sessions: Any, code: str, who: str, qty: int, at: datetime = MARCH, live: bool = True) -> int:
    with sessions() as session, session.begin():
        return supplies.pickup(session, KEEPER, supplies.PickupIn(code, qty, who, "work"), at=at, live=live).id


def _values(sessions: Any, code: str) -> tuple[dict[int, Decimal], Decimal]:
    with sessions() as session:
        item = supplies.item_by_code(session, code)
        valuation = supply_costs.value(session, [item.id])
        return valuation.value, valuation.on_hand(item.id)


def test_pickups_take_the_oldest_units_first(sessions: Any, books: dict[str, str]) -> None:
    first = _pick(sessions, books["paper"], books["li"], 15)
    values, on_hand = _values(sessions, books["paper"])
    assert values[first] == Decimal("35.00") and on_hand == Decimal("15.00")  # 10 x 2.00 + 5 x 3.00; 5 x 3.00
    with sessions() as session, session.begin():  # two back: at what Li's pickup cost a unit (35 / 15)
        back = supplies.give_back(session, KEEPER, books["paper"], 2, books["li"], "too many").id
    second = _pick(sessions, books["paper"], books["wang"], 7)  # 5 x 3.00, then the 2 returned
    values, on_hand = _values(sessions, books["paper"])
    assert values[back] == Decimal("4.67") and values[second] == Decimal("19.67") and on_hand == Decimal("0.00")


def test_a_pickup_below_zero_is_paid_by_the_next_receipt(sessions: Any, books: dict[str, str]) -> None:
    _pick(sessions, books["paper"], books["li"], 20)
    owed = _pick(sessions, books["paper"], books["wang"], 3, live=False)  # offline: stock -3
    assert _values(sessions, books["paper"])[0][owed] == Decimal("0.00")
    with sessions() as session, session.begin():
        stock_up(session, books["paper"], 5, "4.00")
        supplies.adjust(session, KEEPER, books["paper"], 1, "found one")  # at the last receipt's price
    values, on_hand = _values(sessions, books["paper"])
    assert values[owed] == Decimal("12.00") and on_hand == Decimal("12.00")  # (2 + 1) x 4.00


def test_stocktake_shortage_is_a_write_off_not_consumption(sessions: Any, books: dict[str, str]) -> None:
    with sessions() as session, session.begin():
        st = stocktakes.open_stocktake(session, Actor("admin", "web", "admin"), "office")
        stocktake_supplies.count(session, KEEPER, st, books["paper"], 18)
        stocktakes.close(session, Actor("admin", "web", "admin"), st.id, force=True)
    with sessions() as session:
        shortage = session.scalar(select(SupplyMovement.id).where(SupplyMovement.kind == "stocktake"))
        assert shortage is not None
        assert supply_costs.value(session).value[shortage] == Decimal("4.00")  # the two oldest units
        assert reports.build(session, "supply-consumption", {}).rows == []


def test_consumption_reports(sessions: Any, books: dict[str, str]) -> None:
    _pick(sessions, books["paper"], books["li"], 4, MARCH)  # 8.00
    _pick(sessions, books["paper"], books["wang"], 8, APRIL)  # 6 x 2.00 + 2 x 3.00 = 18.00
    with sessions() as session, session.begin():
        supplies.give_back(session, KEEPER, books["paper"], 1, books["wang"], "spare")  # back at 2.25
    with sessions() as session:
        by_dept = reports.build(session, "supply-consumption", {"by": "department"})
        assert [(r["department"], r["pickups"], r["consumed_cost"]) for r in by_dept.rows] == [
            ("Finance", 1, Decimal("8.00")), ("IT", 1, Decimal("15.75"))]
        by_item = reports.build(session, "supply-consumption", {"by": "item", "period": "month"})
        assert [(r["period"], r["item_name"], r["consumed_quantity"], r["consumed_cost"]) for r in by_item.rows][:1] \
            == [("2026-03", "A4 paper", 4, Decimal("8.00"))]
        march = reports.build(session, "supply-consumption", {"by": "person", "from": "2026-03-01", "to": "2026-03-31"})
        assert [(r["taker_name"], r["consumed_cost"]) for r in march.rows] == [("Li Na", Decimal("8.00"))]
        top = reports.build(session, "supply-top-consumers", {"by": "department"})
        assert [(r["rank"], r["department"], r["share_percent"]) for r in top.rows] == [
            (1, "IT", Decimal("66.3")), (2, "Finance", Decimal("33.7"))]
        value = reports.build(session, "supply-stock-value", {})
        assert [(r["stock"], r["stock_value"]) for r in value.rows] == [(9, Decimal("26.25"))]  # 2.25 + 8 x 3.00
        for name, args in [("supply-consumption", {"by": "colour"}), ("supply-top-consumers", {"by": "item"}),
                           ("supply-consumption", {"period": "week"}), ("supply-stock-value", {"by": "x"})]:
            with pytest.raises(Exception) as refused:
                reports.build(session, name, args)
            assert getattr(refused.value, "status", 500) in (400, 422)


def test_rest_and_web(client: Any, sessions: Any, tokens: Any, books: dict[str, str]) -> None:
    _pick(sessions, books["paper"], books["li"], 4, MARCH)
    got = client.get("/api/v1/reports/supply-consumption?by=item", headers=tokens.headers("auditor"))
    assert got.status_code == 200 and got.json["rows"][0]["consumed_cost"] == "8.00"
    assert client.get("/api/v1/reports/supply-top-consumers?by=item",
                      headers=tokens.headers("auditor")).status_code == 422
    csv_file = client.get("/api/v1/reports/supply-stock-value?format=csv", headers=tokens.headers("auditor"))
    assert csv_file.status_code == 200 and b"42.00" in csv_file.data  # 6 x 2.00 + 10 x 3.00 left
    login(client, sessions, "auditor")
    index = client.get("/reports").get_data(as_text=True)
    assert 'href="/reports/supply-consumption"' in index and "办公用品领用情况" in index
    page = client.get("/reports/supply-consumption?by=person").get_data(as_text=True)
    assert "Li Na" in page and "<svg" in page and "¥8.00" in page
    assert client.get("/reports/supply-top-consumers?by=nobody").status_code == 422
    client.post("/language", data={"language": "en"})
    english = client.get("/reports/supply-stock-value").get_data(as_text=True)
    assert "Stock value (FIFO)" in english
