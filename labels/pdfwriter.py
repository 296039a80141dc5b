"""A minimal streaming PDF writer: objects go to the output as soon as they are made.

Why not reportlab's Canvas: it keeps every page's content stream in memory until ``save()``, so a
10,000-label batch would hold all its pages at once. Here a page is written and forgotten the moment it
is complete; only object offsets (one int each) stay until the cross-reference table is written at the end.
"""

from __future__ import annotations

import zlib
from typing import BinaryIO


def pdf_string(text: str) -> bytes:
    """A PDF literal string for ASCII text (names, producer), with the three special bytes escaped."""
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode("ascii", "replace") + b")"


def num(value: float) -> str:
    """A compact PDF number: three decimals (1/1000 pt is far below any printer dot), no trailing zeros."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


class PdfWriter:
    def __init__(self, out: BinaryIO, compress_level: int = 6) -> None:
        self._out = out
        self._pos = 0  # counted here, not out.tell(): the output may be an unseekable stream
        self._offsets: dict[int, int] = {}
        self._next_id = 1
        self._level = compress_level
        # The binary comment line tells transfer tools the file is binary (PDF 32000-1, 7.5.2).
        self._write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

    def _write(self, data: bytes) -> None:
        self._out.write(data)
        self._pos += len(data)

    def reserve(self) -> int:
        """An object number to refer to now and write later (fonts, the page tree)."""
        obj_id = self._next_id
        self._next_id += 1
        return obj_id

    def obj(self, obj_id: int, body: bytes) -> None:
        if obj_id in self._offsets:
            raise RuntimeError(f"PDF object {obj_id} written twice")
        self._offsets[obj_id] = self._pos
        self._write(b"%d 0 obj\n%s\nendobj\n" % (obj_id, body))

    def stream(self, obj_id: int, data: bytes, extra: bytes = b"", compress: bool = True) -> None:
        if compress:
            data = zlib.compress(data, self._level)
            extra += b" /Filter /FlateDecode"
        self.obj(obj_id, b"<< /Length %d%s >>\nstream\n%s\nendstream" % (len(data), extra, data))

    def finish(self, root_id: int, info_id: int | None = None) -> None:
        missing = [i for i in range(1, self._next_id) if i not in self._offsets]
        if missing:
            raise RuntimeError(f"PDF objects reserved but never written: {missing[:10]}")
        xref_at = self._pos
        lines = [b"xref\n0 %d\n" % self._next_id, b"0000000000 65535 f \n"]
        lines += [b"%010d 00000 n \n" % self._offsets[i] for i in range(1, self._next_id)]
        self._write(b"".join(lines))
        info = b" /Info %d 0 R" % info_id if info_id else b""
        self._write(b"trailer\n<< /Size %d /Root %d 0 R%s >>\nstartxref\n%d\n%%%%EOF\n"
                    % (self._next_id, root_id, info, xref_at))
