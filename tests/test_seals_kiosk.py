"""A seal's take-out and return scanned at the storeroom kiosk (asset.checkout / asset.checkin of the seal's
code), through the real broker and consumer: refused with no_takeout_approval without an approved take-out
(or for another carrier), accepted with one, then back; an asset's check-out in the same batch is
untouched; the rejected log keeps the refusals."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from server import settings_of
from server.audit import SYSTEM
from server.consumer import Consumer
from server.models import Asset, RejectedMessage
from server.services import assets, directory, kiosks, seal_takeouts
from tests.peers import KioskPeer
from tests.seal_support import Office, approved_takeout, make_overdue, office

pytestmark = pytest.mark.broker


@pytest.fixture
def found(sessions: Any) -> Office:
    made = office(sessions)
    with sessions() as session, session.begin():
        room = directory.create_location(session, SYSTEM, "Storeroom", "storeroom")
        kiosks.enroll(session, SYSTEM, "store-1", "storeroom", room.code)
    return made


@pytest.fixture
def consumer(app: Any, sessions: Any, broker: Any) -> Iterator[Consumer]:
    worker = Consumer(settings_of(app))
    worker.start()
    assert worker.connected.wait(30), "consumer did not connect"
    yield worker
    worker.stop()


@pytest.fixture
def peer(app: Any, broker: Any) -> Iterator[KioskPeer]:
    kiosk = KioskPeer(broker[0], broker[1], settings_of(app).topic_prefix, "store-1")
    yield kiosk
    kiosk.close()


def _state(sessions: Any, takeout_id: int) -> str:
    with sessions() as session:
        return seal_takeouts.state(seal_takeouts.by_id(session, takeout_id))


def test_take_out_refused_without_approval_then_out_and_back(consumer: Consumer, peer: KioskPeer, sessions: Any,
                                                            found: Office) -> None:
    out = peer.event("asset.checkout", {"tag": found.seal, "to": found.carrier})
    refused = peer.roundtrip(out)
    assert (refused["status"], refused["reason"]) == ("rejected", "no_takeout_approval")
    assert "approved take-out request" in refused["display"]["detail"]
    assert peer.roundtrip(out)["reason"] == "no_takeout_approval"  # a resend gets the same answer
    tid = approved_takeout(sessions, found)
    wrong = peer.roundtrip(peer.event("asset.checkout", {"tag": found.seal, "to": found.other}))
    assert (wrong["status"], wrong["reason"]) == ("rejected", "no_takeout_approval")
    ok = peer.roundtrip(peer.event("asset.checkout", {"tag": found.seal, "to": found.carrier}))
    assert (ok["status"], ok["display"]["level"]) == ("accepted", "ok") and ok["display"]["title"] == (
        f"Seal out: {found.seal}")
    assert _state(sessions, tid) == "out"
    twice = peer.roundtrip(peer.event("asset.checkout", {"tag": found.seal, "to": found.carrier}))
    assert (twice["status"], twice["reason"]) == ("rejected", "illegal_transition")
    make_overdue(sessions, tid)
    back = peer.roundtrip(peer.event("asset.checkin", {"tag": found.seal}))
    assert back["status"] == "accepted" and back["display"]["detail"] == f"take-out {tid}, returned late"
    assert _state(sessions, tid) == "returned"
    again = peer.roundtrip(peer.event("asset.checkin", {"tag": found.seal}))
    assert (again["status"], again["reason"]) == ("rejected", "illegal_transition")
    with sessions() as session:
        reasons = session.scalars(select(RejectedMessage.reason).order_by(RejectedMessage.id)).all()
        assert reasons == ["no_takeout_approval", "no_takeout_approval", "illegal_transition", "illegal_transition"]
        trip = seal_takeouts.by_id(session, tid)
        assert (trip.out_source, trip.return_source) == ("kiosk:store-1", "kiosk:store-1")
    assert consumer.counts["batches:safe"] == 0


def test_seal_and_asset_check_outs_in_one_batch(consumer: Consumer, peer: KioskPeer, sessions: Any,
                                                found: Office) -> None:
    """The consumer's fast path tells a seal from an asset by its prefetch, without a query per event."""
    with sessions() as session, session.begin():
        category = directory.get_or_create_category(session, SYSTEM, "Laptop")
        laptop = assets.create_asset(session, SYSTEM, "ThinkPad", category.name).code
    tid = approved_takeout(sessions, found)
    events = [peer.event("asset.checkout", {"tag": laptop, "to": found.other}),
              peer.event("asset.checkout", {"tag": found.seal, "to": found.carrier})]
    for event in events:
        peer.send(event)
    acks = {peer.ack()["id"] for _ in events}
    assert acks == {str(e.id) for e in events}
    assert _state(sessions, tid) == "out"
    with sessions() as session:
        asset = session.scalars(select(Asset).where(Asset.code == laptop)).one()
        assert asset.status == "in_use" and asset.custodian is not None and asset.custodian.code == found.other
    assert consumer.counts["batches:safe"] == 0  # both on the fast path
