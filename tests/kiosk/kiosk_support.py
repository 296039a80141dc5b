"""Kiosk test helpers and fixtures (re-exported by this folder's conftest).

Unique topic prefixes and kiosk ids on the shared real broker, a real acking peer
(``Responder``). A private Mosquitto that a test may stop or kill is ``tests.brokers.PrivateBroker``.

Other engineers run tests on the same broker at once, so every test gets its own prefix
and client ids, short session expiry, and clears the retained messages it left.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from contract.messages import Ack, ContractError, Event, decode_event, display_for, is_final
from contract.topics import QOS, Topics
from kiosk.config import AgentConfig, parse_config
from tests.fault_support import toml_text  # noqa: F401 - the one TOML writer, re-exported for the kiosk tests

BROKER_HOST = os.environ.get("ASSETGATE_TEST_BROKER_HOST", "127.0.0.1")
BROKER_PORT = int(os.environ.get("ASSETGATE_TEST_BROKER_PORT", "1883"))


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll until predicate() is truthy; fail the test with a clear message on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


class Responder:
    """A minimal server side: acks each event per the contract (a real MQTT peer, not a mock).

    ``verdict(event) -> (status, reason)`` decides the answer; ids seen before get
    ``duplicate`` like the real consumer. ``received`` keeps every arrival, in order;
    ``first_sends`` leaves out what the broker delivered again after a restart (DUP flag), so
    it is what the kiosk itself published.
    """

    def __init__(
        self,
        prefix: str,
        host: str = BROKER_HOST,
        port: int = BROKER_PORT,
        verdict: Callable[[Event], tuple[str, str | None]] | None = None,
        persistent: bool = False,
    ) -> None:
        self.topics = Topics(prefix)
        self.host, self.port = host, port
        self.verdict = verdict or (lambda event: ("accepted", None))
        self.silent = False  # True: receive and record, but answer nothing (a server that lost them)
        self.received: list[Event] = []
        self.first_sends: list[Event] = []  # received, less the broker's own redeliveries
        self.seen: set[str] = set()
        self.lock = threading.Lock()
        self._subscribed = threading.Event()
        # persistent: like the real consumer, events published while it is away wait in the broker.
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"resp-{uuid.uuid4().hex[:12]}",
                                  clean_session=not persistent)
        self.client.max_inflight_messages_set(1000)
        self.client.reconnect_delay_set(1, 1)  # back at once after a broker restart, as a test wants
        self.client.on_connect = lambda c, *_: c.subscribe(self.topics.all_events(), qos=QOS)
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message

    def start(self) -> Responder:
        self.client.connect(self.host, self.port)
        self.client.loop_start()
        assert self._subscribed.wait(10), "responder could not subscribe"
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        parsed = self.topics.parse(message.topic)
        assert parsed is not None
        try:
            event, _ = decode_event(bytes(message.payload), parsed.kiosk)
        except ContractError as exc:
            ack = Ack(id=exc.event_id, status="rejected", reason=exc.reason.value,
                      display=display_for("rejected", exc.reason.value))
        else:
            with self.lock:
                self.received.append(event)
                if not message.dup:  # a broker's redelivery of a message it sent before has DUP set
                    self.first_sends.append(event)
                duplicate = str(event.id) in self.seen
                self.seen.add(str(event.id))
            if self.silent:
                with self.lock:
                    self.seen.discard(str(event.id))  # it was never stored, so no "duplicate" later
                return
            status, reason = ("duplicate", None) if duplicate else self.verdict(event)
            if not is_final(status, reason):
                with self.lock:
                    self.seen.discard(str(event.id))  # not stored: a resend is judged again
            ack = Ack(id=str(event.id), status=status, reason=reason,  # type: ignore[arg-type]
                      display=display_for(status, reason))
        client.publish(self.topics.acks(parsed.kiosk), ack.to_bytes(), qos=QOS)

    def unique_seqs(self) -> list[int]:
        with self.lock:
            return sorted({e.seq for e in self.received})


@pytest.fixture
def prefix() -> str:
    return f"test/{uuid.uuid4().hex}/assetgate/v1"


@pytest.fixture
def kiosk_id() -> str:
    return f"k-{uuid.uuid4().hex[:12]}"


def config_dict(tmp_path: Path, kiosk: str, prefix: str, port: int = BROKER_PORT, **overrides: Any) -> dict:
    data: dict[str, Any] = {
        "kiosk": kiosk,
        "mode": "storeroom",
        "location": "L-0000000",  # L-000000 with its check symbol
        "prefix": prefix,
        "outbox": str(tmp_path / f"{kiosk}.db"),
        "workflow_timeout": 60,
        "broker": {"host": BROKER_HOST, "port": port, "session_expiry": 120, "reconnect_min": 1,
                   "reconnect_max": 2},
        "screen": {"enabled": False, "port": 0},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


@pytest.fixture
def make_config(tmp_path: Path, kiosk_id: str, prefix: str) -> Callable[..., AgentConfig]:
    def make(**overrides: Any) -> AgentConfig:
        return parse_config(config_dict(tmp_path, kiosk_id, prefix, **overrides))

    return make


@pytest.fixture
def responder(prefix: str) -> Iterator[Responder]:
    peer = Responder(prefix).start()
    yield peer
    peer.stop()


@pytest.fixture(autouse=True)
def _clear_retained(prefix: str, kiosk_id: str) -> Iterator[None]:
    """Leave no retained messages from this test on the shared broker."""
    yield
    topics = Topics(prefix)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"clean-{uuid.uuid4().hex[:12]}")
    try:
        client.connect(BROKER_HOST, BROKER_PORT)
    except OSError:
        return
    client.loop_start()
    for topic in (topics.status(kiosk_id), topics.config(kiosk_id), topics.server_status):
        client.publish(topic, b"", qos=QOS, retain=True).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()
