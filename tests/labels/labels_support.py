"""Helpers for the label tests: rasterise a PDF like the printer would, decode every QR on it."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import zxingcpp
from PIL import Image

from labels.templates import Rect, Template


@dataclass(frozen=True)
class Found:
    text: str
    left: float
    top: float
    right: float
    bottom: float  # pixels


def rasterise(pdf: Path, dpi: int, out_dir: Path) -> list[np.ndarray]:
    """Every page of ``pdf`` as a greyscale array at ``dpi`` (pdftoppm, as a print driver would)."""
    prefix = out_dir / pdf.stem
    subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", str(pdf), str(prefix)], check=True)
    pages = sorted(out_dir.glob(f"{pdf.stem}-*.pgm"))
    return [np.asarray(Image.open(p)) for p in pages]


def decode(page: np.ndarray) -> list[Found]:
    found: list[Found] = []
    for result in zxingcpp.read_barcodes(page, formats=zxingcpp.BarcodeFormat.QRCode):
        pos = result.position
        xs = [pos.top_left.x, pos.top_right.x, pos.bottom_left.x, pos.bottom_right.x]
        ys = [pos.top_left.y, pos.top_right.y, pos.bottom_left.y, pos.bottom_right.y]
        hit = Found(result.text, min(xs), min(ys), max(xs), max(ys))
        # zxing scans the page more than once (downscaled, inverted, rotated) and now and then
        # reports one printed symbol twice: the same text over the same spot is one symbol.
        if not any(other.text == hit.text and _overlap(other, hit) for other in found):
            found.append(hit)
    return found


def _overlap(a: Found, b: Found) -> bool:
    return a.left < b.right and b.left < a.right and a.top < b.bottom and b.top < a.bottom


def px(rect: Rect, dpi: int) -> Rect:
    scale = dpi / 25.4
    return Rect(rect.x * scale, rect.y * scale, rect.w * scale, rect.h * scale)


def slot_of(template: Template, hit: Found) -> int | None:
    """The slot whose printable area holds the whole decoded symbol, or None."""
    dpi = template.printer.dpi
    for index in range(template.per_page):
        area = px(template.slot(index).inset(template.label.padding_mm), dpi)
        # zxing reports module centres on the symbol's outer edge: allow one pixel of rounding.
        if (area.x - 1 <= hit.left and hit.right <= area.right + 1
                and area.y - 1 <= hit.top and hit.bottom <= area.bottom + 1):
            return index
    return None
