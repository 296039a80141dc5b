"""The one CSV/XLSX writer: BOM, formula cells neutralised, numbers left as numbers, text XLSX cannot hold."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import openpyxl
import pytest

from server import exports

ROWS = [["=1+1", Decimal("-12.50"), 3, "+86 10 1234", "@user", "-minus", "\tTAB=1", "plain", None, True],
        ["\rCR", Decimal("0.00"), -4, "a=b", "x@y", "1-2", "ok\x07bell", "中文", "", False]]
HEADERS = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]
KINDS = ["text", "money", "count", "text", "text", "text", "text", "text", "text", "bool"]


def test_neutralise_only_text_that_would_start_a_formula() -> None:
    for text in ("=SUM(A1)", "+1", "-1", "@A1", "\t=1", "\r=1"):
        assert exports.neutralise(text) == "'" + text
    for value in ("a=1", "1-2", "", "中文", Decimal("-1"), -1, None, 1.5):
        assert exports.neutralise(value) == value


def test_csv_has_a_bom_and_neutralised_text() -> None:
    data = exports.to_csv(["=header", *HEADERS[1:]], ROWS)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][0] == "'=header"
    assert rows[1] == ["'=1+1", "-12.50", "3", "'+86 10 1234", "'@user", "'-minus", "'\tTAB=1", "plain", "", "True"]
    assert rows[2][:3] == ["'\rCR", "0.00", "-4"] and rows[2][7] == "中文"  # negative numbers stay numbers


def test_xlsx_keeps_numbers_and_never_writes_a_formula() -> None:
    sheet = openpyxl.load_workbook(io.BytesIO(exports.to_xlsx("Spend: 2026/Q1", HEADERS, ROWS, KINDS))).active
    assert sheet.title == "Spend  2026 Q1"  # characters a sheet name may not have are replaced
    assert sheet.freeze_panes == "A2"
    first = list(sheet[2])
    assert [c.value for c in first] == ["'=1+1", -12.5, 3, "'+86 10 1234", "'@user", "'-minus", "'\tTAB=1", "plain",
                                        None, True]
    assert first[1].number_format == "#,##0.00" and first[1].data_type == "n"
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    assert sheet["G3"].value == "ok\ufffdbell"  # a control character XLSX cannot store is replaced, not an error


def test_xlsx_refuses_a_datetime_with_a_zone() -> None:
    with pytest.raises(ValueError, match="time zones"):
        exports.to_xlsx("t", ["at"], [[datetime(2026, 1, 1, tzinfo=UTC)]], ["datetime"])
    sheet = openpyxl.load_workbook(io.BytesIO(exports.to_xlsx("t", ["at"], [[datetime(2026, 1, 1, 8, 30)]],
                                                              ["datetime"]))).active
    assert sheet["A2"].value == datetime(2026, 1, 1, 8, 30) and sheet["A2"].number_format == "yyyy-mm-dd hh:mm"
