"""Receipts of supplies come from purchase lines of a supply category (checked against the plan when
bought): never beyond the line, once per request key, never as assets; REST and the item page."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from server.audit import SYSTEM, Actor
from server.errors import AlreadyExists, NotFound, RuleViolation
from server.models import Asset, AuditEntry, SupplyMovement
from server.services import corrections, intake, supplies, supply_receipts
from tests.admin_support import login
from tests.procurement_support import buy, office, plan_line
from tests.storeroom_support import supply_line

KEEPER = Actor("keeper", "web", "storekeeper")


@pytest.fixture
def setup(sessions: Any) -> dict[str, Any]:
    """An item, a line of 10 supplies at 2.50, and a laptop line (not supplies) with a storeroom."""
    with sessions() as session, session.begin():
        where = office(session)
        plan_line(session)
        laptop = buy(session, qty=2).lines[0].id
        item = supplies.create_item(session, KEEPER, supplies.ItemIn(name="A4 paper", unit="ream")).code
        line = supply_line(session, 10, "2.50")
    return {"item": item, "line": line, "laptop": laptop, "store": where.store}


def _ledger(sessions: Any, code: str) -> list[tuple[str, int, str | None, int | None]]:
    with sessions() as session:
        item = supplies.item_by_code(session, code)
        rows = session.scalars(select(SupplyMovement).where(SupplyMovement.item_id == item.id)
                               .order_by(SupplyMovement.id))
        return [(m.kind, m.quantity, str(m.unit_cost) if m.unit_cost is not None else None, m.purchase_line_id)
                for m in rows]


def _audit(sessions: Any) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def test_receipts_carry_the_line_and_its_price_and_never_exceed_it(sessions: Any, setup: dict[str, Any]) -> None:
    with sessions() as session, session.begin():
        supply_receipts.receive(session, KEEPER, setup["item"], setup["line"], 4, "first box")
        supply_receipts.receive(session, KEEPER, setup["item"], setup["line"])  # the rest: 6
    assert _ledger(sessions, setup["item"]) == [("receipt", 4, "2.50", setup["line"]),
                                                ("receipt", 6, "2.50", setup["line"])]
    before = _audit(sessions)
    with sessions() as session, session.begin(), pytest.raises(RuleViolation) as over:
        supply_receipts.receive(session, KEEPER, setup["item"], setup["line"], 1)
    assert over.value.code == "intake_exceeded" and "0 of 10" in over.value.message
    with sessions() as session:
        assert supply_receipts.open_lines(session) == []
        assert supply_receipts.received(session, setup["line"]) == 10
    assert _audit(sessions) == before


def test_a_request_key_receives_once(sessions: Any, setup: dict[str, Any]) -> None:
    for _ in range(2):
        with sessions() as session, session.begin():
            supply_receipts.receive(session, KEEPER, setup["item"], setup["line"], 3, request_key="form-1")
    assert _ledger(sessions, setup["item"]) == [("receipt", 3, "2.50", setup["line"])]
    with sessions() as session, session.begin(), pytest.raises(AlreadyExists):
        other = supplies.create_item(session, KEEPER, supplies.ItemIn(name="Pens", unit="box")).code
        supply_receipts.receive(session, KEEPER, other, setup["line"], 3, request_key="form-1")


def test_lines_are_received_one_way_only(sessions: Any, setup: dict[str, Any]) -> None:
    before = _audit(sessions)
    with sessions() as session, session.begin():
        with pytest.raises(RuleViolation) as not_supplies:
            supply_receipts.receive(session, KEEPER, setup["item"], setup["laptop"], 1)
        assert not_supplies.value.code == "not_supplies"
        with pytest.raises(RuleViolation) as as_assets:
            intake.receive(session, KEEPER, setup["line"], "key-1", setup["store"], 1)
        assert as_assets.value.code == "supply_line"
        with pytest.raises(NotFound):
            supply_receipts.receive(session, KEEPER, setup["item"], 999_999, 1)
        assert [line.id for line, _left in intake.open_lines(session)] == [setup["laptop"]]
        assert [line.id for line, _left in supply_receipts.open_lines(session)] == [setup["line"]]
        assert session.scalar(select(func.count()).select_from(Asset)) == 0
    assert _audit(sessions) == before
    with sessions() as session, session.begin():
        intake.receive(session, KEEPER, setup["laptop"], "key-2", setup["store"], 1)
        with pytest.raises(RuleViolation) as in_use:
            supply_receipts.mark_category(session, KEEPER, "Laptop", True)
        assert in_use.value.code == "category_in_use"
        supply_receipts.receive(session, KEEPER, setup["item"], setup["line"], 1)
        with pytest.raises(RuleViolation):
            supply_receipts.mark_category(session, KEEPER, "Office supplies", False)
        assert supply_receipts.mark_category(session, KEEPER, "Printer", True).supplies


def test_a_purchase_with_supplies_received_cannot_be_voided(sessions: Any, setup: dict[str, Any]) -> None:
    with sessions() as session, session.begin():
        supply_receipts.receive(session, KEEPER, setup["item"], setup["line"], 1)
        purchase = supply_receipts.purchases.line(session, setup["line"]).purchase_id
    with sessions() as session, session.begin(), pytest.raises(RuleViolation) as refused:
        corrections.void_purchase(session, SYSTEM, purchase, "wrong supplier", "GOV-9")
    assert refused.value.code == "has_receipts"


def test_a_voided_purchase_receives_nothing(sessions: Any, setup: dict[str, Any]) -> None:
    with sessions() as session, session.begin():
        purchase = supply_receipts.purchases.line(session, setup["line"]).purchase_id
        corrections.void_purchase(session, SYSTEM, purchase, "wrong supplier", "GOV-9")
    with sessions() as session, session.begin(), pytest.raises(RuleViolation) as voided:
        supply_receipts.receive(session, KEEPER, setup["item"], setup["line"], 1)
    assert voided.value.code == "purchase_voided"


def test_rest_receivable_categories_and_receipt(client: Any, tokens: Any, setup: dict[str, Any]) -> None:
    keeper, auditor = tokens.headers("storekeeper"), tokens.headers("auditor")
    lines = client.get("/api/v1/supplies/receivable", headers=auditor).json["items"]
    assert [(x["id"], x["left"], x["unit_price"]) for x in lines] == [(setup["line"], 10, "2.50")]
    cats = {c["name"]: c["supplies"] for c in client.get("/api/v1/supply-categories", headers=auditor).json["items"]}
    assert cats["Office supplies"] is True and cats["Laptop"] is False
    marked = client.post("/api/v1/supply-categories", headers=keeper, json={"category": "Printer", "supplies": True})
    assert marked.status_code == 200 and marked.json["supplies"] is True
    assert client.post("/api/v1/supply-categories", headers=keeper,
                       json={"category": "Nope", "supplies": True}).status_code == 404
    assert client.post("/api/v1/supply-categories", headers=auditor,
                       json={"category": "Printer", "supplies": False}).status_code == 403
    code = setup["item"]
    bad = client.post(f"/api/v1/supplies/{code}/receipts", headers=keeper, json={"purchase_line": setup["laptop"]})
    assert bad.status_code == 422 and bad.json["error"]["code"] == "not_supplies"
    got = client.post(f"/api/v1/supplies/{code}/receipts", headers=keeper, json={"purchase_line": setup["line"]})
    assert got.status_code == 201 and got.json["stock"] == 10 and got.json["movement"]["purchase_line"] == setup["line"]
    assert client.post(f"/api/v1/supplies/{code}/receipts", headers=keeper,
                       json={"purchase_line": setup["line"], "quantity": 0}).status_code == 422


def test_item_page_receipt_form_in_both_languages(client: Any, sessions: Any, setup: dict[str, Any]) -> None:
    login(client, sessions, "storekeeper")
    code = setup["item"]
    page = client.get(f"/supplies/{code}").get_data(as_text=True)
    assert "采购明细" in page and "¥2.50" in page
    refused = client.post(f"/supplies/{code}/receipts", data={"purchase_line": setup["laptop"], "request_key": "a"})
    assert refused.status_code == 422 and "办公用品" in refused.get_data(as_text=True)
    over = client.post(f"/supplies/{code}/receipts", data={"purchase_line": setup["line"], "quantity": 11,
                                                           "request_key": "b"})
    assert over.status_code == 422
    assert _ledger(sessions, code) == []
    client.post("/language", data={"language": "en"})
    page = client.get(f"/supplies/{code}").get_data(as_text=True)
    assert "Purchase line (office supplies)" in page
    done = client.post(f"/supplies/{code}/receipts", data={"purchase_line": setup["line"], "request_key": "c"})
    assert done.status_code == 302
    assert _ledger(sessions, code) == [("receipt", 10, "2.50", setup["line"])]
    empty = client.get(f"/supplies/{code}").get_data(as_text=True)
    assert "No purchase line of office supplies waits to be received" in empty
