"""The office's own plan files: CSV as Excel writes it (GB18030/GBK on Chinese Windows, or UTF-8 with or
without a BOM) and XLSX, with Chinese or English headers and methods, and a template in each language.

Reading turns a file into rows keyed by the column codes of ``plans.COLUMNS`` with method codes, so
every row then goes through the same checks as a plan line sent as JSON (``plans.parse_line``).

The encoding is detected, not asked for: a file that decodes strictly as UTF-8 is UTF-8 (GBK text almost
never does, as its bytes rarely form valid UTF-8 sequences); otherwise a file that decodes strictly as
GB18030 (a superset of GBK and GB2312) is that. A file that is neither is the one truly ambiguous case,
and its error says how to save the file.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterable
from typing import Any

from server.errors import Invalid
from server.i18n import N_

Progress = Callable[[int], None]
COLUMNS = ("ref", "budget_year", "department", "category", "approved_qty", "unit_price_cap", "approved_amount",
           "method", "approval_ref")
# The header of each column in the Chinese template (the office's own words), then English names people write.
CHINESE = {"ref": "计划编号", "budget_year": "预算年度", "department": "部门", "category": "品目",
           "approved_qty": "数量", "unit_price_cap": "单价上限", "approved_amount": "金额", "method": "采购方式",
           "approval_ref": "批复文号"}
ENGLISH = {"plan_ref": "ref", "plan_line": "ref", "year": "budget_year", "quantity": "approved_qty",
           "approved_quantity": "approved_qty", "cap": "unit_price_cap", "amount": "approved_amount",
           "procurement_method": "method", "approval_reference": "approval_ref"}
HEADERS = {**{c: c for c in COLUMNS}, **ENGLISH, **{zh: code for code, zh in CHINESE.items()}}
METHODS_ZH = {"网上询价": "online_inquiry", "自行采购": "self_purchase", "协议采购": "framework_agreement",
              "公开招标": "public_tender", "其他": "other"}
SAVE_AS = N_("cannot tell the CSV file's encoding: in Excel choose File > Save As and pick 'CSV UTF-8 "
             "(comma delimited)' or 'Excel Workbook (.xlsx)', then upload that file")


def _key(header: Any) -> str:
    """A header as a lookup key: case, spaces and hyphens do not matter; full-width brackets are dropped."""
    text = str(header or "").strip().lstrip("\ufeff")
    for mark in ("*", "（必填）", "(required)"):
        text = text.replace(mark, "")
    return text.strip().lower().replace(" ", "_").replace("-", "_")


def columns_of(header: Iterable[Any]) -> list[str | None]:
    """Each header cell's column code (None for a column we do not know); refuses a header missing any."""
    found = [HEADERS.get(_key(h)) or HEADERS.get(str(h or "").strip()) for h in header]
    missing = [c for c in COLUMNS if c not in found]
    if missing:
        raise Invalid(N_("the header lacks the columns %(missing)s (expected: %(expected)s)"),
                      missing=", ".join(f"{c} / {CHINESE[c]}" for c in missing),
                      expected=", ".join(COLUMNS) + " / " + ", ".join(CHINESE.values()))
    return found


def method_code(value: Any) -> Any:
    """A method written in Chinese or as an English name ("Online inquiry") as its code; else as given."""
    text = str(value or "").strip()
    return METHODS_ZH.get(text) or (_key(text) if _key(text) in METHODS_ZH.values() else text)


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise Invalid(SAVE_AS, code="unknown_encoding") from None


def _rows(header: list[Any], rows: Iterable[Iterable[Any]], progress: Progress | None) -> list[dict[str, Any]]:
    codes = columns_of(header)
    out = []
    for number, values in enumerate(rows, start=1):
        values = list(values)
        if any(v not in (None, "") and str(v).strip() for v in values):
            row = {code: ("" if v is None else v) for code, v in zip(codes, values, strict=False) if code}
            if "method" in row:
                row["method"] = method_code(row["method"])
            out.append(row)
        if progress is not None and number % 500 == 0:
            progress(number)
    return out


def read_table(data: bytes, filename: str = "", progress: Progress | None = None) -> list[dict[str, Any]]:
    """Rows of a CSV (UTF-8 with or without BOM, or GB18030/GBK) or XLSX file (first sheet), keyed by column code.

    ``progress`` hears the rows read from an XLSX file (slow: about 4,000 rows a second)."""
    if is_xlsx(data, filename):
        return _read_xlsx(data, progress)
    reader = csv.reader(io.StringIO(decode(data)))
    try:
        header = next(reader, [])
        return _rows(header, reader, None)
    except csv.Error as exc:  # a field over csv.field_size_limit (128 KiB), a bad quote: was a 500
        raise Invalid(N_("the CSV file cannot be read at row %(row)s: %(problem)s"), code="bad_file",
                      row=max(reader.line_num - 1, 1), problem=str(exc)) from None  # data rows count from 1


def is_xlsx(data: bytes, filename: str) -> bool:
    return filename.lower().endswith(".xlsx") or data[:2] == b"PK"


def estimate_rows(data: bytes, filename: str = "") -> int:
    """About how many data rows a file has, without parsing it (decides whether it is a long job).

    CSV: its line breaks. XLSX: the ``<row`` elements of its first sheet (decompressing is fast;
    openpyxl's parsing is what is slow). A file that is not a valid zip counts 0: the real read
    will refuse it at once.
    """
    if not is_xlsx(data, filename):
        return max(data.count(b"\n") - 1, 0)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as book:
            sheets = sorted(n for n in book.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml"))
            if not sheets:
                return 0
            if book.getinfo(sheets[0]).file_size > 256 * 1024 * 1024:
                return 10**7  # a huge sheet (or a zip bomb): never read it inside a request
            return max(book.read(sheets[0]).count(b"<row") - 1, 0)
    except (zipfile.BadZipFile, OSError, KeyError):
        return 0


def _read_xlsx(data: bytes, progress: Progress | None = None) -> list[dict[str, Any]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several unrelated types for a bad file
        raise Invalid(N_("cannot read the XLSX file: %(reason)s"), reason=str(exc)) from None
    rows = book.worksheets[0].iter_rows(values_only=True)
    try:
        return _rows(list(next(rows, ())), rows, progress)
    finally:
        book.close()


# --- templates ---

EXAMPLE = {"ref": "2026-IT-01", "budget_year": 2026, "department": "信息中心", "category": "笔记本电脑",
           "approved_qty": 10, "unit_price_cap": "6000.00", "approved_amount": "50000.00",
           "method": "framework_agreement", "approval_ref": "财预〔2026〕8号"}
EXAMPLE_EN = {**EXAMPLE, "department": "IT", "category": "Laptop", "approval_ref": "FIN-2026-8"}
FORMATS = ("csv", "xlsx")
LANGUAGES = ("zh", "en")


def template(language: str, fmt: str) -> tuple[bytes, str, str]:
    """An empty plan with one example row, headers in the language: (bytes, file name, MIME type)."""
    if language not in LANGUAGES:
        raise Invalid(N_("%(field)s %(value)s must be one of %(choices)s"), field="lang", value=language,
                      choices=", ".join(LANGUAGES))
    if fmt not in FORMATS:
        raise Invalid(N_("%(field)s %(value)s must be one of %(choices)s"), field="format", value=fmt,
                      choices=", ".join(FORMATS))
    zh = language == "zh"
    header = [CHINESE[c] if zh else c for c in COLUMNS]
    example = EXAMPLE if zh else EXAMPLE_EN
    values = [("协议采购" if zh else example[c]) if c == "method" else example[c] for c in COLUMNS]
    name = f"plan-template-{language}.{fmt}"
    if fmt == "csv":  # UTF-8 with a BOM: what Excel opens correctly, Chinese included
        text = io.StringIO()
        csv.writer(text, lineterminator="\r\n").writerows([header, values])
        return text.getvalue().encode("utf-8-sig"), name, "text/csv; charset=utf-8"
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "计划" if zh else "plan"
    sheet.append(header)
    sheet.append(values)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), name, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
