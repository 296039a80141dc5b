"""Classifier and hold-off: only valid AssetGate codes become scans, once per hold-off."""

from __future__ import annotations

import pytest

from contract import codes
from kiosk.scanner import BAD_CHECK, NOT_OURS, Dispatcher, HoldOff, Rejected, Scan, classify


@pytest.fixture
def scanner_code() -> str:
    return str(codes.new_code("A"))


def test_bare_code_url_and_lower_case_are_the_same_scan(scanner_code: str) -> None:
    for raw in (scanner_code, scanner_code.lower(), f"https://ag.example/c/{scanner_code}", f" {scanner_code}\r\n"):
        assert classify(raw) == Scan(scanner_code, raw)
    assert classify(scanner_code).kind is codes.Kind.ASSET


def test_wrong_check_symbol_is_bad_check(scanner_code: str) -> None:
    wrong = next(c for c in codes.CHECK_ALPHABET if c != scanner_code[-1])
    result = classify(scanner_code[:-1] + wrong)
    assert isinstance(result, Rejected) and result.reason == BAD_CHECK


@pytest.mark.parametrize(
    "text",
    ["https://example.com/menu", "WIFI:S:guest;T:WPA;P:x;;", "", "A-", "X-ABCDEFG1", "A-ABCDEIL1", "hello\nA-ABC"],
)
def test_other_texts_are_not_ours(text: str) -> None:
    result = classify(text)
    assert isinstance(result, Rejected) and result.reason == NOT_OURS and result.raw == text


def test_hold_off_counts_from_the_last_sighting() -> None:
    hold = HoldOff(2.0)
    assert hold.admit("k", 0.0)
    assert not hold.admit("k", 1.5)
    assert not hold.admit("k", 3.0)  # seen at 1.5: still held
    assert hold.admit("k", 5.0)
    assert hold.admit("other", 5.0)
    with pytest.raises(ValueError):
        HoldOff(-1)


def test_dispatcher_reports_each_code_once_per_hold_off(scanner_code: str) -> None:
    now = [0.0]
    scans: list[Scan] = []
    rejects: list[Rejected] = []
    d = Dispatcher([scans.append], [rejects.append], hold_off=2.0, clock=lambda: now[0])
    d.feed([scanner_code, "https://example.com"])
    now[0] = 0.5
    d.feed([f"https://ag.example/c/{scanner_code.lower()}", "https://example.com"])  # same code as a URL
    now[0] = 2.6
    d.feed([scanner_code])
    assert [s.raw for s in scans] == [scanner_code, scanner_code]
    assert [r.raw for r in rejects] == ["https://example.com"]


def test_two_codes_in_one_frame_are_two_scans() -> None:
    a, b = str(codes.new_code("A")), str(codes.new_code("L"))
    scans: list[Scan] = []
    Dispatcher([scans.append]).feed([a, b])
    assert [s.code for s in scans] == [a, b]


def test_a_failing_callback_does_not_stop_the_others(scanner_code: str, caplog: pytest.LogCaptureFixture) -> None:
    scans: list[Scan] = []

    def broken(scan: Scan) -> None:
        raise RuntimeError("boom")

    Dispatcher([broken, scans.append]).feed([scanner_code])
    assert [s.code for s in scans] == [scanner_code]
    assert "boom" in caplog.text
