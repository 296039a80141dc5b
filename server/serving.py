"""`assetgate serve` in production: gunicorn for the web, and a supervisor that keeps the consumer running.

Process tree of ``assetgate serve``::

    assetgate serve                  the supervisor (this module's ``Supervisor``)
    ├── assetgate serve --no-consumer    gunicorn's master (``WebServer``) ── N workers, each create_app()
    └── assetgate consume                the consumer's network side ── its writer process

gunicorn's master reaps every child of its process (``waitpid(-1)``), so the consumer cannot live
beside it in one process: the supervisor is a process of its own that owns both. When the consumer
dies it is started again after a back-off (``Backoff``); when the web server ends, so does the whole
service (a port already taken must not be retried for ever: the service manager decides). SIGTERM or
SIGINT to the supervisor stops both children in order and waits for them. The children run in their
own process group, so a Ctrl-C reaches only the supervisor, and on Linux they get SIGTERM if the
supervisor itself is killed, so they are never left behind.
"""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from server.config import Settings

log = logging.getLogger("assetgate.serve")
STOP_TIMEOUT_S = 35.0  # gunicorn lets requests finish for up to 30 s (graceful_timeout)
PR_SET_PDEATHSIG = 1


class WebServer(BaseApplication):
    """gunicorn, embedded: the app is built by ``create_app`` from the settings already validated, in
    each worker after the fork (so no worker shares a database connection with another)."""

    def __init__(self, settings: Settings, host: str, port: int, workers: int) -> None:
        self.settings = settings
        self.options = {
            "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
            "workers": workers,
            "proc_name": "assetgate-web",
            # X-Forwarded-* are the app's business (the behind_proxy setting), not gunicorn's.
            "forwarded_allow_ips": "",
            "graceful_timeout": 30,
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        if "control_socket_disable" in self.cfg.settings:  # gunicorn >= 25: one fixed socket path per user
            self.cfg.set("control_socket_disable", True)

    def load(self) -> Flask:
        from server import create_app

        return create_app(self.settings)


@dataclass
class Backoff:
    """Restart delays: ``first`` seconds, doubling up to ``cap``; back to ``first`` once a run has
    lasted ``stable_s`` (a consumer that ran for a while and then died is a new incident, not a loop)."""

    first: float = 1.0
    cap: float = 60.0
    stable_s: float = 60.0
    _next: float = 0.0

    def delay(self, ran_s: float) -> float:
        """The wait before the next start, given how long the run that just ended lasted."""
        if ran_s >= self.stable_s or not self._next:
            self._next = self.first
        delay = self._next
        self._next = min(self._next * 2, self.cap)
        return delay


class Companion:
    """A process that runs beside the web server (the consumer, the gate's scheduler): restarted with
    back-off whenever it dies, each death and restart logged."""

    def __init__(self, name: str, command: Sequence[str], backoff: Backoff) -> None:
        self.name, self.command, self.backoff = name, list(command), backoff
        self.process: subprocess.Popen[bytes] | None = None
        self._since = 0.0
        self._restart_at: float | None = None

    def start(self) -> None:
        self.process = _spawn(self.command)
        self._since = time.monotonic()
        self._restart_at = None
        log.info("%s started (pid %d)", self.name, self.process.pid)

    def watch(self) -> None:
        if self._restart_at is not None:
            if time.monotonic() >= self._restart_at:
                self.start()
            return
        assert self.process is not None
        exit_code = self.process.poll()
        if exit_code is None:
            return
        ran = time.monotonic() - self._since
        delay = self.backoff.delay(ran)
        log.error("%s (pid %d) died after %.1f s: %s; restarting it in %.0f s",
                  self.name, self.process.pid, ran, _how(exit_code), delay)
        self._restart_at = time.monotonic() + delay


class Supervisor:
    """Runs the web server and its companions (the consumer; the gate's scheduler) as child processes
    until told to stop; a companion that dies is restarted, the web server's end ends everything."""

    def __init__(self, web_command: Sequence[str], consumer_command: Sequence[str] | None = None,
                 backoff: Backoff | None = None, poll_s: float = 0.2,
                 companions: Mapping[str, Sequence[str]] | None = None) -> None:
        self.web_command = list(web_command)
        commands = {**({"consumer": consumer_command} if consumer_command else {}), **(companions or {})}
        self.companions = [Companion(name, command, backoff or Backoff()) for name, command in commands.items()]
        self.poll_s = poll_s
        self._stopping = False
        self.web: subprocess.Popen[bytes] | None = None

    @property
    def consumer(self) -> subprocess.Popen[bytes] | None:
        return next((c.process for c in self.companions if c.name == "consumer"), None)

    def request_stop(self, signum: int = signal.SIGTERM, _frame: Any = None) -> None:
        if not self._stopping:
            log.info("%s received: stopping the web server and its companions", signal.Signals(signum).name)
        self._stopping = True

    def run(self) -> int:
        """Supervise until SIGTERM/SIGINT (exit 0) or until the web server ends (its exit code, at least 1)."""
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        code = 0
        try:
            self.web = _spawn(self.web_command)
            log.info("web server started (pid %d)", self.web.pid)
            for companion in self.companions:
                companion.start()
            while not self._stopping:
                time.sleep(self.poll_s)
                web_code = self.web.poll()
                if web_code is not None:
                    log.error("web server (pid %d) ended: %s; stopping", self.web.pid, _how(web_code))
                    code = web_code or 1
                    break
                for companion in self.companions:
                    companion.watch()
        finally:
            self._stop_children()
        return code

    def _stop_children(self) -> None:
        everyone = [self.web, *(c.process for c in self.companions)]
        children = [p for p in everyone if p is not None and p.poll() is None]
        for child in children:
            child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("pid %d did not stop within %.0f s; killing it", child.pid, STOP_TIMEOUT_S)
                child.kill()
                child.wait()
        log.info("stopped")


def _spawn(command: Sequence[str]) -> subprocess.Popen[bytes]:
    # Own process group: a terminal's Ctrl-C goes to the supervisor alone, which stops the children in order.
    return subprocess.Popen(list(command), process_group=0, preexec_fn=_die_with_parent())


def _die_with_parent() -> Callable[[], None] | None:
    """Linux: the child gets SIGTERM when the supervisor dies, even by SIGKILL (no orphans)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)

    def set_death_signal() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    return set_death_signal


def _how(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
