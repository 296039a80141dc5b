"""render_pdf: a batch of labels -> one print-ready PDF, written page by page as it is made."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from contract import codes
from labels import fonts, layout, templates
from labels.model import Label, LabelError, RenderResult
from labels.pdfwriter import PdfWriter, num, pdf_string
from labels.qr import PT_PER_MM


def render_pdf(items: Iterable[Label], output: BinaryIO | str | Path,
               template: str | templates.Template = "a4-l7651", *, base_url: str | None = None,
               skip: int = 0) -> RenderResult:
    """Render ``items`` onto ``template`` and write the PDF to ``output`` (a path or a binary stream).

    ``skip`` leaves that many labels blank at the start of the first sheet (a partly used sheet).
    ``base_url`` makes every QR hold ``<base_url>/c/<code>`` instead of the bare code.
    Memory stays flat however long ``items`` is: pages are written as soon as they are full.

    Errors (LabelError) come before any byte is written when ``items`` is a sequence; a generator is
    checked as it is consumed, so a bad code late in it leaves a partial stream (a path output is then
    removed, never left half-written).
    """
    tpl = templates.get(template)
    if not isinstance(skip, int) or not 0 <= skip < tpl.per_page:
        raise LabelError(f"skip must be between 0 and {tpl.per_page - 1} for template {tpl.name!r}, not {skip!r}")
    if base_url is not None and (not base_url.strip() or any(ch.isspace() for ch in base_url)):
        raise LabelError(f"base_url must be a URL without spaces, not {base_url!r}")
    if isinstance(items, Sequence):
        for number, item in enumerate(items, 1):
            _content(item, number, base_url)  # validate the whole batch before writing anything
    stream = iter(items)
    first = next(stream, None)
    if first is None:
        raise LabelError("no labels to render: the list of codes is empty")
    face = fonts.load(*fonts.locate())
    batch = _chain(first, stream)
    if not isinstance(output, (str, Path)):
        return _write(batch, output, tpl, base_url, skip, face)
    target = Path(output)
    fd, tmp = tempfile.mkstemp(prefix=".labels-", suffix=".pdf", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            result = _write(batch, fh, tpl, base_url, skip, face)
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise
    return result


def _chain(first: Label, rest: Iterator[Label]) -> Iterator[Label]:
    yield first
    yield from rest


def _content(item: Label, number: int, base_url: str | None) -> tuple[Label, str]:
    """The label with its code normalised, and what its QR holds; checked to scan back to the same code."""
    if not isinstance(item, Label):
        raise LabelError(f"item {number} is a {type(item).__name__}, not a labels.Label")
    try:
        code = codes.normalize(item.code)
    except codes.CodeError as exc:
        raise LabelError(f"label {number}: {exc} ({exc.reason})") from None
    content = codes.label_text(code, base_url)
    if codes.normalize(content) != code:  # e.g. a base URL that hides the /c/<code> tail from readers
        raise LabelError(f"QR content {content!r} would not scan back to {code}")
    if code != item.code:
        item = Label(code, item.name, item.org, item.category, item.year)
    return item, content


def _write(batch: Iterator[Label], out: BinaryIO, tpl: templates.Template, base_url: str | None, skip: int,
           face: fonts.FontFace) -> RenderResult:
    # zlib level 5: page streams 13 % larger than at 6, in half the time (6 took a fifth of the batch).
    pdf = PdfWriter(out, compress_level=5)
    font = fonts.FontUse(face)
    painter = layout.Painter(tpl, font)
    font_id, pages_id = pdf.reserve(), pdf.reserve()
    page_w, page_h = tpl.page_size_mm
    media = f"[0 0 {num(page_w * PT_PER_MM)} {num(page_h * PT_PER_MM)}]".encode()
    page_ids: list[int] = []  # one int per page: the only thing that grows with the batch
    ops: list[str] = []
    slot = skip
    count = 0

    def flush() -> None:
        content_id, page_id = pdf.reserve(), pdf.reserve()
        pdf.stream(content_id, "".join(ops).encode("ascii"))
        pdf.obj(page_id, b"<< /Type /Page /Parent %d 0 R /MediaBox %s /Resources << /Font << /F1 %d 0 R >> >> "
                         b"/Contents %d 0 R >>" % (pages_id, media, font_id, content_id))
        page_ids.append(page_id)
        ops.clear()

    for item in batch:
        count += 1
        label, content = _content(item, count, base_url)
        ops.append(painter.draw(slot, label, content))
        slot += 1
        if slot == tpl.per_page:
            flush()
            slot = 0
    if ops:
        flush()
    font.write(pdf, font_id)
    kids = " ".join(f"{i} 0 R" for i in page_ids).encode()
    pdf.obj(pages_id, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(page_ids)))
    root_id, info_id = pdf.reserve(), pdf.reserve()
    pdf.obj(root_id, b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    pdf.obj(info_id, b"<< /Producer %s /Title %s >>"
            % (pdf_string("AssetGate labels"), pdf_string(f"Labels ({tpl.name})")))
    pdf.finish(root_id, info_id)
    return RenderResult(labels=count, pages=len(page_ids))
