"""Hypothesis (issue 14, archives): whatever the order of requests, decisions, lendings and returns, on line
or made at a kiosk off line, a volume is never on two loans at once, every loan that went out either had an
approved request of that borrower or is flagged as a conflict for the archive manager, and the volume's asset
says who holds it. Each attempted lending and return is also checked against a model of the rules: on line
it goes through exactly when the rules allow it; off line it is never refused for them (nothing is lost)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from server import auth
from server.audit import SYSTEM, Actor
from server.errors import DomainError
from server.models import ArchiveConflict, ArchiveLoan, ArchiveVolume, Asset, Person, User, utcnow
from server.services import approvals, archive_conflicts, archive_loans, archives, assets, directory

KEEPER = Actor("keeper", "web", "storekeeper")
MANAGER = Actor("manager", "web", "auditor")
ACTIONS = ("request", "request", "approve", "approve", "reject", "lend", "lend", "lend", "return", "return")
step = st.tuples(st.sampled_from(ACTIONS), st.integers(0, 3), st.integers(0, 1), st.booleans())
# Each rule met and broken at least once, on line and off line.
EXAMPLES = [
    [("lend", 0, 0, False), ("lend", 0, 0, True), ("return", 0, 0, False)],
    [("request", 0, 0, False), ("lend", 0, 0, False), ("approve", 0, 0, False), ("lend", 0, 0, False),
     ("lend", 0, 1, True), ("lend", 0, 1, False), ("return", 0, 0, False), ("return", 0, 0, True)],
    [("request", 0, 0, False), ("reject", 0, 0, False), ("lend", 0, 0, False), ("lend", 0, 0, True)],
]


@dataclass
class Model:
    volumes: list[str]
    people: list[str]
    loans: list[tuple[int, str, str]] = field(default_factory=list)  # (id, volume, borrower) of the requests
    state: dict[int, str] = field(default_factory=dict)  # pending, approved, rejected, lent
    holder: dict[str, str | None] = field(default_factory=dict)  # volume -> borrower it is out to


def _office(sessions: Any) -> Model:
    """The office, made and committed by the first example (the others find it): each example's steps are
    rolled back, so every one starts from the same volumes on their shelf."""
    with sessions() as db, db.begin():
        if db.scalars(select(User.id).where(User.username == "manager")).first() is None:
            for name, role in (("keeper", "storekeeper"), ("manager", "auditor")):
                auth.create_user(db, SYSTEM, name, "correct horse battery", role)
            approvals.grant(db, SYSTEM, "manager", "archive_manager", "")
            archives.create_class(db, SYSTEM, archives.ClassIn("WS", "文书档案", 30), (7, 14, 30))
            shelf = directory.create_location(db, SYSTEM, "档案架", "shelf").code
            for n in range(2):
                archives.create_volume(db, KEEPER, archives.VolumeIn(f"卷{n}", "WS", 2024, "30y", "public", shelf))
            for name in ("张伟", "李娜"):
                directory.create_person(db, SYSTEM, name, "Finance")
        volumes = list(db.scalars(select(Asset.code).join(ArchiveVolume, ArchiveVolume.asset_id == Asset.id)
                                  .order_by(Asset.id)))
        people = list(db.scalars(select(Person.code).order_by(Person.id)))
    return Model(volumes, people, holder=dict.fromkeys(volumes))


def _origin(n: int) -> assets.KioskOrigin:
    return assets.KioskOrigin("archive-1", n, f"00000000-0000-4000-8000-{n:012d}")


def _act(db: Any, m: Model, n: int, action: str, pick: int, who: int, offline: bool) -> None:
    """Do one step through the services, and follow it in the model when it went through."""
    volume, person = m.volumes[pick % 2], m.people[who]
    found = m.loans[pick % len(m.loans)] if m.loans else None
    if action == "request":
        made = archive_loans.submit(db, KEEPER, archive_loans.LoanIn(volume, person, "查阅"))
        m.loans.append((made.id, volume, person))
        m.state[made.id] = "pending"
    elif action in ("approve", "reject") and found:
        approvals.decide(db, MANAGER, archive_loans.chain_of(archive_loans.by_id(db, found[0])), action, None, "否")
        m.state[found[0]] = "approved" if action == "approve" else "rejected"
    elif action == "lend":
        done = archive_conflicts.lend_at_kiosk(db, KEEPER, volume, person, at=utcnow(), origin=_origin(n),
                                               offline=offline)
        if done.loan is not None:
            m.holder[volume] = person
            if done.loan.id in m.state:
                m.state[done.loan.id] = "lent"
    elif action == "return":
        done = archive_conflicts.return_at_kiosk(db, KEEPER, volume, None, at=utcnow(), origin=_origin(n),
                                                 offline=offline)
        if done.loan is not None:
            m.holder[volume] = None


def _expected(m: Model, action: str, pick: int, who: int) -> bool | None:
    """Whether an on-line lending or return goes through by the rules (None: not a lending or return)."""
    volume, person = m.volumes[pick % 2], m.people[who]
    if action == "lend":
        free = m.holder[volume] is None
        return free and any(m.state[i] == "approved" for i, v, p in m.loans if (v, p) == (volume, person))
    if action == "return":
        return m.holder[volume] is not None
    return None


def _check(db: Any, m: Model) -> None:
    out = db.execute(select(ArchiveLoan.asset_id, func.count()).where(
        ArchiveLoan.lent_at.is_not(None), ArchiveLoan.returned_at.is_(None)).group_by(ArchiveLoan.asset_id)).all()
    assert all(count == 1 for _asset, count in out), "a volume on two loans at once"
    flagged = set(db.scalars(select(ArchiveConflict.loan_id).where(ArchiveConflict.reason == "no_loan_request")))
    for loan in db.scalars(select(ArchiveLoan).where(ArchiveLoan.lent_at.is_not(None))).unique():
        approved = loan.approval is not None and loan.approval.state == "approved"
        assert approved or loan.id in flagged, f"loan {loan.id} went out without approval and unflagged"
    for volume in m.volumes:
        asset = assets.asset_by_code(db, volume)
        holder = asset.custodian.code if asset.custodian is not None else None
        assert holder == m.holder[volume], (volume, holder, m.holder)


def _with_examples(test: Any) -> Any:
    for steps in EXAMPLES:
        test = example(steps=steps)(test)
    return test


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@_with_examples
@given(steps=st.lists(step, min_size=1, max_size=20))
def test_a_volume_is_lent_once_and_only_on_an_approval_or_as_a_conflict(engine_sessions: Any,
                                                                         steps: list[Any]) -> None:
    m = _office(engine_sessions)
    with engine_sessions() as db:
        for n, (action, pick, who, offline) in enumerate(steps, 1):
            allowed = _expected(m, action, pick, who)
            try:
                with db.begin_nested():
                    _act(db, m, n, action, pick, who, offline)
                went_through = True
            except DomainError:
                went_through = False  # refused: the savepoint is gone, and so is anything it wrote
            if allowed is not None:
                assert went_through == (allowed or offline), (action, pick, who, offline, m)
            _check(db, m)
        db.rollback()
