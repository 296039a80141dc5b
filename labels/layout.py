"""One label's drawing: the QR on the left (or on top, for tall labels), the text beside it.

Text priority when space runs out: the code (never cut), then the name (shrink, wrap, ellipsize),
then the organisation, then category and year, which are dropped before anything overflows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from labels import qr
from labels.fonts import FontFace, FontUse
from labels.model import Label, LabelError
from labels.pdfwriter import num
from labels.templates import Rect, Template
from labels.text import Fitted, fit

PT = qr.PT_PER_MM
LEADING = 1.15
MIN_SIZE = 4.0  # pt: smallest text still readable on a 203 dpi head (about 11 dots tall)
MAX_CODE_SIZE = 11.0
QR_SHARE = 0.6  # the QR never takes more than this share of the long side, so text keeps room


@dataclass(frozen=True, slots=True)
class Areas:
    qr_box: Rect
    text: Rect
    beside: bool  # text to the right of the QR (else below it)


def areas(template: Template, slot: Rect) -> Areas:
    """Split a slot's printable area (inside the padding) into the QR square and the text area."""
    safe = slot.inset(template.label.padding_mm)
    if safe.w >= safe.h:
        side = min(safe.h, safe.w * QR_SHARE)
        return Areas(Rect(safe.x, safe.y + (safe.h - side) / 2, side, side),
                     Rect(safe.x + side, safe.y, safe.w - side, safe.h), beside=True)
    side = min(safe.w, safe.h * QR_SHARE)
    return Areas(Rect(safe.x + (safe.w - side) / 2, safe.y, side, side),
                 Rect(safe.x, safe.y + side, safe.w, safe.h - side), beside=False)


@dataclass(frozen=True, slots=True)
class Frame:
    """What a label's drawing takes from its slot and its symbol's size alone."""

    qr_start: str  # operators that put module units on the symbol's place (rows downwards)
    text_start: str  # operators that move the origin to the text area's top-left corner
    text: Rect  # the text area, which starts where the QR's quiet zone ends


def frame(template: Template, slot: Rect, modules: int, code: str) -> Frame:
    """Place a symbol of ``modules`` and the text beside it in ``slot`` (LabelError if too small)."""
    box = areas(template, slot)
    where = qr.place(template, modules, box.qr_box, code)
    # Text starts where the quiet zone ends (never inside it), whatever the snapping did.
    text, qr_end = box.text, (where.x_mm if box.beside else where.y_mm) + where.side_mm
    if box.beside and qr_end > text.x:
        text = Rect(qr_end, text.y, text.right - qr_end, text.h)
    elif not box.beside and qr_end > text.y:
        text = Rect(text.x, qr_end, text.w, text.bottom - qr_end)
    page_h = template.page_size_mm[1]
    return Frame(qr.start(where, page_h), f"q 1 0 0 1 {num(text.x * PT)} {num((page_h - text.y) * PT)} cm\n", text)


class Painter:
    """Draws the labels of one batch. The frame of a slot (its areas, the QR's place on the printer's
    dot grid, where the text starts) depends on the slot and the symbol's size only: worked out once
    per batch, not once per label."""

    def __init__(self, template: Template, font: FontUse) -> None:
        self.template, self.font = template, font
        self._frames: dict[tuple[int, int], Frame] = {}

    def draw(self, slot: int, label: Label, content: str) -> str:
        """PDF operators for one label in slot ``slot`` of a page: the QR paths and the text lines."""
        matrix = qr.make_matrix(content, self.template.printer.ec_level)
        at = self._frames.get((slot, len(matrix)))
        if at is None:
            at = self._frames[slot, len(matrix)] = frame(self.template, self.template.slot(slot), len(matrix),
                                                         label.code)
        return f"{at.qr_start}{qr.path(matrix)}f Q\n{at.text_start}{_text_lines(at.text, label, self.font)}Q\n"


def _text_lines(area: Rect, label: Label, font: FontUse) -> str:
    """The text's operators, relative to the area's top-left corner (so that labels can share them)."""
    face = font.face
    width, height = area.w * PT, area.h * PT
    # A code reads best on one line: it shrinks all the way down before it wraps.
    code = fit(label.code, face.width, width, height, min(MAX_CODE_SIZE, height / 3), MIN_SIZE * 0.8,
               LEADING, max_lines=2, one_line_floor=MIN_SIZE * 0.8)
    if code.truncated or not code.lines:
        raise LabelError(f"label text area ({area.w:.1f} x {area.h:.1f} mm) is too small for the code {label.code}")
    codes = iter(code.lines)
    return "".join(f"{start}{font.encode(next(codes) if text is None else text).decode()} Tj ET\n"
                   for start, text in _arrange(face, width, height, code.size, len(code.lines), label.name,
                                               label.org, _category_year(label)))


@lru_cache(maxsize=1024)
def _arrange(face: FontFace, width: float, height: float, code_size: float, code_lines: int, name: str, org: str,
             category_year: str) -> tuple[tuple[str, str | None], ...]:
    """Every text line below the area's top-left corner: its ``BT ... Td`` operators and its text (None
    for the code's lines, which differ on every label).

    A batch repeats nearly all of this (one organisation, a few categories, often one name for a whole
    intake) and it is a pure function of its arguments: remembered, it costs one lookup per label.
    """
    measure = face.width
    blocks: list[tuple[float, tuple[str | None, ...]]] = [(code_size, (None,) * code_lines)]
    left = height - code_lines * code_size * LEADING
    meta_size = max(MIN_SIZE, code_size * 0.75)
    metas = [t for t in (org, category_year) if t]
    # Reserve room for the meta lines first, then give the name what remains; drop metas that do not fit.
    while metas and left - len(metas) * meta_size * LEADING < (MIN_SIZE * LEADING if name.strip() else 0):
        metas.pop()
    name_room = left - len(metas) * meta_size * LEADING
    if name.strip():
        fitted = fit(name, measure, width, name_room, code_size * 0.9, MIN_SIZE, LEADING)
        blocks.append((fitted.size, fitted.lines))
        left -= _height(fitted)
    fits = [_fit_line(meta, measure, width, meta_size * LEADING, meta_size, MIN_SIZE, LEADING, max_lines=1)
            for meta in metas]
    if fits:  # organisation and category lines share one size: the smaller of the two fits
        size = min(f.size for f in fits)
        fits = [_fit_line(meta, measure, width, size * LEADING, size, MIN_SIZE, LEADING, max_lines=1)
                for meta in metas]
    for fitted in fits:
        if fitted.lines and _height(fitted) <= left + 1e-6:
            blocks.append((fitted.size, fitted.lines))
            left -= _height(fitted)
    # The block sits centred in the text area's height.
    top = -max(0.0, left) / 2
    out = []
    ascent, descent = face.ascent, face.descent
    for size, lines in blocks:
        line_h, size_text = size * LEADING, num(size)
        drop = (line_h - size * (ascent - descent)) / 2 + size * ascent  # line top to baseline
        for line in lines:
            out.append((f"BT /F1 {size_text} Tf 0 {num(top - drop)} Td ", line))
            top -= line_h
    return tuple(out)


# The organisation and category lines repeat even when every name differs: remembered on their own.
_fit_line = lru_cache(maxsize=256)(fit)


def _height(block: Fitted) -> float:
    return len(block.lines) * block.size * LEADING


def _category_year(label: Label) -> str:
    parts = [label.category or "", str(label.year) if label.year else ""]
    return " \u00b7 ".join(p for p in parts if p)
