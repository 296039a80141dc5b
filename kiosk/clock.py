"""Is the kiosk clock NTP-synchronised right now? (the event's ``synced`` field)

The kernel knows: adjtimex(2) with no modes set is a read-only query that any user may
make, and it returns TIME_ERROR (5) while the clock is unsynchronised. Where that call is
missing (not Linux), ``timedatectl`` is asked. Unknown means False: the server then flags
the event's time as unverified, which is the honest answer.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import subprocess
import threading
import time
from collections.abc import Callable

TIME_ERROR = 5
CACHE_SECONDS = 5.0


def _adjtimex() -> bool | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        func = libc.adjtimex
    except (OSError, AttributeError):
        return None
    # struct timex is about 208 bytes on 64-bit Linux; a zeroed, larger buffer means modes=0.
    buf = ctypes.create_string_buffer(512)
    state = func(buf)
    if state < 0:
        return None
    return state != TIME_ERROR


def _timedatectl() -> bool | None:
    try:
        out = subprocess.run(
            ["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=2,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    value = out.stdout.strip()
    return {"yes": True, "no": False}.get(value)


class SyncProbe:
    """Cached answer, so recording an event never waits on a subprocess."""

    def __init__(self, probes: tuple[Callable[[], bool | None], ...] = (_adjtimex, _timedatectl)) -> None:
        self._probes = probes
        self._lock = threading.Lock()
        self._value = False
        self._checked = -CACHE_SECONDS * 2

    def synced(self) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._checked >= CACHE_SECONDS:
                self._value = self._probe()
                self._checked = now
            return self._value

    def _probe(self) -> bool:
        for probe in self._probes:
            answer = probe()
            if answer is not None:
                return answer
        return False
