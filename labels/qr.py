"""QR symbols as PDF vector paths: zxing-cpp's module matrix -> filled rectangles, never a raster.

A raster QR scaled to the page is what thermal printers blur; rectangles let the printer's own
rasteriser place every edge, and module sizes snapped to whole printer dots keep every module the
same width on paper.

zxing-cpp (its writer is zint, in C) encodes a symbol in about 65 µs; segno, used before, took
about 1.5 ms, nearly all of it choosing the mask in Python. Turning the matrix into PDF operators is
kept as cheap: see ``path``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import zxingcpp

from labels.model import LabelError
from labels.pdfwriter import num
from labels.templates import Rect, Template

PT_PER_MM = 72 / 25.4
_DARK = bytes.maketrans(b"\x00\xff", b"\x01\x00")  # zxing-cpp's image: 0 = dark module, 255 = light
_DARK_RUN = re.compile(rb"\x01+")
CHUNK = 8  # modules: a row is drawn from pieces of this width, each looked up, not worked out
_ROWS = [str(i) for i in range(177)]  # 177: the side of the largest QR symbol (version 40)


class _Pieces(dict[bytes, str]):
    """Piece of a row starting at ``col`` -> ``re`` operators for its dark runs, the row left as "R"."""

    def __init__(self, col: int) -> None:
        super().__init__()
        self.col = col

    def __missing__(self, piece: bytes) -> str:
        ops = self[piece] = "".join(f"{self.col + m.start()} R {m.end() - m.start()} 1 re\n"
                                    for m in _DARK_RUN.finditer(piece))
        return ops


_PIECES = [_Pieces(col) for col in range(0, 177, CHUNK)]


def make_matrix(content: str, ec_level: str) -> Sequence[bytes]:
    """The module matrix (no quiet zone; 1 = dark) of a full-size QR symbol at exactly ``ec_level``.

    Full-size QR only: Micro QR would be smaller, but phone cameras and many kiosk readers do not
    read it (zxing-cpp's ``QRCode`` format never makes one).
    """
    try:
        symbol = zxingcpp.create_barcode(content, zxingcpp.BarcodeFormat.QRCode, ec_level=ec_level)
    except ValueError as exc:  # content too long for any QR version at this level
        raise LabelError(f"QR content of {len(content)} characters cannot be encoded: {exc}") from None
    image = symbol.to_image(scale=1, add_quiet_zones=False)
    size = image.shape[1]
    cells = bytes(memoryview(image)).translate(_DARK)  # type: ignore[arg-type]  # a buffer; the stub omits it
    return [cells[i:i + size] for i in range(0, len(cells), size)]


def path(matrix: Sequence[bytes]) -> str:
    """``re`` operators (in module units, rows downwards) covering the matrix's dark modules.

    Each row is cut into pieces of CHUNK modules, and a piece's dark runs become one rectangle each.
    The operators of a piece are kept (at most 256 pieces per column), so after the first few symbols
    a row costs a few dictionary lookups instead of a scan in Python. A run that crosses a piece
    boundary becomes two abutting rectangles; all of them are filled as one path (nonzero winding),
    so the printed area is exactly the same as with one rectangle, and there is no seam.
    """
    cuts = [(col, col + CHUNK, _PIECES[col // CHUNK]) for col in range(0, len(matrix), CHUNK)]
    return "".join(["".join([pieces[row[start:end]] for start, end, pieces in cuts]).replace("R", row_no)
                    for row, row_no in zip(matrix, _ROWS, strict=False)])  # _ROWS is longer


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


def start(where: Placement, page_height_mm: float) -> str:
    """Operators that map module units to the symbol's place on the page, before its ``path``.

    One ``cm`` maps module units to the page (y flipped, since rows run downwards), so each
    rectangle is written as small integers: short content streams, fast to write and compress.
    """
    m = where.module_mm * PT_PER_MM
    x0 = (where.x_mm + where.quiet * where.module_mm) * PT_PER_MM
    y0 = (page_height_mm - where.y_mm - where.quiet * where.module_mm) * PT_PER_MM
    return f"q 0 g {num(m)} 0 0 {num(-m)} {num(x0)} {num(y0)} cm\n"


def draw(matrix: Sequence[bytes], where: Placement, page_height_mm: float) -> str:
    """PDF operators that fill the symbol's dark modules."""
    return f"{start(where, page_height_mm)}{path(matrix)}f Q\n"
