"""A missing asset marked lost without an approval reference asks the shared approval chain: it stays
unresolved until approved, is disposed as lost at closing once approved, and a rejection sends it back."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from server.audit import SYSTEM, Actor
from server.errors import Forbidden, IllegalTransition, NotFound, RuleViolation
from server.models import Approval, Asset, AssetEvent
from server.services import approvals, assets, directory, stocktake_losses, stocktakes
from tests.admin_support import login, make_user

ADMIN = Actor("u-admin", "web", "admin")
LEADER = Actor("leader", "web", "auditor")
PRINCIPAL = Actor("principal", "web", "auditor")
LIMIT = Decimal("10000.00")


@pytest.fixture
def room(sessions: Any) -> dict[str, str]:
    """Room A with a cheap printer and a costly laptop (IT), both missing from an open stocktake;
    a leader in charge of IT and a principal leader."""
    make_user(sessions, "auditor", "leader")
    make_user(sessions, "auditor", "principal")
    with sessions() as session, session.begin():
        approvals.grant(session, SYSTEM, "leader", "leader", "IT")
        approvals.grant(session, SYSTEM, "principal", "principal", "")
        directory.get_or_create_category(session, SYSTEM, "Laptop")
        a = directory.create_location(session, SYSTEM, "Room A").code
        cheap = assets.create_asset(session, SYSTEM, "Printer", "Laptop", a).code
        costly = assets.create_asset(session, SYSTEM, "Laptop", "Laptop", a).code
        for code, price in ((cheap, "800.00"), (costly, "12000.00")):
            found = session.scalars(select(Asset).where(Asset.code == code)).one()
            found.department, found.price = "IT", Decimal(price)
        st = stocktakes.open_stocktake(session, ADMIN, "locations", location_codes=[a]).id
    return {"A": a, "cheap": cheap, "costly": costly, "st": str(st)}


def _lose(sessions: Any, room: dict[str, str], code: str) -> int:
    with sessions() as session, session.begin():
        row = stocktakes.resolve(session, ADMIN, int(room["st"]), code, "lost", principal_above=LIMIT)
        assert row.approval_id is not None
        return row.approval_id


def _unresolved(sessions: Any, room: dict[str, str]) -> int:
    with sessions() as session:
        return stocktakes.unresolved(session, stocktakes.by_id(session, int(room["st"])))


def _decide(sessions: Any, room: dict[str, str], who: Actor, chain: int, decision: str, reason: str = "") -> None:
    with sessions() as session, session.begin():
        stocktake_losses.decide(session, who, stocktakes.by_id(session, int(room["st"])), chain, decision, reason)


def test_an_approved_loss_is_disposed_at_closing(sessions: Any, room: dict[str, str]) -> None:
    cheap, costly = _lose(sessions, room, room["cheap"]), _lose(sessions, room, room["costly"])
    with sessions() as session:
        chains = session.scalars(select(Approval).where(Approval.kind == "stocktake_loss"))
        levels = {a.id: a.level_list for a in chains}
    assert levels == {cheap: ["leader"], costly: ["leader", "principal"]}  # the price decides the levels
    assert _unresolved(sessions, room) == 2  # waiting for approval is not resolved
    with sessions() as session, session.begin(), pytest.raises(RuleViolation):
        stocktakes.close(session, ADMIN, int(room["st"]))
    with pytest.raises(Forbidden):
        _decide(sessions, room, PRINCIPAL, costly, "approve")  # the leader in charge decides first
    _decide(sessions, room, LEADER, cheap, "approve")
    _decide(sessions, room, LEADER, costly, "approve")
    assert _unresolved(sessions, room) == 1
    _decide(sessions, room, PRINCIPAL, costly, "approve")
    assert _unresolved(sessions, room) == 0
    with sessions() as session, session.begin():
        stocktakes.close(session, ADMIN, int(room["st"]))
    with sessions() as session:
        disposed = {a.code: a.status for a in session.scalars(select(Asset))}
        assert disposed == {room["cheap"]: "disposed", room["costly"]: "disposed"}
        refs = sorted(e.data.get("approval_ref") for e in session.scalars(
            select(AssetEvent).where(AssetEvent.type == "asset.dispose")))
        assert refs == sorted([f"approval {cheap}", f"approval {costly}"])
    with pytest.raises(IllegalTransition):
        _decide(sessions, room, LEADER, cheap, "approve")


def test_a_rejected_loss_is_unresolved_again_and_a_forced_close_does_not_apply_it(sessions: Any,
                                                                                 room: dict[str, str]) -> None:
    cheap = _lose(sessions, room, room["cheap"])
    pending = _lose(sessions, room, room["costly"])
    _decide(sessions, room, LEADER, cheap, "reject", "look in the archive room")
    assert _unresolved(sessions, room) == 2
    with sessions() as session, session.begin():  # resolved another way: the rejected chain stays as it was
        stocktakes.resolve(session, ADMIN, int(room["st"]), room["cheap"], "ignore", reason="found later")
        assert session.get(Approval, cheap).state == "rejected"
    with pytest.raises(NotFound):
        _decide(sessions, room, LEADER, cheap, "approve")  # no longer this stocktake's loss
    with sessions() as session, session.begin():
        stocktakes.close(session, ADMIN, int(room["st"]), force=True)
        assert stocktakes.by_id(session, int(room["st"])).forced
    with sessions() as session:
        assert "disposed" not in {a.status for a in session.scalars(select(Asset))}  # nothing disposed
        assert session.get(Approval, pending).state == "pending"


def test_replacing_a_waiting_loss_withdraws_its_chain(sessions: Any, room: dict[str, str]) -> None:
    chain = _lose(sessions, room, room["cheap"])
    with sessions() as session, session.begin():
        stocktakes.resolve(session, ADMIN, int(room["st"]), room["cheap"], "lost", approval_ref="GOV-3")
        assert session.get(Approval, chain).state == "withdrawn"
    assert _unresolved(sessions, room) == 1  # the costly one


def test_rest_and_page(client: Any, sessions: Any, tokens: Any, room: dict[str, str]) -> None:
    st = room["st"]
    made = client.post(f"/api/v1/stocktakes/{st}/resolutions", headers=tokens.headers("admin"),
                       json={"code": room["cheap"], "action": "lost"})
    assert made.status_code == 201 and made.json["approval"] is not None
    chain = made.json["approval"]
    got = client.get(f"/api/v1/stocktakes/{st}", headers=tokens.headers("auditor")).json
    assert got["losses"] == [{"code": room["cheap"], "approval": chain, "state": "pending", "waiting_for": "leader"}]
    url = f"/api/v1/stocktakes/{st}/losses/{chain}/decision"
    assert client.post(url, headers=tokens.headers("auditor"), json={"decision": "approve"}).status_code == 403
    assert client.post(f"/api/v1/stocktakes/{st}/losses/999999/decision", headers=tokens.headers("admin"),
                       json={"decision": "approve"}).status_code == 404
    login(client, sessions, "auditor", "leader", make=False)
    assert f"#loss-{chain}" in client.get("/stocktakes/").get_data(as_text=True)  # waiting for my decision
    page = client.get(f"/stocktakes/{st}").get_data(as_text=True)
    assert f'id="loss-{chain}"' in page and "待审批" in page
    refused = client.post(f"/stocktakes/{st}/losses/{chain}/decision", data={"decision": "reject"})
    assert refused.status_code == 422  # a rejection needs a reason
    done = client.post(f"/stocktakes/{st}/losses/{chain}/decision", data={"decision": "approve"})
    assert done.status_code == 302
    client.post("/language", data={"language": "en"})
    english = client.get(f"/stocktakes/{st}").get_data(as_text=True)
    assert "Losses asked through the approval chain" in english and "Approved" in english
