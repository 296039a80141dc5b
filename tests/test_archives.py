"""Archives (issue 14): volumes with classes, retention and confidentiality; loans through the shared
approval chain with levels by confidentiality, lending and return, conflicts and refusals, overdue
loans and their reminders, review and destruction lists."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from server.audit import SYSTEM
from server.errors import DomainError, IllegalTransition, Invalid, NotFound, RuleViolation
from server.models import ArchiveLoan, Asset, AssetEvent, AuditEntry, Notification
from server.services import approvals, archive_loans, archives, assets, directory, lifecycle
from tests.archive_support import KEEPER, LEADER, MANAGER, TERMS, Office, approved_loan, make_office


@pytest.fixture
def office(sessions: Any) -> Office:
    return make_office(sessions)


def _asset(sessions: Any, code: str) -> tuple[str, str | None, str | None]:
    with sessions() as session:
        asset = assets.asset_by_code(session, code)
        return asset.status, asset.custodian.code if asset.custodian else None, asset.location.code if asset.location \
            else None


def test_volume_is_an_asset_with_class_retention_and_level(sessions: Any, office: Office) -> None:
    with sessions() as session:
        volume = archives.volume_by_code(session, office.public)
        assert volume.asset.category.name == archives.CATEGORY and volume.asset.code.startswith("A-")
        assert (volume.archive_class.code, volume.year, volume.retention, volume.retention_until,
                volume.confidentiality, volume.reference) == ("WS", 2024, "30y", date(2054, 12, 31), "public",
                                                              "WS-2024-001")
        assert volume.asset.location.code == office.shelf and volume.asset.status == "in_storage"
        old = archives.volume_by_code(session, office.old)
        assert old.retention_until == date(2020, 12, 31)
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "archive_volume.create",
                                                         AuditEntry.entity_id == str(volume.asset_id))).one()
        assert entry.after["confidentiality"] == "public" and entry.after["retention"] == "30y"
        assert entry.after["volume"] == office.public  # its code, for a reader


def test_loan_request_approval_lend_and_return(sessions: Any, office: Office) -> None:
    loan_id = approved_loan(sessions, office.public, office.borrower)
    with sessions() as session:
        loan = archive_loans.by_id(session, loan_id)
        assert loan.approval.level_list == ["archive_manager"] and archive_loans.state(loan) == "approved"
        assert loan.due_on == archives.today(session) + timedelta(days=30)  # the class's term by default
    with sessions() as session, session.begin():
        lent = archive_loans.lend(session, KEEPER, office.public, office.borrower)
        assert lent.id == loan_id and lent.due_at == assets.due_time(lent.due_on)
    assert _asset(sessions, office.public) == ("in_use", office.borrower, office.shelf)
    with sessions() as session, session.begin():
        back = archive_loans.give_back(session, KEEPER, office.public)
        assert archive_loans.state(back) == "returned" and not archive_loans.late(back)
    assert _asset(sessions, office.public) == ("in_storage", None, office.shelf)  # back on its shelf
    with sessions() as session:
        history = [e.type for e in assets.history(session, office.public)]
        assert history == ["asset.create", "asset.checkout", "asset.checkin"]
        out = session.scalars(select(AssetEvent).where(AssetEvent.type == "asset.checkout")).one()
        assert out.data["approval_ref"] == f"archive-loan-{loan_id}" and out.data["purpose"] == "审计核对"
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.entity == "archive_loan")
                                  .order_by(AuditEntry.id)).all()
        assert actions == ["archive_loan.submit", "archive_loan.lend", "archive_loan.return"]


@pytest.mark.parametrize(("which", "levels"), [
    ("public", ["archive_manager"]), ("secret", ["archive_manager", "leader"]),
    ("top", ["archive_manager", "leader", "principal"])])
def test_levels_follow_the_confidentiality_level(sessions: Any, office: Office, which: str,
                                                 levels: list[str]) -> None:
    with sessions() as session, session.begin():
        loan = archive_loans.submit(session, KEEPER, archive_loans.LoanIn(
            getattr(office, which), office.borrower, "查阅", on_site=True))
        assert loan.approval.level_list == levels and loan.approval.department == "Finance"


def test_lending_refused_without_an_approved_request_for_that_borrower(sessions: Any, office: Office) -> None:
    with sessions() as session, session.begin():
        with pytest.raises(RuleViolation) as none:
            archive_loans.lend(session, KEEPER, office.public, office.borrower)
        assert none.value.code == "no_loan_request" and "has no approved loan request" in none.value.message
        pending = archive_loans.submit(session, KEEPER, archive_loans.LoanIn(office.public, office.borrower, "查阅"))
        pending_id, approval_id = pending.id, pending.approval_id
    with sessions() as session, session.begin():
        with pytest.raises(RuleViolation) as waiting:
            archive_loans.lend(session, KEEPER, office.public, office.borrower)
        assert waiting.value.code == "no_loan_request" and f"request {pending_id}" in waiting.value.message
        assert "awaiting approval" in waiting.value.message
    with sessions() as session, session.begin(), pytest.raises(Invalid):  # a rejection needs its reason
        approvals.decide(session, MANAGER, approval_id, "reject")
    with sessions() as session, session.begin():
        approvals.decide(session, MANAGER, approval_id, "reject", reason="与工作无关")
    approved_loan(sessions, office.public, office.other)  # someone else's approval does not count
    with sessions() as session, session.begin():
        with pytest.raises(RuleViolation) as rejected:
            archive_loans.lend(session, KEEPER, office.public, office.borrower)
        assert rejected.value.code == "no_loan_request"
        assert archive_loans.state(archive_loans.by_id(session, pending_id)) == "rejected"
    assert _asset(sessions, office.public) == ("in_storage", None, office.shelf)


def test_lending_a_volume_already_out_is_a_conflict(sessions: Any, office: Office) -> None:
    approved_loan(sessions, office.public, office.borrower)
    second = approved_loan(sessions, office.public, office.other)
    with sessions() as session, session.begin():
        archive_loans.lend(session, KEEPER, office.public, office.borrower)
    with sessions() as session, session.begin():
        with pytest.raises(RuleViolation) as out:
            archive_loans.lend(session, KEEPER, office.public, office.other)
        assert out.value.code == "volume_on_loan" and "张伟" in out.value.message
    with sessions() as session, session.begin():
        archive_loans.give_back(session, KEEPER, office.public)
        with pytest.raises(RuleViolation) as back_twice:
            archive_loans.give_back(session, KEEPER, office.public)
        assert back_twice.value.code == "not_on_loan"
        assert archive_loans.lend(session, KEEPER, office.public, office.other).id == second


def test_the_asset_actions_refuse_a_volume(sessions: Any, office: Office) -> None:
    """The asset pages' check-out, check-in and disposal cannot go around the loan or destruction rules."""
    with sessions() as session, session.begin():
        with pytest.raises(RuleViolation) as out:
            assets.checkout(session, KEEPER, office.public, office.borrower)
        assert out.value.code == "no_loan_request"
        with pytest.raises(RuleViolation) as gone:
            lifecycle.dispose(session, KEEPER, office.old, "scrapped", "2026-1")
        assert gone.value.code == "archive_volume"
        assets.checkout(session, KEEPER, office.plain, office.borrower)  # an ordinary asset still goes out


def test_confidential_volume_of_an_on_site_class_is_read_on_site_only(sessions: Any, office: Office) -> None:
    with sessions() as session, session.begin():
        with pytest.raises(RuleViolation) as away:
            archive_loans.submit(session, KEEPER, archive_loans.LoanIn(office.secret, office.borrower, "查阅"))
        assert away.value.code == "on_site_only" and "on site only" in away.value.message
        # The top-secret volume's class (会计) lets it be taken away, with three approvals.
        archive_loans.submit(session, KEEPER, archive_loans.LoanIn(office.top, office.borrower, "审计"))
    loan_id = approved_loan(sessions, office.secret, office.borrower, on_site=True)
    with sessions() as session, session.begin():
        loan = archive_loans.lend(session, KEEPER, office.secret, office.borrower)
        today = archives.today(session)
        assert loan.id == loan_id and loan.on_site and loan.due_on == today
        assert loan.due_at == assets.due_time(today)  # back by the end of the day


@pytest.mark.parametrize(("field", "change", "code"), [
    ("purpose", "", "bad_purpose"), ("purpose", "x" * 501, "bad_purpose"),
    ("due_on", "past", "bad_due"), ("due_on", "beyond", "bad_due"),
    ("borrower", "P-0000001", "bad_check"), ("borrower", "P-0000000", "unknown_code"),
    ("volume", "plain", "not_a_volume")])
def test_bad_loan_requests_are_refused_with_reasons(sessions: Any, office: Office, field: str, change: str,
                                                    code: str) -> None:
    with sessions() as session:
        today = archives.today(session)
    values: dict[str, Any] = {"volume": office.public, "borrower": office.borrower, "purpose": "查阅"}
    values[field] = {"past": today - timedelta(days=1), "beyond": today + timedelta(days=31),
                     "plain": office.plain}.get(change, change)
    with sessions() as session, session.begin():
        with pytest.raises(DomainError) as refused:
            archive_loans.submit(session, KEEPER, archive_loans.LoanIn(**values))
        assert refused.value.code == code
        if code == "bad_due":
            assert "loan term of the class 文书档案 is 30 days" in refused.value.message
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(ArchiveLoan)) == 0


def test_bad_volumes_and_classes_are_refused(sessions: Any, office: Office) -> None:
    good = dict(title="卷", class_code="WS", year=2024, retention="30y", confidentiality="public", shelf=office.shelf)
    cases = [({"retention": "5y"}, "bad_retention"), ({"confidentiality": "very"}, "bad_confidentiality"),
             ({"class_code": "XX"}, "unknown_class"), ({"shelf": office.reading_room}, "not_a_shelf"),
             ({"title": " "}, "bad_title"), ({"year": 1800}, "bad_year"), ({"kind": "box"}, "bad_kind"),
             ({"parent": office.public}, "bad_parent")]
    with sessions() as session, session.begin():
        for change, code in cases:
            with pytest.raises(DomainError) as refused:
                archives.create_volume(session, KEEPER, archives.VolumeIn(**{**good, **change}))
            assert refused.value.code == code, change
        with pytest.raises(DomainError) as taken:
            archives.create_volume(session, KEEPER, archives.VolumeIn(**good, reference="WS-2024-001"))
        assert taken.value.code == "reference_taken"
        with pytest.raises(Invalid) as term:
            archives.create_class(session, SYSTEM, archives.ClassIn("JJ", "基建档案", 10), TERMS)
        assert term.value.code == "bad_loan_days" and "7, 14, 30" in term.value.message
        filed = archives.create_volume(session, KEEPER, archives.VolumeIn(**{**good, "kind": "file"},
                                                                          parent=office.public))
        assert filed.parent_id == archives.volume_by_code(session, office.public).asset_id
        with pytest.raises(NotFound):
            archives.volume_by_code(session, office.plain)


def test_overdue_loans_are_listed_and_borrowers_reminded(app: Any, sessions: Any, office: Office) -> None:
    with sessions() as session, session.begin():
        person = directory.person_by_code(session, office.borrower)
        person.email = "zhang@example.org"
    loan_id = approved_loan(sessions, office.public, office.borrower)
    with sessions() as session, session.begin():
        loan = archive_loans.lend(session, KEEPER, office.public, office.borrower)
        due_at = loan.due_at
    assert due_at is not None
    later = due_at + timedelta(days=2)
    with sessions() as session:
        assert archive_loans.overdue(session, due_at - timedelta(seconds=1)) == []
        late = archive_loans.overdue(session, later)
        assert [x.id for x in late] == [loan_id] and archive_loans.state(late[0], later) == "overdue"
        assert [x.id for x in session.scalars(archive_loans.listing(session, "overdue", now=later))] == [loan_id]
    with sessions() as session, session.begin():  # without email or webhook configured, nothing is queued
        assert archive_loans.remind_overdue(session, SYSTEM, later) == 0
    from server import personal, settings_of

    personal.install(sessions, settings_of(app).model_copy(update={"smtp_host": "127.0.0.1"}))
    with sessions() as session, session.begin():
        assert archive_loans.remind_overdue(session, SYSTEM, later, every_days=3) == 1
        assert archive_loans.remind_overdue(session, SYSTEM, later + timedelta(days=1), every_days=3) == 0
        assert archive_loans.remind_overdue(session, SYSTEM, later + timedelta(days=3), every_days=3) == 1
        # at most once a loan a day, whatever is asked for
        assert archive_loans.remind_overdue(session, SYSTEM, later + timedelta(days=3, hours=6), every_days=0.1) == 0
    with sessions() as session:
        rows = session.scalars(select(Notification).order_by(Notification.id)).all()
        assert [(n.kind, n.channel, n.recipient) for n in rows] == [
            ("archive.overdue", "email", "zhang@example.org")] * 2
        assert archive_loans.by_id(session, loan_id).reminders == 2
    with sessions() as session, session.begin():
        back = archive_loans.give_back(session, KEEPER, office.public, at=later)
        assert archive_loans.late(back)


def test_retention_is_only_extended(sessions: Any, office: Office) -> None:
    with sessions() as session, session.begin():
        with pytest.raises(Invalid):
            archives.extend_retention(session, KEEPER, office.old, "10y", "鉴定")
        with pytest.raises(Invalid):
            archives.extend_retention(session, KEEPER, office.old, "30y", " ")
        volume = archives.extend_retention(session, KEEPER, office.old, "30y", "仍有查考价值")
        assert volume.retention_until == date(2040, 12, 31)
        assert [v.asset.code for v in archives.past_retention(session, date(2026, 12, 1))] == []
        assert office.old in [v.asset.code for v in archives.due_for_review(session, date(2040, 11, 1), 90)]


def test_volume_of_a_destroyed_asset_is_not_lent(sessions: Any, office: Office) -> None:
    with sessions() as session, session.begin():
        asset = session.scalars(select(Asset).where(Asset.code == office.public)).one()
        asset.status = "disposed"
    with sessions() as session, session.begin():
        with pytest.raises(IllegalTransition):
            archive_loans.lend(session, KEEPER, office.public, office.borrower)
        with pytest.raises(IllegalTransition):
            archive_loans.submit(session, KEEPER, archive_loans.LoanIn(office.public, office.borrower, "查阅"))


def test_nobody_approves_their_own_loan_request_and_levels_need_grants(sessions: Any, office: Office) -> None:
    with sessions() as session, session.begin():
        loan = archive_loans.submit(session, MANAGER, archive_loans.LoanIn(office.secret, office.borrower, "查阅",
                                                                           on_site=True))
        approval_id = loan.approval_id
    with sessions() as session, session.begin():
        with pytest.raises(DomainError) as own:
            approvals.decide(session, MANAGER, approval_id, "approve")
        assert own.value.code == "forbidden"
        with pytest.raises(DomainError) as not_yet:  # the leader's step comes after the archive manager's
            approvals.decide(session, LEADER, approval_id, "approve")
        assert not_yet.value.code == "forbidden"


def test_an_approved_loan_never_lent_expires(sessions: Any, office: Office) -> None:
    """A loan approved but never lent expires after its due date."""
    loan_id = approved_loan(sessions, office.public, office.borrower)
    with sessions() as session:
        loan = archive_loans.by_id(session, loan_id)
        after = datetime.combine(loan.due_on + timedelta(days=2), datetime.min.time(), UTC)
        assert archive_loans.state(loan, after) == "expired"
        assert [x.id for x in session.scalars(archive_loans.listing(session, "expired", now=after))] == [loan_id]
        assert list(session.scalars(archive_loans.listing(session, "approved", now=after))) == []


def test_two_lendings_at_once_lend_the_volume_once(sessions: Any, office: Office) -> None:
    """The second lending waits for the first (the volume's row is locked) and then finds it out: on
    PostgreSQL's READ COMMITTED it would otherwise have decided on the shelf it read before."""
    import threading
    import time

    approved_loan(sessions, office.public, office.borrower)
    approved_loan(sessions, office.public, office.other)
    lent = threading.Event()

    def first() -> None:
        with sessions() as session, session.begin():
            archive_loans.lend(session, KEEPER, office.public, office.borrower)
            lent.set()
            time.sleep(0.5)

    thread = threading.Thread(target=first)
    thread.start()
    assert lent.wait(10)
    try:
        with sessions() as session, session.begin(), pytest.raises(RuleViolation) as second:
            archive_loans.lend(session, KEEPER, office.public, office.other)
        assert second.value.code == "volume_on_loan"
    finally:
        thread.join()
    with sessions() as session:
        out = session.scalars(select(ArchiveLoan).where(ArchiveLoan.lent_at.is_not(None))).all()
        assert [loan.borrower.code for loan in out] == [office.borrower]


def test_the_scheduler_reminds_borrowers_of_overdue_loans(app: Any, sessions: Any, office: Office) -> None:
    """The gate scheduler's tick queues the reminders (``assetgate gate run``), every few days per loan."""
    from server import personal, scheduler, settings_of

    settings = settings_of(app).model_copy(update={"gate_webhook_url": "http://127.0.0.1:9/hook",
                                                   "archive_reminder_days": 2.0})
    personal.install(sessions, settings)
    approved_loan(sessions, office.public, office.borrower)  # the borrower has no email: the webhook only
    with sessions() as session, session.begin():
        due_at = archive_loans.lend(session, KEEPER, office.public, office.borrower).due_at
    assert due_at is not None
    assert scheduler.tick(sessions, settings, due_at - timedelta(hours=1)).reminded == 0  # not overdue yet
    assert scheduler.tick(sessions, settings, due_at + timedelta(hours=1)).reminded == 1
    assert scheduler.tick(sessions, settings, due_at + timedelta(days=1)).reminded == 0
    assert scheduler.tick(sessions, settings, due_at + timedelta(days=2, hours=2)).reminded == 1
    with sessions() as session:
        kinds = session.scalars(select(Notification.kind).where(Notification.channel == "webhook")).all()
        assert kinds == ["archive.overdue", "archive.overdue"]
        assert session.scalars(select(AuditEntry.action).where(AuditEntry.action == "archive_loan.remind")).all() \
            == ["archive_loan.remind"] * 2


def test_a_consumer_batch_knows_its_volumes_without_a_query_per_event(sessions: Any, office: Office) -> None:
    """The batch prefetch (services.lookup) finds out which assets are volumes in one query; the
    check-out and check-in checks then ask it instead of the database."""
    from sqlalchemy import event

    from server.services import lookup

    with sessions() as session, session.begin():
        assert lookup.is_volume(session, 1) is None  # nothing prefetched: the services query
        lookup.prefetch(session, "asset", [office.plain, office.public])
        plain, volume = (assets.asset_by_code(session, c) for c in (office.plain, office.public))
        assert (lookup.is_volume(session, plain.id), lookup.is_volume(session, volume.id)) == (False, True)
        statements: list[str] = []

        def seen(*args: Any) -> None:
            statements.append(args[2])

        event.listen(session.get_bind(), "before_cursor_execute", seen)
        try:
            assert archives.volume_of(session, plain) is None
        finally:
            event.remove(session.get_bind(), "before_cursor_execute", seen)
        assert not [s for s in statements if "archive_volumes" in s]
