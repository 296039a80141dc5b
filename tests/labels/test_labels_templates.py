"""Templates against the makers' physical dimensions, and user templates from TOML."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import labels
from contract import codes
from labels.templates import Rect

A4 = (210.0, 297.0)
# (name, labels per sheet, columns, rows, label w, label h, first slot x, y, pitch x, pitch y), from Avery's specs.
SHEETS = [
    ("a4-l7651", 65, 5, 13, 38.1, 21.2, 4.75, 10.7, 40.6, 21.2),
    ("a4-l7160", 21, 3, 7, 63.5, 38.1, 7.21, 15.15, 66.04, 38.1),
    ("a4-l7163", 14, 2, 7, 99.1, 38.1, 4.65, 15.15, 101.6, 38.1),
]
ROLLS = [("thermal-62", 62.0, 30.0), ("thermal-50x30", 50.0, 30.0), ("thermal-40x20", 40.0, 20.0)]


def test_builtin_names() -> None:
    assert labels.templates.names() == sorted(["a4-l7651", "a4-l7160", "a4-l7163", "thermal-62", "thermal-50x30",
                                              "thermal-40x20"])


@pytest.mark.parametrize(("name", "count", "cols", "rows", "w", "h", "x0", "y0", "px", "py"), SHEETS)
def test_sheet_geometry(name: str, count: int, cols: int, rows: int, w: float, h: float, x0: float, y0: float,
                        px: float, py: float) -> None:
    t = labels.templates.get(name)
    assert t.per_page == count and t.page_size_mm == A4
    assert t.printer.dpi == 300 and t.printer.ec_level == "M" and t.printer.quiet_zone_modules == 4
    assert t.slot(0) == pytest.approx(Rect(x0, y0, w, h))
    last = t.slot(count - 1)
    assert last.x == pytest.approx(x0 + (cols - 1) * px) and last.y == pytest.approx(y0 + (rows - 1) * py)
    # Maker's sheets are centred: margins equal left/right and top/bottom.
    assert A4[0] - last.right == pytest.approx(t.slot(0).x, abs=0.01)
    assert A4[1] - last.bottom == pytest.approx(t.slot(0).y, abs=0.01)
    for i in range(count - 1):  # row by row, no overlaps
        a, b = t.slot(i), t.slot(i + 1)
        assert b.x >= a.right - 1e-9 or b.y >= a.bottom - 1e-9


@pytest.mark.parametrize(("name", "w", "h"), ROLLS)
def test_roll_geometry(name: str, w: float, h: float) -> None:
    t = labels.templates.get(name)
    assert not t.is_sheet and t.per_page == 1
    assert t.page_size_mm == (w, h) and t.slot(0) == Rect(0, 0, w, h)
    assert t.printer.dpi == 203 and t.printer.ec_level == "M"
    assert t.printer.min_module_mm > 2 * t.dot_mm  # modules are whole dots: at least three of them


@pytest.mark.parametrize("name", labels.templates.names())
def test_pdf_page_size_is_physical(name: str, tmp_path: Path) -> None:
    t = labels.templates.get(name)
    pdf = tmp_path / "one.pdf"
    labels.render_pdf([labels.Label(str(codes.new_code("A")))], pdf, name)
    box = re.search(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf.read_bytes())
    assert box is not None
    w_pt, h_pt = float(box.group(1)), float(box.group(2))
    assert w_pt * 25.4 / 72 == pytest.approx(t.page_size_mm[0], abs=0.005)
    assert h_pt * 25.4 / 72 == pytest.approx(t.page_size_mm[1], abs=0.005)


GOOD = """
name = "custom-70x36"
description = "Herma 4452-like 70 x 36"
[label]
width_mm = 70
height_mm = 36
padding_mm = 2
[page]
width_mm = 210
height_mm = 297
[grid]
columns = 3
rows = 8
left_mm = 0
top_mm = 4.5
pitch_x_mm = 70
pitch_y_mm = 36
[printer]
dpi = 600
min_module_mm = 0.35
ec_level = "Q"
"""


def test_load_toml_sheet(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(GOOD)
    t = labels.templates.load_toml(path)
    assert t.per_page == 24 and t.printer.ec_level == "Q" and t.printer.quiet_zone_modules == 4
    assert t.slot(23) == pytest.approx(Rect(140, 4.5 + 7 * 36, 70, 36))
    assert labels.render_pdf([labels.Label(str(codes.new_code("S")), "Toner")], tmp_path / "c.pdf", t).pages == 1


def test_load_toml_roll(tmp_path: Path) -> None:
    path = tmp_path / "roll.toml"
    path.write_text('name = "zebra-57x32"\n[label]\nwidth_mm = 57\nheight_mm = 32\n'
                    '[printer]\ndpi = 300\nmin_module_mm = 0.25\n')
    t = labels.templates.load_toml(path)
    assert t.page_size_mm == (57, 32) and t.printer.ec_level == "M"


@pytest.mark.parametrize(("edit", "message"), [
    (("dpi = 600", "dpi = 600\nresolution = 3"), "printer.resolution: Extra inputs are not permitted"),
    (("columns = 3", "columns = 0"), "grid.columns"),
    (('ec_level = "Q"', 'ec_level = "X"'), "printer.ec_level"),
    (("pitch_x_mm = 70", "pitch_x_mm = 60"), "labels would overlap"),
    (("rows = 8", "rows = 9"), "the page only 297"),
    (("[page]\nwidth_mm = 210\nheight_mm = 297\n", ""), "needs both [page] and [grid]"),
    (("dpi = 600\n", "dpi = 600\nquiet_zone_modules = 2\n"), "printer.quiet_zone_modules"),
    (("width_mm = 70\n", ""), "label.width_mm: Field required"),
])
def test_load_toml_errors_name_the_key(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    assert edit[0] in GOOD
    path = tmp_path / "bad.toml"
    path.write_text(GOOD.replace(*edit, 1))
    with pytest.raises(labels.LabelError, match=re.escape(message)):
        labels.templates.load_toml(path)


def test_load_toml_unreadable(tmp_path: Path) -> None:
    with pytest.raises(labels.LabelError, match="cannot read"):
        labels.templates.load_toml(tmp_path / "missing.toml")
    (tmp_path / "x.toml").write_text("name = ")
    with pytest.raises(labels.LabelError, match="not valid TOML"):
        labels.templates.load_toml(tmp_path / "x.toml")
