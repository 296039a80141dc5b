"""Supplies: items with S- codes, stock as a ledger (the sum, never a stored number), pickups with
who/department/how many/purpose, insufficient stock refused live, REST and pages in both languages."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from server.audit import SYSTEM, Actor
from server.errors import Invalid, NotFound, RuleViolation
from server.models import AuditEntry, SupplyMovement
from server.services import directory, supplies, supply_conflicts
from tests.admin_support import login
from tests.storeroom_support import stock_up, supply_line

KEEPER = Actor("keeper", "web", "storekeeper")


def _item(session: Any, name: str = "A4 paper", level: int = 5, **more: Any) -> str:
    data = supplies.ItemIn(name=name, unit="ream", category="paper", location="shelf 3",
                           reorder_level=level, reorder_quantity=20, **more)
    return supplies.create_item(session, KEEPER, data).code


@pytest.fixture
def stocked(sessions: Any) -> dict[str, str]:
    """One item (S- code) with 10 received, and a person in Finance."""
    with sessions() as session, session.begin():
        code = _item(session)
        stock_up(session, code, 10, note="first delivery")
        person = directory.create_person(session, SYSTEM, "Wang Fang", "Finance").code
    return {"item": code, "person": person}


def _stock(sessions: Any, code: str) -> int:
    with sessions() as session:
        return supplies.stock(session, supplies.item_by_code(session, code).id)


def test_item_gets_an_s_code_and_stock_is_the_ledger_sum(sessions: Any, stocked: dict[str, str]) -> None:
    assert stocked["item"].startswith("S-")
    with sessions() as session, session.begin():
        supplies.pickup(session, KEEPER, supplies.PickupIn(stocked["item"], 3, stocked["person"], "month-end report"))
        supplies.give_back(session, KEEPER, stocked["item"], 1, stocked["person"], "one too many")
        supplies.adjust(session, KEEPER, stocked["item"], -2, "water damage")
    with sessions() as session:
        item = supplies.item_by_code(session, stocked["item"])
        rows = session.scalars(select(SupplyMovement).where(SupplyMovement.item_id == item.id)
                               .order_by(SupplyMovement.id)).all()
        assert [(m.kind, m.quantity) for m in rows] == [("receipt", 10), ("pickup", -3), ("return", 1),
                                                        ("adjustment", -2)]
        pickup = rows[1]
        assert (pickup.person.name, pickup.department, pickup.purpose) == ("Wang Fang", "Finance", "month-end report")
        assert supplies.stock(session, item.id) == 6 == sum(m.quantity for m in rows)
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action.like("supply.%"))) == 5


def test_live_pickup_below_zero_is_refused_and_changes_nothing(sessions: Any, stocked: dict[str, str]) -> None:
    with sessions() as session, session.begin(), pytest.raises(RuleViolation) as exc:
        supplies.pickup(session, KEEPER, supplies.PickupIn(stocked["item"], 11, stocked["person"]))
    assert exc.value.code == "insufficient_stock"
    assert "only 10 ream" in exc.value.message
    assert _stock(sessions, stocked["item"]) == 10
    with sessions() as session, session.begin():  # exactly to zero is fine
        supplies.pickup(session, KEEPER, supplies.PickupIn(stocked["item"], 10, stocked["person"]))
    assert _stock(sessions, stocked["item"]) == 0


def test_offline_pickup_below_zero_is_stored_as_a_conflict(sessions: Any, stocked: dict[str, str]) -> None:
    with sessions() as session, session.begin():
        moved = supplies.pickup(session, KEEPER, supplies.PickupIn(stocked["item"], 12, stocked["person"]), live=False)
        assert moved.conflict
    assert _stock(sessions, stocked["item"]) == -2
    with sessions() as session:
        assert [c.movement.quantity for c in supply_conflicts.listing(session)] == [-12]


def test_adjustment_needs_a_reason_and_cannot_go_below_zero(sessions: Any, stocked: dict[str, str]) -> None:
    with sessions() as session, session.begin():
        with pytest.raises(Invalid):
            supplies.adjust(session, KEEPER, stocked["item"], 3, "  ")
        with pytest.raises(Invalid):
            supplies.adjust(session, KEEPER, stocked["item"], 0, "nothing")
        with pytest.raises(RuleViolation):
            supplies.adjust(session, KEEPER, stocked["item"], -11, "lost")
        with pytest.raises(NotFound):
            supplies.pickup(session, KEEPER, supplies.PickupIn(stocked["item"], 1, "P-0000000"))
    assert _stock(sessions, stocked["item"]) == 10


def test_bad_item_input_is_refused(sessions: Any) -> None:
    with sessions() as session, session.begin():
        with pytest.raises(Invalid):
            supplies.create_item(session, KEEPER, supplies.ItemIn(name="", unit="box"))
        with pytest.raises(Invalid):
            supplies.create_item(session, KEEPER, supplies.ItemIn(name="Pens", unit="box", reorder_level=-1))
        with pytest.raises(Invalid):
            supplies.item_by_code(session, "A-0000000")  # an asset code is not a supply code


def test_concurrent_pickups_never_spend_the_same_unit(sessions: Any, stocked: dict[str, str]) -> None:
    """Eight pickups of 2 against 10 in stock, at once: exactly five succeed, stock ends at 0."""
    results: list[str] = []
    barrier = threading.Barrier(8)

    def take() -> None:
        barrier.wait()
        for _attempt in range(50):  # SQLite answers a busy writer with an error: try again, as a client would
            try:
                with sessions() as session, session.begin():
                    supplies.pickup(session, KEEPER, supplies.PickupIn(stocked["item"], 2, stocked["person"]))
                results.append("ok")
                return
            except RuleViolation as exc:
                results.append(exc.code)
                return
            except Exception as exc:  # noqa: BLE001  database busy / serialization: retry
                if "locked" not in str(exc) and "busy" not in str(exc).lower():
                    raise

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["insufficient_stock"] * 3 + ["ok"] * 5
    assert _stock(sessions, stocked["item"]) == 0


def test_rest_list_item_ledger_and_pickup(client: Any, sessions: Any, tokens: Any, stocked: dict[str, str]) -> None:
    keeper = tokens.headers("storekeeper")
    made = client.post("/api/v1/supplies", json={"name": "Toner", "unit": "box", "reorder_level": 1,
                                                 "valuable": True}, headers=keeper)
    assert made.status_code == 201 and made.json["code"].startswith("S-") and made.json["stock"] == 0
    listed = client.get("/api/v1/supplies", headers=tokens.headers("auditor")).json["items"]
    assert {(i["name"], i["stock"], i["below_reorder"]) for i in listed} == {("A4 paper", 10, False),
                                                                              ("Toner", 0, True)}
    below = client.get("/api/v1/supplies?below_reorder=1", headers=keeper).json["items"]
    assert [i["name"] for i in below] == ["Toner"]
    code = stocked["item"]
    took = client.post(f"/api/v1/supplies/{code}/pickups", headers=keeper,
                       json={"quantity": 4, "taker": stocked["person"], "purpose": "training"})
    assert took.status_code == 201 and took.json["stock"] == 6
    refused = client.post(f"/api/v1/supplies/{code}/pickups", headers=keeper,
                          json={"quantity": 7, "taker": stocked["person"]})
    assert refused.status_code == 422 and refused.json["error"]["code"] == "insufficient_stock"
    with sessions() as session, session.begin():
        line = supply_line(session, 6, "2.50")
    for n in range(3):
        got = client.post(f"/api/v1/supplies/{code}/receipts", json={"purchase_line": line, "quantity": n + 1},
                          headers=keeper)
        assert got.status_code == 201 and got.json["movement"]["unit_cost"] == "2.50"
    over = client.post(f"/api/v1/supplies/{code}/receipts", json={"purchase_line": line, "quantity": 1},
                       headers=keeper)
    assert over.status_code == 422 and over.json["error"]["code"] == "intake_exceeded"
    first = client.get(f"/api/v1/supplies/{code}?limit=3", headers=keeper).json
    assert first["item"]["stock"] == 12
    assert [m["quantity"] for m in first["ledger"]] == [3, 2, 1]
    rest = client.get(f"/api/v1/supplies/{code}?limit=3&after={first['next']}", headers=keeper).json
    assert [m["quantity"] for m in rest["ledger"]] == [-4, 10] and rest["next"] is None
    assert rest["ledger"][0]["person"]["name"] == "Wang Fang"
    assert client.post(f"/api/v1/supplies/{code}/pickups", headers=tokens.headers("auditor"),
                       json={"quantity": 1, "taker": stocked["person"]}).status_code == 403
    assert client.get("/api/v1/supplies/S-0000000", headers=keeper).status_code in (404, 422)


def test_pages_in_chinese_and_english(client: Any, sessions: Any, stocked: dict[str, str]) -> None:
    login(client, sessions, "storekeeper")
    code = stocked["item"]
    assert client.get(f"/c/{code}").headers["Location"].endswith(f"/supplies/{code}")
    page = client.get(f"/supplies/{code}").get_data(as_text=True)
    assert "库存" in page and "A4 paper" in page
    refused = client.post("/supplies/pickup", data={"item": code, "taker": stocked["person"], "quantity": 11,
                                                    "purpose": "x"})
    assert refused.status_code == 422 and "库存" in refused.get_data(as_text=True)
    done = client.post("/supplies/pickup", data={"item": code, "taker": stocked["person"], "quantity": 2,
                                                 "purpose": "meeting"})
    assert done.status_code == 302
    assert _stock(sessions, code) == 8
    assert client.post(f"/supplies/{code}/adjustments", data={"delta": -1, "reason": "broken"}).status_code == 302
    with sessions() as session, session.begin():
        line = supply_line(session, 5)
    assert f'value="{line}"' in client.get(f"/supplies/{code}").get_data(as_text=True)
    assert client.post(f"/supplies/{code}/receipts", data={"purchase_line": line, "quantity": 5,
                                                           "request_key": "k1"}).status_code == 302
    assert client.post(f"/supplies/{code}/receipts", data={"purchase_line": line, "quantity": 5,
                                                           "request_key": "k1"}).status_code == 302  # sent twice
    assert _stock(sessions, code) == 12
    listing = client.get("/supplies/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "12" in listing
    client.post("/language", data={"language": "en"})
    english = client.get(f"/supplies/{code}").get_data(as_text=True)
    assert "Ledger" in english and "Pickup" in english


def test_bin_label_names_the_item_and_its_shelf(sessions: Any, stocked: dict[str, str]) -> None:
    from server.services import printing

    with sessions() as session:
        [label] = printing.resolve(session, [stocked["item"]], "Office")
    assert (label.code, label.name, label.category) == (stocked["item"], "A4 paper", "shelf 3")
