"""Proof by decoding: every built-in template, rendered at its printer's resolution, scans back exactly,
and every symbol sits inside the printable area of the slot its label belongs to."""

from __future__ import annotations

from pathlib import Path

import pytest
from labels_support import decode, rasterise, slot_of

import labels
from contract import codes

NAMES = ["Dell Latitude 5440", "联想笔记本电脑 ThinkPad X1 Carbon 第十一代", "", "Ω" * 90, "会议室投影仪"]


def _batch(count: int, kinds: str = "ALSPV") -> list[labels.Label]:
    out = []
    for i in range(count):
        # Every seventh code has the longest body the protocol allows: a bigger QR, a longer text line.
        code = str(codes.new_code(kinds[i % len(kinds)], codes.MAX_BODY if i % 7 == 6 else codes.DEFAULT_BODY))
        out.append(labels.Label(code=code, name=NAMES[i % len(NAMES)], org="工务局 Public Works",
                                category="Laptop" if i % 2 else None, year=2024 if i % 3 else None))
    return out


def _check(pdf: Path, template: labels.Template, items: list[labels.Label], tmp_path: Path, skip: int = 0,
           base_url: str | None = None) -> None:
    pages = rasterise(pdf, template.printer.dpi, tmp_path)
    page_w_mm, page_h_mm = template.page_size_mm
    expected: dict[tuple[int, int], str] = {}
    for n, item in enumerate(items):
        page, slot = divmod(n + skip, template.per_page)
        expected[(page, slot)] = codes.label_text(item.code, base_url)
    seen: dict[tuple[int, int], str] = {}
    for page_no, image in enumerate(pages):
        # The page raster has the physical size at this resolution (to the rounding pixel).
        assert abs(image.shape[1] - page_w_mm / 25.4 * template.printer.dpi) <= 1
        assert abs(image.shape[0] - page_h_mm / 25.4 * template.printer.dpi) <= 1
        for hit in decode(image):
            slot = slot_of(template, hit)
            assert slot is not None, f"QR {hit.text} at {hit} is not inside any slot on page {page_no + 1}"
            assert (page_no, slot) not in seen, f"two symbols in slot {slot} of page {page_no + 1}"
            seen[(page_no, slot)] = hit.text
    assert seen == expected


@pytest.mark.parametrize("name", labels.templates.names())
def test_every_label_scans_back_inside_its_slot(name: str, tmp_path: Path) -> None:
    template = labels.templates.get(name)
    items = _batch(template.per_page if template.is_sheet else 5)
    pdf = tmp_path / f"{name}.pdf"
    result = labels.render_pdf(items, pdf, name)
    assert result.labels == len(items)
    assert result.pages == (1 if template.is_sheet else len(items))
    _check(pdf, template, items, tmp_path)


@pytest.mark.parametrize("name", ["a4-l7651", "a4-l7163", "thermal-62", "thermal-40x20"])
def test_url_content_scans_back(name: str, tmp_path: Path) -> None:
    template = labels.templates.get(name)
    items = _batch(10)
    pdf = tmp_path / "url.pdf"
    labels.render_pdf(items, pdf, name, base_url="https://assets.example.org/")
    _check(pdf, template, items, tmp_path, base_url="https://assets.example.org")


def test_skip_starts_on_a_partly_used_sheet(tmp_path: Path) -> None:
    template = labels.templates.get("a4-l7160")
    items = _batch(20)
    pdf = tmp_path / "skip.pdf"
    result = labels.render_pdf(items, pdf, template, skip=5)
    assert result.pages == 2  # 5 used + 20 new = 25 slots: one full sheet and four on the next
    _check(pdf, template, items, tmp_path, skip=5)


def test_blank_codes_only(tmp_path: Path) -> None:
    """Freshly issued codes with no name yet (to be bound later) render and scan like any other."""
    template = labels.templates.get("a4-l7651")
    items = [labels.Label(code=str(codes.new_code(codes.Kind.ASSET))) for _ in range(template.per_page + 3)]
    pdf = tmp_path / "blank.pdf"
    assert labels.render_pdf(items, pdf).pages == 2
    _check(pdf, template, items, tmp_path)


def test_lower_case_and_url_input_is_normalised(tmp_path: Path) -> None:
    code = str(codes.new_code("L"))
    items = [labels.Label(code=code.lower()), labels.Label(code=f"https://x.example/c/{code}")]
    pdf = tmp_path / "norm.pdf"
    labels.render_pdf(items, pdf, "thermal-50x30")
    template = labels.templates.get("thermal-50x30")
    _check(pdf, template, [labels.Label(code), labels.Label(code)], tmp_path)
