"""A4 documents made like the labels (same font subset, vector QR, streaming writer): the visitor
pass to print and hand over, and tables such as the roll call of who is on site.

The caller gives every word already in the reader's language; nothing here translates or looks
anything up. Text that is too long is wrapped and, failing that, ellipsized: never drawn outside
its box.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

from contract import codes
from labels import fonts, qr
from labels.model import LabelError
from labels.pdfwriter import PdfWriter, num, pdf_string
from labels.text import ellipsize, fit

PT = qr.PT_PER_MM
A4 = (210.0, 297.0)
MARGIN = 15.0  # mm
EC_LEVEL = "M"


@dataclass(frozen=True)
class PassCard:
    """One visitor pass: the code for the QR, a title, and (label, value) lines under the name."""

    code: str
    content: str  # what the QR holds: the bare code or <base_url>/c/<code>
    title: str
    name: str
    lines: Sequence[tuple[str, str]]
    footer: str = ""


class _Page:
    """Operators of one A4 page, in mm from the top-left corner."""

    def __init__(self, font: fonts.FontUse) -> None:
        self.font = font
        self.ops: list[str] = []

    def text(self, x: float, y_top: float, text: str, size: float, width: float | None = None) -> float:
        """Draw one line whose top is ``y_top``; returns the y below it."""
        face = self.font.face
        if width is not None:
            text = ellipsize(text, face.width, size, width * PT)
        baseline = (A4[1] - y_top) * PT - size * face.ascent
        self.ops.append(f"BT /F1 {num(size)} Tf {num(x * PT)} {num(baseline)} Td {self.font.encode(text).decode()} "
                        "Tj ET\n")
        return y_top + size * 1.25 / PT

    def block(self, x: float, y_top: float, text: str, width: float, size: float, min_size: float,
              max_lines: int = 3) -> float:
        fitted = fit(text, self.font.face.width, width * PT, max_lines * size * 1.25, size, min_size, 1.25,
                     max_lines=max_lines)
        for line in fitted.lines:
            y_top = self.text(x, y_top, line, fitted.size)
        return y_top

    def line(self, x0: float, y0: float, x1: float, y1: float, width: float = 0.3, dash: bool = False) -> None:
        pattern = "[2 2] 0 d " if dash else ""
        self.ops.append(f"q {pattern}{num(width)} w {num(x0 * PT)} {num((A4[1] - y0) * PT)} m "
                        f"{num(x1 * PT)} {num((A4[1] - y1) * PT)} l S Q\n")

    def rect(self, x: float, y: float, w: float, h: float, dash: bool = False) -> None:
        pattern = "[3 2] 0 d " if dash else ""
        self.ops.append(f"q {pattern}0.4 w {num(x * PT)} {num((A4[1] - y - h) * PT)} {num(w * PT)} {num(h * PT)} "
                        "re S Q\n")

    def qr(self, content: str, x: float, y: float, side: float, code: str) -> None:
        matrix = qr.make_matrix(content, EC_LEVEL)
        quiet = 4
        module = side / (len(matrix) + 2 * quiet)
        if module < 0.4:
            raise LabelError(f"the QR of {code} does not fit in {side} mm: use a shorter base URL")
        self.ops.append(qr.draw(matrix, qr.Placement(x, y, module, quiet, len(matrix)), A4[1]))


class _Document:
    def __init__(self, out: BinaryIO, title: str) -> None:
        self.pdf = PdfWriter(out)
        self.font = fonts.FontUse(fonts.load(*fonts.locate()))
        self.font_id, self.pages_id = self.pdf.reserve(), self.pdf.reserve()
        self.page_ids: list[int] = []
        self.title = title

    def add(self, page: _Page) -> None:
        content_id, page_id = self.pdf.reserve(), self.pdf.reserve()
        self.pdf.stream(content_id, "".join(page.ops).encode("ascii"))
        media = f"[0 0 {num(A4[0] * PT)} {num(A4[1] * PT)}]".encode()
        self.pdf.obj(page_id, b"<< /Type /Page /Parent %d 0 R /MediaBox %s /Resources << /Font << /F1 %d 0 R >> >> "
                              b"/Contents %d 0 R >>" % (self.pages_id, media, self.font_id, content_id))
        self.page_ids.append(page_id)

    def finish(self) -> int:
        self.font.write(self.pdf, self.font_id)
        kids = " ".join(f"{i} 0 R" for i in self.page_ids).encode()
        self.pdf.obj(self.pages_id, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(self.page_ids)))
        root_id, info_id = self.pdf.reserve(), self.pdf.reserve()
        self.pdf.obj(root_id, b"<< /Type /Catalog /Pages %d 0 R >>" % self.pages_id)
        self.pdf.obj(info_id, b"<< /Producer %s /Title %s >>" % (pdf_string("AssetGate"), pdf_string(self.title)))
        self.pdf.finish(root_id, info_id)
        return len(self.page_ids)


def render_passes(cards: Sequence[PassCard], out: BinaryIO) -> int:
    """Visitor passes, two to an A4 page (cut along the dashed line); returns the number of pages."""
    if not cards:
        raise LabelError("no passes to print")
    for card in cards:
        if codes.normalize(card.content) != codes.normalize(card.code, codes.Kind.VISITOR):
            raise LabelError(f"QR content {card.content!r} would not scan back to {card.code}")
    doc = _Document(out, "Visitor passes")
    page = _Page(doc.font)
    for number, card in enumerate(cards):
        slot = number % 2
        if number and slot == 0:
            doc.add(page)
            page = _Page(doc.font)
        _pass(page, card, MARGIN + slot * (A4[1] / 2))
    doc.add(page)
    return doc.finish()


def _pass(page: _Page, card: PassCard, top: float) -> None:
    width, height = A4[0] - 2 * MARGIN, A4[1] / 2 - 2 * MARGIN
    page.rect(MARGIN, top, width, height, dash=True)
    y = page.block(MARGIN + 6, top + 6, card.title, width - 12, 16, 10, max_lines=1) + 2
    side = 60.0
    page.qr(card.content, MARGIN + 4, y, side, card.code)
    x = MARGIN + side + 10
    text_w = width - side - 16
    y_text = page.block(x, y + 4, card.name, text_w, 22, 10, max_lines=2) + 3
    for label, value in card.lines:
        y_text = page.text(x, y_text, label, 8, text_w)
        y_text = page.block(x, y_text, value or "—", text_w, 11, 7, max_lines=2) + 1.5
    page.text(MARGIN + 8, y + side + 1, card.code, 12)
    if card.footer:
        page.block(MARGIN + 6, top + height - 12, card.footer, width - 12, 8, 6, max_lines=2)


@dataclass(frozen=True)
class Column:
    title: str
    width: float  # mm


FOOTER_LINE = 11.0  # mm a footer line may take: two text lines of 10 pt and the space above


def render_table(out: BinaryIO, title: str, subtitle: str, columns: Sequence[Column],
                 rows: Sequence[Sequence[str]], footer: str | Sequence[str] = "") -> int:
    """A table over as many A4 pages as it needs, its header on each; returns the number of pages.

    ``footer`` under the last row: one text (up to three lines), or a sequence of texts, each on lines
    of its own (signatures: who did what), moved to a page of its own when they do not fit."""
    usable = A4[0] - 2 * MARGIN
    if sum(c.width for c in columns) > usable + 1e-6:
        raise LabelError(f"the columns are wider than the page ({usable} mm)")
    lines = [] if isinstance(footer, str) else [line for line in footer if line]
    doc = _Document(out, title)
    page_no, index = 0, 0
    while True:
        page_no += 1
        page = _Page(doc.font)
        y = page.block(MARGIN, MARGIN, title, usable, 16, 10, max_lines=1)
        y = page.text(MARGIN, y + 1, f"{subtitle}  ·  {page_no}", 9, usable) + 2
        y = _row(page, columns, [c.title for c in columns], y, header=True)
        while index < len(rows) and y < A4[1] - MARGIN - 12:
            y = _row(page, columns, rows[index], y)
            index += 1
        if index >= len(rows) and isinstance(footer, str) and footer:
            page.block(MARGIN, y + 4, footer, usable, 9, 7, max_lines=3)
        if index >= len(rows) and lines:
            if y + 4 + FOOTER_LINE * len(lines) > A4[1] - MARGIN:
                doc.add(page)
                page_no += 1
                page = _Page(doc.font)
                y = page.text(MARGIN, MARGIN, f"{title}  ·  {subtitle}  ·  {page_no}", 9, usable)
            y += 2
            for line in lines:
                y = page.block(MARGIN, y + 2, line, usable, 10, 7, max_lines=2)
        doc.add(page)
        if index >= len(rows):
            return doc.finish()


def _row(page: _Page, columns: Sequence[Column], cells: Sequence[str], y: float, header: bool = False) -> float:
    height = 7.5
    x = MARGIN
    for column, cell in zip(columns, cells, strict=False):
        page.text(x + 1, y + 1.8, str(cell), 8 if header else 9, column.width - 2)
        x += column.width
    page.line(MARGIN, y + height, x, y + height, 0.6 if header else 0.2)
    return y + height


@dataclass(frozen=True)
class Section:
    """One table of a report: a heading, its columns and its rows (already in the reader's words)."""

    heading: str
    columns: Sequence[Column]
    rows: Sequence[Sequence[str]]
    empty: str = "—"  # shown as the one row of a section without rows


class _Flow:
    """Writes lines down the page and starts a new one (numbered, titled) when the next would not fit."""

    def __init__(self, doc: _Document, title: str) -> None:
        self.doc, self.title = doc, title
        self.page, self.number = _Page(doc.font), 1
        self.usable, self.bottom = A4[0] - 2 * MARGIN, A4[1] - MARGIN - 10
        self.y = self.page.block(MARGIN, MARGIN, title, self.usable, 16, 10, max_lines=2) + 2

    def room(self, height: float) -> bool:
        """Make sure ``height`` mm fit; True when that took a new page."""
        if self.y + height <= self.bottom:
            return False
        self.doc.add(self.page)
        self.page, self.number = _Page(self.doc.font), self.number + 1
        self.y = self.page.text(MARGIN, MARGIN, f"{self.title}  ·  {self.number}", 9, self.usable) + 2
        return True

    def row(self, columns: Sequence[Column], cells: Sequence[str], header: bool = False) -> None:
        if self.room(8) and not header:
            self.y = _row(self.page, columns, [c.title for c in columns], self.y, header=True)
        self.y = _row(self.page, columns, cells, self.y, header)


def render_report(out: BinaryIO, title: str, facts: Sequence[tuple[str, str]], sections: Sequence[Section],
                  footer: Sequence[str] = ()) -> int:
    """A report over as many A4 pages as it needs: the title, (label, value) facts, each section's
    heading and table (its header row again on a page it continues on), then the footer lines (a
    sign-off block). Pages after the first carry the title and their number. Returns the number of pages."""
    usable = A4[0] - 2 * MARGIN
    for section in sections:
        if sum(c.width for c in section.columns) > usable + 1e-6:
            raise LabelError(f"the columns of {section.heading!r} are wider than the page ({usable} mm)")
    doc = _Document(out, title)
    flow = _Flow(doc, title)
    for label, value in facts:
        flow.room(5)
        flow.y = flow.page.text(MARGIN, flow.y, f"{label}: {value}", 9, usable)
    for section in sections:
        flow.room(24)
        flow.y = flow.page.text(MARGIN, flow.y + 4, section.heading, 12, usable) + 1
        flow.row(section.columns, [c.title for c in section.columns], header=True)
        for cells in section.rows or [[section.empty]]:
            flow.row(section.columns, cells)
    if footer:
        flow.room(10 * len(footer) + 6)
        flow.y += 6
        for line in footer:
            flow.y = flow.page.block(MARGIN, flow.y, line, usable, 10, 7, max_lines=2) + 3
    doc.add(flow.page)
    return doc.finish()
