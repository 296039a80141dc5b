"""Rejections that are not final (PROTOCOL.md section 4), end to end: the real kiosk agent and
real consumers. A server that does not know the kiosk answers ``unknown_kiosk``; the kiosk keeps
those events, shows it, and sends them again once a server that knows it says so (its config)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from contract.messages import Ack
from kiosk.agent import Agent
from kiosk.config import parse_config
from server import create_app, settings_of
from server.audit import SYSTEM
from server.consumer import Consumer
from server.models import KioskEvent, RejectedMessage
from server.services import assets, directory, kiosks
from server.writer import Delivery, Writer
from tests.conftest import BROKER_HOST, BROKER_PORT
from tests.peers import KioskPeer

pytestmark = pytest.mark.broker
KIOSK = "store-1"


def _office(sessions: Any, enrol: bool) -> dict[str, str]:
    with sessions() as session, session.begin():
        directory.get_or_create_category(session, SYSTEM, "Laptop")
        store = directory.create_location(session, SYSTEM, "Storeroom", "storeroom")
        room = directory.create_location(session, SYSTEM, "Room 7")
        asset = assets.create_asset(session, SYSTEM, "ThinkPad", "Laptop", store.code)
        if enrol:
            kiosks.enroll(session, SYSTEM, KIOSK, "storeroom", store.code)
        return {"store": store.code, "room": room.code, "asset": asset.code}


@pytest.fixture
def stranger(settings_overrides: dict[str, Any], other_database_url: str) -> Iterator[Any]:
    """Server B: the same site's topics, its own database, in which the kiosk is not enrolled."""
    app = create_app({**settings_overrides, "database_url": other_database_url,
                      "mqtt_client_id": f"{settings_overrides['mqtt_client_id']}-b"})
    yield app
    app.extensions["assetgate.engine"].dispose()


@pytest.fixture
def agent(app: Any, tmp_path: Path, broker: Any) -> Iterator[Agent]:
    kiosk = Agent(parse_config({
        "kiosk": KIOSK, "mode": "storeroom", "prefix": settings_of(app).topic_prefix, "language": "en",
        "outbox": str(tmp_path / "outbox.db"), "screen": {"enabled": False},
        "broker": {"host": BROKER_HOST, "port": BROKER_PORT, "session_expiry": 120, "reconnect_min": 1,
                   "reconnect_max": 2},
    }), screen=False, scanners=False)
    kiosk.start()
    yield kiosk
    kiosk.stop()


def _running(app: Any) -> Consumer:
    worker = Consumer(settings_of(app))
    worker.start()
    assert worker.connected.wait(30), "consumer did not connect"
    return worker


def _count(app: Any, model: Any) -> int:
    with app.extensions["assetgate.sessions"]() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _drained(agent: Agent, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while agent.depth() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert agent.depth() == 0, f"{agent.depth()} events still in the outbox"


def _record_refused(agent: Agent, office: dict[str, str], n: int) -> list[str]:
    """n moves that the server answers unknown_kiosk: all stay in the outbox, held, and shown."""
    places = [office["room"], office["store"]]
    ids = [str(agent.record("asset.move", None, {"tag": office["asset"], "to": places[i % 2]}).id) for i in range(n)]
    acks = [agent.wait_ack(event_id, timeout=15) for event_id in ids]
    assert {(a.status, a.reason) for a in acks if a is not None} == {("rejected", "unknown_kiosk")}, acks
    assert agent.depth() == n, "an event the server did not store left the outbox"
    assert {a.level for a in acks if a is not None} == {"warn"}  # "not stored yet", not "refused"
    assert agent.link.held() == (n, "unknown_kiosk")
    banner = agent.screen_state()["offline"]
    assert banner is not None and f"{n} events" in banner and "does not know this kiosk" in banner
    sent = agent.link.sent
    time.sleep(1.5)
    assert agent.link.sent == sent, "held events went out again without a reconnect or a config"
    return ids


def test_a_server_that_does_not_know_the_kiosk_loses_none_of_its_events(app: Any, sessions: Any, stranger: Any,
                                                                        agent: Agent) -> None:
    office = _office(sessions, enrol=True)  # server A knows the kiosk
    _office(stranger.extensions["assetgate.sessions"], enrol=False)
    wrong = _running(stranger)
    try:
        ids = _record_refused(agent, office, 20)
    finally:
        wrong.stop()
    assert _count(stranger, KioskEvent) == 0 and _count(stranger, RejectedMessage) == 20
    right = _running(app)  # its config for the kiosk is the sign to send the held events again
    try:
        _drained(agent)
        assert agent.link.held() == (0, None) and agent.screen_state()["offline"] is None
    finally:
        right.stop()
    with sessions() as session:
        stored = set(session.scalars(select(KioskEvent.id).where(KioskEvent.kiosk == KIOSK)))
    assert stored == set(ids), "an event was lost on the way from the wrong server to the right one"
    assert {agent.outbox.ack_for(i).status for i in ids} == {"accepted"}  # type: ignore[union-attr]


def test_events_refused_before_enrolment_are_stored_once_the_kiosk_is_enrolled(app: Any, sessions: Any,
                                                                              agent: Agent) -> None:
    office = _office(sessions, enrol=False)
    worker = _running(app)
    try:
        ids = _record_refused(agent, office, 5)
    finally:
        worker.stop()
    with sessions() as session, session.begin():
        kiosks.enroll(session, SYSTEM, KIOSK, "storeroom", office["store"])
    worker = _running(app)  # on connect it publishes the new kiosk's config
    try:
        _drained(agent)
    finally:
        worker.stop()
    # The earlier unknown_kiosk rows are no verdict on the event: a resend is judged again.
    assert {agent.outbox.ack_for(i).status for i in ids} == {"accepted"}  # type: ignore[union-attr]
    assert _count(app, KioskEvent) == 5


def test_an_internal_error_names_the_event_so_the_kiosk_keeps_it(app: Any, sessions: Any) -> None:
    peer = KioskPeer.offline(settings_of(app).topic_prefix, KIOSK)
    event = peer.event("asset.checkin", {"tag": "A-000010*"})
    reply = Writer(settings_of(app), sessions)._internal_error(Delivery(7, 1, peer.topics.events(KIOSK),
                                                                        event.to_bytes()))
    ack = Ack.model_validate_json(reply.ack or b"")
    assert (reply.mid, reply.kiosk, ack.id, ack.reason, ack.final) == (7, KIOSK, str(event.id), "internal_error",
                                                                        False)
