"""``decode_frame``: the chosen chain of QR decoders, run on one camera frame.

The chain is ordered cheapest and best first, and stops at the first stage that reads
anything: on frames where zxing-cpp reads the label (the usual case) the fallbacks cost
nothing; only frames where it reads nothing pay for them. Why these stages, in this
order, is measured in docs/scanner.md (figures from bench/bench_decode.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from kiosk.scanner.decoders import Decoder, available

# zxing-cpp reads the most samples by far and is the fastest. Its GlobalHistogram
# binarizer (~0.4 ms at 640x480) and the same on a 2x enlarged frame (~1 ms) read eight
# more samples between them. ZBar would add one more sample for ~13 ms on every frame
# without a code (most frames a kiosk sees), five times the whole chain, so it is opt-in
# (THOROUGH_STAGES). OpenCV's detectors read nothing extra and cost ~18 ms.
DEFAULT_STAGES: tuple[str, ...] = ("zxing-cpp", "zxing-cpp-histogram", "zxing-cpp-histogram-x2")
THOROUGH_STAGES: tuple[str, ...] = (*DEFAULT_STAGES, "pyzbar")


def _ascii_only(text: str) -> bool:
    return text.isascii()


# ZBar guesses the charset of byte-mode data and guessed Shift-JIS wrong on 19 sample
# photos (e.g. zxing/qrcode-2/17..31). ASCII cannot be garbled that way, and every
# AssetGate code is ASCII, so as a fallback it may only return ASCII text.
STAGE_FILTERS: dict[str, Callable[[str], bool]] = {"pyzbar": _ascii_only}


def to_grey(image: np.ndarray) -> np.ndarray:
    """An 8-bit, C-contiguous grey view of a grey, BGR or BGRA frame (converted once, shared by all stages)."""
    if image.dtype != np.uint8:
        raise TypeError(f"expected an 8-bit frame, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return np.ascontiguousarray(image)
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    raise ValueError(f"expected a grey, BGR or BGRA frame, got shape {image.shape}")


@dataclass(frozen=True)
class Stage:
    decoder: Decoder
    accept: Callable[[str], bool] | None = None

    def run(self, grey: np.ndarray) -> list[str]:
        texts = self.decoder(grey)
        return [t for t in texts if self.accept(t)] if self.accept else texts


class Pipeline:
    """Run stages in order on the same frame; the first stage that reads anything wins."""

    def __init__(self, stages: Sequence[Stage]) -> None:
        if not stages:
            raise ValueError("a pipeline needs at least one available decoder")
        self.stages = tuple(stages)

    @classmethod
    def from_names(cls, names: Sequence[str] = DEFAULT_STAGES) -> Pipeline:
        """Build from decoder names, skipping any that cannot run here (e.g. libzbar missing)."""
        decoders = available()
        stages = [Stage(decoders[n], STAGE_FILTERS.get(n)) for n in names if n in decoders]
        return cls(stages)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.decoder.name for s in self.stages)

    def __call__(self, image: np.ndarray) -> list[str]:
        grey = to_grey(image)
        for stage in self.stages:
            texts = stage.run(grey)
            if texts:
                return list(dict.fromkeys(texts))  # de-duplicated, order kept
        return []


_DEFAULT: Pipeline | None = None


def default_pipeline() -> Pipeline:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Pipeline.from_names(DEFAULT_STAGES)
    return _DEFAULT


def decode_frame(image: np.ndarray) -> list[str]:
    """Decoded QR texts in one BGR, BGRA or grey frame (empty when none is read)."""
    return default_pipeline()(image)
