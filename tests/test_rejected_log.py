"""The rejected log is bounded: a rate per kiosk, a counter of what it left out, and retention."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from server import settings_of
from server.audit import SYSTEM
from server.consumer import Consumer
from server.models import RejectedDrop, RejectedMessage, utcnow
from server.services import directory, kiosks, rejected
from tests.peers import KioskPeer

pytestmark = pytest.mark.broker


@pytest.fixture
def settings_overrides(settings_overrides: dict[str, Any]) -> dict[str, Any]:
    # A small burst and a slow refill, so that the test sees the limit within seconds.
    return {**settings_overrides, "rejected_log_burst": 5, "rejected_log_per_minute": 1,
            "rejected_log_retention_days": 1}


@pytest.fixture
def enrolled(sessions: Any) -> None:
    with sessions() as session, session.begin():
        store = directory.create_location(session, SYSTEM, "Storeroom", "storeroom")
        for name in ("store-1", "store-2"):
            kiosks.enroll(session, SYSTEM, name, "storeroom", store.code)


@pytest.fixture
def consumer(app: Any, broker: Any, enrolled: None) -> Iterator[Consumer]:
    worker = Consumer(settings_of(app))
    worker.start()
    assert worker.connected.wait(30), "consumer did not connect"
    yield worker
    worker.stop()


def _logged(sessions: Any, kiosk: str) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(RejectedMessage)
                              .where(RejectedMessage.kiosk == kiosk)) or 0


def test_a_flooding_kiosk_is_answered_but_logged_only_up_to_its_rate(consumer: Consumer, app: Any, sessions: Any,
                                                                    broker: Any, client: Any, tokens: Any) -> None:
    prefix = settings_of(app).topic_prefix
    flood, calm = KioskPeer(*broker, prefix, "store-1"), KioskPeer(*broker, prefix, "store-2")
    try:
        for _ in range(40):
            flood.send(b"{junk")
        acks = [flood.ack() for _ in range(40)]
        assert {(a["status"], a["reason"]) for a in acks} == {("rejected", "bad_json")}  # every one answered
        for _ in range(3):
            assert calm.roundtrip(b"[]")["reason"] == "bad_json"
    finally:
        flood.close()
        calm.close()
    assert _logged(sessions, "store-1") == 5, "the burst is 5: the rest must not be logged"
    assert _logged(sessions, "store-2") == 3, "another kiosk's budget is its own"
    with sessions() as session:
        drops = session.execute(select(RejectedDrop.kiosk, RejectedDrop.reason, RejectedDrop.dropped)).all()
    assert drops == [("store-1", "bad_json", 35)]
    assert consumer.counts["rejected:unlogged"] == 35 and consumer.counts["rejected:bad_json"] == 43
    text = client.get("/api/v1/metrics", headers=tokens.headers("auditor")).get_data(as_text=True)
    assert 'assetgate_rejected_log_dropped_total{kiosk="store-1",reason="bad_json"} 35' in text
    fleet = client.get("/api/v1/kiosks", headers=tokens.headers("auditor")).get_json()["items"]
    assert {r["kiosk"]: (r["rejected"], r["rejected_unlogged"]) for r in fleet} == {"store-1": (5, 35),
                                                                                    "store-2": (3, 0)}


def test_the_consumer_deletes_rows_past_the_retention(app: Any, sessions: Any, broker: Any, enrolled: None) -> None:
    now = utcnow()
    with sessions() as session, session.begin():
        for age in (timedelta(days=3), timedelta(days=2), timedelta(hours=1)):
            session.add(RejectedMessage(received_at=now - age, topic="t", kiosk="store-1", reason="bad_json",
                                        size=1, raw="x"))
    worker = Consumer(settings_of(app))
    worker.start()  # its writer purges when it starts, then every few minutes
    try:
        deadline = time.monotonic() + 10
        while _logged(sessions, "store-1") > 1 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        worker.stop()
    with sessions() as session:
        kept = session.scalars(select(RejectedMessage.received_at)).all()
    assert kept == [now - timedelta(hours=1)], "retention is 1 day here"


def test_purge_goes_in_chunks(engine_sessions: Any) -> None:
    now = utcnow()
    with engine_sessions() as session, session.begin():
        session.add_all([RejectedMessage(received_at=now - timedelta(days=40), topic="t", kiosk=None,
                                         reason="bad_json", size=1, raw="") for _ in range(5)])
    with engine_sessions() as session, session.begin():
        assert rejected.purge(session, now, 30, limit=2) == 2
    with engine_sessions() as session, session.begin():
        assert rejected.purge(session, now, 30) == 3
        assert rejected.purge(session, now, 30) == 0


def test_rate_limit_refills_per_kiosk_and_restores_after_a_rollback() -> None:
    now = [0.0]
    limit = rejected.RateLimit(per_minute=60, burst=3, clock=lambda: now[0])
    assert [limit.take("a") for _ in range(4)] == [True, True, True, False]
    assert limit.take("b"), "each kiosk has its own bucket"
    before = limit.snapshot()
    now[0] = 1.0  # one second at 60 a minute: one more row
    assert limit.take("a") and not limit.take("a")
    limit.restore(before)  # that batch was rolled back: its row was never logged
    assert limit.take("a") and not limit.take("a")
    silent = rejected.RateLimit(per_minute=0, burst=0)
    assert not silent.take("a")
