"""The office's own plan files, made here as Excel makes them: CSV in GBK, UTF-8 with and without a BOM,
XLSX; Chinese and English headers; methods in Chinese; mixed good and bad rows; the templates."""

from __future__ import annotations

import csv
import io
from typing import Any

import openpyxl
import pytest

from server.errors import Invalid
from server.services import plan_files, plans
from tests.procurement_support import ACTOR, office

ZH = ["计划编号", "预算年度", "部门", "品目", "数量", "单价上限", "金额", "采购方式", "批复文号"]
EN = list(plan_files.COLUMNS)
ROWS = [  # good, good, amount above qty x cap, unknown method, good
    ["2026-XX-01", "2026", "信息中心", "Laptop", "10", "6000.00", "60000.00", "协议采购", "财预〔2026〕8号"],
    ["2026-XX-02", "2026", "办公室", "Printer", "3", "2000", "5400.50", "网上询价", "财预〔2026〕8号"],
    ["2026-XX-03", "2026", "办公室", "Printer", "2", "2000.00", "4000.01", "自行采购", "财预〔2026〕8号"],
    ["2026-XX-04", "2026", "财务科", "Laptop", "1", "6000.00", "6000.00", "以物易物", "财预〔2026〕8号"],
    ["2026-XX-05", "2026", "财务科", "Official seal", "1", "300", "300", "公开招标", "财预〔2026〕9号"],
]


def _csv(header: list[str], rows: list[list[str]], encoding: str) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([header, *rows])
    return out.getvalue().encode(encoding)


def _xlsx(header: list[str], rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header)
    for row in rows:  # numbers as numbers, as a person types them into Excel
        sheet.append([int(v) if v.isdigit() else v for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def db(engine_sessions: Any) -> Any:
    with engine_sessions() as session, session.begin():
        office(session)
    with engine_sessions() as session:
        yield session


FILES = {
    "gbk-zh": lambda: _csv(ZH, ROWS, "gbk"),
    "gb18030-en": lambda: _csv(EN, ROWS, "gb18030"),
    "utf8-bom-en": lambda: _csv(EN, ROWS, "utf-8-sig"),
    "utf8-bom-zh": lambda: _csv(ZH, ROWS, "utf-8-sig"),
    "utf8-zh": lambda: _csv(ZH, ROWS, "utf-8"),
    "xlsx-zh": lambda: _xlsx(ZH, ROWS),
    "xlsx-en": lambda: _xlsx(EN, ROWS),
}


@pytest.mark.parametrize("kind", sorted(FILES))
def test_each_file_reads_the_same_and_names_the_bad_rows(db: Any, kind: str) -> None:
    data = FILES[kind]()
    if kind.startswith("gbk"):
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")  # really GBK bytes, not UTF-8
    rows = plans.read_table(data, "plan.xlsx" if kind.startswith("xlsx") else "plan.csv")
    assert [r["department"] for r in rows] == ["信息中心", "办公室", "办公室", "财务科", "财务科"]
    assert [r["method"] for r in rows] == ["framework_agreement", "online_inquiry", "self_purchase", "以物易物",
                                           "public_tender"]
    report = plans.import_rows(db, ACTOR, rows, skip_bad=True)
    assert report.imported == ["2026-XX-01", "2026-XX-02", "2026-XX-05"]
    assert [(e.row, e.ref, e.code) for e in report.errors] == [(3, "2026-XX-03", "amount_above_cap"),
                                                               (4, "2026-XX-04", "invalid")]
    assert "4000.01" in report.errors[0].message and "4000.00" in report.errors[0].message
    line = plans.line_by_ref(db, "2026-XX-02")
    assert (line.department, line.method, str(line.approved_amount)) == ("办公室", "online_inquiry", "5400.50")


def test_a_bad_row_means_nothing_is_imported(db: Any) -> None:
    report = plans.import_rows(db, ACTOR, plans.read_table(_csv(ZH, ROWS, "gbk")))
    assert not report.ok and report.imported == [] and len(report.errors) == 2


def test_an_undecodable_file_says_how_to_save_it(app: Any) -> None:
    data = _csv(EN, ROWS[:1], "utf-8") + b"\xff\xfe\xfd\x80\n"  # neither UTF-8 nor GB18030
    with pytest.raises(Invalid) as err:
        plan_files.read_table(data)
    assert err.value.code == "unknown_encoding" and "CSV UTF-8" in err.value.message
    with app.test_request_context(headers={"Accept-Language": "zh"}):
        assert "另存为" in err.value.localized()


def test_headers_missing_are_named_in_both_languages() -> None:
    with pytest.raises(Invalid) as err:
        plan_files.read_table(_csv(ZH[:-1], [r[:-1] for r in ROWS], "gbk"))
    assert "approval_ref / 批复文号" in err.value.message


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_templates_download_and_read_back(client: Any, tokens: Any, lang: str, fmt: str) -> None:
    r = client.get(f"/api/v1/plans/template?lang={lang}&format={fmt}", headers=tokens.headers("storekeeper"))
    assert r.status_code == 200 and f"plan-template-{lang}.{fmt}" in r.headers["Content-Disposition"]
    [row] = plans.read_table(r.data, f"t.{fmt}")
    assert row["method"] == "framework_agreement" and str(row["approved_qty"]) == "10"
    if fmt == "csv":
        header = r.data.decode("utf-8-sig").splitlines()[0]
        assert header.startswith("计划编号,预算年度" if lang == "zh" else "ref,budget_year")
    assert client.get(f"/api/v1/plans/template?lang=fr&format={fmt}",
                      headers=tokens.headers("storekeeper")).status_code == 422


def test_rest_and_web_import_a_gbk_file(client: Any, tokens: Any, sessions: Any) -> None:
    with sessions() as session, session.begin():
        office(session)
    data = _csv(ZH, ROWS, "gbk")
    r = client.post("/api/v1/plans/import", data={"file": (io.BytesIO(data), "plan.csv")},
                    headers={**tokens.headers("admin"), "Accept-Language": "zh"})
    body = r.get_json()
    assert r.status_code == 422 and [e["row"] for e in body["errors"]] == [3, 4]
    assert "单价上限" in body["errors"][0]["message"]
    r = client.post("/api/v1/plans/import?skip_bad=1", data={"file": (io.BytesIO(data), "plan.csv")},
                    headers=tokens.headers("admin"))
    assert r.status_code == 201 and r.get_json()["imported"] == ["2026-XX-01", "2026-XX-02", "2026-XX-05"]


def test_web_import_page_links_the_templates(client: Any, sessions: Any) -> None:
    from tests.test_web_procurement import login

    login(client, sessions, "admin")
    page = client.get("/procurement/plans/import").get_data(as_text=True)
    assert "/procurement/plans/template?lang=zh&amp;format=xlsx" in page and "计划编号" in page
    r = client.get("/procurement/plans/template?lang=en&format=xlsx")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    [row] = plans.read_table(r.data, "t.xlsx")
    assert row["ref"] == "2026-IT-01"
    assert client.get("/procurement/plans/template?lang=xx").status_code == 400
