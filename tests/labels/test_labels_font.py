"""CJK text: the font is embedded (subset), and the text comes back out of the PDF."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import labels
from contract import codes
from labels import fonts


def test_cjk_font_embedded_and_text_extractable(tmp_path: Path) -> None:
    code = str(codes.new_code("A"))
    pdf = tmp_path / "cjk.pdf"
    labels.render_pdf([labels.Label(code, "会议室投影仪", org="北京市工务局", category="投影", year=2024)], pdf,
                      "a4-l7163")
    report = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    font_line = report.splitlines()[2]
    assert "WenQuanYiMicroHei" in font_line and "CID TrueType" in font_line
    assert font_line.split()[-5:-2] == ["yes", "yes", "yes"]  # embedded, subset, ToUnicode
    assert len(report.splitlines()) == 3  # one font, nothing left to the viewer's substitution
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for expected in (code, "会议室投影仪", "北京市工务局", "投影 · 2024"):
        assert expected in text


def test_character_missing_from_font_becomes_question_mark(tmp_path: Path) -> None:
    pdf = tmp_path / "emoji.pdf"
    labels.render_pdf([labels.Label(str(codes.new_code("A")), "Plant \U0001f331 pot")], pdf, "thermal-50x30")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Plant ? pot" in text


def test_font_is_subset(tmp_path: Path) -> None:
    pdf = tmp_path / "small.pdf"
    labels.render_pdf([labels.Label(str(codes.new_code("A")), "会议室")], pdf, "thermal-62")
    assert pdf.stat().st_size < 60_000  # the full font is 5 MB


def test_missing_font_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(fonts.ENV_VAR, "/nonexistent/font.ttf")
    with pytest.raises(labels.LabelError, match="no such font file"):
        labels.render_pdf([labels.Label(str(codes.new_code("A")))], Path("/nonexistent/out.pdf"))
    monkeypatch.delenv(fonts.ENV_VAR)
    monkeypatch.setattr(fonts, "CANDIDATES", (("/nonexistent/wqy.ttc", 0),))
    with pytest.raises(labels.LabelError, match="install the Debian package fonts-wqy-microhei"):
        fonts.locate()


def test_cff_font_is_refused_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    noto = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
    if not noto.exists():
        pytest.skip("fonts-noto-cjk not installed")
    with pytest.raises(labels.LabelError, match="cannot use label font"):
        fonts.load(str(noto), 0)
