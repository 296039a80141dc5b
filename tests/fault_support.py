"""Helpers for the fault tests (tests/test_faults.py): real processes around a private broker.

- ``ConsumerProcess``: ``python -m server consume`` as a child process, configured through
  ASSETGATE_* variables, that a test may SIGKILL and start again (same client id, so the
  broker keeps its persistent session meanwhile).
- ``KioskProcess``: ``python -m kiosk run --no-screen`` on a TOML config; events are fed
  through its outbox file from the test process.
- ``Cutter``: a TCP proxy between one kiosk and the broker that the test can cut (every
  connection dropped, new ones closed at once) and restore: a network partition of one kiosk.
- ``Ledger``: what the kiosks generated (good ids, bad messages per reason) and the final
  check against the server's tables: none lost, none doubled, printed as one line.

Every wait is bounded and fails with what it was waiting for.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from contract.topics import QOS, Topics
from server.audit import SYSTEM
from server.models import AssetEvent, KioskEvent, RejectedDrop, RejectedMessage
from server.services import assets, directory, kiosks
from tests.brokers import free_port

if TYPE_CHECKING:
    from kiosk.agent import Agent

ROOT = Path(__file__).resolve().parents[1]
TEST_TIMEOUT = 120.0  # no single wait of a fault test may take longer than this


class Budget:
    """One time budget for a whole test: every wait takes what is left of it."""

    def __init__(self, seconds: float = TEST_TIMEOUT) -> None:
        self.seconds = seconds
        self.start = time.monotonic()

    def left(self) -> float:
        left = self.start + self.seconds - time.monotonic()
        assert left > 0, f"the test's budget of {self.seconds:.0f} s is spent"
        return left

    def elapsed(self) -> float:
        return time.monotonic() - self.start


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll until predicate() is truthy; fail with ``what`` (and the last value) on timeout."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last value: {value!r})")


# --- the office: locations, assets, enrolled kiosks --------------------------------------


@dataclass
class Office:
    locations: list[str]
    assets: list[str]
    kiosks: list[str]

    def moves(self, n: int, seed: int = 0) -> list[tuple[str, None, dict[str, str]]]:
        """n asset.move events between storeroom and office locations: always legal, so accepted."""
        rng = random.Random(seed)
        return [("asset.move", None, {"tag": rng.choice(self.assets), "to": rng.choice(self.locations)})
                for _ in range(n)]


def build_office(sessions: sessionmaker[Session], kiosk_names: Iterable[str], n_assets: int = 300) -> Office:
    with sessions() as session, session.begin():
        directory.get_or_create_category(session, SYSTEM, "Laptop")
        store = directory.create_location(session, SYSTEM, "Storeroom", "storeroom")
        rooms = [directory.create_location(session, SYSTEM, f"Room {i}").code for i in range(1, 4)]
        tags = [assets.create_asset(session, SYSTEM, f"Laptop {i}", "Laptop", store.code).code
                for i in range(n_assets)]
        names = list(kiosk_names)
        for name in names:
            kiosks.enroll(session, SYSTEM, name, "storeroom", store.code)
    return Office([store.code, *rooms], tags, names)


def kiosk_name() -> str:
    return f"k-{uuid.uuid4().hex[:10]}"


# --- counting what the server stored ------------------------------------------------------


def stored_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(KioskEvent)) or 0


def rejected_count(sessions: sessionmaker[Session]) -> int:
    """Refused messages: those logged and those over their kiosk's rate, only counted."""
    with sessions() as session:
        logged = session.scalar(select(func.count()).select_from(RejectedMessage)) or 0
        return logged + (session.scalar(select(func.sum(RejectedDrop.dropped))) or 0)


@dataclass
class Ledger:
    """What the kiosks (and the hostile client) generated, checked against the server's tables."""

    name: str
    good: set[str] = field(default_factory=set)
    generated: int = 0  # good events generated, counting any id twice (must equal len(good))
    bad: Counter[str] = field(default_factory=Counter)  # reason -> messages sent
    bad_ids: dict[str, str] = field(default_factory=dict)  # event id -> reason, for bad events with an id

    def add_good(self, ids: Iterable[Any]) -> None:
        for event_id in ids:
            self.good.add(str(event_id))
            self.generated += 1

    def add_bad(self, reason: str, event_id: str | None = None) -> None:
        self.bad[reason] += 1
        if event_id is not None:
            self.bad_ids[event_id] = reason

    def check(self, sessions: sessionmaker[Session], accepted: set[str] | None = None) -> str:
        """Assert none lost, none doubled, every bad one rejected with its reason; return the line.

        ``accepted``: the ids the server acked as accepted; each must be stored (ack after commit).
        """
        with sessions() as session:
            stored_ids = list(session.scalars(select(KioskEvent.id)))
            history = session.execute(
                select(func.count(AssetEvent.id), func.count(func.distinct(AssetEvent.kiosk_event_id)))
                .where(AssetEvent.kiosk_event_id.is_not(None))).one()
            logged = Counter(dict(session.execute(
                select(RejectedMessage.reason, func.count()).group_by(RejectedMessage.reason)).all()))
            # Refusals over a kiosk's rate are answered and counted, not logged (services/rejected.py).
            unlogged = Counter(dict(session.execute(
                select(RejectedDrop.reason, func.sum(RejectedDrop.dropped)).group_by(RejectedDrop.reason)).all()))
            rejected_ids = dict(session.execute(
                select(RejectedMessage.event_id, RejectedMessage.reason)
                .where(RejectedMessage.event_id.is_not(None))).all())
            rejected_good = session.scalar(select(func.count()).select_from(RejectedMessage)
                                           .where(RejectedMessage.event_id.in_(self.good))) if self.good else 0
        stored = set(stored_ids)
        lost = len(self.good - stored)
        extra = len(stored - self.good)  # stored but never generated (a bad one let through)
        duplicates = (len(stored_ids) - len(stored)) + (history[0] - history[1])
        line = (f"faults[{self.name}]: generated={self.generated} stored={len(stored_ids)} "
                f"duplicates={duplicates} lost={lost}")
        reasons = logged + unlogged
        if self.bad:
            line += (f" bad_sent={sum(self.bad.values())} rejected={sum(reasons.values())} "
                     f"by_reason={dict(sorted(reasons.items()))} not_logged={sum(unlogged.values())}")
        assert self.generated == len(self.good), f"{line}: the kiosks generated a duplicate id"
        assert lost == 0 and extra == 0 and duplicates == 0, f"{line}; extra={extra}"
        assert history[0] == len(self.good), f"{line}: asset_events from kiosks={history[0]}"
        assert rejected_good == 0, f"{line}: {rejected_good} good events were rejected"
        assert reasons == self.bad, f"{line}: rejected per reason {dict(reasons)} != sent {dict(self.bad)}"
        unstored = (accepted or set()) - stored
        assert not unstored, f"{line}: {len(unstored)} events acked accepted but not stored: {sorted(unstored)[:3]}"
        wrong = {i: (r, rejected_ids[i]) for i, r in self.bad_ids.items() if i in rejected_ids and rejected_ids[i] != r}
        assert not wrong, f"{line}: bad events logged with another reason: {list(wrong.items())[:5]}"
        missing = sum(1 for i in self.bad_ids if i not in rejected_ids)
        assert missing <= sum(unlogged.values()), f"{line}: {missing} bad events neither logged nor counted"
        return line


# --- processes ----------------------------------------------------------------------------


def _child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSETGATE_")}
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class Watch:
    """A bare observer: the server's retained status (online / offline, the consumer's last
    will) and the status of every ack the server sends (accepted, duplicate, rejected)."""

    def __init__(self, port: int, prefix: str) -> None:
        self.states: list[str] = []
        self.acks: Counter[str] = Counter()  # ack messages per status (MQTT QoS 1 may repeat one)
        self.accepted: set[str] = set()  # ids the server said it stored
        self._seen: set[tuple[str, str]] = set()
        self.repeats = 0  # the same (id, status) ack delivered again
        self._lock = threading.Lock()
        topics = Topics(prefix)
        self._status_topic = topics.server_status
        # A persistent session: acks sent while the broker restarts are counted too.
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"watch-{uuid.uuid4().hex[:10]}",
                                  clean_session=False)
        self.client.max_inflight_messages_set(1000)
        all_acks = topics.all_events().removesuffix("/events") + "/acks"  # contract/ has no all_acks
        self.client.on_connect = lambda c, *_: c.subscribe([(topics.server_status, QOS), (all_acks, QOS)])
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        if not message.payload:
            return
        body = json.loads(message.payload)
        with self._lock:
            if message.topic == self._status_topic:
                self.states.append(body["state"])
            else:
                self.acks[body["status"]] += 1
                if body["id"] is not None:
                    key = (body["id"], body["status"])
                    self.repeats += key in self._seen
                    self._seen.add(key)
                    if body["status"] == "accepted":
                        self.accepted.add(body["id"])

    def summary(self) -> str:
        with self._lock:
            return f"ack messages {dict(self.acks)}, repeated {self.repeats}"

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class ConsumerProcess:
    """``python -m server consume`` against the test database and a private broker."""

    def __init__(self, folder: Path, database_url: str, port: int, prefix: str) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.log_path = folder / "consumer.log"
        self.env = _child_env({
            "ASSETGATE_DATABASE_URL": database_url,
            "ASSETGATE_INSTANCE_PATH": str(folder / "instance"),
            "ASSETGATE_SECRET_KEY": "fault-tests",
            "ASSETGATE_MQTT_HOST": "127.0.0.1",
            "ASSETGATE_MQTT_PORT": str(port),
            "ASSETGATE_TOPIC_PREFIX": prefix,
            "ASSETGATE_MQTT_CLIENT_ID": f"consumer-{uuid.uuid4().hex[:10]}",  # fixed across restarts
            "ASSETGATE_LOG_LEVEL": "INFO",
        })
        self.watch = Watch(port, prefix)
        self.process: subprocess.Popen[bytes] | None = None
        self.running = False  # started by the test and not stopped or killed by it since

    def start(self, timeout: float = 30) -> ConsumerProcess:
        seen = len(self.watch.states)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "server", "consume"], cwd=ROOT, env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT)
        self.running = True
        # Subscribed once it has announced itself online (it subscribes just before).
        wait_for(lambda: self.process.poll() is not None or "online" in self.watch.states[seen:], timeout,
                 "the consumer to come online")
        assert self.process.poll() is None, f"consumer exited at start: {self.log_tail()}"
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def assert_running(self) -> None:
        """Fail at once (not at the end of a long wait) if the consumer went away by itself."""
        if self.running and not self.alive():
            assert self.process is not None
            code = self.process.returncode
            how = ("exit 0: it was asked to stop (SIGTERM or SIGINT) by someone other than this test"
                   if code == 0 else f"exit code {code}")
            raise AssertionError(f"the consumer process {self.process.pid} ended on its own ({how}); "
                                 f"log:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no clean-up at all; the broker publishes the consumer's last will."""
        assert self.process is not None
        self.running = False
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        self.running = False
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def close(self) -> None:
        self.stop()
        self.watch.close()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def kiosk_config(folder: Path, name: str, prefix: str, port: int, **broker: Any) -> dict[str, Any]:
    """A kiosk config as a dict (for kiosk.config.parse_config or a TOML file)."""
    return {
        "kiosk": name,
        "mode": "storeroom",
        "prefix": prefix,
        "outbox": str(folder / f"{name}.db"),
        "broker": {"host": "127.0.0.1", "port": port, "session_expiry": 600, "reconnect_min": 1,
                   "reconnect_max": 1, "keepalive": 10, **broker},
        "screen": {"enabled": False, "port": 0},
    }


def toml_text(data: dict[str, Any]) -> str:
    """Just enough TOML for kiosk_config (strings, numbers, one level of tables)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return str(v)
        return json.dumps(str(v))

    lines = [f"{k} = {value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for k, v in data.items():
        if isinstance(v, dict):
            lines += [f"\n[{k}]", *(f"{kk} = {value(vv)}" for kk, vv in v.items())]
    return "\n".join(lines) + "\n"


class KioskProcess:
    """``python -m kiosk run --config FILE --no-screen``; killed with SIGKILL when the test says."""

    def __init__(self, config_file: Path) -> None:
        self.config_file = config_file
        self.log_path = config_file.with_suffix(".log")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> KioskProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps its own copy of the fd
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "kiosk", "run", "--config", str(self.config_file), "--no-screen"],
                cwd=ROOT, env=_child_env({}), stdout=subprocess.PIPE, stderr=log)
        finally:
            log.close()
        assert self.process.stdout is not None
        line = _readline(self.process.stdout, timeout)
        assert " running" in line, f"kiosk did not start: {line!r} {self.log_path.read_text(errors='replace')}"
        return self

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self._close_pipe()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._close_pipe()

    def _close_pipe(self) -> None:
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()


def _readline(stream: Any, timeout: float) -> str:
    """One line from a child's stdout, or "" after timeout (the read runs in a helper thread)."""
    result: list[bytes] = []
    reader = threading.Thread(target=lambda: result.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return result[0].decode(errors="replace") if result else ""


# --- a network cut between one kiosk and the broker --------------------------------------


class Cutter:
    """A TCP proxy 127.0.0.1:port -> the broker that can be cut and restored.

    cut(): every open connection is dropped (no MQTT DISCONNECT: the broker sees a dead
    socket, as with a pulled cable) and new connections are closed at once until restore().
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._open = threading.Event()
        self._open.set()
        self._closing = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(0.2)
        self._thread = threading.Thread(target=self._accept, name="cutter", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self._open.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            for sock in (client, upstream):
                sock.settimeout(None)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self._open.clear()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def restore(self) -> None:
        self._open.set()

    def close(self) -> None:
        self._closing = True
        self.cut()
        self._listener.close()
        self._thread.join(2)


# --- kiosks recording in the background -------------------------------------------------


class Recorder(threading.Thread):
    """Records asset.move events on some agents in small batches, at a steady pace, until told."""

    def __init__(self, agents: list[Agent], office: Office, ledger: Ledger, per_batch: int = 25,
                 pause: float = 0.05, limit: int = 1_000_000) -> None:
        super().__init__(name="recorder", daemon=True)
        self.agents, self.office, self.ledger = agents, office, ledger
        self.per_batch, self.pause, self.limit = per_batch, pause, limit
        self.halt = threading.Event()
        self.error: BaseException | None = None
        self.recorded = 0

    def run(self) -> None:
        batch = 0
        try:
            while not self.halt.is_set() and self.recorded < self.limit:
                for agent in self.agents:
                    events = agent.record_many(self.office.moves(self.per_batch, seed=batch))
                    self.ledger.add_good(event.id for event in events)
                    self.recorded += len(events)
                    batch += 1
                time.sleep(self.pause)
        except BaseException as exc:  # reported by finish()
            self.error = exc

    def finish(self, timeout: float, halt: bool = True) -> int:
        """Stop recording (or, with halt=False, let it reach its limit) and return the count."""
        if halt:
            self.halt.set()
        self.join(timeout)
        assert not self.is_alive(), "the recorder did not stop"
        assert self.error is None, f"recording failed: {self.error!r}"
        return self.recorded
