"""An outlying site: a kiosk on the site broker, the consumer on the central broker, the two
Mosquitto processes bridged with firmware-config/mosquitto/site-bridge.conf through a link that
the test cuts for 1,000 events and then restores. Nothing is lost (every event stored and acked
back to the kiosk through the bridge) and nothing is doubled (each event id applied once).

Real parts throughout: two Mosquitto processes, the real consumer and database, the real kiosk
agent and its outbox; the link is a TCP forwarder whose connections the test drops.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from kiosk.agent import Agent
from kiosk.config import parse_config
from server import settings_of
from server.audit import SYSTEM
from server.consumer import Consumer
from server.models import AssetEvent, KioskEvent
from server.services import assets, directory, kiosks
from tests.brokers import PrivateBroker
from tests.link_proxy import LinkProxy

pytestmark = pytest.mark.broker

BRIDGE = Path(__file__).resolve().parent.parent / "firmware-config" / "mosquitto" / "site-bridge.conf"
EVENTS_WHILE_CUT = 1000


def bridge_lines(prefix: str, central_port: int) -> str:
    """site-bridge.conf as shipped, pointed at the test's link: loopback instead of the centre's
    TLS address and login, the test's topic prefix, and quick retries (a test should not wait 30 s)."""
    text = BRIDGE.read_text()
    text = re.sub(r"^address .*$", f"address 127.0.0.1:{central_port}", text, flags=re.MULTILINE)
    text = re.sub(r"^(bridge_cafile|bridge_tls_version|remote_username|remote_password) .*\n", "", text,
                  flags=re.MULTILINE)
    text = re.sub(r"^restart_timeout .*$", "restart_timeout 1 2", text, flags=re.MULTILINE)
    return text.replace(" assetgate/v1/", f" {prefix}/")


@pytest.fixture
def central(tmp_path: Path) -> Iterator[PrivateBroker]:
    broker = PrivateBroker(tmp_path / "central").start()
    yield broker
    broker.stop()


@pytest.fixture
def link(central: PrivateBroker) -> Iterator[LinkProxy]:
    proxy = LinkProxy(central.address)
    yield proxy
    proxy.close()


@pytest.fixture
def settings_overrides(settings_overrides: dict[str, Any], central: PrivateBroker) -> dict[str, Any]:
    return {**settings_overrides, "mqtt_host": "127.0.0.1", "mqtt_port": central.port}


@pytest.fixture
def site(tmp_path: Path, link: LinkProxy, settings_overrides: dict[str, Any]) -> Iterator[PrivateBroker]:
    broker = PrivateBroker(tmp_path / "site")
    broker.config.write_text(broker.config.read_text() + bridge_lines(settings_overrides["topic_prefix"], link.port))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def office(sessions: Any) -> dict[str, str]:
    with sessions() as session, session.begin():
        directory.get_or_create_category(session, SYSTEM, "Laptop")
        store = directory.create_location(session, SYSTEM, "Storeroom", "storeroom")
        room = directory.create_location(session, SYSTEM, "Room 7")
        asset = assets.create_asset(session, SYSTEM, "ThinkPad", "Laptop", store.code)
        kiosks.enroll(session, SYSTEM, "store-9", "storeroom", store.code)
        return {"store": store.code, "room": room.code, "asset": asset.code}


@pytest.fixture
def consumer(app: Any, office: dict[str, str]) -> Iterator[Consumer]:
    worker = Consumer(settings_of(app))
    worker.start()
    assert worker.connected.wait(30), "consumer did not connect to the central broker"
    yield worker
    worker.stop()


@pytest.fixture
def agent(tmp_path: Path, site: PrivateBroker, settings_overrides: dict[str, Any],
          office: dict[str, str]) -> Iterator[Agent]:
    config = parse_config({
        "kiosk": "store-9", "mode": "storeroom", "location": office["store"],
        "prefix": settings_overrides["topic_prefix"], "outbox": str(tmp_path / "outbox.db"),
        # A window above the cut's 1,000 events, so all of them wait in the site broker's bridge
        # queue (with the default 100 most would wait in the outbox, which proves less).
        "broker": {"host": "127.0.0.1", "port": site.port, "max_inflight": 2000, "reconnect_min": 1,
                   "reconnect_max": 2, "session_expiry": 600,
                   # No resend by the kiosk during the test: what arrives, the bridge delivered.
                   "ack_timeout": 600},
        "screen": {"enabled": False},
    })
    kiosk = Agent(config, screen=False, scanners=False)
    kiosk.start()
    yield kiosk
    kiosk.stop()


def _wait(predicate: Any, timeout: float, what: str) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - start


def _stored(sessions: Any) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(KioskEvent)) or 0


def test_a_cut_bridge_loses_and_doubles_nothing(consumer: Consumer, agent: Agent, link: LinkProxy,
                                                office: dict[str, str], sessions: Any) -> None:
    def moves(n: int, offset: int = 0) -> list[tuple[str, str | None, dict[str, Any]]]:
        rooms = (office["room"], office["store"])
        return [("asset.move", None, {"tag": office["asset"], "to": rooms[(i + offset) % 2]}) for i in range(n)]

    # The bridge carries both ways: events out to the centre, acks back to the kiosk.
    first = agent.record_many(moves(5))
    _wait(lambda: agent.depth() == 0, 30, "the first events acked through the bridge")

    link.cut()
    cut = agent.record_many(moves(EVENTS_WHILE_CUT, offset=5))
    _wait(lambda: agent.link.sent >= len(first) + len(cut) and agent.link.inflight() == len(cut), 30,
          "the kiosk handed the events to the site broker")
    time.sleep(1.0)
    assert _stored(sessions) == len(first)  # the link is really down: nothing reached the centre
    assert agent.depth() == len(cut)

    link.restore()
    took = _wait(lambda: agent.depth() == 0, 60, "every event acked after the link came back")
    print(f"\n{EVENTS_WHILE_CUT} events queued at the site during the cut: all stored and acked "
          f"{took:.1f} s after the link came back ({link.connections} bridge connections)")

    events = [*first, *cut]
    assert agent.link.sent == len(events)  # the kiosk sent each event once: the bridge queued them
    assert _stored(sessions) == len(events)
    with sessions() as session:
        applied = session.scalars(select(AssetEvent.kiosk_event_id).where(AssetEvent.type == "asset.move")).all()
    assert sorted(applied) == sorted(str(e.id) for e in events)  # each event applied exactly once
    # An event leaves the outbox only on the server's ack (depth 0 above); the newest acks are kept.
    last = agent.outbox.ack_for(str(events[-1].id))
    assert last is not None and last.status in {"accepted", "duplicate"}
    assert link.connections >= 2  # the bridge did reconnect through the restored link
