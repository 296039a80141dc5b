"""The kiosk agent: ties scans and screen input to workflows, the outbox, the link and the screen.

In-process use (tests, the CLI)::

    agent = Agent(load_config("kiosk.toml"))
    agent.start()                      # outbox lock, MQTT link, screen (if enabled)
    event = agent.record("asset.checkin", None, {"tag": "A-..."})
    ack = agent.wait_ack(str(event.id), timeout=5)
    agent.stop()

Scans come from any source as text through ``handle_scan``; the scanner package (camera,
USB) is imported lazily, so the agent runs on a machine without OpenCV.
"""

from __future__ import annotations

import fcntl
import importlib
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from contract.messages import Event, KioskConfig, ServerStatus
from kiosk import acktext
from kiosk.config import AgentConfig
from kiosk.i18n import translations
from kiosk.link import Link, LinkListener
from kiosk.onsite import OnSiteSnapshot
from kiosk.outbox import AckRecord, Outbox
from kiosk.screen import Screen
from kiosk.workflows import Outcome, make_workflow

log = logging.getLogger("kiosk.agent")

LEVEL_RANK = {"ok": 0, "info": 0, "pending": 1, "warn": 2, "error": 3}


class AgentBusy(RuntimeError):
    """Another agent process holds this outbox (and would fight over the MQTT client id)."""


class OutboxLock:
    """An exclusive flock next to the outbox; released by the kernel if the process dies."""

    def __init__(self, outbox: Path) -> None:
        self.path = outbox.with_name(outbox.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AgentBusy(f"another kiosk agent is running on {self.path.with_suffix('')}") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def held_elsewhere(self) -> bool:
        try:
            self.acquire()
        except AgentBusy:
            return True
        self.release()
        return False

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Agent(LinkListener):
    def __init__(self, config: AgentConfig, *, screen: bool | None = None, scanners: bool = True) -> None:
        self.config = config
        self.kiosk = config.kiosk
        self.outbox = Outbox(config.outbox, config.kiosk)
        self.link = Link(config, self.outbox, self)
        self.tr = translations(config.language)
        self._ = self.tr.gettext
        self.workflow = make_workflow(
            config.mode, self.record, location=config.location, timeout=config.workflow_timeout,
            language=config.language,
        )
        # A gate keeps who is on site, for a roll call without the server (kiosk.onsite).
        self.on_site: OnSiteSnapshot | None = None
        if config.mode == "gate":
            self.on_site = OnSiteSnapshot(config.outbox.with_name(config.outbox.name + ".onsite.json"))
            self.workflow.on_site = self.on_site.rows  # type: ignore[attr-defined]
            # The vehicle step judges dispatches from the config only while the server cannot be reached.
            self.workflow.online = self.reachable  # type: ignore[attr-defined]
        self._want_screen = config.screen.enabled if screen is None else screen
        self._want_scanners = scanners
        self.screen: Screen | None = None
        self._lock = threading.RLock()  # one input at a time, from scanners and the screen
        self._acked = threading.Condition()
        self._file_lock = OutboxLock(config.outbox)
        self.last: dict[str, Any] | None = None
        self.server_status: ServerStatus | None = None
        self.server_config: KioskConfig | None = None
        self.link_reason = "connecting"
        self._scanner_handles: list[Any] = []

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        self._file_lock.acquire()
        self.link.start()
        if self._want_screen:
            self.screen = Screen(self, self.config.screen.host, self.config.screen.port, self.config.language)
            self.screen.start()
        if self._want_scanners:
            self._start_scanners()

    def stop(self) -> None:
        for handle in self._scanner_handles:
            stop = getattr(handle, "stop", None)
            if callable(stop):
                stop()
        if self.screen is not None:
            self.screen.stop()
        self.link.stop()
        self.outbox.close()
        self._file_lock.release()

    def __enter__(self) -> Agent:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def health(self, limit: float) -> list[str]:
        """What is hung, for the watchdog: empty while every loop of the agent turns.

        Checked: the link's housekeeping (it takes the link lock each turn), each capture loop
        (decoder turns, camera frames), and the input lock that scans and the screen take.
        """
        problems = [p for p in (self.link.stalled(limit),) if p]
        for handle in self._scanner_handles:
            stalled = getattr(handle, "stalled", None)
            reason = stalled(limit) if callable(stalled) else None
            if reason:
                problems.append(reason)
        if self._lock.acquire(timeout=min(limit, 1.0)):
            self._lock.release()
        else:
            problems.append("input handling stuck (lock held)")
        return problems

    def _start_scanners(self) -> None:
        for source in self.config.scanners:
            if source.kind == "stdin":
                # A keyboard-wedge scanner typing into the agent's terminal, one code a line.
                thread = threading.Thread(target=self._read_stdin, name="kiosk-stdin", daemon=True)
                thread.start()
                continue
            try:
                # Imported only when a camera or USB source is configured: it needs OpenCV/numpy.
                scanner = importlib.import_module("kiosk.scanner")
            except ImportError as exc:
                log.error("scanner source %s %s needs kiosk.scanner (%s); use the screen", source.kind,
                          source.device, exc)
                continue
            on_scan = [lambda scan: self.handle_scan(scan.code)]
            # A rejected read (bad check symbol, not our code) goes through the workflow too,
            # so the screen says why it was refused.
            on_reject = [lambda rejected: self.handle_scan(rejected.raw)]
            try:
                if source.kind == "camera":
                    device: int | str = int(source.device) if source.device.isdigit() else (source.device or 0)
                    handle = scanner.CaptureLoop(scanner.open_source(device), on_scan=on_scan, on_reject=on_reject)
                else:
                    dispatcher = scanner.Dispatcher(on_scan=on_scan, on_reject=on_reject)
                    handle = scanner.open_wedge(dispatcher, source.device or None)
                handle.start()
            except Exception:  # a missing camera must not stop the kiosk: the screen still works
                log.exception("scanner source %s %s did not start", source.kind, source.device)
                continue
            self._scanner_handles.append(handle)

    def _read_stdin(self) -> None:
        for line in sys.stdin:
            if line.strip():
                self.handle_scan(line.strip())

    # -- events -------------------------------------------------------------------------

    def record(self, type_: str, actor: str | None, data: dict[str, Any]) -> Event:
        """Store one event durably in the outbox and let the link send it."""
        event = self.outbox.add(type_, actor, data)
        self._track_visitor(event)
        self.link.wake()
        return event

    def _track_visitor(self, event: Event) -> None:
        if self.on_site is None:
            return
        if event.type == "visitor.signin":
            self.on_site.signed_in(str(event.id), event.data, event.at.isoformat())
        elif event.type == "visitor.signout":
            self.on_site.signed_out(str(event.id), str(event.data.get("pass", "")))

    def record_many(self, items: list[tuple[str, str | None, dict[str, Any]]]) -> list[Event]:
        """Store many events in one transaction (bulk loads, tests, bench)."""
        events = self.outbox.add_many(items)
        self.link.wake()
        return events

    def wait_ack(self, event_id: str, timeout: float) -> AckRecord | None:
        """The ack for an event once it came (from this process or the agent holding the outbox)."""
        deadline = time.monotonic() + timeout
        with self._acked:
            while True:
                record = self.outbox.ack_for(event_id)
                left = deadline - time.monotonic()
                if record is not None or left <= 0:
                    return record
                self._acked.wait(min(left, 0.2))

    def depth(self) -> int:
        return self.outbox.depth()

    # -- input ----------------------------------------------------------------------------

    def handle_scan(self, text: str) -> Outcome:
        """A scanned or typed text from any source."""
        return self._run(lambda: self.workflow.scan(text))

    def handle_input(self, action: str, data: dict[str, Any] | None = None) -> Outcome:
        return self._run(lambda: self.workflow.input(action, data or {}))

    def _run(self, step: Any) -> Outcome:
        with self._lock:
            try:
                outcome: Outcome = step()
            except Exception as exc:  # e.g. disk full: say so, never pretend it was saved
                log.exception("input failed")
                outcome = Outcome("error", self._("Not saved: kiosk error"), str(exc)[:200])
            self.last = {**outcome.as_dict(), "acks": {}}
            return outcome

    # -- link listener ------------------------------------------------------------------

    def on_ack(self, record: AckRecord) -> None:
        if self.on_site is not None:
            self.on_site.acked(record.id, record.status)
        with self._lock:
            last = self.last
            if last is not None and record.id in last["events"]:
                last["acks"][record.id] = record
                self._merge_acks(last)
        with self._acked:
            self._acked.notify_all()

    def _merge_acks(self, last: dict[str, Any]) -> None:
        acks: dict[str, AckRecord] = last["acks"]
        if len(acks) < len(last["events"]):
            last["detail"] = self._("Saved locally; {done} of {total} confirmed").format(
                done=len(acks), total=len(last["events"]))
            return
        worst = max(acks.values(), key=lambda a: LEVEL_RANK.get(a.level, 3))
        verdict = acktext.verdict(worst, self.tr)
        if verdict.known and verdict.final_ok:
            # The operator's own result stays the title; the server's verdict goes under it.
            last.update(level=worst.level, detail=verdict.title)
        else:
            last.update(level=worst.level, title=verdict.title, detail=verdict.detail)

    def on_connection(self, connected: bool, reason: str) -> None:
        self.link_reason = reason

    def on_server_status(self, status: ServerStatus | None) -> None:
        self.server_status = status

    def on_kiosk_config(self, config: KioskConfig | None) -> None:
        self.server_config = config
        self.workflow.server_config = config
        if config is not None and self.on_site is not None and config.mode == "gate":
            self.on_site.server(config.on_site)
        if config is not None:
            if config.mode != self.config.mode:
                log.warning("server says mode %s but this kiosk runs %s (local config wins)", config.mode,
                            self.config.mode)
            if self.workflow.location is None and config.location:
                self.workflow.location = config.location

    # -- screen backend -------------------------------------------------------------------

    def reachable(self) -> bool:
        """The broker is connected and the server has not said it is offline."""
        return self.link.connected and not (self.server_status is not None and self.server_status.state == "offline")

    def offline(self) -> str | None:
        """The banner text, or None when the server is reachable and stores what it gets."""
        if not self.link.connected:
            return self._("Offline, saved locally: the broker is unreachable")
        if self.server_status is not None and self.server_status.state == "offline":
            return self._("The server is offline; saved locally")
        held, reason = self.link.held()
        if held:  # e.g. unknown_kiosk: the wrong server, or this kiosk is not enrolled there yet
            why = self._(acktext.REFUSALS[reason][0]) if reason in acktext.REFUSALS else reason
            return self._("The server did not store {held} events ({reason}): kept, sent again on reconnect").format(
                held=held, reason=why)
        return None

    def screen_state(self) -> dict[str, Any]:
        with self._lock:
            if self.workflow.tick():
                self.last = {"level": "info", "title": self._("Timed out; back to the start"), "detail": "",
                             "events": [], "acks": {}}
            view = self.workflow.view()
            last = None if self.last is None else {k: v for k, v in self.last.items() if k != "acks"}
        oldest = self.outbox.oldest_age()
        depth = self.outbox.depth()
        return {
            "kiosk": self.kiosk,
            "view": view,
            "last": last,
            "offline": self.offline(),
            "connected": self.link.connected,
            "outbox": {"depth": depth, "oldest_s": None if oldest is None else round(oldest, 1)},
            "outbox_label": self._("Waiting to send: {n}").format(n=depth),
            "roll_call": self.on_site.rows() if self.on_site is not None and view["step"] == "rollcall" else None,
        }

    def screen_input(self, action: str, data: dict[str, Any]) -> dict[str, Any]:
        outcome = self.handle_input(action, data)
        return {"outcome": outcome.as_dict(), **self.screen_state()}
