"""The server's event consumer against the real Mosquitto broker."""

from __future__ import annotations

import json
import os
import queue
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from server import settings_of
from server.audit import SYSTEM
from server.consumer import Consumer
from server.models import Asset, AssetEvent, Kiosk, KioskEvent, RejectedMessage
from server.services import assets, directory, kiosks
from server.writer import Delivery, Writer
from tests.conftest import BACKEND, PG_URL
from tests.peers import KioskPeer

pytestmark = pytest.mark.broker


@pytest.fixture
def office(sessions: Any) -> dict[str, str]:
    with sessions() as session, session.begin():
        directory.get_or_create_category(session, SYSTEM, "Laptop")
        store = directory.create_location(session, SYSTEM, "Storeroom", "storeroom")
        room = directory.create_location(session, SYSTEM, "Room 7")
        person = directory.create_person(session, SYSTEM, "Chen Jie")
        asset = assets.create_asset(session, SYSTEM, "ThinkPad", "Laptop", store.code)
        kiosks.enroll(session, SYSTEM, "store-1", "storeroom", store.code)
        return {"store": store.code, "room": room.code, "person": person.code, "asset": asset.code}


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


def _count(sessions: Any, model: Any) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_move_is_stored_once_and_acked(consumer: Consumer, peer: KioskPeer, office: dict[str, str],
                                       sessions: Any) -> None:
    event = peer.event("asset.move", {"tag": office["asset"], "to": office["room"]})
    ack = peer.roundtrip(event)
    assert ack == {"v": 1, "id": str(event.id), "status": "accepted", "reason": None,
                   "display": {"level": "ok", "title": f"Moved {office['asset']}", "detail": "Room 7"}}
    assert peer.roundtrip(event)["status"] == "duplicate"
    with sessions() as session:
        asset = session.scalars(select(Asset)).one()
        assert asset.location.code == office["room"] and asset.status == "in_use"
        moves = session.scalars(select(AssetEvent).where(AssetEvent.type == "asset.move")).all()
        assert len(moves) == 1 and moves[0].kiosk == "store-1" and moves[0].kiosk_event_id == str(event.id)
    assert _count(sessions, KioskEvent) == 1
    assert consumer.counts["batches:safe"] == 0  # ordinary traffic never needs the slow path


def test_malformed_payload_is_rejected_and_the_loop_goes_on(consumer: Consumer, peer: KioskPeer,
                                                           office: dict[str, str], sessions: Any) -> None:
    ack = peer.roundtrip(b"{this is not json")
    assert ack["status"] == "rejected" and ack["reason"] == "bad_json" and ack["id"] is None
    assert ack["display"]["level"] == "error"
    good = peer.event("asset.move", {"tag": office["asset"], "to": office["room"]})
    assert peer.roundtrip(good)["status"] == "accepted"
    with sessions() as session:
        rejected = session.scalars(select(RejectedMessage)).one()
    assert rejected.reason == "bad_json" and rejected.kiosk == "store-1" and rejected.raw == "{this is not json"


def _bad_cases(peer: KioskPeer, office: dict[str, str]) -> list[tuple[str, bytes, str | None]]:
    move = {"tag": office["asset"], "to": office["room"]}

    def good() -> dict[str, Any]:  # a fresh id each time: a resent id would get its first answer again
        return json.loads(peer.event("asset.move", move).to_bytes())

    wrong_check = office["asset"][:-1] + ("0" if office["asset"][-1] != "0" else "1")
    return [
        ("too_large", json.dumps({**good(), "data": {**move, "pad": "x" * 17000}}).encode(), None),
        ("bad_json", b"\xff\xfe\x00", None),
        ("bad_json", b"[1, 2, 3]", None),
        ("bad_version", json.dumps({**good(), "v": 2}).encode(), None),
        ("unknown_type", json.dumps({**good(), "type": "asset.teleport"}).encode(), None),
        ("bad_schema", json.dumps({**good(), "seq": "many"}).encode(), None),
        ("bad_schema", json.dumps({k: v for k, v in good().items() if k != "at"}).encode(), None),
        ("bad_schema", json.dumps({**good(), "at": "2026-01-01T10:00:00"}).encode(), None),  # no offset
        ("bad_schema", json.dumps({**good(), "data": {"tag": office["asset"]}}).encode(), None),
        ("bad_check", json.dumps({**good(), "data": {**move, "tag": wrong_check}}).encode(), None),
        ("wrong_kind", json.dumps({**good(), "data": {**move, "to": office["person"]}}).encode(), None),
        ("unknown_code", json.dumps({**good(), "data": {**move, "tag": "A-000010*"}}).encode(), None),
        ("kiosk_mismatch", json.dumps({**good(), "kiosk": "gate-9"}).encode(), None),
        ("unknown_kiosk", json.dumps({**good(), "kiosk": "ghost"}).encode(), "ghost"),
        ("unknown_code", json.dumps({**good(), "type": "supply.pickup",
                                     "data": {"item": "S-000010*", "qty": 1, "taker": office["person"]}}).encode(),
         None),
        ("unknown_code", json.dumps({**good(), "type": "stocktake.scan", "data": {
            "session": "1", "tag": office["asset"], "location": office["store"]}}).encode(), None),
    ]


def test_every_kind_of_bad_input_is_rejected_with_its_reason(consumer: Consumer, peer: KioskPeer,
                                                              office: dict[str, str], sessions: Any,
                                                              app: Any, broker: Any, client: Any,
                                                              tokens: Any) -> None:
    ghost = KioskPeer(broker[0], broker[1], settings_of(app).topic_prefix, "ghost")
    try:
        for i, (reason, payload, topic_kiosk) in enumerate(_bad_cases(peer, office)):
            listener = ghost if topic_kiosk == "ghost" else peer
            listener.send(payload, topic_kiosk)
            ack = listener.ack()
            assert (ack["status"], ack["reason"]) == ("rejected", reason), (i, ack)
    finally:
        ghost.close()
    assert _count(sessions, KioskEvent) == 0
    with sessions() as session:
        asset = session.scalars(select(Asset)).one()
        assert asset.location.code == office["store"]  # nothing applied
    assert _count(sessions, RejectedMessage) == len(_bad_cases(peer, office))
    assert client.get("/api/v1/audit/verify", headers=tokens.headers("auditor")).get_json()["ok"]
    text = client.get("/api/v1/metrics", headers=tokens.headers("auditor")).get_data(as_text=True)
    assert 'assetgate_rejected_messages_total{reason="bad_json"} 2' in text
    assert 'assetgate_rejected_messages_total{reason="kiosk_mismatch"} 1' in text


def test_one_kiosk_cannot_make_another_kiosks_event_a_duplicate(consumer: Consumer, peer: KioskPeer,
                                                               office: dict[str, str], sessions: Any, app: Any,
                                                               broker: Any) -> None:
    """The idempotency key is (kiosk, event id): the same id from another kiosk is its own event."""
    with sessions() as session, session.begin():
        kiosks.enroll(session, SYSTEM, "store-2", "storeroom")
    other = KioskPeer(broker[0], broker[1], settings_of(app).topic_prefix, "store-2")
    try:
        first = peer.event("asset.move", {"tag": office["asset"], "to": office["room"]})
        assert peer.roundtrip(first)["status"] == "accepted"
        same_id = other.event("asset.move", {"tag": office["asset"], "to": office["store"]}, id=first.id)
        assert other.roundtrip(same_id)["status"] == "accepted"
        assert other.roundtrip(same_id)["status"] == "duplicate"  # its own resend still is one
        assert peer.roundtrip(first)["status"] == "duplicate"
    finally:
        other.close()
    with sessions() as session:
        stored = session.execute(select(KioskEvent.kiosk, KioskEvent.id)).all()
        assert sorted(stored) == [("store-1", str(first.id)), ("store-2", str(first.id))]
        assert session.scalars(select(Asset)).one().location.code == office["store"]


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "safe-path"])
def test_the_same_id_from_two_kiosks_in_one_batch_is_two_events(app: Any, office: dict[str, str], sessions: Any,
                                                                 fast: bool) -> None:
    with sessions() as session, session.begin():
        kiosks.enroll(session, SYSTEM, "store-2", "storeroom")
    settings = settings_of(app)
    peers = {name: KioskPeer.offline(settings.topic_prefix, name) for name in ("store-1", "store-2")}
    first = peers["store-1"].event("asset.move", {"tag": office["asset"], "to": office["room"]})
    twin = peers["store-2"].event("asset.move", {"tag": office["asset"], "to": office["store"]}, id=first.id)
    batch = [Delivery(n, 1, peers[e.kiosk].topics.events(e.kiosk), e.to_bytes()) for n, e in enumerate([first, twin])]
    replies = Writer(settings, sessions).process(batch, fast=fast)
    assert [json.loads(r.ack or b"")["status"] for r in replies] == ["accepted", "accepted"]
    assert [json.loads(r.ack or b"")["status"] for r in Writer(settings, sessions).process(batch, fast=fast)] == [
        "duplicate", "duplicate"]
    assert _count(sessions, KioskEvent) == 2


def test_illegal_transition_and_resend_of_a_rejected_event(consumer: Consumer, peer: KioskPeer,
                                                          office: dict[str, str], sessions: Any) -> None:
    event = peer.event("asset.checkin", {"tag": office["asset"]})  # it is in storage already
    first = peer.roundtrip(event)
    assert (first["status"], first["reason"]) == ("rejected", "illegal_transition")
    again = peer.roundtrip(event)
    assert (again["status"], again["reason"]) == ("rejected", "illegal_transition")
    assert _count(sessions, RejectedMessage) == 1


def test_events_apply_by_their_time_not_arrival(consumer: Consumer, peer: KioskPeer, office: dict[str, str],
                                                sessions: Any, client: Any, tokens: Any) -> None:
    now = datetime.now(UTC)
    newer = peer.event("asset.move", {"tag": office["asset"], "to": office["room"]}, at=now)
    older = peer.event("asset.move", {"tag": office["asset"], "to": office["store"]}, at=now - timedelta(hours=3))
    assert peer.roundtrip(newer)["status"] == "accepted"
    late = peer.roundtrip(older)
    assert late["status"] == "accepted" and "older" in late["display"]["title"]
    with sessions() as session:
        assert session.scalars(select(Asset)).one().location.code == office["room"]
    history = client.get(f"/api/v1/assets/{office['asset']}/history", headers=tokens.headers("auditor")).get_json()
    # Ordered by when things happened: the late move (3 h ago) even precedes the asset's creation.
    assert [(e["type"], e["to_location"], e["applied"]) for e in history["items"]] == [
        ("asset.move", office["store"], False), ("asset.create", office["store"], True),
        ("asset.move", office["room"], True)]


def test_status_and_unsynced_flags(consumer: Consumer, peer: KioskPeer, office: dict[str, str],
                                   sessions: Any, client: Any, tokens: Any) -> None:
    topic = peer.topics.status("store-1")
    status = {"state": "online", "mode": "storeroom", "version": "0.1.0", "outbox": 0, "at": "2026-11-25T10:00:00Z"}
    peer.client.publish(topic, json.dumps(status), qos=1, retain=True).wait_for_publish(5)
    event = peer.event("asset.move", {"tag": office["asset"], "to": office["room"]}, synced=False)
    ack = peer.roundtrip(event)
    assert ack["status"] == "accepted" and ack["display"]["level"] == "warn"
    with sessions() as session:
        assert session.get(KioskEvent, ("store-1", str(event.id))).flags == ["unsynced"]  # type: ignore[union-attr]
    fleet = client.get("/api/v1/kiosks", headers=tokens.headers("auditor")).get_json()["items"]
    row = next(k for k in fleet if k["kiosk"] == "store-1")
    assert row["state"] == "online" and row["events"] == 1 and row["seq_gaps"] == 0
    assert (row["unsynced"], row["conflicts"], row["clock_skew"]) == (1, 0, 0)
    peer.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)  # leave no retained junk behind


def test_offline_event_that_conflicts_is_stored_flagged_and_acked_warn(consumer: Consumer, peer: KioskPeer,
                                                                       office: dict[str, str],
                                                                       sessions: Any) -> None:
    # Made (offline) an hour before the asset's current state, and illegal in that state now.
    stale = peer.event("asset.checkin", {"tag": office["asset"]}, at=datetime.now(UTC) - timedelta(hours=1))
    ack = peer.roundtrip(stale)
    assert (ack["status"], ack["reason"], ack["display"]["level"]) == ("accepted", "conflict", "warn")
    with sessions() as session:
        assert "conflict" in session.get(KioskEvent, ("store-1", str(stale.id))).flags  # type: ignore[union-attr]
        row = session.scalars(select(AssetEvent).where(AssetEvent.kiosk_event_id == str(stale.id))).one()
        assert row.applied is False
        assert session.scalars(select(Asset)).one().status == "in_storage"
    # The same, made now: a plain illegal transition.
    fresh = peer.event("asset.checkin", {"tag": office["asset"]})
    assert peer.roundtrip(fresh)["reason"] == "illegal_transition"


def test_fleet_counts_seq_gaps(consumer: Consumer, peer: KioskPeer, office: dict[str, str], client: Any,
                               tokens: Any) -> None:
    move = {"tag": office["asset"], "to": office["room"]}
    assert peer.roundtrip(peer.event("asset.move", move))["status"] == "accepted"  # seq 1
    peer.seq += 2  # seqs 2 and 3 never arrive (lost on the kiosk, or still in its outbox)
    assert peer.roundtrip(peer.event("asset.move", move))["status"] == "accepted"  # seq 4
    fleet = client.get("/api/v1/kiosks", headers=tokens.headers("auditor")).get_json()["items"]
    row = next(k for k in fleet if k["kiosk"] == "store-1")
    assert (row["events"], row["last_seq"], row["seq_gaps"]) == (2, 4, 2)


def test_a_writer_that_dies_is_replaced_and_nothing_is_lost_or_doubled(consumer: Consumer, peer: KioskPeer,
                                                                        office: dict[str, str],
                                                                        sessions: Any) -> None:
    move = {"tag": office["asset"], "to": office["room"]}
    events = [peer.event("asset.move", move) for _ in range(300)]
    first_writer = consumer._process
    assert first_writer is not None and first_writer.pid is not None
    for i, event in enumerate(events):
        peer.send(event)
        if i == 100:
            os.kill(first_writer.pid, signal.SIGSTOP)  # frozen: what it is handed now stays unanswered
        if i == 150:
            deadline = time.monotonic() + 5
            while not consumer._outstanding and time.monotonic() < deadline:
                time.sleep(0.01)
            assert consumer._outstanding, "no batch was in the frozen writer's hands"
            os.kill(first_writer.pid, signal.SIGKILL)
    acks = [peer.ack(timeout=30) for _ in events]
    assert {ack["id"] for ack in acks} == {str(e.id) for e in events}
    assert {ack["status"] for ack in acks} <= {"accepted", "duplicate"}
    assert consumer.counts["writer:restarts"] >= 1 and consumer._process is not first_writer
    assert consumer.counts["writer:resent"] >= 1  # the new writer got the old one's unanswered batches
    assert _count(sessions, KioskEvent) == 300
    with sessions() as session:
        ids = session.scalars(select(AssetEvent.kiosk_event_id).where(AssetEvent.type == "asset.move")).all()
    assert sorted(ids) == sorted(str(e.id) for e in events)  # each applied once


@pytest.mark.skipif(BACKEND != "postgresql", reason="the database is taken away with PostgreSQL's ALLOW_CONNECTIONS")
def test_a_database_that_goes_away_holds_the_events_until_it_is_back(consumer: Consumer, peer: KioskPeer,
                                                                     office: dict[str, str], sessions: Any,
                                                                     database_url: str) -> None:
    move = {"tag": office["asset"], "to": office["room"]}
    assert peer.roundtrip(peer.event("asset.move", move))["status"] == "accepted"
    name = make_url(database_url).database
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:  # no new connections, and the open ones cut
            conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
        events = [peer.event("asset.move", move) for _ in range(20)]
        for event in events:
            peer.send(event)
        with pytest.raises(queue.Empty):
            peer.ack(timeout=3)  # nothing is acked while nothing can be stored
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
        admin.dispose()
    acks = [peer.ack(timeout=60) for _ in events]  # the writer retries with back-off up to 30 s
    assert sorted(a["id"] for a in acks) == sorted(str(e.id) for e in events)
    assert {a["status"] for a in acks} == {"accepted"}
    assert _count(sessions, KioskEvent) == 21


def test_two_consumers_sharing_the_subscription_store_each_event_once(app: Any, broker: Any, peer: KioskPeer,
                                                                     office: dict[str, str], sessions: Any) -> None:
    """Several consumers may split the load (PROTOCOL.md section 2): each event is stored and acked
    once, and the one asset the events all move ends where the newest event put it, however the
    broker shared them out and in whatever order the two writers committed."""
    settings = settings_of(app).model_copy(update={"mqtt_shared": True})
    workers = [Consumer(settings, client_id=f"{settings.mqtt_client_id}-{n}") for n in (1, 2)]
    for worker in workers:
        worker.start()
    try:
        assert all(worker.connected.wait(30) for worker in workers), "a consumer did not connect"
        start = datetime.now(UTC)
        places = [office["room"], office["store"]]
        events = [peer.event("asset.move", {"tag": office["asset"], "to": places[i % 2]},
                             at=start + timedelta(milliseconds=i)) for i in range(300)]
        for event in events:
            peer.send(event)
        acks = [peer.ack(timeout=30) for _ in events]
    finally:
        for worker in workers:
            worker.stop()
    assert sorted(a["id"] for a in acks) == sorted(str(e.id) for e in events)
    assert {a["status"] for a in acks} == {"accepted"}
    shares = [worker.counts["accepted"] for worker in workers]
    assert sum(shares) == len(events) and min(shares) > 0, f"the broker did not share the load: {shares}"
    assert _count(sessions, KioskEvent) == len(events)
    with sessions() as session:
        asset = session.scalars(select(Asset)).one()
        assert asset.location.code == events[-1].data["to"]
        kiosk = session.scalars(select(Kiosk).where(Kiosk.name == "store-1")).one()
        assert kiosk.last_seq == events[-1].seq, "a writer put back an older last_seq"
        applied = session.scalars(select(AssetEvent).where(AssetEvent.asset_id == asset.id, AssetEvent.applied)
                                  .order_by(AssetEvent.id)).all()
        for before, after in zip(applied, applied[1:], strict=False):
            assert after.from_location_id == before.to_location_id, "a move decided on a stale place"
