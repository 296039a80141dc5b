"""USB barcode scanners that type like a keyboard ("keyboard wedge"): a code is a line.

On Linux with python-evdev the scanner's input device is read directly and grabbed
exclusively, so its keystrokes do not also land in whatever window has focus (the
kiosk screen, a terminal). Without evdev, or without a device, lines come from
standard input. Both feed the same ``Dispatcher`` as the camera.
"""

from __future__ import annotations

import logging
import select
import sys
import threading
from typing import Any, TextIO

from kiosk.scanner.holdoff import Dispatcher

log = logging.getLogger(__name__)

# Linux input key codes (linux/input-event-codes.h) to characters on a US layout, the
# layout barcode scanners default to. Kept here rather than taken from evdev.ecodes so
# the mapping is testable on machines without evdev.
_ROWS = {2: "1234567890-=", 16: "qwertyuiop[]", 30: "asdfghjkl;'`", 43: "\\zxcvbnm,./"}
_SHIFTED_ROWS = {2: "!@#$%^&*()_+", 16: "QWERTYUIOP{}", 30: 'ASDFGHJKL:"~', 43: "|ZXCVBNM<>?"}
KEYMAP: dict[int, str] = {code + i: ch for code, row in _ROWS.items() for i, ch in enumerate(row)}
SHIFTED: dict[int, str] = {code + i: ch for code, row in _SHIFTED_ROWS.items() for i, ch in enumerate(row)}
KEYPAD = {71: "7", 72: "8", 73: "9", 74: "-", 75: "4", 76: "5", 77: "6", 78: "+", 79: "1", 80: "2",
          81: "3", 82: "0", 83: ".", 55: "*", 98: "/"}  # fmt: skip
KEY_SPACE, KEY_ENTER, KEY_KPENTER = 57, 28, 96
SHIFT_KEYS = frozenset({42, 54})  # left and right shift
EV_KEY = 1
KEY_UP, KEY_DOWN = 0, 1  # value 2 is auto-repeat, which a scanner does not send


class KeyDecoder:
    """Turns key events into lines of text; ``feed`` returns a line when Enter is pressed."""

    def __init__(self) -> None:
        self._shift = False
        self._chars: list[str] = []

    def feed(self, code: int, value: int) -> str | None:
        if code in SHIFT_KEYS:
            self._shift = value != KEY_UP
            return None
        if value != KEY_DOWN:
            return None
        if code in (KEY_ENTER, KEY_KPENTER):
            line, self._chars = "".join(self._chars), []
            return line
        if code == KEY_SPACE:
            ch: str | None = " "
        else:
            ch = (SHIFTED if self._shift else KEYMAP).get(code) or KEYPAD.get(code)
        if ch is None:
            log.debug("wedge: ignoring key code %d", code)
        else:
            self._chars.append(ch)
        return None


class _Reader:
    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _line(self, line: str) -> None:
        text = line.strip()
        if text:
            self.dispatcher.feed([text])

    def run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"scanner-{type(self).__name__}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)


class StreamWedge(_Reader):
    """Lines from a text stream, standard input by default.

    A blocked read cannot be interrupted, so ``stop()`` takes effect after the next line
    or at end of input; the thread is a daemon so it never holds up exit.
    """

    def __init__(self, dispatcher: Dispatcher, stream: TextIO | None = None) -> None:
        super().__init__(dispatcher)
        self.stream = stream if stream is not None else sys.stdin

    def run(self) -> None:
        for line in self.stream:
            if self._stop.is_set():
                break
            self._line(line)


class EvdevWedge(_Reader):
    """A scanner's Linux input device (``/dev/input/by-id/...-event-kbd`` is stable), grabbed."""

    def __init__(self, dispatcher: Dispatcher, device: str, grab: bool = True) -> None:
        super().__init__(dispatcher)
        import evdev  # optional dependency, Linux only

        self.device: Any = evdev.InputDevice(device)
        self.grab = grab

    def run(self) -> None:
        keys = KeyDecoder()
        if self.grab:
            self.device.grab()
        try:
            while not self._stop.is_set():
                # select with a timeout so stop() is noticed without a keystroke.
                ready, _, _ = select.select([self.device.fd], [], [], 0.5)
                if not ready:
                    continue
                for event in self.device.read():
                    if event.type == EV_KEY:
                        line = keys.feed(event.code, event.value)
                        if line is not None:
                            self._line(line)
        finally:
            if self.grab:
                self.device.ungrab()
            self.device.close()


def open_wedge(dispatcher: Dispatcher, device: str | None = None, grab: bool = True) -> StreamWedge | EvdevWedge:
    """The evdev reader for ``device`` when evdev is installed, else standard input."""
    if device:
        try:
            return EvdevWedge(dispatcher, device, grab)
        except ImportError:
            log.warning("python-evdev is not installed; reading the scanner from standard input")
    return StreamWedge(dispatcher)
