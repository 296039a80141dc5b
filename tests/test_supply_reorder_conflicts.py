"""A reorder becomes a purchase request (once per crossing, through the purchase-request chain), and
offline pickup conflicts are settled once (accepted with a note, or corrected by an adjustment)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from server.audit import SYSTEM, Actor
from server.errors import AlreadyExists, Invalid, NotFound, RuleViolation
from server.models import AuditEntry, PurchaseRequest, SupplyMovement
from server.services import approvals, directory, supplies, supply_conflicts, supply_reorder
from tests.admin_support import login
from tests.storeroom_support import stock_up

KEEPER = Actor("u-storekeeper", "web", "storekeeper")
LIMIT = Decimal("10000.00")


@pytest.fixture
def shelf(sessions: Any) -> dict[str, str]:
    """Pens (level 5, reorder 20, bought at 3.20; 10 in stock), a valuable tablet (2 in stock), a person."""
    with sessions() as session, session.begin():
        pens = supplies.create_item(session, KEEPER, supplies.ItemIn(
            name="Pens", unit="box", reorder_level=5, reorder_quantity=20)).code
        tablet = supplies.create_item(session, KEEPER, supplies.ItemIn(name="Tablet", unit="piece", valuable=True)).code
        stock_up(session, pens, 10, "3.20")
        stock_up(session, tablet, 2, "2500.00")
        person = directory.create_person(session, SYSTEM, "Zhao Lei", "Finance").code
    return {"pens": pens, "tablet": tablet, "person": person}


def _pick(sessions: Any, code: str, person: str, qty: int, live: bool = True) -> SupplyMovement:
    with sessions() as session, session.begin():
        return supplies.pickup(session, KEEPER, supplies.PickupIn(code, qty, person, "work"), live=live)


def _ask(session: Any, code: str, **more: Any) -> PurchaseRequest:
    return supply_reorder.request(session, KEEPER, code, supply_reorder.ReorderIn(
        department="Office", reason="restock", **more), LIMIT)


def _audit(sessions: Any) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def test_a_reorder_becomes_one_purchase_request(sessions: Any, shelf: dict[str, str]) -> None:
    with sessions() as session, session.begin(), pytest.raises(RuleViolation) as above:
        _ask(session, shelf["pens"])
    assert above.value.code == "not_below_reorder"
    _pick(sessions, shelf["pens"], shelf["person"], 6)  # 10 -> 4: under the level, notified
    with sessions() as session, session.begin():
        made = _ask(session, shelf["pens"])
        assert (made.quantity, made.estimated_unit_price, made.category.name) == (20, Decimal("3.20"),
                                                                                  "Office supplies")
        assert shelf["pens"] in made.item and made.approval.kind == "purchase_request"
        rid = made.id
    before = _audit(sessions)
    with sessions() as session, session.begin(), pytest.raises(AlreadyExists) as twice:
        _ask(session, shelf["pens"])
    assert twice.value.code == "reorder_requested" and _audit(sessions) == before
    with sessions() as session, session.begin():
        approvals.withdraw(session, KEEPER, session.get(PurchaseRequest, rid).approval_id)
    with sessions() as session, session.begin():  # withdrawn: the reorder may be asked for again
        assert _ask(session, shelf["pens"], quantity=30, estimated_unit_price="3.00").quantity == 30
        assert supply_reorder.requests_of(session, [supplies.item_by_code(session, shelf["pens"]).id])


def test_a_reorder_needs_a_supply_category(sessions: Any, shelf: dict[str, str]) -> None:
    _pick(sessions, shelf["pens"], shelf["person"], 6)
    with sessions() as session, session.begin(), pytest.raises(Invalid) as wrong:
        directory.get_or_create_category(session, SYSTEM, "Laptop")
        _ask(session, shelf["pens"], category="Laptop")
    assert wrong.value.code == "not_supplies"


def test_conflicts_are_settled_once(sessions: Any, shelf: dict[str, str]) -> None:
    below = _pick(sessions, shelf["pens"], shelf["person"], 12, live=False).id  # 10 -> -2
    no_req = _pick(sessions, shelf["tablet"], shelf["person"], 1, live=False).id  # valuable, no requisition
    fine = _pick(sessions, shelf["tablet"], shelf["person"], 1, live=False).id
    with sessions() as session:
        listed = {c.movement.id: c.why for c in supply_conflicts.listing(session)}
        assert listed == {below: "below_zero", no_req: "no_requisition", fine: "no_requisition"}
        assert supply_conflicts.open_count(session) == 3
    before = _audit(sessions)
    with sessions() as session, session.begin():
        with pytest.raises(Invalid):
            supply_conflicts.settle(session, KEEPER, below, "accept", "  ")  # a note is required
        with pytest.raises(Invalid):
            supply_conflicts.settle(session, KEEPER, below, "adjust", "found more", 0)
        with pytest.raises(RuleViolation):  # -2 - 1 is below zero: refused like any adjustment
            supply_conflicts.settle(session, KEEPER, below, "adjust", "counted", -1)
        with pytest.raises(NotFound):
            supply_conflicts.settle(session, KEEPER, 999_999, "accept", "x")
        receipt = session.scalar(select(SupplyMovement.id).where(SupplyMovement.kind == "receipt").limit(1))
        with pytest.raises(RuleViolation):
            supply_conflicts.settle(session, KEEPER, receipt, "accept", "x")
    assert _audit(sessions) == before
    with sessions() as session, session.begin():
        supply_conflicts.settle(session, KEEPER, below, "adjust", "a box was on the top shelf", 5)
        supply_conflicts.settle(session, KEEPER, no_req, "accept", "approved on paper, requisition 12")
    with sessions() as session:
        assert supplies.stock(session, supplies.item_by_code(session, shelf["pens"]).id) == 3
        settled = supply_conflicts.get(session, below).settlement
        assert settled is not None and settled.adjustment_id is not None
        assert [c.movement.id for c in supply_conflicts.listing(session)] == [fine]
    with sessions() as session, session.begin(), pytest.raises(AlreadyExists):
        supply_conflicts.settle(session, KEEPER, below, "accept", "again")


def test_rest_reorder_request_and_conflicts(client: Any, tokens: Any, sessions: Any, shelf: dict[str, str]) -> None:
    keeper, auditor = tokens.headers("storekeeper"), tokens.headers("auditor")
    _pick(sessions, shelf["pens"], shelf["person"], 6)
    listed = client.get("/api/v1/supplies/reorder", headers=auditor).json["items"]
    assert [(i["code"], i["purchase_request"]) for i in listed] == [(shelf["pens"], None)]
    url = f"/api/v1/supplies/{shelf['pens']}/reorder-request"
    assert client.post(url, headers=auditor, json={"department": "Office", "reason": "x"}).status_code == 403
    assert client.post(url, headers=keeper, json={"department": "Office", "reason": "x",
                                                  "estimated_unit_price": "-1"}).status_code == 422
    made = client.post(url, headers=keeper, json={"department": "Office", "reason": "restock"})
    assert made.status_code == 201 and made.json["quantity"] == 20 and made.json["state"] == "pending"
    assert client.post(url, headers=keeper, json={"department": "Office", "reason": "again"}).status_code == 409
    listed = client.get("/api/v1/supplies/reorder", headers=auditor).json["items"]
    assert listed[0]["purchase_request"] == {"id": made.json["purchase_request"], "state": "pending"}
    below = _pick(sessions, shelf["pens"], shelf["person"], 9, live=False).id
    conflicts = client.get("/api/v1/supplies/conflicts", headers=auditor).json["items"]
    assert [(c["id"], c["why"], c["settlement"]) for c in conflicts] == [(below, "below_zero", None)]
    assert client.get("/api/v1/supplies/conflicts?state=maybe", headers=auditor).status_code == 422
    settle = f"/api/v1/supplies/conflicts/{below}/settlement"
    assert client.post(settle, headers=keeper, json={"action": "adjust", "note": "x", "delta": -1}).status_code == 422
    done = client.post(settle, headers=keeper, json={"action": "adjust", "note": "recount", "delta": 6})
    assert done.status_code == 201 and done.json["settlement"]["action"] == "adjust"
    assert client.post(settle, headers=keeper, json={"action": "accept", "note": "x"}).status_code == 409
    assert client.get("/api/v1/supplies/conflicts?state=settled", headers=auditor).json["items"][0]["id"] == below


def test_pages_in_both_languages(client: Any, sessions: Any, shelf: dict[str, str]) -> None:
    _pick(sessions, shelf["pens"], shelf["person"], 6)
    below = _pick(sessions, shelf["pens"], shelf["person"], 9, live=False).id
    login(client, sessions, "storekeeper")
    home = client.get("/").get_data(as_text=True)
    assert 'aria-labelledby="storeroom"' in home and "已提醒：1" in home  # the reorder notification
    reorder = client.get("/supplies/reorder").get_data(as_text=True)
    assert "提交申购" in reorder
    form = client.get(f"/supplies/reorder/{shelf['pens']}/request").get_data(as_text=True)
    assert "3.20" in form and "Office supplies" in form and "最低库存" in form
    refused = client.post(f"/supplies/reorder/{shelf['pens']}/request", data={
        "department": "Office", "category": "Office supplies", "quantity": 0, "estimated_unit_price": "3.20",
        "reason": "x"})
    assert refused.status_code == 422
    done = client.post(f"/supplies/reorder/{shelf['pens']}/request", data={
        "department": "Office", "category": "Office supplies", "quantity": 25, "estimated_unit_price": "3.20",
        "reason": "restock"})
    assert done.status_code == 302 and "/requests/" in done.headers["Location"]
    assert client.get("/supplies/reorder/S-0000000/request").status_code == 404
    page = client.get("/supplies/conflicts").get_data(as_text=True)
    assert "领用冲突" in page and f'id="conflict-{below}"' in page
    bad = client.post(f"/supplies/conflicts/{below}", data={f"c{below}-action": "adjust", f"c{below}-delta": -5,
                                                            f"c{below}-note": "recount"})
    assert bad.status_code == 422 and "库存" in bad.get_data(as_text=True)
    ok = client.post(f"/supplies/conflicts/{below}", data={f"c{below}-action": "accept",
                                                           f"c{below}-note": "receipt came late"})
    assert ok.status_code == 302
    assert client.post("/supplies/conflicts/999999", data={"c999999-action": "accept",
                                                           "c999999-note": "x"}).status_code == 404
    cats = client.get("/supplies/categories").get_data(as_text=True)
    assert "Office supplies" in cats
    with sessions() as session, session.begin():
        directory.get_or_create_category(session, SYSTEM, "Toner")
    assert client.post("/supplies/categories", data={"category": "Toner", "supplies": "2"}).status_code == 400
    assert client.post("/supplies/categories", data={"category": "Toner", "supplies": "1"}).status_code == 302
    with sessions() as session:
        assert directory.category_by_name(session, "Toner").supplies
    missing = client.post("/supplies/categories", data={"category": "Nope", "supplies": "1"}, follow_redirects=True)
    assert "没有名为“Nope”的品目" in missing.get_data(as_text=True)
    client.post("/language", data={"language": "en"})
    english = client.get("/supplies/conflicts?state=all").get_data(as_text=True)
    assert "Pickup conflicts" in english and "receipt came late" in english
    assert "Purchase request" in client.get("/supplies/reorder").get_data(as_text=True)
    assert client.get("/supplies/conflicts?state=bogus").status_code == 400
