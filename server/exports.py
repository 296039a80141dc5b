"""Tables as files that people open in a spreadsheet: CSV and XLSX, written the same way everywhere.

- CSV is UTF-8 with a byte-order mark: without it, Excel on Chinese Windows reads the file as
  GBK and shows the Chinese as garbage.
- A text cell that a spreadsheet would run as a formula (it starts with ``=``, ``+``, ``-`` or
  ``@``, or with a tab or carriage return, which some spreadsheets skip before looking) gets a
  leading apostrophe, so a category named ``=HYPERLINK(...)`` is shown and never run (issue 15).
  Numbers are numbers, not text, so a negative amount stays a number and is left alone.
- XLSX keeps numbers as numbers (with a number format per column) and dates as dates.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_MIMETYPE = "text/csv"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Excel number formats by column kind (services.reports.Column.kind); others are written as they are.
NUMBER_FORMATS = {"money": "#,##0.00", "count": "0", "year": "0", "percent": "0.0", "number": "0.0",
                  "datetime": "yyyy-mm-dd hh:mm"}
_SHEET_NAME_BANNED = str.maketrans({c: " " for c in "[]:*?/\\"})


def neutralise(value: Any) -> Any:
    """A text that would start a formula, with an apostrophe before it; anything else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(neutralise(value)) if isinstance(value, str) else str(value)


def to_csv(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([neutralise(h) for h in headers])
    for row in rows:
        writer.writerow([_csv_text(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _sheet_name(title: str) -> str:
    return title.translate(_SHEET_NAME_BANNED).strip()[:31] or "Sheet1"


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return value  # openpyxl writes Decimal as a number
    if isinstance(value, datetime) and value.tzinfo is not None:
        raise ValueError("XLSX has no time zones: convert datetimes to local time first")
    if isinstance(value, str):  # control characters other than tab and newlines cannot be stored in XLSX
        return neutralise(ILLEGAL_CHARACTERS_RE.sub("\ufffd", value))
    return value


def to_xlsx(title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]], kinds: Sequence[str]) -> bytes:
    """One sheet: a bold header row (frozen), then the rows, numbers formatted by ``kinds``."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _sheet_name(title)
    sheet.append([neutralise(h) for h in headers])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for row in rows:
        sheet.append([_xlsx_value(v) for v in row])
    for index, (header, kind) in enumerate(zip(headers, kinds, strict=True), start=1):
        letter = get_column_letter(index)
        number_format = NUMBER_FORMATS.get(kind)
        if number_format:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = number_format
        # CJK characters are about twice as wide as Latin ones in a spreadsheet's default font.
        sheet.column_dimensions[letter].width = max(10, min(40, 2 * len(header) + 2))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
