"""The agent's MQTT link against the real shared broker, with a real acking peer."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import paho.mqtt.client as mqtt
import pytest
from kiosk_support import BROKER_HOST, BROKER_PORT, Responder, wait_for
from paho.mqtt.enums import CallbackAPIVersion

from contract.codes import Kind, new_code
from contract.messages import Ack, Display, KioskConfig, ServerStatus
from contract.topics import QOS, Topics
from kiosk.agent import Agent, AgentBusy
from kiosk.config import AgentConfig

pytestmark = pytest.mark.broker


def checkin() -> tuple[str, None, dict[str, str]]:
    return ("asset.checkin", None, {"tag": str(new_code(Kind.ASSET))})


class Watcher:
    """Collects what arrives on some topics (retained messages included)."""

    def __init__(self, *topics: str, port: int = BROKER_PORT) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self._ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"watch-{uuid.uuid4().hex[:12]}")
        self.client.on_connect = lambda c, *_: (c.subscribe([(t, QOS) for t in topics]) if topics
                                                else self._ready.set())
        self.client.on_subscribe = lambda *_: self._ready.set()
        self.client.on_message = lambda _c, _u, m: self.messages.append((m.topic, bytes(m.payload), m.retain))
        self.client.connect(BROKER_HOST, port)
        self.client.loop_start()
        assert self._ready.wait(10)

    def last_json(self, topic: str) -> dict | None:
        for t, payload, _ in reversed(self.messages):
            if t == topic and payload:
                return json.loads(payload)
        return None

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=QOS, retain=retain).wait_for_publish(5)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def start_agent(make_config: Callable[..., AgentConfig]) -> Iterator[Callable[..., Agent]]:
    agents: list[Agent] = []

    def start(**overrides: object) -> Agent:
        agent = Agent(make_config(**overrides))
        agent.start()
        agents.append(agent)
        return agent

    yield start
    for agent in agents:
        agent.stop()


def test_events_go_out_in_order_and_leave_only_on_ack(start_agent: Callable[..., Agent],
                                                      responder: Responder) -> None:
    agent = start_agent()
    wait_for(lambda: agent.link.connected)
    events = [agent.record(*checkin()) for _ in range(5)]
    ack = agent.wait_ack(str(events[-1].id), timeout=10)
    assert ack is not None and ack.status == "accepted"
    wait_for(lambda: agent.depth() == 0)
    assert [e.seq for e in responder.received] == [1, 2, 3, 4, 5]
    assert [e.id for e in responder.received] == [e.id for e in events]


def test_status_online_retained_with_outbox_depth(start_agent: Callable[..., Agent], prefix: str,
                                                  kiosk_id: str) -> None:
    topics = Topics(prefix)
    agent = start_agent()
    watcher = Watcher(topics.status(kiosk_id))
    try:
        wait_for(lambda: (watcher.last_json(topics.status(kiosk_id)) or {}).get("state") == "online")
        agent.record_many([checkin() for _ in range(3)])  # no responder: they stay queued
        wait_for(lambda: (watcher.last_json(topics.status(kiosk_id)) or {}).get("outbox") == 3, timeout=5)
        status = watcher.last_json(topics.status(kiosk_id))
        assert status is not None
        assert status["mode"] == "storeroom" and status["version"] and status["outbox_oldest_s"] >= 0
        agent.stop()
        # A clean stop says offline itself (no last will on a clean disconnect).
        wait_for(lambda: (watcher.last_json(topics.status(kiosk_id)) or {}).get("state") == "offline")
    finally:
        watcher.stop()


def test_unacked_events_stay_queued_and_go_again_after_ack_timeout(
    start_agent: Callable[..., Agent], prefix: str
) -> None:
    # Nobody answers at first: the broker accepts (PUBACK) but no server ack comes.
    agent = start_agent(broker={"ack_timeout": 1.5})
    wait_for(lambda: agent.link.connected)
    events = agent.record_many([checkin() for _ in range(4)])
    wait_for(lambda: agent.link.sent >= 4)
    assert agent.depth() == 4, "a broker PUBACK is not enough to leave the outbox"
    peer = Responder(prefix).start()  # the server comes back; the lost events are resent
    try:
        wait_for(lambda: agent.depth() == 0, timeout=10)
        assert peer.unique_seqs() == [e.seq for e in events]
    finally:
        peer.stop()


def test_unknown_and_malformed_acks_are_ignored(start_agent: Callable[..., Agent], prefix: str,
                                                kiosk_id: str) -> None:
    agent = start_agent()
    wait_for(lambda: agent.link.connected)
    event = agent.record(*checkin())
    watcher = Watcher()
    try:
        acks = Topics(prefix).acks(kiosk_id)
        watcher.publish(acks, b"{not json")
        watcher.publish(acks, Ack(id=str(uuid.uuid4()), status="accepted",
                                  display=Display(level="ok", title="x")).to_bytes())
        # A late second ack for the same event (a resend answered twice) changes nothing either.
        real = Ack(id=str(event.id), status="accepted", display=Display(level="ok", title="Saved"))
        watcher.publish(acks, real.to_bytes())
        watcher.publish(acks, real.model_copy(update={"status": "duplicate"}).to_bytes())
        wait_for(lambda: agent.depth() == 0)
        assert [a.status for a in agent.outbox.recent_acks()] == ["accepted"]
        assert agent.link.connected
    finally:
        watcher.stop()


def test_server_status_and_config_reach_the_agent(start_agent: Callable[..., Agent], prefix: str,
                                                   kiosk_id: str) -> None:
    topics = Topics(prefix)
    watcher = Watcher()
    try:
        watcher.publish(topics.server_status, ServerStatus(state="offline").model_dump_json().encode(), retain=True)
        name_of = {"P-0000000": "Guard Ann"}
        watcher.publish(topics.config(kiosk_id), KioskConfig(kiosk=kiosk_id, mode="storeroom",
                                                             display_names=name_of).model_dump_json().encode(),
                        retain=True)
        agent = start_agent()
        wait_for(lambda: agent.offline() == "服务器离线，已本地保存")
        wait_for(lambda: agent.server_config is not None)
        assert agent.handle_scan("P-0000000").title == "领用人：Guard Ann（P-0000000）"
        watcher.publish(topics.server_status, ServerStatus(state="online").model_dump_json().encode(), retain=True)
        wait_for(lambda: agent.offline() is None)
    finally:
        watcher.stop()


def test_screen_result_turns_from_saved_locally_to_the_ack(start_agent: Callable[..., Agent],
                                                           prefix: str) -> None:
    exit_denied = Responder(prefix, verdict=lambda e: ("rejected", "no_exit_permit")).start()
    try:
        agent = start_agent()
        wait_for(lambda: agent.link.connected)
        outcome = agent.handle_scan(str(new_code(Kind.ASSET)))
        assert outcome.level == "pending" and outcome.detail == "已本地保存，等待服务器确认"
        wait_for(lambda: agent.screen_state()["last"]["level"] == "error")
        # The kiosk words the refusal from the reason code; the server's English text is not shown.
        last = agent.screen_state()["last"]
        assert (last["title"], last["detail"]) == ("已拒绝：无物品放行条", "资产不得带出，请出示物品放行条")
    finally:
        exit_denied.stop()


def test_screen_words_every_ack_itself_but_an_unknown_reason(start_agent: Callable[..., Agent],
                                                             prefix: str) -> None:
    tags: dict[str, str] = {}  # tag -> verdict the peer gives its event
    peer = Responder(prefix, verdict=lambda e: (("accepted", None) if tags[e.data["tag"]] == "ok"
                                                else ("rejected", "frobnicated"))).start()
    try:
        agent = start_agent(language="en")
        wait_for(lambda: agent.link.connected)
        person, first, second = str(new_code(Kind.PERSON)), str(new_code(Kind.ASSET)), str(new_code(Kind.ASSET))
        tags.update({first: "ok", second: "ok"})
        for code in (person, first, second):
            agent.handle_scan(code)
        assert agent.handle_input("finish").title == f"2 assets checked out to {person}"
        wait_for(lambda: agent.screen_state()["last"]["detail"] == "Accepted")
        assert agent.screen_state()["last"]["title"] == f"2 assets checked out to {person}"
        # A reason this kiosk does not know: the server's own words are all there is to show.
        odd = str(new_code(Kind.ASSET))
        tags[odd] = "odd"
        agent.handle_scan(odd)
        wait_for(lambda: agent.screen_state()["last"]["level"] == "error")
        assert agent.screen_state()["last"]["title"] == "Refused: frobnicated"  # contract.display_for's text
    finally:
        peer.stop()


def test_a_rejection_that_is_not_final_keeps_the_event_until_a_config_or_a_reconnect(
    start_agent: Callable[..., Agent], prefix: str, kiosk_id: str
) -> None:
    answer = {"verdict": ("rejected", "internal_error")}
    server = Responder(prefix, verdict=lambda e: answer["verdict"]).start()  # type: ignore[arg-type,return-value]
    topics = Topics(prefix)
    watcher = Watcher(topics.status(kiosk_id))
    try:
        agent = start_agent(language="en")
        held = agent.record_many([checkin() for _ in range(3)])
        wait_for(lambda: all(agent.outbox.ack_for(str(e.id)) for e in held))
        assert agent.depth() == 3 and agent.link.held() == (3, "internal_error")
        # The screen's banner is its status line.
        assert agent.screen_state()["offline"] == ("The server did not store 3 events (server error): kept, "
                                                   "sent again on reconnect")
        wait_for(lambda: (watcher.last_json(topics.status(kiosk_id)) or {}).get("held") == 3)
        assert watcher.last_json(topics.status(kiosk_id))["held_reason"] == "internal_error"  # type: ignore[index]

        answer["verdict"] = ("rejected", "illegal_transition")  # final: this one leaves at once
        refused = agent.record(*checkin())
        wait_for(lambda: agent.outbox.ack_for(str(refused.id)) is not None)
        sent = agent.link.sent
        time.sleep(1.0)
        assert agent.link.sent == sent == 4, "held events went out again on their own"
        assert agent.depth() == 3

        answer["verdict"] = ("accepted", None)  # the server is mended and says so with a config
        watcher.publish(topics.config(kiosk_id), KioskConfig(kiosk=kiosk_id, mode="storeroom")
                        .model_dump_json().encode(), retain=True)
        wait_for(lambda: agent.depth() == 0)
        assert agent.link.held() == (0, None) and agent.offline() is None
        assert [agent.outbox.ack_for(str(e.id)).status for e in held] == ["accepted"] * 3  # type: ignore[union-attr]

        answer["verdict"] = ("rejected", "unknown_kiosk")  # and again, mended by a restart this time
        later = agent.record(*checkin())
        wait_for(lambda: agent.link.held() == (1, "unknown_kiosk"))
        agent.stop()
        answer["verdict"] = ("accepted", None)
        again = start_agent()
        wait_for(lambda: again.depth() == 0)
        assert again.outbox.ack_for(str(later.id)).status == "accepted"  # type: ignore[union-attr]
    finally:
        watcher.publish(topics.config(kiosk_id), b"", retain=True)
        watcher.stop()
        server.stop()


def test_one_agent_per_outbox(start_agent: Callable[..., Agent], make_config: Callable[..., AgentConfig]) -> None:
    start_agent()
    second = Agent(make_config())
    with pytest.raises(AgentBusy):
        second.start()
    second.link.client.loop_stop()
    second.outbox.close()
