"""Faults with a private Mosquitto the test can stop or kill: nothing queued is lost, resends
come in seq order, a refused connect never counts as connected, the last will says offline."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from kiosk_support import Responder, config_dict, toml_text, wait_for
from paho.mqtt.enums import CallbackAPIVersion

from contract.codes import Kind, new_code
from contract.topics import QOS, Topics
from kiosk.agent import Agent
from kiosk.config import parse_config
from tests.brokers import PrivateBroker

pytestmark = pytest.mark.broker


def checkin() -> tuple[str, None, dict[str, str]]:
    return ("asset.checkin", None, {"tag": str(new_code(Kind.ASSET))})


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    mosq = PrivateBroker(tmp_path / "mosquitto").start()
    yield mosq
    mosq.kill()


@pytest.fixture
def agent_on(tmp_path: Path, kiosk_id: str, prefix: str) -> Iterator[Callable[..., Agent]]:
    agents: list[Agent] = []

    def start(broker: PrivateBroker, **overrides: object) -> Agent:
        agent = Agent(parse_config(config_dict(tmp_path, kiosk_id, prefix, port=broker.port, **overrides)))
        agent.start()
        agents.append(agent)
        return agent

    yield start
    for agent in agents:
        agent.stop()


def test_broker_down_keeps_events_and_resends_in_seq_order(broker: PrivateBroker, agent_on: Callable[..., Agent],
                                                           prefix: str) -> None:
    peer = Responder(prefix, port=broker.port, persistent=True)
    peer.silent = True  # receives, does not ack yet
    peer.start()
    agent = agent_on(broker)
    wait_for(lambda: agent.link.connected)
    first = agent.record_many([checkin() for _ in range(5)])
    wait_for(lambda: len(peer.received) == 5)
    broker.stop()  # saves the sessions, as a broker restart with persistence does
    wait_for(lambda: not agent.link.connected)
    assert agent.offline() == "离线，已本地保存：连不上消息服务器"
    more = agent.record_many([checkin() for _ in range(5)])  # recorded while offline
    assert agent.depth() == 10
    broker.start()
    peer.silent = False
    wait_for(lambda: agent.depth() == 0, timeout=20)
    after_restart = [e.seq for e in peer.first_sends[5:]]
    # On reconnect everything unacked is sent again, lowest seq first. (The broker, with its
    # persistence, also delivers again what it had sent the responder before the restart.)
    assert after_restart[:10] == [e.seq for e in first + more]
    peer.stop()


def test_refused_connect_is_never_connected(tmp_path: Path, agent_on: Callable[..., Agent]) -> None:
    closed = PrivateBroker(tmp_path / "closed")
    closed.config.write_text(closed.config.read_text().replace("allow_anonymous true", "allow_anonymous false"))
    closed.start()
    seen: list[bool] = []
    try:
        agent = agent_on(closed)
        agent.on_connection = lambda connected, reason: seen.append(connected)  # type: ignore[method-assign]
        agent.record(*checkin())
        wait_for(lambda: seen, timeout=10)
        time.sleep(0.5)
        assert not agent.link.connected and True not in seen
        assert agent.depth() == 1 and agent.offline() == "离线，已本地保存：连不上消息服务器"
    finally:
        closed.kill()


def test_last_will_says_offline_when_the_kiosk_process_dies(tmp_path: Path, broker: PrivateBroker, kiosk_id: str,
                                                            prefix: str) -> None:
    status_topic = Topics(prefix).status(kiosk_id)
    states: list[str] = []
    ready = threading.Event()
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"watch-{uuid.uuid4().hex[:12]}")
    watcher.on_connect = lambda c, *_: c.subscribe(status_topic, qos=QOS)
    watcher.on_subscribe = lambda *_: ready.set()
    watcher.on_message = lambda _c, _u, m: states.append(json.loads(m.payload)["state"]) if m.payload else None
    watcher.connect("127.0.0.1", broker.port)
    watcher.loop_start()
    assert ready.wait(10)
    config = tmp_path / "kiosk.toml"
    config.write_text(toml_text(config_dict(tmp_path, kiosk_id, prefix, port=broker.port)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        wait_for(lambda: "online" in states, timeout=15)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        wait_for(lambda: states[-1] == "offline", timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        watcher.disconnect()
        watcher.loop_stop()


@pytest.mark.slow
def test_ten_thousand_queued_events_drain_after_reconnect(broker: PrivateBroker, agent_on: Callable[..., Agent],
                                                          prefix: str) -> None:
    # The peer's persistent session is in the broker before the kiosk is cut off, as the
    # consumer's is in production, so no event finds the broker without a subscriber.
    peer = Responder(prefix, port=broker.port, persistent=True).start()
    broker.stop()
    agent = agent_on(broker)
    agent.record_many([checkin() for _ in range(10_000)])
    assert agent.depth() == 10_000
    broker.start()
    started = time.monotonic()
    try:
        wait_for(lambda: agent.depth() == 0, timeout=90, interval=0.2)
        elapsed = time.monotonic() - started
        assert peer.unique_seqs() == list(range(1, 10_001))
        print(f"10,000 queued events drained in {elapsed:.1f} s ({10_000 / elapsed:.0f}/s)")
    finally:
        peer.stop()
