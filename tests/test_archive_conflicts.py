"""Archive lendings and returns made at a kiosk while it was off line that break a rule: kept and flagged for
the archive manager ("nothing is lost"), while the same events made on line are refused with their reasons;
the conflicts listed and settled once, audited, by the archive manager, a storekeeper or the admin."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from server.audit import Actor
from server.errors import AlreadyExists, Forbidden, IllegalTransition, Invalid, RuleViolation
from server.models import ArchiveConflict, ArchiveLoan, AuditEntry, utcnow
from server.services import archive_conflicts, archive_loans, assets
from tests.archive_support import KEEPER, LEADER, MANAGER, Office, approved_loan, make_office

DESK = Actor("kiosk:archive-1", "kiosk:archive-1", "storekeeper")


@pytest.fixture
def office(sessions: Any) -> Office:
    return make_office(sessions)


def _origin(n: int) -> assets.KioskOrigin:
    return assets.KioskOrigin("archive-1", n, f"00000000-0000-4000-8000-{n:012d}")


def _lend(sessions: Any, volume: str, borrower: str, *, offline: bool, n: int = 1) -> archive_conflicts.AtKiosk:
    # Made now: the volumes were filed a moment ago, and an asset's history takes an older event as history only.
    with sessions() as session, session.begin():
        done = archive_conflicts.lend_at_kiosk(session, DESK, volume, borrower, at=utcnow(), origin=_origin(n),
                                               offline=offline)
        session.flush()  # the audit rows too, before the objects are detached
        session.expunge_all()
        return done


def _give_back(sessions: Any, volume: str, *, offline: bool, n: int = 9) -> archive_conflicts.AtKiosk:
    with sessions() as session, session.begin():
        done = archive_conflicts.return_at_kiosk(session, DESK, volume, None, at=utcnow(),
                                                 origin=_origin(n), offline=offline)
        session.flush()  # the audit rows too, before the objects are detached
        session.expunge_all()
        return done


def test_on_line_the_rules_refuse_as_before(sessions: Any, office: Office) -> None:
    for call, code in ((lambda: _lend(sessions, office.public, office.borrower, offline=False), "no_loan_request"),
                       (lambda: _give_back(sessions, office.public, offline=False), "not_on_loan")):
        with pytest.raises(RuleViolation) as refused:
            call()
        assert refused.value.code == code
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(ArchiveConflict)) == 0
        assert session.scalar(select(func.count()).select_from(ArchiveLoan)) == 0


def test_an_off_line_lending_without_approval_is_a_loan_flagged_for_the_manager(sessions: Any, office: Office) -> None:
    with sessions() as session, session.begin():  # a request still waiting: the desk lent anyway, off line
        pending = archive_loans.submit(session, KEEPER, archive_loans.LoanIn(office.public, office.borrower, "查账"))
        pending_id = pending.id
    done = _lend(sessions, office.public, office.borrower, offline=True)
    assert done.conflict is not None and done.loan is not None
    with sessions() as session:
        loan = archive_loans.by_id(session, done.loan.id)
        assert loan.id != pending_id and loan.approval is None and loan.lent_source == "kiosk:archive-1"
        assert loan.lent_at is not None and loan.due_on >= loan.lent_at.date() + timedelta(days=29)
        assert archive_loans.state(loan) == "out"
        asset = assets.asset_by_code(session, office.public)
        assert asset.custodian is not None and (asset.status, asset.custodian.code) == ("in_use", office.borrower)
        conflict = session.get(ArchiveConflict, done.conflict.id)
        assert conflict is not None
        assert (conflict.kind, conflict.reason, conflict.loan_id, conflict.kiosk) == (
            "lend", "no_loan_request", loan.id, "archive-1")
        assert f"loan request {pending_id}" in archive_conflicts.describe(conflict)
        assert "awaiting approval" in archive_conflicts.describe(conflict)
        assert [c.id for c in archive_conflicts.listing(session)] == [conflict.id]
        assert archive_conflicts.open_count(session) == 1
        assert archive_loans.state(archive_loans.by_id(session, pending_id)) == "pending"
        assert [x.id for x in session.scalars(archive_loans.listing(session, "out"))] == [loan.id]
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.entity == "archive_loan",
                                                                  AuditEntry.entity_id == str(loan.id))).all()
        assert actions == ["archive_loan.unrequested", "archive_loan.lend"]
    with sessions() as session, session.begin():  # it comes back at the desk like any loan
        back = archive_loans.give_back(session, KEEPER, office.public)
        assert back.id == done.loan.id and archive_loans.state(back) == "returned"
    with sessions() as session, pytest.raises(IllegalTransition):  # no approval: nothing to decide or withdraw
        archive_loans.chain_of(archive_loans.by_id(session, done.loan.id))


def test_an_off_line_lending_of_a_volume_out_changes_nothing_but_is_kept(sessions: Any, office: Office) -> None:
    first = approved_loan(sessions, office.public, office.borrower)
    assert _lend(sessions, office.public, office.borrower, offline=False).conflict is None
    approved_loan(sessions, office.public, office.other)
    done = _lend(sessions, office.public, office.other, offline=True, n=2)
    assert done.loan is None and done.conflict is not None
    with sessions() as session:
        conflict = session.get(ArchiveConflict, done.conflict.id)
        assert conflict is not None and (conflict.reason, conflict.loan_id) == ("volume_on_loan", first)
        assert conflict.borrower is not None and conflict.borrower.code == office.other
        out = session.scalars(select(ArchiveLoan).where(ArchiveLoan.lent_at.is_not(None))).all()
        assert [x.id for x in out] == [first]  # never two loans of one volume
        holder = assets.asset_by_code(session, office.public).custodian
        assert holder is not None and holder.code == office.borrower
        assert [c.id for c in archive_conflicts.of_loan(session, first)] == [conflict.id]


def test_an_off_line_return_of_a_volume_not_out_is_kept(sessions: Any, office: Office) -> None:
    done = _give_back(sessions, office.public, offline=True)
    assert done.loan is None and done.conflict is not None
    with sessions() as session:
        conflict = session.get(ArchiveConflict, done.conflict.id)
        assert conflict is not None and (conflict.kind, conflict.reason, conflict.borrower_id) == (
            "return", "not_on_loan", None)
        assert assets.asset_by_code(session, office.public).status == "in_storage"


def test_conflicts_are_settled_once_by_the_archive_manager_audited(sessions: Any, office: Office) -> None:
    conflict_id = _give_back(sessions, office.public, offline=True).conflict.id  # type: ignore[union-attr]
    with sessions() as session, session.begin():
        with pytest.raises(Forbidden):  # an auditor without the archive manager's grant
            archive_conflicts.settle(session, LEADER, conflict_id, "看过了")
        with pytest.raises(Invalid) as empty:
            archive_conflicts.settle(session, MANAGER, conflict_id, "  ")
        assert empty.value.code == "note_required"
    with sessions() as session, session.begin():
        settled = archive_conflicts.settle(session, MANAGER, conflict_id, "借出记录漏扫，已核实在架")
        assert (settled.settled_by, settled.note) == (MANAGER.name, "借出记录漏扫，已核实在架")
    with sessions() as session, session.begin(), pytest.raises(AlreadyExists) as twice:
        archive_conflicts.settle(session, KEEPER, conflict_id, "再次")
    assert twice.value.code == "already_settled"
    with sessions() as session:
        assert archive_conflicts.listing(session) == [] and archive_conflicts.open_count(session) == 0
        assert [c.id for c in archive_conflicts.listing(session, "settled")] == [conflict_id]
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.entity == "archive_conflict")
                                  .order_by(AuditEntry.id)).all()
        assert actions == ["archive_conflict.return", "archive_conflict.settle"]
        with pytest.raises(Invalid):
            archive_conflicts.listing(session, "nonsense")


def test_reminders_are_never_configured_more_often_than_daily() -> None:
    from server.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="archive_reminder_days"):
        load_settings({"archive_reminder_days": 0.5}, environ={})
    assert load_settings({"archive_reminder_days": 1}, environ={}).archive_reminder_days == 1
