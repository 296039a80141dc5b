"""The camera capture loop: a grabber thread, a latest-frame slot and a decode loop.

The grabber reads frames as fast as the source gives them and puts each in a one-frame
slot; the decoder always takes the newest. When decoding falls behind a live camera the
grabber overwrites the slot (the old frame is dropped), so a label is read as it is now,
never seconds late from a queue. Recorded sources instead wait for the slot to empty,
so every frame of a test video is decoded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from kiosk.scanner.holdoff import DEFAULT_HOLD_OFF, Clock, Dispatcher, RejectCallback, ScanCallback
from kiosk.scanner.pipeline import decode_frame
from kiosk.scanner.sources import Frame, FrameSource

log = logging.getLogger(__name__)


class LatestFrame:
    """A one-frame slot between the grabber and the decoder."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._closed = False
        self.dropped = 0

    def put(self, frame: Frame, wait: bool = False) -> bool:
        """Store a frame, replacing (dropping) an unread one unless ``wait``; False once closed."""
        with self._cond:
            if wait:
                self._cond.wait_for(lambda: self._frame is None or self._closed)
            if self._closed:
                return False
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
            self._cond.notify_all()
            return True

    def take(self, timeout: float | None = None) -> Frame | None:
        """The newest unread frame; None on timeout or when closed and empty."""
        with self._cond:
            self._cond.wait_for(lambda: self._frame is not None or self._closed, timeout)
            frame, self._frame = self._frame, None
            self._cond.notify_all()
            return frame

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed


@dataclass
class CaptureStats:
    grabbed: int = 0
    decoded: int = 0
    dropped: int = 0


class CaptureLoop:
    """Read frames from ``source``, decode the newest, report each code once per hold-off.

    Callbacks run on the decode thread: keep them short (hand the scan to a queue).
    ``clock``: None stamps each read with the frame's own time (media time for files,
    so tests are deterministic); pass a callable to use it instead.
    ``drop_frames``: default is ``source.live``.
    """

    def __init__(
        self,
        source: FrameSource,
        on_scan: Iterable[ScanCallback] = (),
        on_reject: Iterable[RejectCallback] = (),
        hold_off: float = DEFAULT_HOLD_OFF,
        decoder: Callable[[np.ndarray], list[str]] = decode_frame,
        drop_frames: bool | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.source = source
        self.decoder = decoder
        self.drop_frames = source.live if drop_frames is None else drop_frames
        self.clock = clock
        self.dispatcher = Dispatcher(on_scan, on_reject, hold_off, clock or (lambda: 0.0))
        self.stats = CaptureStats()
        self._slot = LatestFrame()
        self._stop = threading.Event()
        self._grabber: threading.Thread | None = None
        self._worker: threading.Thread | None = None
        # Monotonic times of the last decode-loop turn and the last frame grabbed: the agent's
        # watchdog reads them (a decoder or a camera read that hangs stops them moving).
        self.last_turn = self.last_frame = time.monotonic()

    def add_scan_callback(self, callback: ScanCallback) -> None:
        self.dispatcher.scan_callbacks.append(callback)

    def add_reject_callback(self, callback: RejectCallback) -> None:
        self.dispatcher.reject_callbacks.append(callback)

    def _grab(self) -> None:
        try:
            for frame in self.source.frames():
                if self._stop.is_set() or not self._slot.put(frame, wait=not self.drop_frames):
                    break
                self.stats.grabbed += 1
                self.last_frame = time.monotonic()
        except Exception:
            log.exception("frame source failed")
        finally:
            self._slot.close()  # tells the decoder the stream has ended
            self.source.close()

    def _start_grabber(self) -> None:
        if self._grabber is None:
            self._grabber = threading.Thread(target=self._grab, name="scanner-grab", daemon=True)
            self._grabber.start()

    def run(self) -> None:
        """Decode until the source ends or ``stop()`` is called (blocks the caller)."""
        self._start_grabber()
        while not self._stop.is_set():
            self.last_turn = time.monotonic()
            frame = self._slot.take(timeout=0.5)
            if frame is None:
                if self._slot.closed:
                    break
                continue
            try:
                texts = self.decoder(frame.image)
            except Exception:
                log.exception("decoding frame %d failed", frame.index)
                continue
            self.stats.decoded += 1
            if texts:
                self.dispatcher.feed(texts, at=self.clock() if self.clock else frame.t)
        self.stats.dropped = self._slot.dropped

    def start(self) -> None:
        """Run in a background thread."""
        self._worker = threading.Thread(target=self.run, name="scanner-decode", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        self._stop.set()
        self._slot.close()

    def stalled(self, limit: float) -> str | None:
        """Why this loop should be restarted, or None while it is healthy."""
        now = time.monotonic()
        if self._worker is None or self._stop.is_set():
            return None
        if not self._worker.is_alive():
            # A file that ended is done; a live camera that ended has gone away.
            return "camera stream ended" if self.source.live else None
        if now - self.last_turn > limit:
            return f"decode loop stuck for {now - self.last_turn:.0f} s"
        if self.source.live and now - self.last_frame > limit:
            return f"no frame from the camera for {now - self.last_frame:.0f} s"
        return None

    def join(self, timeout: float | None = None) -> None:
        for thread in (self._worker, self._grabber):
            if thread is not None:
                thread.join(timeout)

    def __enter__(self) -> CaptureLoop:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.join(timeout=5)
