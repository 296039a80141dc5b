"""decode_frame on the shared sample photos: rates may only go up, misreads fail.

The floors are what the pipeline read when it was chosen (bench/bench_decode.py,
docs/benchmarks.md). Raise them when the pipeline improves; never lower them.
"""

from __future__ import annotations

from collections import Counter

import cv2
import numpy as np
import pytest

from kiosk.scanner import decode_frame
from kiosk.scanner.pipeline import Pipeline, to_grey
from kiosk.scanner.samples import Sample, default_root, load_samples

FLOORS = {
    "zxing/qrcode-1": 20,  # of 20
    "zxing/qrcode-2": 34,  # of 35
    "zxing/qrcode-3": 42,  # of 42
    "zxing/qrcode-4": 40,  # of 48
    "zxing/qrcode-5": 19,  # of 19
    "zxing/qrcode-6": 15,  # of 15
    "zxing-cpp/qrcode-1": 8,  # of 8
    "zxing-cpp/qrcode-2": 55,  # of 56
    "zxing-cpp/qrcode-3": 18,  # of 18
    "zxing-cpp/qrcode-4": 17,  # of 24
    "zxing-cpp/qrcode-5": 16,  # of 16
    "zxing-cpp/qrcode-6": 15,  # of 15
}
BEST_SINGLE_DECODER = 291  # zxing-cpp alone, same samples


@pytest.fixture(scope="module")
def scanner_samples() -> list[Sample]:
    root = default_root()
    if not root.is_dir():
        pytest.skip(f"QR samples not found at {root} (expected ../shared/qr-samples next to the repo)")
    samples = load_samples(root)
    assert samples, f"no samples with expected text under {root}"
    return samples


@pytest.fixture(scope="module")
def scanner_results(scanner_samples: list[Sample]) -> dict[str, list[str]]:
    return {s.name: decode_frame(cv2.imread(str(s.path), cv2.IMREAD_UNCHANGED)) for s in scanner_samples}


def test_every_folder_is_known(scanner_samples: list[Sample]) -> None:
    assert {s.folder for s in scanner_samples} == set(FLOORS)


def test_no_misreads(scanner_samples: list[Sample], scanner_results: dict[str, list[str]]) -> None:
    wrong = {s.name: s.misreads(scanner_results[s.name]) for s in scanner_samples}
    wrong = {name: texts for name, texts in wrong.items() if texts}
    assert not wrong, f"decoded text differs from the expected text: {wrong}"


def test_decode_rate_per_folder_at_least_measured(
    scanner_samples: list[Sample], scanner_results: dict[str, list[str]]
) -> None:
    read = Counter(s.folder for s in scanner_samples if s.expected in scanner_results[s.name])
    below = {f: f"{read[f]} < {floor}" for f, floor in FLOORS.items() if read[f] < floor}
    assert not below, f"decode rate fell below the measured floor: {below}"
    assert sum(read.values()) > BEST_SINGLE_DECODER


def test_bgr_bgra_and_grey_frames_give_the_same_texts(scanner_samples: list[Sample]) -> None:
    sample = next(s for s in scanner_samples if s.folder == "zxing/qrcode-1")
    bgr = cv2.imread(str(sample.path), cv2.IMREAD_COLOR)
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    bgra = cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)
    assert decode_frame(bgr) == decode_frame(grey) == decode_frame(bgra) == [sample.expected]
    # A non-contiguous view (a crop or every other column) must work too.
    assert decode_frame(np.ascontiguousarray(bgr)[:, :]) == [sample.expected]


def test_frame_without_code_gives_nothing() -> None:
    rng = np.random.default_rng(7)
    assert decode_frame(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)) == []
    assert decode_frame(np.zeros((480, 640), np.uint8)) == []


def test_bad_frames_are_refused_clearly() -> None:
    with pytest.raises(TypeError):
        to_grey(np.zeros((10, 10), np.float32))
    with pytest.raises(ValueError):
        to_grey(np.zeros((10, 10, 2), np.uint8))


def test_pipeline_skips_unavailable_decoders_but_not_all() -> None:
    assert Pipeline.from_names(["zxing-cpp", "no-such-decoder"]).names == ("zxing-cpp",)
    with pytest.raises(ValueError):
        Pipeline.from_names(["no-such-decoder"])
