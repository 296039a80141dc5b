"""Lending and returning archive volumes at a storeroom kiosk, through the real broker and consumer
(asset.checkout to the borrower's badge, asset.checkin): a volume without an approved loan request for
that borrower is refused (no_loan_request), one already out is refused (volume_on_loan), and the
kiosk words both refusals itself."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from contract.messages import Ack
from kiosk import acktext, i18n
from kiosk.outbox import AckRecord
from server import settings_of
from server.audit import SYSTEM
from server.consumer import Consumer
from server.services import archive_loans, assets, kiosks
from tests.archive_support import Office, approved_loan, make_office
from tests.peers import KioskPeer

pytestmark = pytest.mark.broker


@pytest.fixture
def office(sessions: Any) -> Office:
    made = make_office(sessions)
    with sessions() as session, session.begin():
        kiosks.enroll(session, SYSTEM, "archive-1", "storeroom", made.shelf)
    return made


@pytest.fixture
def consumer(app: Any, sessions: Any, broker: Any) -> Iterator[Consumer]:
    worker = Consumer(settings_of(app))
    worker.start()
    assert worker.connected.wait(30), "consumer did not connect"
    yield worker
    worker.stop()


@pytest.fixture
def peer(app: Any, broker: Any, office: Office) -> Iterator[KioskPeer]:
    kiosk = KioskPeer(broker[0], broker[1], settings_of(app).topic_prefix, "archive-1")
    yield kiosk
    kiosk.close()


def _screen(ack: dict[str, Any]) -> acktext.Verdict:
    """What the kiosk's screen says about an ack, in Chinese."""
    record = AckRecord(id=ack["id"], seq=1, type="asset.checkout", status=ack["status"], reason=ack["reason"],
                       level=ack["display"]["level"], title=ack["display"]["title"],
                       detail=ack["display"]["detail"], at=0.0)
    return acktext.verdict(record, i18n.translations("zh"))


def test_kiosk_lends_only_against_an_approved_request_and_takes_it_back(
        consumer: Consumer, peer: KioskPeer, office: Office, sessions: Any) -> None:
    refused = peer.roundtrip(peer.event("asset.checkout", {"tag": office.public, "to": office.borrower}))
    assert (refused["status"], refused["reason"]) == ("rejected", "no_loan_request")
    verdict = _screen(refused)
    assert verdict.known and verdict.title == "已拒绝：没有已批准的借阅申请" and "借阅申请" in verdict.detail
    loan_id = approved_loan(sessions, office.public, office.borrower)
    event = peer.event("asset.checkout", {"tag": office.public, "to": office.borrower})
    lent = peer.roundtrip(event)
    assert (lent["status"], lent["display"]["level"]) == ("accepted", "ok"), lent
    assert lent["display"]["title"] == f"Lent {office.public}" and f"loan {loan_id}" in lent["display"]["detail"]
    assert peer.roundtrip(event)["status"] == "duplicate"
    with sessions() as session:
        loan = archive_loans.by_id(session, loan_id)
        assert (archive_loans.state(loan), loan.lent_source) == ("out", "kiosk:archive-1")
        assert assets.asset_by_code(session, office.public).custodian.code == office.borrower
    approved_loan(sessions, office.public, office.other)
    conflict = peer.roundtrip(peer.event("asset.checkout", {"tag": office.public, "to": office.other}))
    assert (conflict["status"], conflict["reason"]) == ("rejected", "volume_on_loan")
    assert _screen(conflict).title == "已拒绝：案卷已借出"
    back = peer.roundtrip(peer.event("asset.checkin", {"tag": office.public}))
    assert (back["status"], back["display"]["title"]) == ("accepted", f"Returned {office.public}")
    again = peer.roundtrip(peer.event("asset.checkin", {"tag": office.public}))
    assert (again["status"], again["reason"]) == ("rejected", "not_on_loan")
    with sessions() as session:
        loan = archive_loans.by_id(session, loan_id)
        assert (archive_loans.state(loan), loan.returned_source) == ("returned", "kiosk:archive-1")
        asset = assets.asset_by_code(session, office.public)
        assert (asset.status, asset.custodian, asset.location.code) == ("in_storage", None, office.shelf)
    ordinary = peer.roundtrip(peer.event("asset.checkout", {"tag": office.plain, "to": office.borrower}))
    assert ordinary["status"] == "accepted" and ordinary["display"]["title"] == f"Checked out {office.plain}"
    assert consumer.counts["batches:safe"] == 0  # the archive's handlers work on the consumer's fast path


def test_a_batch_lends_and_returns_in_order(app: Any, office: Office, sessions: Any) -> None:
    """One batch through the writer's fast path (as a kiosk's backlog after a reconnect): out, back, out
    to the next borrower, each decided on what the events before it did."""
    from server.writer import Delivery, Writer

    first = approved_loan(sessions, office.public, office.borrower)
    second = approved_loan(sessions, office.public, office.other)
    writer = Writer(settings_of(app), sessions)
    peer = KioskPeer.offline(settings_of(app).topic_prefix, "archive-1")
    events = [peer.event("asset.checkout", {"tag": office.public, "to": office.borrower}),
              peer.event("asset.checkin", {"tag": office.public}),
              peer.event("asset.checkout", {"tag": office.public, "to": office.other}),
              peer.event("asset.checkout", {"tag": office.public, "to": office.borrower})]
    batch = [Delivery(n, 1, peer.topics.events("archive-1"), e.to_bytes()) for n, e in enumerate(events, 1)]
    replies = writer.store(batch)
    assert replies is not None
    acks = [Ack.model_validate_json(r.ack or b"{}") for r in replies]
    assert [(a.status, a.reason) for a in acks] == [("accepted", None), ("accepted", None), ("accepted", None),
                                                    ("rejected", "volume_on_loan")]
    assert writer.counts["batches:safe"] == 0
    with sessions() as session:
        assert archive_loans.state(archive_loans.by_id(session, first)) == "returned"
        assert archive_loans.state(archive_loans.by_id(session, second)) == "out"
        assert assets.asset_by_code(session, office.public).custodian.code == office.other


def test_lendings_and_returns_made_off_line_are_kept_as_conflicts(consumer: Consumer, peer: KioskPeer,
                                                                   office: Office, sessions: Any) -> None:
    """Nothing made off line is lost: a lending without an approved request (the kiosk's clock unsynchronised)
    is a loan flagged for the archive manager, and a return of a volume not out (an event ten minutes old)
    is kept as a conflict; both are acked accepted with a warning, on the consumer's fast path."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from server.models import ArchiveConflict, KioskEvent
    from server.services import archive_conflicts

    lent = peer.roundtrip(peer.event("asset.checkout", {"tag": office.public, "to": office.borrower}, synced=False))
    assert (lent["status"], lent["reason"], lent["display"]["level"]) == ("accepted", "conflict", "warn"), lent
    assert "no_loan_request" in lent["display"]["detail"] and _screen(lent).known
    old = datetime.now(UTC) - timedelta(minutes=10)
    back = peer.roundtrip(peer.event("asset.checkin", {"tag": office.top}, at=old))
    assert (back["status"], back["reason"]) == ("accepted", "conflict"), back
    with sessions() as session:
        rows = archive_conflicts.listing(session)
        assert [(c.kind, c.reason, c.kiosk) for c in rows] == [("return", "not_on_loan", "archive-1"),
                                                               ("lend", "no_loan_request", "archive-1")]
        loan = archive_loans.by_id(session, rows[1].loan_id or 0)
        assert loan.approval is None and archive_loans.state(loan) == "out" and loan.borrower.code == office.borrower
        holder = assets.asset_by_code(session, office.public).custodian
        assert holder is not None and holder.code == office.borrower
        flags = session.scalars(select(KioskEvent.flags).where(KioskEvent.kiosk == "archive-1")).all()
        assert all("conflict" in f for f in flags) and len(flags) == 2
        assert {c.kiosk_event_id for c in session.scalars(select(ArchiveConflict))} == {lent["id"], back["id"]}
    assert consumer.counts["batches:safe"] == 0
