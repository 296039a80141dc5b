"""Feedback to the person at the kiosk: success, warning, error.

The agent decides which (a scan accepted, a visitor on the watchlist, a bad label) and
calls the hook; the screen and a beeper implement it. Hooks must return quickly: they
are called from the scan threads.
"""

from __future__ import annotations

import sys
from typing import Protocol, TextIO


class Feedback(Protocol):
    def success(self, message: str = "") -> None: ...

    def warning(self, message: str = "") -> None: ...

    def error(self, message: str = "") -> None: ...


class NullFeedback:
    """Does nothing: for headless runs and tests."""

    def success(self, message: str = "") -> None:
        pass

    def warning(self, message: str = "") -> None:
        pass

    def error(self, message: str = "") -> None:
        pass


class BellFeedback:
    """Rings the terminal bell: once for success, twice for a warning, three times for an error.

    A Pi with a buzzer on the console, or a terminal on the guard's desk, needs no driver
    for this. The message, when given, is written after the bells.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout

    def _ring(self, times: int, message: str) -> None:
        self.stream.write("\a" * times + (message + "\n" if message else ""))
        self.stream.flush()

    def success(self, message: str = "") -> None:
        self._ring(1, message)

    def warning(self, message: str = "") -> None:
        self._ring(2, message)

    def error(self, message: str = "") -> None:
        self._ring(3, message)
