"""systemd's watchdog for the kiosk agent: READY once up, WATCHDOG pings only while every loop of
the agent turns, so a hung capture loop gets the agent restarted (Restart=always).

A real datagram socket stands in for systemd's NOTIFY_SOCKET (the same protocol, one datagram a
message); the agent runs against the real broker."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from kiosk_support import config_dict, toml_text, wait_for

from kiosk import sdnotify
from kiosk.agent import Agent
from kiosk.cli import _supervised
from kiosk.config import parse_config
from kiosk.scanner.capture import CaptureLoop
from kiosk.scanner.sources import ArraySource


class NotifySocket:
    """Receives what the agent sends to systemd, in order."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "notify.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.settimeout(0.1)
        self.messages: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                continue

    def count(self, message: str) -> int:
        return sum(1 for m in list(self.messages) if m == message)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    # AF_UNIX paths are limited to 108 bytes; pytest's tmp_path can be longer.
    folder = Path(f"/tmp/ag-notify-{uuid.uuid4().hex[:8]}")
    folder.mkdir()
    sock = NotifySocket(folder)
    yield sock
    sock.close()
    sock.path.unlink(missing_ok=True)
    folder.rmdir()


def test_notify_is_a_no_op_outside_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sdnotify.notify("READY=1") is False


def test_notify_reaches_a_path_socket_and_an_abstract_one(monkeypatch: pytest.MonkeyPatch,
                                                          notify_socket: NotifySocket) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify_socket.path))
    assert sdnotify.notify("READY=1")
    name = f"ag-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as abstract:
        abstract.bind("\0" + name)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert sdnotify.notify("WATCHDOG=1")
        assert abstract.recv(100) == b"WATCHDOG=1"
    wait_for(lambda: notify_socket.messages == ["READY=1"], timeout=2)
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify_socket.path) + ".gone")
    assert sdnotify.notify("WATCHDOG=1") is False  # a vanished socket is reported, not raised


@pytest.mark.parametrize(("usec", "pid", "expected"), [
    ("4000000", None, 2.0), ("4000000", "self", 2.0), ("4000000", "1", None), ("0", None, None),
    ("soon", None, None), (None, None, None)])
def test_watchdog_interval_is_half_the_timeout_for_this_process(monkeypatch: pytest.MonkeyPatch, usec: str | None,
                                                                pid: str | None, expected: float | None) -> None:
    for key, value in (("WATCHDOG_USEC", usec), ("WATCHDOG_PID", str(os.getpid()) if pid == "self" else pid)):
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    assert sdnotify.watchdog_interval() == expected


class HangingDecoder:
    """Decodes nothing; blocks on every frame while ``hang`` is set, like a wedged library call."""

    def __init__(self) -> None:
        self.hang = threading.Event()
        self.free = threading.Event()

    def __call__(self, image: Any) -> list[str]:
        if self.hang.is_set():
            self.free.wait()
        return []


def _endless_frames() -> Iterator[np.ndarray]:
    blank = np.zeros((8, 8, 3), np.uint8)
    for _ in itertools.count():
        time.sleep(0.01)
        yield blank


def test_a_capture_loop_with_a_hung_decoder_is_stalled() -> None:
    decoder = HangingDecoder()
    loop = CaptureLoop(ArraySource(_endless_frames()), decoder=decoder)
    loop.start()
    try:
        time.sleep(0.3)
        assert loop.stalled(0.2) is None
        decoder.hang.set()
        reason = wait_for(lambda: loop.stalled(0.2), timeout=3)
        assert reason.startswith("decode loop stuck")
    finally:
        decoder.free.set()
        loop.stop()
        loop.join(2)


def test_watchdog_pings_stop_while_a_loop_hangs_and_resume_after(
        monkeypatch: pytest.MonkeyPatch, notify_socket: NotifySocket, tmp_path: Path, kiosk_id: str,
        prefix: str) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify_socket.path))
    monkeypatch.setenv("WATCHDOG_USEC", "400000")  # ping every 0.2 s; a turn older than 0.4 s is a hang
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    agent = Agent(parse_config(config_dict(tmp_path, kiosk_id, prefix)), screen=False, scanners=False)
    agent.start()
    decoder = HangingDecoder()
    loop = CaptureLoop(ArraySource(_endless_frames()), decoder=decoder)
    loop.start()
    agent._scanner_handles.append(loop)  # as _start_scanners does for a configured camera
    stop = threading.Event()
    supervisor = threading.Thread(target=_supervised, args=(agent, stop), daemon=True)
    supervisor.start()
    try:
        wait_for(lambda: notify_socket.count("WATCHDOG=1") >= 3, timeout=5)
        assert notify_socket.messages[0].startswith("READY=1\nSTATUS=kiosk ")
        decoder.hang.set()
        wait_for(lambda: any(m.startswith("STATUS=hung: decode loop stuck") for m in notify_socket.messages),
                 timeout=5)
        pings = notify_socket.count("WATCHDOG=1")
        time.sleep(1.0)  # five ping intervals: none may come while the loop hangs
        assert notify_socket.count("WATCHDOG=1") == pings
        decoder.free.set()
        decoder.hang.clear()
        wait_for(lambda: notify_socket.count("WATCHDOG=1") > pings, timeout=5)
    finally:
        decoder.free.set()
        stop.set()
        supervisor.join(5)
        loop.stop()
        agent.stop()
    wait_for(lambda: notify_socket.messages[-1] == "STOPPING=1", timeout=2)


def test_the_run_command_tells_systemd_ready_pings_and_stopping(
        notify_socket: NotifySocket, tmp_path: Path, kiosk_id: str, prefix: str) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text(toml_text(config_dict(tmp_path, kiosk_id, prefix)))
    env = {**os.environ, "NOTIFY_SOCKET": str(notify_socket.path), "WATCHDOG_USEC": "400000"}
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--config", str(config)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: notify_socket.count("WATCHDOG=1") >= 2, timeout=15)
        assert notify_socket.messages[0].startswith("READY=1")
        assert f"MAINPID={proc.pid}" in notify_socket.messages[0]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert notify_socket.messages[-1] == "STOPPING=1"
