"""The event's ``synced`` flag: the kernel's NTP state (set by systemd-timesyncd on a Pi), asked
with adjtimex(2), else timedatectl, else "not synced"; cached, so recording never waits on it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from contract.codes import Kind, new_code
from kiosk import clock
from kiosk.outbox import Outbox


class Probe:
    def __init__(self, answer: bool | None) -> None:
        self.answer, self.calls = answer, 0

    def __call__(self) -> bool | None:
        self.calls += 1
        return self.answer


@pytest.mark.skipif(sys.platform != "linux", reason="adjtimex is Linux's")
def test_the_kernel_answers_on_linux() -> None:
    assert isinstance(clock._adjtimex(), bool)  # a read-only query any user may make


def test_the_first_probe_that_knows_answers_and_unknown_is_not_synced() -> None:
    unknown, kernel, tool = Probe(None), Probe(False), Probe(True)
    assert clock.SyncProbe((unknown, kernel, tool)).synced() is False
    assert tool.calls == 0
    assert clock.SyncProbe((Probe(None), Probe(True))).synced() is True
    assert clock.SyncProbe((Probe(None),)).synced() is False  # nobody knows: the server flags the time


def test_the_answer_is_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(clock.time, "monotonic", lambda: now[0])
    kernel = Probe(False)
    probe = clock.SyncProbe((kernel,))
    assert [probe.synced() for _ in range(50)] == [False] * 50 and kernel.calls == 1
    kernel.answer = True  # timesyncd has synchronised meanwhile
    now[0] += clock.CACHE_SECONDS
    assert probe.synced() is True and kernel.calls == 2


@pytest.mark.parametrize("synced", [True, False])
def test_each_event_carries_the_answer(tmp_path: Path, synced: bool) -> None:
    box = Outbox(tmp_path / "outbox.db", "k-clock", sync_probe=clock.SyncProbe((Probe(synced),)))
    assert box.add("asset.checkin", None, {"tag": str(new_code(Kind.ASSET))}).synced is synced
