"""Label pipeline speed and memory, against zxing-cpp's own QR encoder for the same codes.

    .venv/bin/python bench/bench_labels.py [--count 10000] [--rounds 3] [--distinct-names]

Prints labels/s for an A4 (a4-l7651) PDF of ``count`` labels in one process, the time
``zxingcpp.create_barcode`` needs for the same codes (full-size QR, EC level M: the call the pipeline
makes, without reading the matrix back), their ratio (goal: pipeline <= 3x the encoder), and
tracemalloc peaks at 1k and ``count`` labels (flat memory: pages streamed). The two timings alternate
for ``rounds`` rounds in the same process; each is taken as this process's CPU time (both are
single-threaded and CPU-bound, and CPU time is what other work on a shared machine disturbs least),
the fastest round of each, with wall time beside it. Names cycle through five, as in an intake of a few
kinds of item; ``--distinct-names`` gives every label a name of its own (the worst case for text fitting).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
import tracemalloc
from collections.abc import Callable
from datetime import date
from typing import NamedTuple

import zxingcpp
from machine import cpu_model  # bench/machine.py: run as python bench/<name>.py

import labels
from contract import codes

NAMES = ["Dell Latitude 5440", "联想 ThinkPad X1 Carbon 第十一代", "Office chair, mesh back", "会议室投影仪", ""]


class Sink:
    """A write-only output that counts bytes: measures the pipeline, not the disk."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return len(data)


def make_items(count: int, distinct_names: bool = False) -> list[labels.Label]:
    def name(i: int) -> str:
        return f"{NAMES[i % len(NAMES)]} 资产 {i}" if distinct_names else NAMES[i % len(NAMES)]
    return [labels.Label(str(codes.new_code("A")), name(i), "Bureau of Public Works 工务局",
                         "IT equipment" if i % 2 else None, 2024 if i % 3 else None) for i in range(count)]


class Timing(NamedTuple):
    wall: float
    cpu: float  # this process's CPU time: what other work on a shared machine disturbs least


def timed(work: Callable[[], object]) -> Timing:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return Timing(time.perf_counter() - wall, time.process_time() - cpu)


def bare(items: list[labels.Label]) -> None:
    qr_code = zxingcpp.BarcodeFormat.QRCode
    for item in items:
        zxingcpp.create_barcode(item.code, qr_code, ec_level="M")


def pipeline(items: list[labels.Label], template: str) -> tuple[Timing, labels.RenderResult, int]:
    sink, results = Sink(), []
    timing = timed(lambda: results.append(labels.render_pdf(items, sink, template)))  # type: ignore[arg-type]
    return timing, results[0], sink.size


def peak_mib(items: list[labels.Label], template: str) -> float:
    tracemalloc.start()
    try:
        labels.render_pdf(items, Sink(), template)  # type: ignore[arg-type]
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--template", default="a4-l7651")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--distinct-names", action="store_true")
    args = parser.parse_args()
    print(f"date {date.today()}  python {platform.python_version()}  nproc {os.cpu_count()}  cpu {cpu_model()}  "
          f"load average {os.getloadavg()[0]:.2f}")
    labels.render_pdf(make_items(5), Sink(), args.template)  # type: ignore[arg-type]  # warm: font parsed once
    items = make_items(args.count, args.distinct_names)
    encoder, pipe = [], []
    for _ in range(args.rounds):  # alternating, so that a busy spell on the machine hits both
        encoder.append(timed(lambda: bare(items)))
        timing, result, size = pipeline(items, args.template)
        pipe.append(timing)
    enc, pdf = min(encoder, key=lambda t: t.cpu), min(pipe, key=lambda t: t.cpu)
    print("rounds (CPU s)        " + "  ".join(f"encoder {e.cpu:.2f} pipeline {p.cpu:.2f} ({p.cpu / e.cpu:.2f}x)"
                                          for e, p in zip(encoder, pipe, strict=True)))
    print(f"zxing-cpp QR encoder  {args.count} codes  CPU {enc.cpu:6.2f} s  {args.count / enc.cpu:8.0f} codes/s"
          f"   (wall {enc.wall:.2f} s)")
    print(f"label pipeline (PDF)  {result.labels} labels {result.pages} pages  CPU {pdf.cpu:6.2f} s  "
          f"{result.labels / pdf.cpu:8.0f} labels/s   (wall {pdf.wall:.2f} s)  {size / 2**20:.1f} MiB PDF")
    print(f"pipeline / encoder    {pdf.cpu / enc.cpu:.2f}x CPU time, {pdf.wall / enc.wall:.2f}x wall time  "
          "(goal <= 3x; fastest round of each)")
    small = peak_mib(items[:1000], args.template)
    large = peak_mib(items, args.template)
    print(f"tracemalloc peak      1000 labels {small:.2f} MiB   {args.count} labels {large:.2f} MiB   "
          f"ratio {large / small:.2f}")
    print(f"load average now      {os.getloadavg()[0]:.2f} (other work on the machine skews both timings alike)")
    print(f"process max RSS       {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
