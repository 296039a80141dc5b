"""Reversing a supply receipt entered by mistake: a ledger line of its own (the receipt never changes),
audited, once, never below zero; its purchase line can be received again; FIFO never consumes the
reversed lot; REST, and the web action with its confirmation step (storekeeper or admin)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from server.audit import SYSTEM, Actor
from server.errors import Invalid, NotFound, RuleViolation
from server.models import AuditEntry, SupplyMovement
from server.services import corrections, directory, purchases, supplies, supply_costs, supply_receipts, supply_reorder
from tests.admin_support import login
from tests.storeroom_support import stock_up

KEEPER = Actor("keeper", "web", "storekeeper")


@pytest.fixture
def shelf(sessions: Any) -> dict[str, Any]:
    """Paper: a wrong receipt of 10 at 2.00 first, then 5 really bought at 3.00; Li took 3 (stock 12)."""
    with sessions() as session, session.begin():
        code = supplies.create_item(session, KEEPER, supplies.ItemIn(name="A4 paper", unit="ream",
                                                                     reorder_level=1)).code
        wrong = stock_up(session, code, 10, "2.00")
        right = stock_up(session, code, 5, "3.00")
        li = directory.create_person(session, SYSTEM, "Li Na", "Finance").code
        pickup = supplies.pickup(session, KEEPER, supplies.PickupIn(code, 3, li, "work"))
        return {"item": code, "wrong": wrong.id, "right": right.id, "line": wrong.purchase_line_id,
                "right_line": right.purchase_line_id, "pickup": pickup.id, "li": li}


def _count(sessions: Any, model: Any) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _stock(sessions: Any, code: str) -> int:
    with sessions() as session:
        return supplies.stock(session, supplies.item_by_code(session, code).id)


def test_a_reversal_is_a_ledger_line_once_and_fifo_never_uses_the_lot(sessions: Any, shelf: dict[str, Any]) -> None:
    with sessions() as session, session.begin():
        line = supply_receipts.reverse(session, KEEPER, shelf["item"], shelf["wrong"], "typed the wrong line")
    with sessions() as session:
        row = session.get(SupplyMovement, line.id)
        assert row is not None and session.get(SupplyMovement, shelf["wrong"]) is not None  # the receipt stays
        assert (row.kind, row.quantity, row.reverses_id, row.purchase_line_id, row.unit_cost, row.purpose) == (
            "reversal", -10, shelf["wrong"], shelf["line"], Decimal("2.00"), "typed the wrong line")
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "supply.reversal")).all()
        assert entry.after is not None and (entry.after["reverses"], entry.after["quantity"]) == (shelf["wrong"], -10)
        # the line has nothing received any more: it may be received again, rightly
        assert supply_receipts.received(session, shelf["line"]) == 0
        assert (shelf["line"], 10) in [(x.id, left) for x, left in supply_receipts.open_lines(session)]
        # FIFO as if the wrong receipt had never been written: Li's 3 came from the real 3.00 lot
        item = supplies.item_by_code(session, shelf["item"])
        valuation = supply_costs.value(session, [item.id])
        assert valuation.value[shelf["pickup"]] == Decimal("9.00") and valuation.on_hand(item.id) == Decimal("6.00")
    assert _stock(sessions, shelf["item"]) == 2
    before = (_count(sessions, SupplyMovement), _count(sessions, AuditEntry))
    with sessions() as session, session.begin(), pytest.raises(RuleViolation) as again:
        supply_receipts.reverse(session, KEEPER, shelf["item"], shelf["wrong"], "twice")
    assert again.value.code == "already_reversed" and str(line.id) in again.value.message
    with sessions() as session, session.begin(), pytest.raises(RuleViolation) as below:
        supply_receipts.reverse(session, KEEPER, shelf["item"], shelf["right"], "not this one")  # 5 > 2 in stock
    assert below.value.code == "insufficient_stock" and "2" in below.value.message
    for bad, error in ((shelf["pickup"], NotFound), ("x1", NotFound), (999_999, NotFound)):
        with sessions() as session, session.begin(), pytest.raises(error):
            supply_receipts.reverse(session, KEEPER, shelf["item"], bad, "not a receipt")
    with sessions() as session, session.begin(), pytest.raises(Invalid):
        supply_receipts.reverse(session, KEEPER, shelf["item"], shelf["right"], "  ")
    assert (_count(sessions, SupplyMovement), _count(sessions, AuditEntry)) == before


def test_a_later_wrong_receipt_no_longer_prices_a_reorder_and_its_purchase_can_be_voided(
        sessions: Any, shelf: dict[str, Any]) -> None:
    with sessions() as session, session.begin():
        late = stock_up(session, shelf["item"], 4, "5.00")
        assert supply_reorder.last_cost(session, supplies.item_by_code(session, shelf["item"])) == Decimal("5.00")
        supply_receipts.reverse(session, KEEPER, shelf["item"], late.id, "double entry")
        assert supply_reorder.last_cost(session, supplies.item_by_code(session, shelf["item"])) == Decimal("3.00")
        purchase = purchases.line(session, int(late.purchase_line_id or 0)).purchase_id
    with sessions() as session, session.begin():  # nothing of it is in stock any more: voidable
        assert corrections.void_purchase(session, SYSTEM, purchase, "never delivered", "GOV-1").voided_at
    with sessions() as session, session.begin(), pytest.raises(RuleViolation) as kept:
        right = purchases.line(session, shelf["right_line"]).purchase_id
        corrections.void_purchase(session, SYSTEM, right, "no", "GOV-2")
    assert kept.value.code == "has_receipts"


def test_rest_reversal(client: Any, tokens: Any, sessions: Any, shelf: dict[str, Any]) -> None:
    code, url = shelf["item"], f"/api/v1/supplies/{shelf['item']}/receipts/{shelf['wrong']}/reversal"
    assert client.post(url, headers=tokens.headers("auditor"), json={"reason": "x"}).status_code == 403
    assert client.post(url, headers=tokens.headers("storekeeper"), json={"reason": ""}).status_code == 422
    missing = client.post(f"/api/v1/supplies/{code}/receipts/{shelf['pickup']}/reversal",
                          headers=tokens.headers("storekeeper"), json={"reason": "x"})
    assert missing.status_code == 404 and missing.json["error"]["code"] == "unknown_receipt"
    done = client.post(url, headers=tokens.headers("storekeeper"), json={"reason": "wrong line"})
    assert done.status_code == 201 and done.json["stock"] == 2
    assert (done.json["movement"]["kind"], done.json["movement"]["reverses"]) == ("reversal", shelf["wrong"])
    again = client.post(url, headers=tokens.headers("admin"), json={"reason": "wrong line"})
    assert again.status_code == 422 and again.json["error"]["code"] == "already_reversed"
    ledger = client.get(f"/api/v1/supplies/{code}", headers=tokens.headers("auditor")).json["ledger"]
    assert ledger[0]["kind"] == "reversal" and _stock(sessions, code) == 2


def test_web_reversal_asks_to_confirm_in_both_languages(client: Any, sessions: Any, shelf: dict[str, Any]) -> None:
    code = shelf["item"]
    url = f"/supplies/{code}/receipts/{shelf['wrong']}/reverse"
    login(client, sessions, "storekeeper")  # readers: the REST test (403), and the route's roles are the REST's
    item_page = client.get(f"/supplies/{code}").get_data(as_text=True)
    assert url in item_page and "冲销" in item_page
    page = client.get(url).get_data(as_text=True)
    assert f"冲销第 {shelf['wrong']} 号入库记录" in page and "12" in page
    assert client.post(url, data={"reason": ""}).status_code == 422
    asked = client.post(url, data={"reason": "录错了"})
    assert asked.status_code == 200 and "请确认" in asked.get_data(as_text=True) and _stock(sessions, code) == 12
    assert client.post(url, data={"reason": "录错了", "confirmed": "1"}).status_code == 302
    assert _stock(sessions, code) == 2
    after = client.get(f"/supplies/{code}").get_data(as_text=True)
    assert "已冲销" in after and "入库冲销" in after
    assert client.get(f"/supplies/{code}/receipts/{shelf['pickup']}/reverse").status_code == 404
    client.post("/language", data={"language": "en"})
    again = client.post(url, data={"reason": "again", "confirmed": "1"})
    assert again.status_code == 422 and "is reversed already" in again.get_data(as_text=True)
    assert "Receipt reversal" in client.get(f"/supplies/{code}").get_data(as_text=True)
