"""`assetgate serve` as a user runs it: gunicorn on a port, the consumer as its own supervised process.

Real processes throughout: the command is started as a subprocess, killed and stopped with signals,
and the process tree is read from /proc.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import func, select

from contract.topics import Topics
from server.audit import SYSTEM
from server.models import KioskEvent
from server.services import assets, directory, kiosks
from tests.brokers import free_port
from tests.peers import KioskPeer

pytestmark = pytest.mark.broker


def _wait_http(url: str, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return int(response.status)
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


def _wait(check: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _descendants(pid: int) -> list[int]:
    tree, found, todo = _children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


class Served:
    """`assetgate serve ARGS` as a subprocess, with its log in a file."""

    def __init__(self, tmp_path: Path, env: dict[str, str], *args: str) -> None:
        self.port = free_port()
        self.log_path = tmp_path / f"serve-{self.port}.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "server", "serve", "--port", str(self.port),
                                             *args], env=env, stdout=log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[Any, dict[str, str]]:
        request = urllib.request.Request(self.url + path, headers=headers or {})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response), dict(response.headers)

    def child(self, marker: str) -> int | None:
        return next((pid for pid in _children().get(self.process.pid, []) if marker in _cmdline(pid)), None)

    def stop(self, timeout: float = 45) -> int:
        """SIGTERM, as systemd sends it; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"serve did not stop on SIGTERM:\n{self.log}") from None


def test_serve_runs_web_and_consumer(tmp_path: Path, database_url: str, broker: tuple[str, int]) -> None:
    port = free_port()
    prefix = f"test/{uuid.uuid4().hex[:8]}/assetgate/v1"
    env = {**os.environ, "ASSETGATE_INSTANCE_PATH": str(tmp_path), "ASSETGATE_DATABASE_URL": database_url,
           "ASSETGATE_TOPIC_PREFIX": prefix, "ASSETGATE_MQTT_CLIENT_ID": f"serve-{uuid.uuid4().hex[:8]}"}
    subprocess.run([sys.executable, "-m", "server", "demo", "--admin-password", "a-long-password"], env=env,
                   check=True, capture_output=True, timeout=60)
    with open(tmp_path / "serve.log", "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "server", "serve", "--port", str(port)], env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    seen: list[dict[str, str]] = []
    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"w-{uuid.uuid4().hex[:8]}")
    watcher.on_message = lambda _c, _u, msg: msg.payload and seen.append(json.loads(msg.payload))
    watcher.connect(*broker)
    watcher.subscribe(Topics(prefix).server_status, qos=1)
    watcher.loop_start()
    try:
        assert _wait_http(f"http://127.0.0.1:{port}/login") == 200
        deadline = time.monotonic() + 20
        while not any(s.get("state") == "online" for s in seen) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert any(s.get("state") == "online" for s in seen), "the consumer did not come online"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=5) as response:
            assert json.load(response)["info"]["title"] == "AssetGate API"
    finally:
        process.send_signal(signal.SIGTERM)  # as systemd or timeout stop it: the consumer must go too
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        watcher.publish(Topics(prefix).server_status, b"", qos=1, retain=True).wait_for_publish(5)
        watcher.loop_stop()
        watcher.disconnect()
    log_text = (tmp_path / "serve.log").read_text(errors="replace")
    assert any(s.get("state") == "offline" for s in seen), f"the consumer did not say offline on stop:\n{log_text}"


@pytest.fixture
def office(sessions: Any) -> dict[str, str]:
    with sessions() as session, session.begin():
        directory.get_or_create_category(session, SYSTEM, "Laptop")
        store = directory.create_location(session, SYSTEM, "Storeroom", "storeroom")
        room = directory.create_location(session, SYSTEM, "Room 7")
        asset = assets.create_asset(session, SYSTEM, "ThinkPad", "Laptop", store.code)
        kiosks.enroll(session, SYSTEM, "store-1", "storeroom", store.code)
        return {"room": room.code, "asset": asset.code}


@pytest.fixture
def serve_env(settings_overrides: dict[str, Any]) -> dict[str, str]:
    env = {**os.environ, "ASSETGATE_HEARTBEAT_INTERVAL_S": "0.5"}
    for key in ("instance_path", "database_url", "secret_key", "topic_prefix", "mqtt_host", "mqtt_port",
                "mqtt_client_id"):
        env[f"ASSETGATE_{key.upper()}"] = str(settings_overrides[key])
    return env


@pytest.fixture
def peer(settings_overrides: dict[str, Any], broker: tuple[str, int]) -> Iterator[KioskPeer]:
    kiosk = KioskPeer(broker[0], broker[1], settings_overrides["topic_prefix"], "store-1")
    yield kiosk
    kiosk.close()


def _stored(sessions: Any) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(KioskEvent)) or 0


def test_gunicorn_workers_a_supervised_consumer_and_a_clean_stop(tmp_path: Path, serve_env: dict[str, str],
                                                                  office: dict[str, str], tokens: Any,
                                                                  sessions: Any, peer: KioskPeer) -> None:
    auditor = tokens.headers("auditor")
    served = Served(tmp_path, serve_env, "--workers", "3")
    everything: set[int] = set()
    try:
        assert _wait_http(f"{served.url}/login") == 200
        _, headers = served.get("/api/v1/openapi.json")
        assert headers["Server"].startswith("gunicorn")
        web = _wait(lambda: served.child("--no-consumer"), "the web server process")
        assert _wait(lambda: len(_children().get(web, [])) == 3, "3 gunicorn workers")

        def ingestion() -> dict[str, Any]:
            return served.get("/api/v1/kiosks", auditor)[0]["ingestion"]

        first = _wait(lambda: ingestion()["state"] == "up" and ingestion(), "ingestion up", timeout=60)
        assert first["pid"] == served.child("server consume")  # the beat comes from the supervised consumer
        move = {"tag": office["asset"], "to": office["room"]}
        before = [peer.event("asset.move", move) for _ in range(5)]
        assert [peer.roundtrip(event)["status"] for event in before] == ["accepted"] * 5

        # Frozen, it is alive but stores nothing: the beat goes stale and the API says so.
        os.kill(first["pid"], signal.SIGSTOP)
        try:
            down = _wait(lambda: ingestion()["state"] == "down" and ingestion(), "ingestion down while frozen")
            assert down["age_s"] >= 1.5 and down["pid"] == first["pid"]
        finally:
            os.kill(first["pid"], signal.SIGCONT)
        _wait(lambda: ingestion()["state"] == "up", "ingestion up again after SIGCONT")
        assert served.child("server consume") == first["pid"]  # a frozen consumer is not restarted

        # Killed, it is restarted; what kiosks sent meanwhile waits in the broker and is stored once.
        os.kill(first["pid"], signal.SIGKILL)
        during = [peer.event("asset.move", move) for _ in range(5)]
        for event in during:
            peer.send(event)
        second = _wait(lambda: (s := ingestion())["state"] == "up" and s["pid"] != first["pid"] and s,
                       "a restarted consumer", timeout=60)
        assert second["pid"] == served.child("server consume")
        acks = {}
        for _ in during:
            ack = peer.ack(timeout=30)
            acks[ack["id"]] = ack["status"]
        assert acks == {str(event.id): "accepted" for event in during}
        assert peer.roundtrip(before[0])["status"] == "duplicate"
        assert _stored(sessions) == 10
        log = served.log
        assert f"consumer (pid {first['pid']}) died" in log and "killed by SIGKILL" in log
        assert f"consumer started (pid {second['pid']})" in log

        everything = {served.process.pid, *_descendants(served.process.pid)}
        assert len(everything) >= 7  # supervisor, gunicorn master + 3 workers, consumer + its writer
    finally:
        code = served.stop()
    assert code == 0, served.log
    left = sorted(pid for pid in everything if _alive(pid))
    assert left == [], f"left running after SIGTERM: {[(p, _cmdline(p)) for p in left]}\n{served.log}"


def test_dev_server_ingestion_down_without_a_broker_and_no_orphans(tmp_path: Path, serve_env: dict[str, str],
                                                                   tokens: Any) -> None:
    env = {**serve_env, "ASSETGATE_MQTT_PORT": str(free_port())}  # nothing listens there
    served = Served(tmp_path, env, "--dev")
    everything: set[int] = set()
    try:
        assert _wait_http(f"{served.url}/login") == 200
        body, headers = served.get("/api/v1/kiosks", tokens.headers("auditor"))
        assert headers["Server"].startswith("Werkzeug")
        consumer = _wait(lambda: served.child("server consume"), "the consumer process")
        time.sleep(2)  # four beats' time: a consumer that could reach the broker would have beaten
        body, _ = served.get("/api/v1/kiosks", tokens.headers("auditor"))
        assert body["ingestion"]["state"] == "down" and body["ingestion"]["last_beat"] is None
        assert _alive(consumer) and served.child("server consume") == consumer  # running, not connected
        everything = set(_descendants(served.process.pid))
        # The supervisor killed outright, with no chance to stop anything: its children go with it.
        served.process.kill()
        served.process.wait(timeout=10)
        _wait(lambda: not [pid for pid in everything if _alive(pid)], "the children to end with the supervisor")
    finally:
        served.stop()
    assert not [pid for pid in everything if _alive(pid)], served.log


def test_a_web_server_that_cannot_start_ends_the_service(tmp_path: Path, serve_env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        log_path = tmp_path / "taken.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen([sys.executable, "-m", "server", "serve", "--port", str(port)],
                                       env=serve_env, stdout=log, stderr=subprocess.STDOUT)
        everything: set[int] = set()
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            everything |= set(_descendants(process.pid))
            time.sleep(0.2)
        if process.poll() is None:
            process.kill()
    text = log_path.read_text(errors="replace")
    assert process.returncode not in (None, 0), text
    assert "web server" in text and "ended" in text
    assert not [pid for pid in everything if _alive(pid)], text  # the consumer was stopped with it
