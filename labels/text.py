"""Fitting text into a box: shrink, then wrap, then ellipsize. Never wider than the box.

Font-agnostic: the caller passes ``measure(text, size) -> width in points``, which must grow in
proportion to ``size`` (a font's advance widths do).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

Measure = Callable[[str, float], float]
ELLIPSIS = "\u2026"
STEP = 0.25  # pt; finer steps make no visible difference and cost more measuring


@dataclass(frozen=True, slots=True)
class Fitted:
    size: float
    lines: tuple[str, ...]
    truncated: bool = False


# CJK text has no spaces: a line may break between any two ideographs, kana or hangul (U+2E80 on).
# A token is a word with its trailing space, one such character, or a space after one of them.
_TOKEN = re.compile("[^ \u2e80-\U0010ffff]+ ?|[\u2e80-\U0010ffff]| ")


def _tokens(text: str) -> list[str]:
    """Words with their trailing space, and CJK characters one by one."""
    return _TOKEN.findall(text)


def wrap(text: str, measure: Measure, size: float, width: float) -> list[str]:
    """Greedy line breaking at ``size``; a word wider than the line is split between characters."""
    lines: list[str] = []
    line = ""
    for token in _tokens(text):
        if measure((line + token).rstrip(), size) <= width:
            line += token
            continue
        if line.strip():
            lines.append(line.rstrip())
        line = ""
        for ch in token:  # the token alone may still be too wide: split it
            if line and measure((line + ch).rstrip(), size) > width:
                lines.append(line.rstrip())
                line = "" if ch == " " else ch
            else:
                line += ch
    if line.strip():
        lines.append(line.rstrip())
    return lines


def ellipsize(text: str, measure: Measure, size: float, width: float, force: bool = False) -> str:
    """``text`` if it fits (and not ``force``), else its longest prefix that fits with an ellipsis."""
    if not force and measure(text, size) <= width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # binary search: measuring is the cost, names can be long
        mid = (lo + hi + 1) // 2
        if measure(text[:mid].rstrip() + ELLIPSIS, size) <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + ELLIPSIS if lo or measure(ELLIPSIS, size) <= width else ""


@lru_cache(maxsize=256)
def _sizes(hi: float, lo: float) -> tuple[float, ...]:
    count = max(0, int(round((hi - lo) / STEP)))
    return (*(hi - i * STEP for i in range(count)), lo)


def fit(text: str, measure: Measure, width: float, height: float, max_size: float, min_size: float,
        leading: float = 1.15, max_lines: int = 3, one_line_floor: float | None = None) -> Fitted:
    """Fit ``text`` in ``width`` x ``height`` points.

    1. one line, shrinking from ``max_size`` to ``one_line_floor`` (default 70 % of max: below that,
       two lines read better than one tiny one);
    2. several lines (as many as the height allows), shrinking down to ``min_size``;
    3. at ``min_size``, the lines that fit with the last one ellipsized (``truncated`` set).
    """
    text = " ".join(text.split())
    min_size = min(min_size, max_size)
    if not text:
        return Fitted(max_size, ())

    def lines_allowed(size: float) -> int:
        return min(max_lines, int(height / (size * leading) + 1e-9))

    floor = max(min_size, max_size * 0.7 if one_line_floor is None else one_line_floor)
    full = measure(text, max_size)
    for size in _sizes(max_size, floor):
        if full * size > width * max_size * (1 + 1e-9):
            continue  # width grows with size: clearly too wide, no need to measure
        if lines_allowed(size) >= 1 and measure(text, size) <= width:
            return Fitted(size, (text,))
    # Every line holds at most ``width`` of ink (once no single character is wider than a line), so
    # sizes at which even a perfect packing would need more lines than allowed are skipped unwrapped.
    ink = measure(text.replace(" ", ""), max_size)
    widest: list[float] = []  # measured only if a size is to be skipped
    for size in _sizes(max_size, min_size):
        allowed = lines_allowed(size)
        if allowed < 1:
            continue
        scale = size / max_size
        if ink * scale > allowed * width * (1 + 1e-9):
            widest = widest or [max(measure(ch, max_size) for ch in set(text))]
            if widest[0] * scale <= width:
                continue
        lines = wrap(text, measure, size, width)
        if len(lines) <= allowed:
            return Fitted(size, tuple(lines))
    allowed = lines_allowed(min_size)
    if allowed < 1:
        return Fitted(min_size, (), truncated=True)
    lines = wrap(text, measure, min_size, width)
    kept = lines[:allowed]
    kept[-1] = ellipsize(kept[-1], measure, min_size, width, force=True)
    return Fitted(min_size, tuple(line for line in kept if line), truncated=True)
