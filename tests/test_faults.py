"""Fault tests of issue 6: real broker, real consumer and kiosk processes, bounded in time.

Each test ends with the server's stored events equal to the kiosks' generated events: none
lost, none doubled (kiosk_events and the asset history), deliberately bad messages rejected
with their reason; and prints one check line, e.g.
``faults[consumer-kill]: generated=5000 stored=5000 duplicates=0 lost=0``.
What each test proves, and the figures of a run, are in docs/faults.md.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from contract.codes import Kind, new_code
from contract.topics import QOS, Topics
from kiosk.agent import Agent
from kiosk.config import parse_config
from kiosk.outbox import Outbox
from tests.brokers import PrivateBroker
from tests.fault_support import (
    Budget,
    ConsumerProcess,
    Cutter,
    KioskProcess,
    Ledger,
    Office,
    Recorder,
    build_office,
    kiosk_config,
    kiosk_name,
    rejected_count,
    stored_count,
    toml_text,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.broker, pytest.mark.timeout(240)]


class Site:
    """A private broker (persistence on), the test database, and the processes a test starts."""

    def __init__(self, folder: Path, database_url: str, sessions: Any, capsys: pytest.CaptureFixture[str]) -> None:
        self.folder = folder
        self.capsys = capsys
        self.database_url = database_url
        self.sessions = sessions
        self.prefix = f"faults/{uuid.uuid4().hex[:12]}/assetgate/v1"
        self.topics = Topics(self.prefix)
        self.broker = PrivateBroker(folder / "broker", persistence=True).start()
        self._closers: list[Any] = []
        self._consumers: list[ConsumerProcess] = []

    def consumer(self) -> ConsumerProcess:
        process = ConsumerProcess(self.folder / "consumer", self.database_url, self.broker.port, self.prefix)
        self._closers.append(process.close)
        self._consumers.append(process)
        return process.start()

    def agent(self, name: str, port: int | None = None, **broker: Any) -> Agent:
        config = kiosk_config(self.folder, name, self.prefix, port or self.broker.port, **broker)
        agent = Agent(parse_config(config), screen=False, scanners=False)
        agent.start()
        self._closers.append(agent.stop)
        return agent

    def kiosk_process(self, name: str, **broker: Any) -> tuple[KioskProcess, dict[str, Any]]:
        config = kiosk_config(self.folder, name, self.prefix, self.broker.port, **broker)
        path = self.folder / f"{name}.toml"
        path.write_text(toml_text(config))
        process = KioskProcess(path)
        self._closers.append(process.stop)
        return process, config

    def stored(self) -> int:
        """Events in kiosk_events; every wait polls this, so a consumer that died is reported at once."""
        for consumer in self._consumers:
            consumer.assert_running()
        return stored_count(self.sessions)

    def on_close(self, close: Any) -> None:
        self._closers.append(close)

    def report(self, *lines: str) -> None:
        """Print to the terminal whether or not pytest captures output (-s or not)."""
        with self.capsys.disabled():
            print("\n" + "\n".join(lines), flush=True)

    def close(self) -> None:
        for close in reversed(self._closers):
            try:
                close()
            except Exception as exc:  # keep closing the rest
                print(f"clean-up: {exc!r}")
        self.broker.stop()


@pytest.fixture
def site(tmp_path: Path, database_url: str, engine_sessions: Any,
         capsys: pytest.CaptureFixture[str]) -> Iterator[Site]:
    place = Site(tmp_path, database_url, engine_sessions, capsys)
    try:
        yield place
    finally:
        place.close()


def drained(site: Site, total: int, agents: list[Agent]) -> bool:
    """All events stored and every kiosk holds its ack (its outbox is empty)."""
    return site.stored() >= total and all(agent.depth() == 0 for agent in agents)


def settled(site: Site, budget: Budget, quiet: float = 1.0) -> int:
    """The stored count once it has not moved for ``quiet`` seconds."""
    last = [site.stored(), time.monotonic()]

    def still() -> bool:
        now = site.stored()
        if now != last[0]:
            last[:] = [now, time.monotonic()]
        return time.monotonic() - last[1] >= quiet

    wait_for(still, budget.left(), "the stored count to settle")
    return int(last[0])


# --- 1. consumer killed ---------------------------------------------------------------------


def test_consumer_killed_mid_stream_and_restarted(site: Site) -> None:
    budget = Budget()
    names = [kiosk_name(), kiosk_name()]
    office = build_office(site.sessions, names)
    consumer = site.consumer()
    ledger = Ledger("consumer-kill")
    # A wide window: thousands of events sit with the broker and the consumer at the kill. No
    # ack timeout within the test: the broker's persistent session alone must bring them back.
    agents = [site.agent(name, max_inflight=1000, ack_timeout=600) for name in names]
    for i, agent in enumerate(agents):
        ledger.add_good(event.id for event in agent.record_many(office.moves(2500, seed=i)))
    total = len(ledger.good)

    wait_for(lambda: site.stored() >= total // 3, budget.left(), "a third of the events to be stored")
    consumer.kill()
    at_kill = site.stored()
    waiting = sum(agent.depth() for agent in agents)
    assert at_kill < total and waiting > 0, f"nothing was in flight at the kill: stored {at_kill}"
    consumer.start()
    wait_for(lambda: drained(site, total, agents), budget.left(), f"all {total} events stored after the restart")
    line = ledger.check(site.sessions, consumer.watch.accepted)
    resent = sum(agent.link.sent for agent in agents) - total
    site.report(line, f"  killed at stored={at_kill}, unacked in the outboxes={waiting}; kiosk resends={resent}; "
                      f"{consumer.watch.summary()}; {budget.elapsed():.1f} s")
    assert consumer.alive() and resent == 0, f"{line}; kiosk resends={resent}"


# --- 2. broker restarted --------------------------------------------------------------------


def test_broker_restarted_while_kiosks_publish(site: Site) -> None:
    budget = Budget()
    names = [kiosk_name(), kiosk_name()]
    office = build_office(site.sessions, names)
    consumer = site.consumer()
    ledger = Ledger("broker-restart")
    agents = [site.agent(name) for name in names]
    recorder = Recorder(agents, office, ledger)
    recorder.start()
    try:
        wait_for(lambda: site.stored() >= 500, budget.left(), "500 events stored before the restart")
        site.broker.stop()  # SIGTERM: Mosquitto writes its persistence file
        down_at, recorded_before = site.stored(), recorder.recorded
        time.sleep(1.5)  # the kiosks go on recording while the broker is away
        recorded_down = recorder.recorded - recorded_before
        site.broker.start()  # same port, same persistence file
        wait_for(lambda: site.stored() >= down_at + 1000, budget.left(), "1000 more events after the restart")
    finally:
        recorded = recorder.finish(10)
    wait_for(lambda: drained(site, recorded, agents), budget.left(), f"all {recorded} events stored")
    line = ledger.check(site.sessions, consumer.watch.accepted)
    site.report(line, f"  broker stopped at stored={down_at}; recorded while it was down={recorded_down}; "
                      f"{consumer.watch.summary()}; {budget.elapsed():.1f} s")
    assert consumer.alive(), line


# --- 3. kiosk cut off -----------------------------------------------------------------------


def test_kiosk_cut_off_records_10000_then_reconnects(site: Site) -> None:
    budget = Budget()
    name = kiosk_name()
    office = build_office(site.sessions, [name])
    consumer = site.consumer()
    ledger = Ledger("kiosk-cut-off")
    cutter = Cutter(site.broker.port)
    site.on_close(cutter.close)
    agent = site.agent(name, port=cutter.port)
    wait_for(lambda: agent.link.connected, budget.left(), "the kiosk to connect through the cut-able link")
    chunks = [office.moves(500, seed=i) for i in range(20)]

    # Live first: two chunks go out, then the cable is pulled mid-stream.
    for chunk in chunks[:2]:
        ledger.add_good(event.id for event in agent.record_many(chunk))
    wait_for(lambda: site.stored() >= 300, budget.left(), "the first events stored live")
    cutter.cut()
    wait_for(lambda: not agent.link.connected, budget.left(), "the kiosk to notice the cut")
    for chunk in chunks[2:]:  # the rest is recorded with the kiosk cut off
        ledger.add_good(event.id for event in agent.record_many(chunk))
    frozen = settled(site, budget)  # what was already with the broker is stored, then nothing more
    depth = agent.depth()
    assert frozen < len(ledger.good) and depth >= len(ledger.good) - frozen, (frozen, depth)
    time.sleep(1.0)
    assert site.stored() == frozen, "events reached the server through a cut link"

    cutter.restore()
    wait_for(lambda: drained(site, len(ledger.good), [agent]), budget.left(), "all 10000 events stored")
    line = ledger.check(site.sessions, consumer.watch.accepted)
    resent = agent.link.sent - len(ledger.good)
    site.report(line, f"  cut off with stored={frozen}, outbox={depth}; kiosk resends={resent}; "
                      f"{consumer.watch.summary()}; {budget.elapsed():.1f} s")
    assert len(ledger.good) == 10_000, line


# --- 4. kiosk process killed ----------------------------------------------------------------


def test_kiosk_process_killed_mid_publish_and_restarted(site: Site) -> None:
    budget = Budget()
    name = kiosk_name()
    office = build_office(site.sessions, [name])
    consumer = site.consumer()
    ledger = Ledger("kiosk-kill")
    kiosk, config = site.kiosk_process(name)
    kiosk.start()
    feed = Outbox(config["outbox"], name)  # another process's view of the kiosk's outbox file
    try:
        # Events are fed in chunks of 500 while the agent sends, until 1000 are stored; the kill
        # follows the last chunk at once, so it always finds events unsent or unacked, however
        # fast this machine drains them (the agent notices another process's events on its tick).
        chunk = 0
        while site.stored() < 1000:
            assert chunk < 40 and budget.left() > 0, "the kiosk did not get 1000 events stored"
            ledger.add_good(event.id for event in feed.add_many(office.moves(500, seed=chunk)))
            chunk += 1
            time.sleep(0.2)
        ledger.add_good(event.id for event in feed.add_many(office.moves(500, seed=chunk)))
        kiosk.kill()  # SIGKILL: no clean stop, events half sent, the broker publishes the last will
        at_kill, pending = site.stored(), feed.depth()
        assert pending > 0, f"nothing pending at the kill (stored {at_kill})"
        for i in (chunk + 1, chunk + 2):  # the operator goes on scanning: saved locally while the agent is down
            ledger.add_good(event.id for event in feed.add_many(office.moves(250, seed=i)))
        kiosk.start()  # the same config and outbox
        wait_for(lambda: site.stored() >= len(ledger.good) and feed.depth() == 0, budget.left(),
                 f"all {len(ledger.good)} events stored after the kiosk restart")
    finally:
        feed.close()
    line = ledger.check(site.sessions, consumer.watch.accepted)
    site.report(line, f"  killed at stored={at_kill} with {pending} pending; {consumer.watch.summary()}; "
                      f"{budget.elapsed():.1f} s")
    assert consumer.alive(), line


# --- 5. hostile messages mixed in ---------------------------------------------------------


class Hostile:
    """A bare paho client that publishes bad messages on the kiosks' event topics."""

    def __init__(self, site: Site, office: Office, ledger: Ledger) -> None:
        self.site, self.office, self.ledger = site, office, ledger
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"hostile-{uuid.uuid4().hex[:8]}")
        self.client.max_inflight_messages_set(100)
        self.client.connect(*site.broker.address)
        self.client.loop_start()
        self.seq = 0

    def _event(self, kiosk: str, **changes: Any) -> dict[str, Any]:
        self.seq += 1
        event = {"v": 1, "id": str(uuid.uuid4()), "kiosk": kiosk, "seq": self.seq, "boot": "hostile",
                 "at": datetime.now().astimezone().isoformat(), "synced": True, "type": "asset.move",
                 "actor": None, "data": {"tag": self.office.assets[0], "to": self.office.locations[1]}}
        event.update(changes)
        return event

    def messages(self, n: int) -> list[tuple[str, bytes]]:
        """n (topic kiosk, payload) pairs, cycling through the kinds of bad input; each noted in the ledger."""
        kiosks = self.office.kiosks
        tag, to = self.office.assets[1], self.office.locations[2]
        wrong_check = tag[:-1] + ("0" if tag[-1] != "0" else "1")
        makers = [
            ("bad_json", None, lambda k: b"{this is not json"),
            ("bad_json", None, lambda k: b"\xff\xfe\x00garbage"),
            ("bad_json", None, lambda k: b"[1, 2, 3]"),
            ("bad_schema", "id", lambda k: self._event(k, seq="many")),
            ("bad_schema", "id", lambda k: {key: v for key, v in self._event(k).items() if key != "at"}),
            ("bad_schema", "id", lambda k: self._event(k, data={"tag": tag})),
            ("too_large", None, lambda k: self._event(k, data={"tag": tag, "to": to, "pad": "x" * 17_000})),
            ("kiosk_mismatch", "id", lambda k: self._event(kiosks[(kiosks.index(k) + 1) % len(kiosks)])),
            ("unknown_kiosk", "ghost", lambda k: self._event("ghost-1")),
            ("unknown_code", "id", lambda k: self._event(k, data={"tag": str(new_code(Kind.ASSET)), "to": to})),
            ("bad_check", "id", lambda k: self._event(k, data={"tag": wrong_check, "to": to})),
        ]
        out = []
        for i in range(n):
            reason, carries, make = makers[i % len(makers)]
            kiosk = kiosks[i % len(kiosks)]
            body = make(kiosk)
            if isinstance(body, dict):
                if carries:
                    self.ledger.add_bad(reason, body["id"])
                else:
                    self.ledger.add_bad(reason)
                payload = json.dumps(body).encode()
            else:
                self.ledger.add_bad(reason)
                payload = body
            out.append(("ghost-1" if carries == "ghost" else kiosk, payload))
        return out

    def publish(self, messages: list[tuple[str, bytes]], pause: float = 0.01, per_pause: int = 20) -> None:
        infos = []
        for i, (kiosk, payload) in enumerate(messages):
            infos.append(self.client.publish(self.site.topics.events(kiosk), payload, qos=QOS))
            if i % per_pause == per_pause - 1:
                time.sleep(pause)
        for info in infos:
            info.wait_for_publish(30)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_three_kiosks_with_1000_hostile_messages_mixed_in(site: Site) -> None:
    budget = Budget()
    names = [kiosk_name() for _ in range(3)]
    office = build_office(site.sessions, names)
    consumer = site.consumer()
    ledger = Ledger("hostile-mix")
    agents = [site.agent(name) for name in names]
    hostile = Hostile(site, office, ledger)
    site.on_close(hostile.close)
    bad = hostile.messages(1000)
    recorder = Recorder(agents, office, ledger, per_batch=25, pause=0.1, limit=1500)
    recorder.start()
    try:
        hostile.publish(bad, pause=0.05, per_pause=20)  # over the same seconds as the three kiosks
    finally:
        recorded = recorder.finish(min(60, budget.left()), halt=False)
    total_bad = sum(ledger.bad.values())
    wait_for(lambda: drained(site, recorded, agents) and rejected_count(site.sessions) >= total_bad,
             budget.left(), f"{recorded} good events stored and {total_bad} bad ones rejected")

    # Still alive and still accepting: one more event from each kiosk, acked accepted.
    assert consumer.alive(), f"the consumer stopped: {consumer.log_tail()}"
    for agent in agents:
        event = agent.record(*office.moves(1, seed=99)[0])
        ledger.add_good([event.id])
        ack = agent.wait_ack(str(event.id), timeout=min(30, budget.left()))
        assert ack is not None and ack.status == "accepted", f"no accepted ack at the end: {ack}"
    line = ledger.check(site.sessions, consumer.watch.accepted)
    site.report(line, f"  {consumer.watch.summary()}; {budget.elapsed():.1f} s")
    assert consumer.alive(), line
