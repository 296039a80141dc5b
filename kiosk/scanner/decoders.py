"""The QR decoders we can run, each behind the same small interface.

Every decoder takes one 8-bit grey frame and returns the texts it decoded. They are
wrapped here, rather than called directly by the pipeline, so the benchmark and the
tests measure exactly what the kiosk runs, and so a missing native library (libzbar
on a fresh machine) disables one decoder instead of breaking the import.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

log = logging.getLogger(__name__)

Grey = np.ndarray
DecodeFn = Callable[[Grey], list[str]]


@dataclass(frozen=True)
class Decoder:
    """A named decoder; ``fn`` never raises for a bad frame, it returns ``[]``."""

    name: str
    fn: DecodeFn

    def __call__(self, grey: Grey) -> list[str]:
        return self.fn(grey)


def _bytes_to_text(data: bytes) -> str:
    # QR byte mode carries no reliable charset; UTF-8 is what our labels (and most
    # modern encoders) write. Latin-1 keeps other bytes lossless instead of failing.
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _make_zxing(binarizer_name: str = "LocalAverage", try_invert: bool = True, scale: int = 1) -> DecodeFn | None:
    try:
        import zxingcpp
    except ImportError:
        return None
    fmt = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    binarizer = getattr(zxingcpp.Binarizer, binarizer_name)
    # Plain text mode: HRI mode rewrites control characters as "<GS>" and GS1 data as
    # "(01)...", which is text the symbol does not hold.
    mode = zxingcpp.TextMode.Plain

    def decode(grey: Grey) -> list[str]:
        if scale != 1:
            # Enlarging helps the binarizer on small or soft symbols (few pixels per module).
            grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        results = zxingcpp.read_barcodes(
            grey,
            formats=fmt,
            text_mode=mode,
            binarizer=binarizer,
            try_rotate=False,  # QR detection is rotation-invariant; this flag is for 1-D codes
            try_invert=try_invert,
            try_downscale=scale == 1,  # no point shrinking what we just enlarged
        )
        return [r.text for r in results if r.valid and r.text]

    return decode


def _make_zbar() -> DecodeFn | None:
    try:
        from pyzbar import pyzbar
    except (ImportError, OSError):  # OSError: libzbar0 is not installed
        return None
    symbols = [pyzbar.ZBarSymbol.QRCODE]

    def decode(grey: Grey) -> list[str]:
        out = []
        for r in pyzbar.decode(grey, symbols=symbols):
            # ZBar has already converted the bytes to UTF-8 by its own charset guess.
            out.append(_bytes_to_text(r.data))
        return out

    return decode


def _make_opencv(aruco: bool) -> DecodeFn | None:
    if aruco and not hasattr(cv2, "QRCodeDetectorAruco"):
        return None
    detector = cv2.QRCodeDetectorAruco() if aruco else cv2.QRCodeDetector()

    def decode(grey: Grey) -> list[str]:
        try:
            ok, infos, _points, _straight = detector.detectAndDecodeBytesMulti(grey)
        except cv2.error:  # e.g. "mode 13 not implemented" on some symbols
            return []
        if not ok:
            return []
        return [_bytes_to_text(bytes(b)) for b in infos if b is not None and len(b)]

    return decode


def _make_all() -> dict[str, Decoder]:
    factories: Sequence[tuple[str, Callable[[], DecodeFn | None]]] = (
        ("zxing-cpp", _make_zxing),
        ("zxing-cpp-histogram", lambda: _make_zxing("GlobalHistogram", try_invert=False)),
        ("zxing-cpp-histogram-x2", lambda: _make_zxing("GlobalHistogram", try_invert=False, scale=2)),
        ("pyzbar", _make_zbar),
        ("opencv", lambda: _make_opencv(aruco=False)),
        ("opencv-aruco", lambda: _make_opencv(aruco=True)),
    )
    found: dict[str, Decoder] = {}
    for name, factory in factories:
        fn = factory()
        if fn is None:
            log.warning("QR decoder %s is not available", name)
        else:
            found[name] = Decoder(name, fn)
    return found


_ALL: dict[str, Decoder] | None = None


def available() -> dict[str, Decoder]:
    """All decoders that can run here, by name (built once, on first use)."""
    global _ALL
    if _ALL is None:
        _ALL = _make_all()
    return _ALL
