"""Hold-off and fan-out: one place that turns classified reads into callback calls.

Both the camera loop and the keyboard wedge feed a ``Dispatcher``, so "the same code
is not reported twice within the hold-off" means the same thing for both.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from kiosk.scanner.classify import Classified, Rejected, Scan, classify, hold_off_key

log = logging.getLogger(__name__)

DEFAULT_HOLD_OFF = 2.0  # seconds
ScanCallback = Callable[[Scan], None]
RejectCallback = Callable[[Rejected], None]
Clock = Callable[[], float]


class HoldOff:
    """Suppresses a key seen again within ``seconds`` of the last time it was seen.

    The window restarts on every sighting, not only on every report: a label held in
    front of the camera for ten seconds is one scan, and it scans again only after it
    has been out of view for the whole hold-off.
    """

    def __init__(self, seconds: float = DEFAULT_HOLD_OFF) -> None:
        if seconds < 0:
            raise ValueError("hold-off must not be negative")
        self.seconds = seconds
        self._last_seen: dict[str, float] = {}

    def admit(self, key: str, now: float) -> bool:
        last = self._last_seen.get(key)
        self._last_seen[key] = now
        if len(self._last_seen) > 256:  # forget stale keys so a long-running kiosk does not grow
            self._last_seen = {k: t for k, t in self._last_seen.items() if now - t < self.seconds}
        return last is None or now - last >= self.seconds


class Dispatcher:
    """Classifies texts, applies the hold-off and calls the callbacks.

    A callback that raises is logged and does not stop the others or the reader.
    """

    def __init__(
        self,
        on_scan: Iterable[ScanCallback] = (),
        on_reject: Iterable[RejectCallback] = (),
        hold_off: float = DEFAULT_HOLD_OFF,
        clock: Clock = time.monotonic,
    ) -> None:
        self.scan_callbacks = list(on_scan)
        self.reject_callbacks = list(on_reject)
        self.hold_off = HoldOff(hold_off)
        self.clock = clock

    def feed(self, texts: Iterable[str], at: float | None = None) -> list[Classified]:
        """Handle the texts read at one moment (default: now); returns what was reported."""
        now = self.clock() if at is None else at
        reported: list[Classified] = []
        for text in texts:
            item = classify(text)
            if not self.hold_off.admit(hold_off_key(item), now):
                continue
            reported.append(item)
            if isinstance(item, Scan):
                self._call(self.scan_callbacks, item)
            else:
                self._call(self.reject_callbacks, item)
        return reported

    @staticmethod
    def _call(callbacks: Sequence[Callable[[Any], None]], item: Classified) -> None:
        for callback in callbacks:
            try:
                callback(item)
            except Exception:
                log.exception("scan callback %r failed on %r", callback, item)
