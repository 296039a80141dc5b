"""Requisitions (领用申请) through the shared approval chain, partial approval, pickups that fulfil
them, and the reorder list with one notification per crossing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from server.audit import SYSTEM, Actor
from server.errors import RuleViolation
from server.models import Approval, SupplyAlert
from server.services import approvals, directory, requisitions, supplies
from tests.admin_support import login, make_user
from tests.storeroom_support import stock_up

KEEPER = Actor("u-storekeeper", "web", "storekeeper")
LIMIT = Decimal("10000.00")


@pytest.fixture
def office(sessions: Any) -> dict[str, str]:
    """A valuable item (3000.00 each, 10 in stock), an everyday one (at most 5 a pickup), a person,
    a leader in charge and a principal leader."""
    make_user(sessions, "auditor", "leader")
    make_user(sessions, "auditor", "principal")
    with sessions() as session, session.begin():
        approvals.grant(session, SYSTEM, "leader", "leader", "Finance")
        approvals.grant(session, SYSTEM, "principal", "principal", "")
        laptop = supplies.create_item(session, KEEPER, supplies.ItemIn(
            name="Tablet", unit="piece", valuable=True, unit_price="3000.00")).code
        pens = supplies.create_item(session, KEEPER, supplies.ItemIn(
            name="Pens", unit="box", everyday_max=5, reorder_level=5)).code
        stock_up(session, laptop, 10)
        stock_up(session, pens, 10)
        person = directory.create_person(session, SYSTEM, "Zhao Lei", "Finance").code
    return {"valuable": laptop, "pens": pens, "person": person}


def _pick(session: Any, code: str, person: str, qty: int, **more: Any) -> Any:
    return supplies.pickup(session, KEEPER, supplies.PickupIn(code, qty, person, "work", **more))


def test_valuable_item_needs_an_approved_requisition_with_partial_approval(sessions: Any,
                                                                           office: dict[str, str]) -> None:
    with sessions() as session, session.begin():
        with pytest.raises(RuleViolation) as refused:
            _pick(session, office["valuable"], office["person"], 1)
        assert refused.value.code == "requisition_required"
        made = requisitions.submit(session, KEEPER, requisitions.RequisitionIn(
            office["valuable"], 5, "Finance", "new staff"), LIMIT)
        chain = session.get(Approval, made.approval_id)
        assert (chain.kind, chain.level_list, chain.amount) == ("requisition", ["leader", "principal"],
                                                                Decimal("15000.00"))
        rid = made.id
    with sessions() as session, session.begin():
        with pytest.raises(RuleViolation):  # still pending: no pickup
            _pick(session, office["valuable"], office["person"], 1, requisition=rid)
        approvals.decide(session, Actor("leader", "web"), made.approval_id, "approve", 3)
        approvals.decide(session, Actor("principal", "web"), made.approval_id, "approve")
    with sessions() as session, session.begin():
        assert _pick(session, office["valuable"], office["person"], 2).requisition_id == rid  # found by itself
        with pytest.raises(RuleViolation) as over:
            _pick(session, office["valuable"], office["person"], 2, requisition=rid)
        assert over.value.code == "requisition_exceeded"
    with sessions() as session, session.begin():
        _pick(session, office["valuable"], office["person"], 1, requisition=rid)
        assert requisitions.fulfilment(session, requisitions.by_id(session, rid)) == {
            "asked": 5, "approved": 3, "picked": 3, "left": 0}
        with pytest.raises(RuleViolation) as used_up:
            _pick(session, office["valuable"], office["person"], 1)
        assert used_up.value.code == "requisition_required"


def test_offline_pickup_without_requisition_is_a_conflict(sessions: Any, office: dict[str, str]) -> None:
    with sessions() as session, session.begin():
        moved = supplies.pickup(session, KEEPER, supplies.PickupIn(office["valuable"], 1, office["person"]),
                                live=False)
        assert moved.conflict and moved.requisition_id is None


def test_everyday_use_needs_no_requisition_up_to_its_limit(sessions: Any, office: dict[str, str]) -> None:
    with sessions() as session, session.begin():
        assert _pick(session, office["pens"], office["person"], 5).requisition_id is None
        with pytest.raises(RuleViolation) as refused:
            _pick(session, office["pens"], office["person"], 6)
        assert refused.value.code == "requisition_required"


def test_reorder_notification_once_per_crossing(sessions: Any, office: dict[str, str]) -> None:
    pens, person = office["pens"], office["person"]

    def alerts() -> list[tuple[int, bool]]:
        with sessions() as session:
            return [(a.stock, a.cleared_at is not None) for a in session.scalars(select(SupplyAlert)
                                                                                  .order_by(SupplyAlert.id))]

    with sessions() as session, session.begin():
        _pick(session, pens, person, 3)  # 10 -> 7: above the level of 5
    assert alerts() == []
    with sessions() as session, session.begin():
        _pick(session, pens, person, 2)  # 7 -> 5: at the level, crossed
        _pick(session, pens, person, 1)  # 5 -> 4: still under, no second notification
    assert alerts() == [(5, False)]
    with sessions() as session:
        assert [(i.code, s, a is not None) for i, s, a in supplies.reorder_list(session)] == [(pens, 4, True)]
    with sessions() as session, session.begin():
        stock_up(session, pens, 10)  # 14: above again, cleared
        _pick(session, pens, person, 5)  # 9
        _pick(session, pens, person, 5)  # 4: a new crossing
    assert alerts() == [(5, True), (4, False)]


def test_rest_and_pages_for_requisitions(client: Any, sessions: Any, tokens: Any, office: dict[str, str]) -> None:
    keeper = tokens.headers("storekeeper")
    made = client.post("/api/v1/requisitions", headers=keeper, json={
        "item": office["valuable"], "quantity": 2, "department": "Finance", "purpose": "audit trip"})
    assert made.status_code == 201, made.json
    assert made.json["levels"] == ["leader"] and made.json["waiting_for"] == "leader"  # 6000.00: one level
    rid = made.json["id"]
    login(client, sessions, "auditor", "leader", make=False)
    page = client.get(f"/supplies/requisitions/{rid}").get_data(as_text=True)
    assert "领用申请" in page and "同意" in page
    assert client.get("/supplies/requisitions/").status_code == 200
    decided = client.post(f"/supplies/requisitions/{rid}/decision", data={"decision": "approve", "quantity": 1})
    assert decided.status_code == 302
    got = client.get(f"/api/v1/requisitions/{rid}", headers=keeper).json
    assert got["state"] == "approved" and got["fulfilment"] == {"asked": 2, "approved": 1, "picked": 0, "left": 1}
    took = client.post(f"/api/v1/supplies/{office['valuable']}/pickups", headers=keeper,
                       json={"quantity": 1, "taker": office["person"], "requisition": rid})
    assert took.status_code == 201 and took.json["movement"]["requisition"] == rid
    again = client.post(f"/api/v1/supplies/{office['valuable']}/pickups", headers=keeper,
                        json={"quantity": 1, "taker": office["person"]})
    assert again.status_code == 422 and again.json["error"]["code"] == "requisition_required"
    assert client.get("/supplies/reorder").status_code == 200
    listed = client.get("/api/v1/supplies/reorder", headers=keeper).json["items"]
    assert listed == []  # both items are above their levels
