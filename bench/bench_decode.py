"""Benchmark the QR decoders and the chosen pipeline on the shared sample photos.

    .venv/bin/python bench/bench_decode.py [--quick] [--seconds 5]

Prints, per decoder and for the pipeline: samples read per folder (native size), wrong
texts returned, then median and p95 ms per frame at 640x480 and 1280x720 (each sample
pasted at its own size, or shrunk to fit, on a busy synthetic background), the same on
frames with no code (where every fallback runs), and the frames per second the pipeline
sustains. Everything runs on one core: OpenCV threads are off and the process is pinned.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
from machine import cpu_model  # bench/machine.py: run as python bench/<name>.py

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a bare checkout too

from kiosk.scanner.decoders import available  # noqa: E402
from kiosk.scanner.pipeline import DEFAULT_STAGES, THOROUGH_STAGES, Pipeline, to_grey  # noqa: E402
from kiosk.scanner.samples import Sample, default_root, load_samples  # noqa: E402

SIZES = ((640, 480), (1280, 720))
PIPELINE = "pipeline"
THOROUGH = "pipeline+pyzbar"
Fn = Callable[[np.ndarray], list[str]]


def one_core() -> str:
    cv2.setNumThreads(1)
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to cpu {cpu}"
    return "not pinned (no sched_setaffinity)"


def background(width: int, height: int, seed: int) -> np.ndarray:
    """A busy grey scene: soft blobs, hard edges and sensor noise, like a desk or a hall.

    A flat background would flatter the decoders: their cost is in following edges and
    candidate finder patterns, so the scene has many of both.
    """
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 16, width // 16), dtype=np.uint8)
    img = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(40):
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p2 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.rectangle(img, p1, p2, int(rng.integers(0, 256)), int(rng.integers(1, 6)))
    noise = rng.normal(0, 6, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def paste(sample: np.ndarray, width: int, height: int, seed: int) -> np.ndarray:
    frame = background(width, height, seed)
    h, w = sample.shape
    scale = min(1.0, (width - 20) / w, (height - 20) / h)  # shrink to fit, never enlarge
    if scale < 1.0:
        sample = cv2.resize(sample, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
        h, w = sample.shape
    y, x = (height - h) // 2, (width - w) // 2
    frame[y : y + h, x : x + w] = sample
    return frame


def load_grey(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise OSError(f"cannot read {path}")
    return to_grey(image)


def timed(fn: Fn, grey: np.ndarray) -> tuple[list[str], float]:
    t0 = time.perf_counter()
    texts = fn(grey)
    return texts, (time.perf_counter() - t0) * 1000


def ms(values: Sequence[float]) -> str:
    if not values:
        return "     -      -"
    p95 = float(np.percentile(values, 95))
    return f"{statistics.median(values):6.2f} {p95:6.2f}"


def rates(fns: dict[str, Fn], samples: list[Sample]) -> dict[str, set[str]]:
    folders = sorted({s.folder for s in samples}, key=lambda f: (f.split("/")[0] != "zxing", f))
    greys = [load_grey(s.path) for s in samples]
    print("\n## Decode rate at native size (samples read / samples; wrong texts returned)\n")
    print(f"| decoder | {' | '.join(folders)} | total | wrong |")
    print("|---" * (len(folders) + 3) + "|")
    read_by: dict[str, set[str]] = {}
    for name, fn in fns.items():
        read: set[str] = set()
        wrong = 0
        for sample, grey in zip(samples, greys, strict=True):
            texts = fn(grey)
            if sample.expected in texts:
                read.add(sample.name)
            wrong += bool(sample.misreads(texts))
        cells = [
            f"{sum(s.name in read for s in samples if s.folder == f)}/{sum(s.folder == f for s in samples)}"
            for f in folders
        ]
        print(f"| {name} | {' | '.join(cells)} | {len(read)}/{len(samples)} | {wrong} |")
        read_by[name] = read
    return read_by


def timings(fns: dict[str, Fn], samples: list[Sample], best: str, empties: int) -> None:
    """Time every decoder on every frame, interleaved frame by frame.

    Interleaving matters on a shared machine: a burst of load elsewhere then slows all
    decoders alike instead of whichever one happened to be running.
    """
    greys = [load_grey(s.path) for s in samples]
    for width, height in SIZES:
        frames = [paste(g, width, height, seed=i) for i, g in enumerate(greys)]
        blanks = [background(width, height, seed=10_000 + i) for i in range(empties)]
        for fn in fns.values():
            fn(frames[0])  # warm-up: first calls allocate
        times: dict[str, list[float]] = {n: [] for n in fns}
        read: dict[str, set[str]] = {n: set() for n in fns}
        per_frame: dict[str, list[float]] = {n: [] for n in fns}
        nothing: dict[str, list[float]] = {n: [] for n in fns}
        for sample, frame in zip(samples, frames, strict=True):
            for name, fn in fns.items():
                texts, t = timed(fn, frame)
                times[name].append(t)
                per_frame[name].append(t)
                if sample.expected in texts:
                    read[name].add(sample.name)
        for frame in blanks:
            for name, fn in fns.items():
                nothing[name].append(timed(fn, frame)[1])
        best_read = read[best]
        print(f"\n## {width}x{height}, one core: ms per frame, median p95\n")
        print(f"| decoder | read | all sample frames | frames it reads | frames {best} reads | frames with no code |")
        print("|---|---|---|---|---|---|")
        for name in fns:
            mine = [t for s, t in zip(samples, per_frame[name], strict=True) if s.name in read[name]]
            bests = [t for s, t in zip(samples, per_frame[name], strict=True) if s.name in best_read]
            print(
                f"| {name} | {len(read[name])} | {ms(times[name])} | {ms(mine)} | {ms(bests)} | {ms(nothing[name])} |"
            )


def sustained(name: str, pipeline: Fn, samples: list[Sample], seconds: float) -> None:
    print(f"\n## Sustained rate of {name}, one core, {seconds:g} s each\n")
    greys = [load_grey(s.path) for s in samples]
    for width, height in SIZES:
        with_code = [paste(g, width, height, seed=i) for i, g in enumerate(greys)]
        blanks = [background(width, height, seed=20_000 + i) for i in range(20)]
        # A kiosk mostly looks at an empty hall: the mixed stream is 3 empty frames to 1 label,
        # and the empty-only stream is the worst case (every fallback runs on every frame).
        mixed = [f for i, g in enumerate(with_code) for f in (g, *blanks[i % 20 : i % 20 + 3])]
        for label, stream in (("mixed (1 label : 3 empty)", mixed), ("empty frames only", blanks)):
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                pipeline(stream[n % len(stream)])
                n += 1
            fps = n / (time.perf_counter() - t0)
            print(f"- {width}x{height} {label}: {fps:.0f} frames/s")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=default_root())
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each sustained-rate run")
    parser.add_argument("--empties", type=int, default=40, help="frames without a code per size")
    args = parser.parse_args(argv)
    if not args.samples.is_dir():
        print(f"no samples at {args.samples}", file=sys.stderr)
        return 2
    pin = one_core()
    samples = load_samples(args.samples)
    fns: dict[str, Fn] = {name: dec for name, dec in available().items()}
    pipeline = Pipeline.from_names(DEFAULT_STAGES)
    thorough = Pipeline.from_names(THOROUGH_STAGES)
    fns[PIPELINE] = pipeline
    fns[THOROUGH] = thorough
    print("# QR decode benchmark\n")
    print(f"- date: {dt.date.today().isoformat()}; machine: {cpu_model()}, nproc {os.cpu_count()}, {pin}")
    print(f"- python {platform.python_version()}, opencv {cv2.__version__}, numpy {np.__version__}")
    print(f"- {PIPELINE}: {' -> '.join(pipeline.names)} (stops at the first stage that reads)")
    print(f"- {THOROUGH}: {' -> '.join(thorough.names)}")
    print(f"- {len(samples)} samples from {args.samples}")
    read_by = rates(fns, samples)
    best = max((n for n in read_by if n not in (PIPELINE, THOROUGH)), key=lambda n: len(read_by[n]))
    print(f"\nbest single decoder: {best} ({len(read_by[best])}); pipeline: {len(read_by[PIPELINE])}")
    timings(fns, samples, best, args.empties)
    for name in (PIPELINE, THOROUGH):
        sustained(name, fns[name], samples, args.seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
