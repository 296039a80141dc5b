"""The embedded label font: a CJK-capable TrueType font, found on the system, subset into each PDF.

Default: WenQuanYi Micro Hei (Debian package ``fonts-wqy-microhei``). It has TrueType outlines and
covers Latin, Cyrillic, Greek and CJK, so one font renders every name. Noto Sans CJK (fonts-noto-cjk) is
not used: it has CFF outlines, which reportlab's TrueType parser cannot subset.
``ASSETGATE_LABEL_FONT=/path/font.ttf`` (or ``font.ttc:N`` for face N of a collection) selects another.

reportlab parses the font and cuts the subset (tens of ms; fontTools took over a second on this font).
Each distinct glyph gets a CID in order of first use, and the subset is cut in that same order, so CID
and glyph id in the subset coincide (CIDToGIDMap /Identity). A ToUnicode map makes copy/paste and
pdftotext give the real text back.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from reportlab.pdfbase.ttfonts import TTFError, TTFontFile

from labels.model import LabelError
from labels.pdfwriter import PdfWriter

ENV_VAR = "ASSETGATE_LABEL_FONT"
CANDIDATES = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),  # fonts-wqy-microhei
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),  # fonts-wqy-zenhei
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),  # fonts-droid-fallback
)
REPLACEMENT = "?"  # drawn for a character the font lacks: a visible mark, never an invisible .notdef box


class _Advances(dict[str, float]):
    """Character -> advance width in font units (1/1000 of the size), filled on first use.

    A character the font lacks gets the width of the REPLACEMENT it will be drawn as. Text is measured
    with ``sum(map(advances.__getitem__, text))``: one C-level pass, no Python code per character.
    """

    def __init__(self, file: TTFontFile) -> None:
        super().__init__()
        self._widths, self._glyphs = file.charWidths, file.charToGlyph

    def __missing__(self, ch: str) -> float:
        code = ord(ch) if ord(ch) in self._glyphs else ord(REPLACEMENT)
        width = self[ch] = self._widths.get(code, 1000.0)
        return width


@dataclass(frozen=True, eq=False)
class FontFace:
    """One parsed font, loaded once per process (parsing a CJK font takes a few 100 ms)."""

    path: str
    index: int
    file: TTFontFile
    lock: threading.Lock  # TTFontFile reads through a shared file position while subsetting
    advances: _Advances = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "advances", _Advances(self.file))

    @property
    def ps_name(self) -> str:
        raw = self.file.name
        return (raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)) or "LabelFont"

    @property
    def ascent(self) -> float:
        """Ascender per 1 pt of size."""
        return float(self.file.ascent) / 1000

    @property
    def descent(self) -> float:
        """Descender per 1 pt of size (negative)."""
        return float(self.file.descent) / 1000

    def has(self, ch: str) -> bool:
        return ord(ch) in self.file.charToGlyph

    def width(self, text: str, size: float) -> float:
        """Advance width of ``text`` in points at ``size`` (no kerning: labels are short, and fitting
        relies on the width of a text being the sum of its parts')."""
        return sum(map(self.advances.__getitem__, text)) * size / 1000


def locate() -> tuple[str, int]:
    """The font to use: $ASSETGATE_LABEL_FONT, else the first installed candidate."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        path, index = configured, 0
        head, sep, tail = configured.rpartition(":")
        if sep and tail.isdigit() and not Path(configured).is_file():
            path, index = head, int(tail)  # "font.ttc:1" picks the second face of a collection
        if not Path(path).is_file():
            raise LabelError(f"{ENV_VAR}={configured!r}: no such font file")
        return path, index
    for path, index in CANDIDATES:
        if Path(path).is_file():
            return path, index
    raise LabelError(
        "no CJK TrueType font found for label text: install the Debian package fonts-wqy-microhei "
        f"(or set {ENV_VAR} to a .ttf/.ttc file with TrueType outlines)"
    )


@lru_cache(maxsize=4)
def load(path: str, index: int = 0) -> FontFace:
    try:
        parsed = TTFontFile(path, subfontIndex=index)
    except (OSError, TTFError) as exc:  # TTFError also covers CFF outlines and no-embedding licences
        raise LabelError(f"cannot use label font {path}: {exc}") from None
    return FontFace(path, index, parsed, threading.Lock())


class FontUse:
    """One document's use of a face: encodes text, and embeds the glyphs it used."""

    def __init__(self, face: FontFace) -> None:
        self.face = face
        self._cid: dict[str, int] = {}  # character -> CID (= glyph id in the subset)
        self._chars: list[str] = []  # CID - 1 -> character; CID 0 is .notdef
        self._glyph_cid: dict[int, int] = {}  # glyph id in the full font -> CID
        self._hex: dict[str, str] = {}  # character -> its CID as four hex digits

    def encode(self, text: str) -> bytes:
        """``text`` as a PDF hex string of CIDs, for ``Tj`` with the Identity-H encoding."""
        hexes = self._hex
        try:
            body = "".join(map(hexes.__getitem__, text))  # one C-level pass for characters seen before
        except KeyError:
            for ch in text:
                if ch not in hexes:
                    hexes[ch] = f"{self._add(ch):04X}"
            body = "".join(map(hexes.__getitem__, text))
        return b"<" + body.encode("ascii") + b">"

    def _add(self, ch: str) -> int:
        glyphs = self.face.file.charToGlyph
        if ord(ch) not in glyphs:
            if ch == REPLACEMENT:
                self._cid[ch] = 0  # the font lacks even the replacement: .notdef
                return 0
            cid = self._cid.get(REPLACEMENT)
            cid = self._add(REPLACEMENT) if cid is None else cid
        else:
            gid = glyphs[ord(ch)]
            cid = self._glyph_cid.get(gid, 0)
            if not cid:  # a new glyph (two characters may share one: then they share the CID)
                self._chars.append(ch)
                cid = self._glyph_cid[gid] = len(self._chars)
        self._cid[ch] = cid
        return cid

    def write(self, pdf: PdfWriter, font_id: int) -> None:
        """Write the Type0 font (reserved as ``font_id``) and its parts, with the glyph subset."""
        face = self.face
        chars = tuple(self._chars)
        tag = "".join(chr(65 + b % 26) for b in hashlib.sha1("".join(chars).encode()).digest()[:6])
        base = f"/{tag}+{face.ps_name}".encode("ascii", "replace")
        cid_id, desc_id, file_id, cmap_id = (pdf.reserve() for _ in range(4))
        widths = face.file.charWidths
        w_array = " ".join(str(round(widths.get(ord(ch), 1000))) for ch in chars)
        pdf.obj(font_id, b"<< /Type /Font /Subtype /Type0 /BaseFont %s /Encoding /Identity-H "
                         b"/DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>" % (base, cid_id, cmap_id))
        pdf.obj(cid_id, b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont %s "
                        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
                        b"/FontDescriptor %d 0 R /CIDToGIDMap /Identity /DW 1000 /W [1 [%s]] >>"
                        % (base, desc_id, w_array.encode()))
        f = face.file
        x0, y0, x1, y1 = (round(v) for v in f.bbox)
        pdf.obj(desc_id, b"<< /Type /FontDescriptor /FontName %s /Flags %d /FontBBox [%d %d %d %d] "
                         b"/ItalicAngle %d /Ascent %d /Descent %d /CapHeight %d /StemV %d /FontFile2 %d 0 R >>"
                         % (base, f.flags, x0, y0, x1, y1, round(f.italicAngle), round(f.ascent),
                            round(f.descent), round(f.capHeight), round(f.stemV), file_id))
        program = _subset(face, chars)
        pdf.stream(file_id, program, extra=b" /Length1 %d" % len(program))
        pdf.stream(cmap_id, _to_unicode(chars))


@lru_cache(maxsize=16)
def _subset(face: FontFace, chars: tuple[str, ...]) -> bytes:
    """The font cut down to ``chars``, glyph i+1 being chars[i] (cached: reprints reuse glyph sets)."""
    with face.lock:
        return face.file.makeSubset([ord(ch) for ch in chars])


def _to_unicode(chars: tuple[str, ...]) -> bytes:
    entries = list(enumerate(chars, 1))
    blocks = []
    for start in range(0, len(entries), 100):  # a bfchar block holds at most 100 entries
        chunk = entries[start:start + 100]
        body = "\n".join(f"<{cid:04X}> <{ch.encode('utf-16-be').hex().upper()}>" for cid, ch in chunk)
        blocks.append(f"{len(chunk)} beginbfchar\n{body}\nendbfchar")
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        + "\n".join(blocks)
        + "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
    ).encode("ascii")
