"""The capture loop on a video made here: labels moved, rotated, blurred and dimmed.

Each label must give exactly one scan; other QR texts one rejection each. Frames carry
media time, so the hold-off does not depend on how fast this machine decodes.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import segno

from contract import codes
from kiosk.scanner import ArraySource, CaptureLoop, Frame, Rejected, Scan, VideoFileSource
from kiosk.scanner.classify import BAD_CHECK, NOT_OURS

W, H, FPS = 640, 480, 30
BASE_URL = "https://assets.example.org"


def scanner_qr_image(text: str, module_px: int = 6) -> np.ndarray:
    """A label's QR as a grey image with the 4-module quiet zone, as the labels package draws it."""
    try:
        from labels.qr import make_matrix  # the exact symbol our labels print

        matrix = make_matrix(text, "M")
    except ImportError:
        matrix = segno.make(text, error="m", micro=False).matrix
    modules = np.array([list(row) for row in matrix], dtype=np.uint8)  # rows: bytes (labels) or bytearray (segno)
    img = np.where(modules > 0, 0, 255).astype(np.uint8)
    img = np.pad(img, 4, constant_values=255)
    return np.kron(img, np.ones((module_px, module_px), np.uint8))


def scanner_scene(seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(60, 200, (H // 32, W // 32), dtype=np.uint8)
    return cv2.resize(small, (W, H), interpolation=cv2.INTER_CUBIC)


def scanner_segment(label: np.ndarray, n: int, scene: np.ndarray, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """``n`` frames of one label crossing the view: moving, turning, going soft and dark mid-way."""
    h, w = label.shape
    for i in range(n):
        p = i / max(1, n - 1)
        angle = -30 + 60 * p
        scale = (220 / w) * (0.85 + 0.3 * p)
        cx, cy = 170 + 300 * p, 240 + 60 * math.sin(2 * math.pi * p)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
        m[:, 2] += (cx - w / 2, cy - h / 2)
        warped = cv2.warpAffine(label, m, (W, H), flags=cv2.INTER_LINEAR, borderValue=0)
        mask = cv2.warpAffine(np.full_like(label, 255), m, (W, H), flags=cv2.INTER_NEAREST, borderValue=0)
        frame = np.where(mask > 0, warped, scene).astype(np.float32)
        sigma = 2.6 * math.sin(math.pi * p)  # in focus at the edges, soft in the middle
        if sigma > 0.3:
            frame = cv2.GaussianBlur(frame, (0, 0), sigma)
        dim = 1.0 - 0.7 * math.sin(math.pi * p)  # down to 30 % brightness
        frame = frame * dim + rng.normal(0, 4, frame.shape)
        grey = np.clip(frame, 0, 255).astype(np.uint8)
        yield cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)


def scanner_video(texts: list[str], frames_each: int = 40, gap: int = 12) -> list[np.ndarray]:
    scene = scanner_scene()
    rng = np.random.default_rng(11)
    frames: list[np.ndarray] = []
    for text in texts:
        frames.extend(cv2.cvtColor(scene, cv2.COLOR_GRAY2BGR) for _ in range(gap))
        frames.extend(scanner_segment(scanner_qr_image(text), frames_each, scene, rng))
    frames.extend(cv2.cvtColor(scene, cv2.COLOR_GRAY2BGR) for _ in range(gap))
    return frames


def scanner_bad_check(code: str) -> str:
    wrong = next(c for c in codes.CHECK_ALPHABET if c != code[-1] and c.isalnum())
    return code[:-1] + wrong


@pytest.fixture(scope="module")
def scanner_labels() -> dict[str, str]:
    """Label text -> the code it must scan as: bare codes and /c/ URLs, one of each kind."""
    out = {}
    for i, kind in enumerate(codes.Kind):
        code = str(codes.new_code(kind))
        out[codes.label_text(code, BASE_URL if i % 2 else None)] = code
    return out


def scanner_run(loop: CaptureLoop) -> tuple[list[Scan], list[Rejected]]:
    scans: list[Scan] = []
    rejects: list[Rejected] = []
    loop.add_scan_callback(scans.append)
    loop.add_reject_callback(rejects.append)
    loop.run()
    return scans, rejects


def test_each_label_in_a_moving_blurred_dim_video_is_one_scan(scanner_labels: dict[str, str]) -> None:
    foreign = ["https://example.com/menu", scanner_bad_check(next(iter(scanner_labels.values())))]
    texts = [*scanner_labels, *foreign]
    loop = CaptureLoop(ArraySource(scanner_video(texts), fps=FPS))
    scans, rejects = scanner_run(loop)
    assert [s.code for s in scans] == list(scanner_labels.values())
    assert [s.raw for s in scans] == list(scanner_labels)
    assert [(r.raw, r.reason) for r in rejects] == [(foreign[0], NOT_OURS), (foreign[1], BAD_CHECK)]
    assert loop.stats.dropped == 0 and loop.stats.decoded == loop.stats.grabbed


def test_video_file_source(tmp_path: Path, scanner_labels: dict[str, str]) -> None:
    path = tmp_path / "labels.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (W, H))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write MJPG video")
    for frame in scanner_video(list(scanner_labels), frames_each=30):
        writer.write(frame)
    writer.release()
    scans, rejects = scanner_run(CaptureLoop(VideoFileSource(path)))
    assert [s.code for s in scans] == list(scanner_labels.values())
    assert rejects == []


@pytest.mark.parametrize(("gap_s", "expected"), [(1.0, 1), (2.5, 2)])
def test_label_shown_again_scans_again_only_after_the_hold_off(gap_s: float, expected: int) -> None:
    code = str(codes.new_code("A"))
    scene = scanner_scene()
    rng = np.random.default_rng(5)
    label = list(scanner_segment(scanner_qr_image(code), 15, scene, rng))
    empty = [cv2.cvtColor(scene, cv2.COLOR_GRAY2BGR)] * round(gap_s * FPS)
    scans, _ = scanner_run(CaptureLoop(ArraySource([*label, *empty, *label], fps=FPS), hold_off=2.0))
    assert [s.code for s in scans] == [code] * expected


def test_hold_off_is_configurable() -> None:
    code = str(codes.new_code("A"))
    frame = cv2.cvtColor(scanner_qr_image(code), cv2.COLOR_GRAY2BGR)
    # The same label in every frame, 10 frames a second for 3 seconds.
    scans, _ = scanner_run(CaptureLoop(ArraySource([frame] * 30, fps=10), hold_off=0.0))
    assert len(scans) == 30
    scans, _ = scanner_run(CaptureLoop(ArraySource([frame] * 30, fps=10), hold_off=2.0))
    assert len(scans) == 1  # held still: one scan, however long


def test_injected_clock_replaces_frame_time() -> None:
    code = str(codes.new_code("P"))
    ticks = iter([0.0, 0.5, 3.0, 3.1])
    loop = CaptureLoop(
        ArraySource([np.zeros((4, 4), np.uint8)] * 4, fps=1000), decoder=lambda _img: [code], clock=lambda: next(ticks)
    )
    scans, _ = scanner_run(loop)
    assert len(scans) == 2  # at 0.0, and at 3.0 (2.5 s after it was last seen at 0.5)


class _FastLiveSource:
    """Like a camera, but 2000 frames a second; each frame's pixels hold its index."""

    live = True

    def __init__(self, n: int) -> None:
        self.n = n
        self.closed = threading.Event()

    def frames(self) -> Iterator[Frame]:
        for i in range(self.n):
            yield Frame(np.full((2, 2), i, np.int64), time.monotonic(), i)
            time.sleep(0.0005)

    def close(self) -> None:
        self.closed.set()


def test_live_source_drops_frames_and_decodes_the_newest() -> None:
    seen: list[int] = []

    def slow_decoder(image: np.ndarray) -> list[str]:
        seen.append(int(image[0, 0]))
        time.sleep(0.01)  # 100 frames/s of decoding against 2000 frames/s of camera
        return []

    source = _FastLiveSource(400)
    loop = CaptureLoop(source, decoder=slow_decoder)
    loop.run()
    assert source.closed.is_set()
    assert loop.stats.grabbed == 400
    assert loop.stats.dropped > 300 and len(seen) < 100
    assert seen == sorted(seen) and len(set(seen)) == len(seen)  # only ever forward, never a stale frame
    assert seen[-1] == 399  # the last frame is decoded, not lost


def test_start_stop_in_background_with_a_failing_callback(caplog: pytest.LogCaptureFixture) -> None:
    code = str(codes.new_code("L"))
    frame = cv2.cvtColor(scanner_qr_image(code), cv2.COLOR_GRAY2BGR)

    def endless() -> Iterator[np.ndarray]:
        while True:
            yield frame

    got = threading.Event()

    def broken(scan: Scan) -> None:
        raise RuntimeError("agent bug")

    loop = CaptureLoop(ArraySource(endless(), fps=FPS), on_scan=[broken, lambda s: got.set()])
    with loop:
        assert got.wait(10), "no scan within 10 s"
    assert "scan callback" in caplog.text
