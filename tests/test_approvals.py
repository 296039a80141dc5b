"""Purchase requests and the approval chain: levels by amount, grants, own requests, partial approval,
rejection, withdrawal, linking; through the service, the REST API and the web pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server import auth
from server.audit import SYSTEM, Actor
from server.errors import Forbidden, IllegalTransition, Invalid
from server.models import ApprovalState, AuditEntry
from server.services import approvals, directory, purchase_requests

THRESHOLD = Decimal("10000.00")
PASSWORD = "correct horse battery"


def _people(session: Any) -> None:
    directory.get_or_create_category(session, SYSTEM, "Laptop")
    for name, role in (("clerk", "storekeeper"), ("li", "auditor"), ("wang", "auditor"), ("boss", "admin")):
        auth.create_user(session, SYSTEM, name, PASSWORD, role)
    approvals.grant(session, SYSTEM, "li", "leader", "IT")
    approvals.grant(session, SYSTEM, "wang", "principal", "")


def _request(session: Any, quantity: int = 2, price: str = "4000.00", who: str = "clerk") -> Any:
    data = purchase_requests.RequestIn("IT", "ThinkPad", "Laptop", quantity, price, "old ones broke")
    return purchase_requests.submit(session, Actor(who, "web", "storekeeper"), data, THRESHOLD)


def test_the_amount_decides_the_levels(engine_sessions: Any) -> None:
    with engine_sessions() as session, session.begin():
        _people(session)
        small, big = _request(session, 2, "4000.00"), _request(session, 3, "4000.00")
        exact = _request(session, 1, "10000.00")
        assert small.approval.level_list == ["leader"]
        assert big.approval.level_list == ["leader", "principal"]  # 12,000 > 10,000
        assert exact.approval.level_list == ["leader"]  # at the threshold: not above it


def test_chain_in_order_with_partial_approval(engine_sessions: Any) -> None:
    li, wang = Actor("li", "web", "auditor"), Actor("wang", "web", "auditor")
    with engine_sessions() as session, session.begin():
        _people(session)
        chain = _request(session, 5, "4000.00").approval
        with pytest.raises(Forbidden):
            approvals.decide(session, wang, chain.id, "approve")  # the principal cannot go first
        approvals.decide(session, li, chain.id, "approve", quantity=4)
        assert (chain.state, chain.step, chain.approved_quantity) == ("pending", 1, 4)
        with pytest.raises(Invalid):
            approvals.decide(session, wang, chain.id, "approve", quantity=5)  # never raised again
        approvals.decide(session, wang, chain.id, "approve", quantity=3)
        assert (chain.state, chain.approved_quantity) == (ApprovalState.APPROVED, 3)
        assert [(d.level, d.decided_by, d.quantity) for d in chain.decisions] == [("leader", "li", 4),
                                                                                 ("principal", "wang", 3)]
        with pytest.raises(IllegalTransition):
            approvals.decide(session, li, chain.id, "reject", reason="too late")


def test_own_requests_other_departments_and_rejections(engine_sessions: Any) -> None:
    li = Actor("li", "web", "auditor")
    with engine_sessions() as session, session.begin():
        _people(session)
        own = _request(session, who="li").approval
        with pytest.raises(Forbidden):
            approvals.decide(session, li, own.id, "approve")  # li holds the grant but asked himself
        data = purchase_requests.RequestIn("Finance", "Desk", "Laptop", 1, "100", "new hire")
        other = purchase_requests.submit(session, Actor("clerk", "web", "storekeeper"), data, THRESHOLD).approval
        with pytest.raises(Forbidden):
            approvals.decide(session, li, other.id, "approve")  # li leads IT, not Finance
        chain = _request(session).approval
        with pytest.raises(Invalid):
            approvals.decide(session, li, chain.id, "reject")  # a rejection needs a reason
        approvals.decide(session, li, chain.id, "reject", reason="no budget this year")
        assert chain.state == ApprovalState.REJECTED
        assert approvals.waiting_for(session, "li") == [] or all(a.id != chain.id
                                                                  for a in approvals.waiting_for(session, "li"))


def test_todo_list_withdrawal_link_and_audit(engine_sessions: Any) -> None:
    from sqlalchemy import func, select

    from server.services import plans

    li = Actor("li", "web", "auditor")
    with engine_sessions() as session, session.begin():
        _people(session)
        plans.create_line(session, SYSTEM, {"ref": "2026-IT-01", "budget_year": 2026, "department": "IT",
                                            "category": "Laptop", "approved_qty": 10, "unit_price_cap": "6000",
                                            "approved_amount": "60000", "method": "online_inquiry",
                                            "approval_ref": "财〔2026〕1号"})
        first, second = _request(session), _request(session)
        assert {a.id for a in approvals.waiting_for(session, "li")} == {first.approval_id, second.approval_id}
        assert approvals.waiting_for(session, "clerk") == []
        with pytest.raises(Forbidden):
            approvals.withdraw(session, li, second.approval_id)
        approvals.withdraw(session, Actor("clerk", "web", "storekeeper"), second.approval_id)
        with pytest.raises(IllegalTransition):
            purchase_requests.link(session, SYSTEM, first.id, "2026-IT-01", None)  # not approved yet
        approvals.decide(session, li, first.approval_id, "approve")
        purchase_requests.link(session, SYSTEM, first.id, "2026-IT-01", None)
        assert first.plan_line is not None and first.plan_line.ref == "2026-IT-01"
        actions = dict(session.execute(select(AuditEntry.action, func.count()).group_by(AuditEntry.action)).all())
        assert actions["approval.approve"] == 1 and actions["approval.withdraw"] == 1
        assert actions["purchase_request.submit"] == 2 and actions["purchase_request.link"] == 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["li", "wang", "clerk"]), st.sampled_from(["approve", "reject"]),
                          st.none() | st.integers(0, 12)), max_size=6))
def test_any_sequence_keeps_the_chain_sound(engine_sessions: Any, steps: list[tuple[str, str, int | None]]) -> None:
    """Whatever is tried, in order: approved only after every level, quantities only go down, each step once."""
    with engine_sessions() as session:
        with session.begin():
            if not session.scalar(__import__("sqlalchemy").select(__import__("server.models").models.User.id)):
                _people(session)
            chain_id = _request(session, 10, "1500.00").approval_id
        for who, decision, quantity in steps:
            try:
                with session.begin():
                    approvals.decide(session, Actor(who, "web", "auditor"), chain_id, decision, quantity, "why")
            except (Forbidden, Invalid, IllegalTransition):
                pass
        with session.begin():
            chain = approvals.approval_for_change(session, chain_id)
            quantities = [10] + [d.quantity for d in chain.decisions if d.quantity is not None]
            assert quantities == sorted(quantities, reverse=True)
            assert len({d.step for d in chain.decisions}) == len(chain.decisions)
            assert all(d.decided_by != "clerk" for d in chain.decisions)
            if chain.state == ApprovalState.APPROVED:
                assert [d.level for d in chain.decisions] == chain.level_list
                assert all(d.decision == "approve" for d in chain.decisions)


def _login(client: Any, name: str) -> None:
    client.post("/logout")
    client.post("/login", data={"username": name, "password": PASSWORD})


def test_the_web_flow_in_chinese(client: Any, sessions: Any) -> None:
    with sessions() as session, session.begin():
        _people(session)
    _login(client, "clerk")
    form = {"department": "IT", "item": "ThinkPad", "category": "Laptop", "quantity": "3",
            "estimated_unit_price": "4000.00", "reason": "old ones broke", "replaces": ""}
    bad = client.post("/requests/new", data={**form, "replaces": "A-NOPE"})
    assert bad.status_code == 422 and 'id="replaces-err"' in bad.get_data(as_text=True)  # beside its field
    bad = client.post("/requests/new", data={**form, "quantity": "0"})
    assert bad.status_code == 422 and 'id="quantity-err"' in bad.get_data(as_text=True)
    made = client.post("/requests/new", data=form)
    assert made.status_code == 302
    page = client.get(made.headers["Location"]).get_data(as_text=True)
    assert "待审批" in page and "分管领导" in page and "主要领导" in page  # 12,000: two levels
    request_id = int(made.headers["Location"].rstrip("/").split("/")[-1])
    _login(client, "li")
    assert "ThinkPad" in client.get("/requests/todo").get_data(as_text=True)
    refused = client.post(f"/requests/{request_id}/decision", data={"decision": "reject", "reason": ""})
    assert refused.status_code == 422 and "不同意时必须填写原因" in refused.get_data(as_text=True)
    approved = client.post(f"/requests/{request_id}/decision", data={"decision": "approve", "quantity": "2"})
    assert approved.status_code == 302
    _login(client, "wang")
    client.post(f"/requests/{request_id}/decision", data={"decision": "approve"})
    page = client.get(f"/requests/{request_id}").get_data(as_text=True)
    assert "<strong>已批准</strong>" in page and "(批准: 2)" in page
    assert client.post(f"/requests/{request_id}/decision", data={"decision": "approve"}).status_code == 422


def test_the_rest_api(client: Any, sessions: Any, tokens: Any) -> None:
    with sessions() as session, session.begin():
        _people(session)
    body = {"department": "IT", "item": "Monitor", "category": "Laptop", "quantity": 1,
            "estimated_unit_price": "1200.00", "reason": "second screen"}
    made = client.post("/api/v1/requests", json=body, headers=tokens.headers("storekeeper"))
    assert made.status_code == 201 and made.get_json()["approval"]["levels"] == ["leader"]
    request_id = made.get_json()["id"]
    # a token is not an approver: refused with the reason, in Chinese by default
    refused = client.post(f"/api/v1/requests/{request_id}/decision", json={"decision": "approve"},
                          headers=tokens.headers("auditor"))
    assert refused.status_code == 403 and "审批人" in refused.get_json()["error"]["message"]
    english = client.post(f"/api/v1/requests/{request_id}/decision", json={"decision": "approve"},
                          headers={**tokens.headers("auditor"), "Accept-Language": "en"})
    assert "not an approver" in english.get_json()["error"]["message"]
    listed = client.get("/api/v1/requests?state=pending", headers=tokens.headers("auditor")).get_json()
    assert [r["id"] for r in listed["items"]] == [request_id]
    assert client.get("/api/v1/requests?state=bogus", headers=tokens.headers("auditor")).status_code == 422
    assert client.post("/api/v1/approvers", json={"username": "clerk", "level": "leader"},
                       headers=tokens.headers("storekeeper")).status_code == 403
