"""Bad input: every refusal is a LabelError with a message that says what is wrong."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import labels
from contract import codes


def _good(n: int = 3) -> list[labels.Label]:
    return [labels.Label(str(codes.new_code("A")), "Chair") for _ in range(n)]


def _wrong_check(code: str) -> str:
    alphabet = codes.CHECK_ALPHABET
    return code[:-1] + alphabet[(alphabet.index(code[-1]) + 1) % len(alphabet)]


def test_label_error_is_a_value_error() -> None:
    assert issubclass(labels.LabelError, ValueError)


def test_empty_list() -> None:
    with pytest.raises(labels.LabelError, match="empty"):
        labels.render_pdf([], io.BytesIO())


def test_empty_generator_writes_nothing() -> None:
    out = io.BytesIO()
    with pytest.raises(labels.LabelError, match="empty"):
        labels.render_pdf(iter(()), out)
    assert out.getvalue() == b""


def test_unknown_template() -> None:
    with pytest.raises(labels.LabelError, match=r"unknown label template 'avery-5160'.*a4-l7651"):
        labels.render_pdf(_good(), io.BytesIO(), "avery-5160")


def test_wrong_check_symbol_fails_before_anything_is_written() -> None:
    items = _good(5)
    bad = _wrong_check(items[3].code)
    items[3] = labels.Label(bad, "Desk")
    out = io.BytesIO()
    with pytest.raises(labels.LabelError, match=re.escape(f"label 4: check symbol of '{bad}' is wrong (bad_check)")):
        labels.render_pdf(items, out)
    assert out.getvalue() == b""


@pytest.mark.parametrize("code", ["", "A-123", "X-ABCDEFGH0", "not a code", "A-ILOU12345"])
def test_not_a_code(code: str) -> None:
    with pytest.raises(labels.LabelError, match="bad_code"):
        labels.render_pdf([labels.Label(code)], io.BytesIO())


def test_bad_code_in_generator_leaves_no_file(tmp_path: Path) -> None:
    def items() -> Iterator[labels.Label]:
        yield from _good(70)
        yield labels.Label(_wrong_check(str(codes.new_code("A"))))

    target = tmp_path / "out.pdf"
    with pytest.raises(labels.LabelError, match="label 71"):
        labels.render_pdf(items(), target)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("template", "skip"), [("a4-l7651", -1), ("a4-l7651", 65), ("a4-l7160", 21),
                                                 ("thermal-62", 1), ("a4-l7651", 1.5)])
def test_skip_out_of_range(template: str, skip: int) -> None:
    with pytest.raises(labels.LabelError, match="skip must be between 0 and"):
        labels.render_pdf(_good(), io.BytesIO(), template, skip=skip)


def test_last_skip_is_fine() -> None:
    assert labels.render_pdf(_good(2), io.BytesIO(), "a4-l7160", skip=20).pages == 2


def test_not_a_label() -> None:
    with pytest.raises(labels.LabelError, match="item 2 is a str"):
        labels.render_pdf([_good(1)[0], "A-12345678"], io.BytesIO())  # type: ignore[list-item]


@pytest.mark.parametrize("url", ["", "https://x y.example"])
def test_bad_base_url(url: str) -> None:
    with pytest.raises(labels.LabelError, match="base_url"):
        labels.render_pdf(_good(), io.BytesIO(), base_url=url)


def test_qr_content_too_long_for_the_stock() -> None:
    long_url = "https://assets.example.org/" + "x" * 120
    with pytest.raises(labels.LabelError, match=r"below the printer's minimum 0.375 mm.*bare codes"):
        labels.render_pdf(_good(1), io.BytesIO(), "thermal-40x20", base_url=long_url)
