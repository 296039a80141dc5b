"""Hypothesis (issue 14): whatever the order of requests, decisions, withdrawals, life-cycle steps and
attempted uses, every recorded use of a seal has an approved request for that seal, approved before the
stamping, and a request's uses never add up to more copies than were approved. The service's verdict on
each attempted use is also checked against a model of the rules, so a service that refused everything
(or allowed everything) would fail here too."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from server import auth
from server.audit import SYSTEM, Actor
from server.errors import DomainError
from server.models import ApprovalState, SealUse, SealUseRequest
from server.services import approvals, directory, seal_uses, seals

KEEPER = Actor("keeper", "web", "storekeeper")
CLERK = Actor("clerk", "web", "guard")
LEADER = Actor("leader", "web", "auditor")
ACTIONS = ("request", "approve", "approve", "reject", "withdraw", "use", "use", "use", "suspend", "enable")
step = st.tuples(st.sampled_from(ACTIONS), st.integers(0, 3), st.integers(1, 5), st.booleans())
# Each rule broken on purpose at least once, whatever the random search finds: a use on a pending, a
# rejected and a withdrawn request, beyond the copies approved, on another seal's request, and while
# the seal is suspended; and the uses that must go through.
EXAMPLES = [
    [("request", 0, 3, False), ("use", 0, 1, False)],
    [("request", 0, 3, False), ("reject", 0, 1, False), ("use", 0, 1, False)],
    [("request", 0, 3, False), ("withdraw", 0, 1, False), ("use", 0, 1, False)],
    [("request", 0, 5, False), ("approve", 0, 2, False), ("use", 0, 2, False), ("use", 0, 1, False)],
    [("request", 0, 3, False), ("approve", 0, 5, False), ("use", 0, 3, False), ("use", 0, 1, False)],
    [("request", 0, 3, False), ("approve", 0, 5, False), ("use", 0, 1, True)],
    [("request", 0, 3, False), ("approve", 0, 5, False), ("suspend", 0, 1, False), ("use", 0, 1, False),
     ("enable", 0, 1, False), ("use", 0, 1, False)],
]


@dataclass
class Model:
    """What the rules say: each request's state, approved copies and copies used; the seals' states."""

    seals: list[str]
    status: dict[str, str]
    requests: list[tuple[int, str]] = field(default_factory=list)  # (id, seal code)
    state: dict[int, str] = field(default_factory=dict)
    approved: dict[int, int] = field(default_factory=dict)
    used: dict[int, int] = field(default_factory=dict)


def _office(db: Any) -> Model:
    for name, role in (("keeper", "storekeeper"), ("clerk", "guard"), ("leader", "auditor")):
        auth.create_user(db, SYSTEM, name, "correct horse battery", role)
    approvals.grant(db, SYSTEM, "leader", "leader", "Finance")
    custodian = directory.create_person(db, SYSTEM, "Wang Fang", "Office").code
    codes = []
    for name in ("Official seal", "Contract seal"):
        code = seals.register(db, KEEPER, seals.SealIn(name, "official", "Finance", custodian, "R-0")).code
        seals.step(db, KEEPER, code, "enable", "R-1")
        codes.append(code)
    return Model(codes, dict.fromkeys(codes, "in_use"))


def _act(db: Any, m: Model, action: str, pick: int, copies: int, other_seal: bool) -> None:
    """Do one step through the services, and follow it in the model when it went through."""
    found = m.requests[pick % len(m.requests)] if m.requests else None
    seal = m.seals[pick % 2]
    if action == "request":
        made = seal_uses.submit(db, CLERK, seal_uses.UseRequestIn(seal, "Report", copies, "Bureau", "why", "Finance"),
                                Decimal("10000"))
        m.requests.append((made.id, seal))
        m.state[made.id], m.used[made.id] = "pending", 0
    if action in ("approve", "reject") and found:
        approvals.decide(db, LEADER, seal_uses.by_id(db, found[0]).approval_id, action,
                         copies if action == "approve" and copies < 4 else None, "no")
        request = seal_uses.by_id(db, found[0])
        m.state[found[0]] = request.approval.state
        m.approved[found[0]] = request.approval.approved_quantity or 0
    elif action == "withdraw" and found:
        approvals.withdraw(db, CLERK, seal_uses.by_id(db, found[0]).approval_id)
        m.state[found[0]] = "withdrawn"
    elif action in ("suspend", "enable"):
        seals.step(db, KEEPER, seal, action, "R-2")
        m.status[seal] = "suspended" if action == "suspend" else "in_use"
    elif action == "use":
        target = m.seals[(m.seals.index(found[1]) + 1) % 2] if found and other_seal else (found[1] if found else seal)
        request_id = found[0] if found else None
        seal_uses.record_use(db, KEEPER, target, seal_uses.UseIn(request_id, copies))
        assert found is not None
        m.used[found[0]] += copies


def _expected_use(m: Model, pick: int, copies: int, other_seal: bool) -> bool:
    if not m.requests:
        return False
    request_id, seal = m.requests[pick % len(m.requests)]
    return (not other_seal and m.state[request_id] == ApprovalState.APPROVED and m.status[seal] == "in_use"
            and m.used[request_id] + copies <= m.approved[request_id])


def _check(db: Any, m: Model) -> None:
    for use in db.scalars(select(SealUse)).unique():
        request = db.get(SealUseRequest, use.request_id)
        assert request.approval.state == ApprovalState.APPROVED, "a use without an approved request"
        assert request.seal_id == use.seal_id, "a use on another seal's request"
        assert request.approval.decided_at is not None and use.at >= request.approval.decided_at
    totals = db.execute(select(SealUse.request_id, func.sum(SealUse.copies)).group_by(SealUse.request_id)).all()
    for request_id, total in totals:
        assert total <= (db.get(SealUseRequest, request_id).approval.approved_quantity or 0), "copies over approval"
        assert total == m.used[request_id]


def _with_examples(test: Any) -> Any:
    for steps in EXAMPLES:
        test = example(steps=steps)(test)
    return test


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@_with_examples
@given(steps=st.lists(step, min_size=1, max_size=25))
def test_every_use_has_an_approved_request_and_copies_never_exceed_it(engine_sessions: Any,
                                                                      steps: list[Any]) -> None:
    with engine_sessions() as db:
        m = _office(db)
        for action, pick, copies, other_seal in steps:
            allowed = _expected_use(m, pick, copies, other_seal) if action == "use" else None
            try:
                with db.begin_nested():
                    _act(db, m, action, pick, copies, other_seal)
                went_through = True
            except DomainError:
                went_through = False  # refused: the savepoint is gone, and so is anything it wrote
            if allowed is not None:
                assert went_through == allowed, (action, pick, copies, other_seal, m)
            _check(db, m)
        db.rollback()
