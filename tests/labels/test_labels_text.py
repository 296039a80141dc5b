"""Text fitting (shrink, wrap, ellipsize) and the proof that nothing is drawn outside a label."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from labels_support import px, rasterise

import labels
from contract import codes
from labels import fonts
from labels.text import ELLIPSIS, fit, wrap


@pytest.fixture(scope="module")
def measure() -> fonts.FontFace:
    return fonts.load(*fonts.locate())


def test_short_text_keeps_max_size(measure: fonts.FontFace) -> None:
    got = fit("Chair", measure.width, 100, 30, 9, 4)
    assert got.size == 9 and got.lines == ("Chair",) and not got.truncated


def test_shrinks_before_wrapping(measure: fonts.FontFace) -> None:
    text = "Office chair"
    width = measure.width(text, 9) * 0.9  # fits at 90 % of max size
    got = fit(text, measure.width, width, 30, 9, 4)
    assert got.lines == (text,) and 6.3 <= got.size < 9


def test_wraps_when_shrinking_is_not_enough(measure: fonts.FontFace) -> None:
    text = "Conference room projector with ceiling mount"
    got = fit(text, measure.width, 60, 40, 8, 4)
    assert len(got.lines) > 1 and not got.truncated
    assert " ".join(got.lines) == text
    assert all(measure.width(line, got.size) <= 60 for line in got.lines)


def test_cjk_wraps_between_characters(measure: fonts.FontFace) -> None:
    lines = wrap("联想笔记本电脑会议室专用投影仪", measure.width, 8, 40)
    assert len(lines) > 1 and "".join(lines) == "联想笔记本电脑会议室专用投影仪"


def test_ellipsizes_as_last_resort(measure: fonts.FontFace) -> None:
    got = fit("W" * 500, measure.width, 50, 20, 8, 4)
    assert got.truncated and got.size == 4 and got.lines[-1].endswith(ELLIPSIS)
    assert len(got.lines) * 4 * 1.15 <= 20
    assert all(measure.width(line, 4) <= 50 for line in got.lines)


def test_no_room_at_all(measure: fonts.FontFace) -> None:
    assert fit("Chair", measure.width, 50, 2, 8, 4).lines == ()


LONG = [
    "Wide-format colour laser multifunction printer with stapling finisher, duplex unit and extra paper trays",
    "政府采购项目会议室多媒体投影设备含吊架安装及线缆配套服务第二批次补充合同附件",
    "W" * 300,
    "Supercalifragilisticexpialidociousnessandthensomemorewithoutanyspaces",
]


@pytest.mark.parametrize("name", labels.templates.names())
def test_long_text_never_leaves_the_label(name: str, tmp_path: Path) -> None:
    """Ink only inside the printable areas of the slots: long names, orgs and categories stay in."""
    template = labels.templates.get(name)
    count = template.per_page if template.is_sheet else 4
    items = [labels.Label(str(codes.new_code("A")), LONG[i % 4], org=LONG[(i + 1) % 4],
                          category=LONG[(i + 2) % 4], year=2023) for i in range(count)]
    pdf = tmp_path / "long.pdf"
    labels.render_pdf(items, pdf, template)
    dpi = template.printer.dpi
    for page in rasterise(pdf, dpi, tmp_path):
        allowed = np.zeros(page.shape, dtype=bool)
        for i in range(template.per_page):
            area = px(template.slot(i).inset(template.label.padding_mm), dpi)
            # Anti-aliased edges may tint the pixel a glyph ends in: one pixel of tolerance.
            allowed[max(0, int(area.y) - 1):int(area.bottom) + 2, max(0, int(area.x) - 1):int(area.right) + 2] = True
        ink = page < 200
        assert ink.any()
        assert not (ink & ~allowed).any(), "something was drawn outside a label's printable area"
