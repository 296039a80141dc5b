"""QR symbols as PDF vector paths: segno's module matrix -> filled rectangles, never a raster.

A raster QR scaled to the page is what thermal printers blur; rectangles let the printer's own
rasteriser place every edge, and module sizes snapped to whole printer dots keep every module the
same width on paper.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import segno

from labels.model import LabelError
from labels.pdfwriter import num
from labels.templates import Rect, Template

_DARK_RUN = re.compile(rb"\x01+")
PT_PER_MM = 72 / 25.4


def make_matrix(content: str, ec_level: str) -> Sequence[bytearray]:
    """The module matrix (no quiet zone) of a full-size QR symbol; the EC level is a minimum.

    ``micro=False``: Micro QR would be smaller, but phone cameras and many kiosk readers do not read it.
    ``boost_error`` (segno's default) raises the EC level when that fits the same version: free robustness.
    """
    return segno.make(content, error=ec_level, micro=False).matrix


def rectangles(matrix: Sequence[bytearray]) -> list[tuple[int, int, int, int]]:
    """Dark areas as (col, row, width, height) rectangles in modules.

    Dark modules in a row merge into runs, and a run repeated in the rows below grows downwards, so a
    typical version-1 symbol needs about half as many rectangles as it has runs.
    """
    done: list[tuple[int, int, int, int]] = []
    open_: dict[tuple[int, int], int] = {}  # (start col, end col) -> row where it began
    row_no = 0
    for row_no, row in enumerate(matrix):
        runs = {m.span() for m in _DARK_RUN.finditer(row)}
        for span in [s for s in open_ if s not in runs]:
            top = open_.pop(span)
            done.append((span[0], top, span[1] - span[0], row_no - top))
        for span in runs:
            open_.setdefault(span, row_no)
    end = row_no + 1
    done.extend((s[0], top, s[1] - s[0], end - top) for s, top in open_.items())
    return done


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a symbol goes: top-left corner of its quiet zone (mm from page top-left), module size."""

    x_mm: float
    y_mm: float
    module_mm: float
    quiet: int
    size: int  # modules per side without the quiet zone

    @property
    def side_mm(self) -> float:
        return (self.size + 2 * self.quiet) * self.module_mm


def place(template: Template, modules: int, box: Rect, code: str) -> Placement:
    """Centre a symbol of ``modules`` (plus quiet zone) in the square ``box``, on the printer's dot grid.

    Raises LabelError when the module would be smaller than the template's printer can render.
    """
    dot = template.dot_mm
    quiet = template.printer.quiet_zone_modules
    total = modules + 2 * quiet
    side = min(box.w, box.h)
    # Two dots are kept back (one each side): snapping the corner onto the dot grid moves it by up to one.
    module = math.floor((side - 2 * dot) / total / dot + 1e-9) * dot
    if module + 1e-9 < template.printer.min_module_mm:
        raise LabelError(
            f"QR for {code!r} needs {total} modules; on template {template.name!r} a module would be "
            f"{module:.3f} mm, below the printer's minimum {template.printer.min_module_mm} mm: "
            "use bare codes (no base URL), a shorter base URL or a larger template"
        )
    spare = (side - total * module) / 2
    x = math.ceil((box.x + spare) / dot - 1e-9) * dot
    y = math.ceil((box.y + spare) / dot - 1e-9) * dot
    return Placement(x, y, module, quiet, modules)


def draw(matrix: Sequence[bytearray], where: Placement, page_height_mm: float) -> str:
    """PDF operators that fill the symbol's dark modules.

    One ``cm`` maps module units to the page (y flipped, since rows run downwards), so each
    rectangle is written as small integers: short content streams, fast to write and compress.
    """
    m = where.module_mm * PT_PER_MM
    x0 = (where.x_mm + where.quiet * where.module_mm) * PT_PER_MM
    y0 = (page_height_mm - where.y_mm - where.quiet * where.module_mm) * PT_PER_MM
    body = "\n".join(f"{c} {r} {w} {h} re" for c, r, w, h in rectangles(matrix))
    return f"q 0 g {num(m)} 0 0 {num(-m)} {num(x0)} {num(y0)} cm\n{body}\nf Q\n"
