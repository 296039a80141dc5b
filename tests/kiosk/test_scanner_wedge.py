"""Keyboard-wedge scanners: lines from a pipe or stdin, key events from evdev; feedback hooks."""

from __future__ import annotations

import io
import os
import threading

import pytest

from contract import codes
from kiosk.scanner import BellFeedback, Dispatcher, KeyDecoder, NullFeedback, Rejected, Scan, StreamWedge, open_wedge
from kiosk.scanner.feedback import Feedback
from kiosk.scanner.wedge import KEY_DOWN, KEY_ENTER, KEY_UP, KEYMAP, SHIFTED


def scanner_collect() -> tuple[Dispatcher, list[Scan], list[Rejected]]:
    scans: list[Scan] = []
    rejects: list[Rejected] = []
    return Dispatcher([scans.append], [rejects.append], hold_off=2.0), scans, rejects


def test_stream_wedge_reads_one_code_per_line() -> None:
    a, p = str(codes.new_code("A")), str(codes.new_code("P"))
    dispatcher, scans, rejects = scanner_collect()
    text = f"{a}\r\n\n  \nhttps://x.example/c/{p.lower()}\nnot a code\n{a}\n"
    StreamWedge(dispatcher, io.StringIO(text)).run()
    assert [s.code for s in scans] == [a, p]  # the second `a` is within the hold-off
    assert [r.raw for r in rejects] == ["not a code"]


def test_stream_wedge_from_a_pipe_in_a_thread() -> None:
    code = str(codes.new_code("V"))
    dispatcher, scans, _ = scanner_collect()
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "r") as reader, os.fdopen(write_fd, "w") as writer:
        got = threading.Event()
        dispatcher.scan_callbacks.append(lambda s: got.set())
        wedge = StreamWedge(dispatcher, reader)
        wedge.start()
        writer.write(code + "\n")
        writer.flush()
        assert got.wait(5)
        writer.close()
        wedge.join(5)
    assert [s.code for s in scans] == [code]


def scanner_keystrokes(text: str) -> list[tuple[int, int]]:
    """The key events a US-layout scanner sends for ``text`` and Enter."""
    plain = {ch: code for code, ch in KEYMAP.items()}
    shifted = {ch: code for code, ch in SHIFTED.items()}
    events: list[tuple[int, int]] = []
    for ch in text:
        if ch in plain:
            events += [(plain[ch], KEY_DOWN), (plain[ch], KEY_UP)]
        else:
            events += [(42, KEY_DOWN), (shifted[ch], KEY_DOWN), (shifted[ch], KEY_UP), (42, KEY_UP)]
    return events + [(KEY_ENTER, KEY_DOWN), (KEY_ENTER, KEY_UP)]


@pytest.mark.parametrize("kind", ["A", "S"])
def test_key_decoder_types_codes_and_urls(kind: str) -> None:
    code = str(codes.new_code(kind))
    for text in (code, f"https://ag.example:8443/c/{code}?src=label"):
        keys = KeyDecoder()
        lines = [line for c, v in scanner_keystrokes(text) if (line := keys.feed(c, v)) is not None]
        assert lines == [text]


def test_key_decoder_ignores_unknown_keys_and_repeats() -> None:
    keys = KeyDecoder()
    key_a = 30
    assert keys.feed(key_a, KEY_DOWN) is None
    assert keys.feed(key_a, 2) is None  # auto-repeat
    assert keys.feed(250, KEY_DOWN) is None  # no character
    assert keys.feed(KEY_ENTER, KEY_DOWN) == "a"


def test_open_wedge_falls_back_to_stdin_without_a_device() -> None:
    dispatcher, _, _ = scanner_collect()
    assert isinstance(open_wedge(dispatcher, device=None), StreamWedge)


def test_open_wedge_without_evdev_falls_back_to_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "evdev", None)  # import evdev now raises ImportError
    dispatcher, _, _ = scanner_collect()
    assert isinstance(open_wedge(dispatcher, device="/dev/input/event99"), StreamWedge)


def test_feedback_hooks() -> None:
    out = io.StringIO()
    bell: Feedback = BellFeedback(out)
    bell.success()
    bell.warning("check the pass")
    bell.error()
    assert out.getvalue() == "\a" + "\a\acheck the pass\n" + "\a\a\a"
    quiet: Feedback = NullFeedback()
    quiet.success("ok")
    quiet.warning()
    quiet.error()
