"""The report pages: every report with data and without, in both languages; its chart drawn on the server
with no script; CSV and XLSX downloads (web and REST) that parse back to the service's figures, with
formula cells neutralised; filters refused with a message, never a 500."""

from __future__ import annotations

import csv
import html as markup
import io
import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import openpyxl
import pytest

from server import auth
from server.audit import SYSTEM
from server.services import assets, directory, intake, lifecycle, reports
from tests.procurement_support import ACTOR, buy, office, plan_line

PASSWORD = "correct horse battery"
# Every report page, with the arguments that pick each of its shapes.
PAGES = [("spend", {}), ("spend", {"period": "quarter", "year": "2026"}), ("spend", {"period": "year"}),
         ("spend-by-method", {}), ("plan-execution", {"year": "2026"}), ("plan-execution", {}),
         ("assets", {}), ("assets", {"by": "category"}), ("assets", {"by": "location"}),
         ("assets", {"by": "department"}), ("bought-per-year", {}), ("overdue", {}), ("overdue", {"controlled": "1"}),
         ("usage-log", {})]
NUMERIC = ("money", "count", "number", "percent", "year")
FORMULA = "=HYPERLINK(\"http://evil.example\",\"x\")"


def _login(client: Any, sessions: Any, role: str = "auditor", language: str | None = None) -> None:
    with sessions() as session, session.begin():
        user = auth.create_user(session, SYSTEM, f"r-{role}-{language}", PASSWORD, role)
        user.language = language
    client.post("/login", data={"username": f"r-{role}-{language}", "password": PASSWORD})


def _query(args: dict[str, str]) -> str:
    return "?" + "&".join(f"{k}={v}" for k, v in args.items()) if args else ""


@pytest.fixture
def ledger(sessions: Any) -> None:
    """Purchases in two years and methods, assets in and out, a late controlled item, and names that try
    to be spreadsheet formulas or markup."""
    with sessions() as session, session.begin():
        where = office(session)
        directory.get_or_create_category(session, ACTOR, FORMULA, True)
        plan_line(session, "2026-IT-01", qty=10, cap="6000.00", amount="50000.00")
        plan_line(session, "2026-PR-01", "Printer", qty=4, cap="2000.00", amount="6000.00", method="online_inquiry")
        plan_line(session, "2025-IT-01", qty=2, cap="5000.00", amount="9000.00", year=2025,
                  department="<script>alert(1)</script>")
        bought = buy(session, qty=2, price="5000.00", on=date(2026, 1, 20))
        buy(session, qty=1, price="5999.99", on=date(2026, 2, 3))
        buy(session, "2026-PR-01", qty=3, price="1500.50", category="Printer", method="public_tender",
            exception_ref="EXC-1", on=date(2026, 4, 1))
        buy(session, "2025-IT-01", qty=1, price="4500.00", on=date(2025, 11, 30))
        got = intake.receive(session, ACTOR, bought.lines[0].id, "k1", where.store, received_on=date(2026, 1, 25))
        assets.move(session, ACTOR, got.codes[0], where.room)
        lifecycle.dispose(session, ACTOR, got.codes[1], "scrapped", "D-1")
        seal = assets.create_asset(session, ACTOR, "-1+2 seal", FORMULA, where.store, price=Decimal("300.00"),
                                   acquired_on=date(2025, 6, 1), department="@<b>Office</b>").code
        assets.checkout(session, ACTOR, seal, where.person, date.today() - timedelta(days=2),
                        purpose="+contract signing", approval_ref="@SEAL-1")


def _service(sessions: Any, name: str, args: dict[str, str]) -> reports.Report:
    with sessions() as session:
        return reports.build(session, name, args)


def _svg(html: str) -> str:
    found = re.findall(r"<svg\b.*?</svg>", html, re.S)
    assert len(found) == 1, "one chart per report page"
    return found[0]


def _assert_chart_is_static(svg: str) -> None:
    assert "<script" not in svg and "<!--" not in svg
    for reference in ("href", "src=", "url(", "@import"):
        assert reference not in svg
    assert re.findall(r'="(https?:[^"]*)"', svg) == ["http://www.w3.org/2000/svg"]  # the namespace, nothing to load
    assert 'role="img"' in svg and "Noto Sans CJK SC" in svg


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_report_page_with_data(client: Any, sessions: Any, ledger: None, language: str) -> None:
    _login(client, sessions, language=language)
    for name, args in PAGES:
        response = client.get(f"/reports/{name}{_query(args)}")
        html = response.get_data(as_text=True)
        assert response.status_code == 200, (name, args)
        svg = _svg(html)
        _assert_chart_is_static(svg)
        assert re.search(r'class="(rect reactive|slice)', svg), (name, args)  # bars or slices were drawn
        report = _service(sessions, name, args)
        assert html.count("<tr>") - 1 - ("<tfoot>" in html) == len(report.rows), (name, args)  # header, total
        headers = re.findall(r'<th scope="col"(?: class="num")?>([^<]+)</th>', html)
        if language == "en":
            assert headers == [report.column(k).label for k in report.columns]
        else:
            assert len(headers) == len(report.columns) and all(re.search(r"[\u4e00-\u9fff]", h) for h in headers)
        assert "<script>alert(1)</script>" not in html and "<b>Office" not in html  # names are text, not markup
    english = language == "en"
    spend = client.get("/reports/spend?period=quarter").get_data(as_text=True)
    assert ("Procurement category" if english else "品目") in spend
    assert ("CN¥15,999.99" if english else "¥15,999.99") in spend  # 2026-Q1 laptops
    assert ("Spend per period and category" if english else "各期间、各品目采购支出") in _svg(spend)
    plan = client.get("/reports/plan-execution?year=2026").get_data(as_text=True)
    assert ("Execution rate (%)" if english else "执行率（%）") in plan and "32.0%" in plan
    by_status = client.get("/reports/assets").get_data(as_text=True)
    assert ("Disposed" if english else "已报废") in _svg(by_status)  # status names, not codes, in the chart
    by_department = _svg(client.get("/reports/assets?by=department").get_data(as_text=True))
    assert "@&lt;b&gt;Office&lt;/b&gt;" in by_department
    assert ("Total" if english else "合计") in by_status
    overdue = client.get("/reports/overdue?controlled=1").get_data(as_text=True)
    assert ("Hours late" if english else "逾期小时数") in overdue and ("Yes" if english else "是") in overdue


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_report_page_without_data(client: Any, sessions: Any, language: str) -> None:
    _login(client, sessions, language=language)
    for name, args in PAGES:
        response = client.get(f"/reports/{name}{_query(args)}")
        html = response.get_data(as_text=True)
        assert response.status_code == 200, (name, args)
        svg = _svg(html)
        _assert_chart_is_static(svg)
        assert ("No data" if language == "en" else "暂无数据") in svg
        assert ("Nothing to show for these filters." if language == "en" else "在此筛选条件下没有数据。") in html
        assert "<table" not in html


def test_index_menu_and_roles(client: Any, sessions: Any) -> None:
    _login(client, sessions, "storekeeper")
    index = client.get("/reports").get_data(as_text=True)
    assert '<a href="/reports" aria-current="page">报表</a>' in index
    for name in reports.REPORTS:
        assert f'href="/reports/{name}"' in index
    assert "采购计划执行情况" in index
    client.post("/logout")
    _login(client, sessions, "guard")
    assert 'href="/reports"' not in client.get("/").get_data(as_text=True)
    assert client.get("/reports").status_code == 403
    assert client.get("/reports/spend").status_code == 403
    assert client.get("/reports/spend/download.csv").status_code == 403


def _same_figures(report: reports.Report, header: list[Any], rows: list[list[Any]], labels: list[str]) -> None:
    """The file's header and every numeric cell equal the service's own rows."""
    assert header == labels
    assert len(rows) == len(report.rows)
    for key, index in zip(report.columns, range(len(header)), strict=True):
        kind = report.column(key).kind
        for row, want in zip(rows, report.rows, strict=True):
            got = row[index]
            if kind in NUMERIC and want[key] is not None:
                assert Decimal(str(got)) == Decimal(str(want[key])), (report.name, key)
            elif kind == "text" and want[key]:
                assert str(got).lstrip("'") == str(want[key]), (report.name, key)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_downloads_parse_back_to_the_service_figures(client: Any, sessions: Any, ledger: None, language: str) -> None:
    _login(client, sessions, language=language)
    for name, args in PAGES:
        report = _service(sessions, name, args)
        labels = [report.column(k).label for k in report.columns]
        if language == "zh":
            labels = _chinese(client, name, args, len(labels))
        csv_response = client.get(f"/reports/{name}/download.csv{_query(args)}")
        assert csv_response.status_code == 200 and csv_response.mimetype == "text/csv"
        assert csv_response.data.startswith(b"\xef\xbb\xbf")  # BOM: Excel on Chinese Windows reads UTF-8
        parsed = list(csv.reader(io.StringIO(csv_response.data.decode("utf-8-sig"))))
        _same_figures(report, parsed[0], parsed[1:], labels)
        xlsx = client.get(f"/reports/{name}/download.xlsx{_query(args)}")
        assert xlsx.status_code == 200 and xlsx.mimetype.endswith("spreadsheetml.sheet")
        sheet = openpyxl.load_workbook(io.BytesIO(xlsx.data)).active
        table = [list(r) for r in sheet.iter_rows(values_only=True)]
        _same_figures(report, table[0], table[1:], labels)
        for index, key in enumerate(report.columns):
            if report.column(key).kind in ("money", "count"):  # numbers, not text
                assert all(isinstance(row[index], int | float) for row in table[1:]), (name, key)


def _chinese(client: Any, name: str, args: dict[str, str], count: int) -> list[str]:
    """The table headers of the page, which the files must repeat."""
    html = client.get(f"/reports/{name}{_query(args)}").get_data(as_text=True)
    labels = re.findall(r'<th scope="col"(?: class="num")?>([^<]+)</th>', html)
    assert len(labels) == count and all(re.search(r"[\u4e00-\u9fff]", label) for label in labels), labels
    return labels


def test_formula_cells_are_neutralised_in_every_file(client: Any, sessions: Any, tokens: Any, ledger: None) -> None:
    _login(client, sessions)
    rest = tokens.headers("auditor")
    for url, headers in (("/reports/usage-log/download.{}", {}), ("/api/v1/reports/usage-log?format={}", rest)):
        text = client.get(url.format("csv"), headers=headers).data.decode("utf-8-sig")
        row = list(csv.reader(io.StringIO(text)))[1]
        assert "'" + FORMULA in row and "'-1+2 seal" in row and "'+contract signing" in row and "'@SEAL-1" in row
        sheet = openpyxl.load_workbook(io.BytesIO(client.get(url.format("xlsx"), headers=headers).data)).active
        cells = [c for c in sheet[2] if isinstance(c.value, str)]
        assert all(c.data_type == "s" for c in cells)  # no cell is a formula
        values = [c.value for c in cells]
        assert "'" + FORMULA in values and "'+contract signing" in values and "'@SEAL-1" in values
    assets_csv = client.get("/reports/assets/download.csv?by=department").data.decode("utf-8-sig")
    assert "'@<b>Office</b>" in assets_csv


def test_rest_files_have_the_json_columns_and_figures(client: Any, tokens: Any, ledger: None, sessions: Any) -> None:
    h = tokens.headers("storekeeper")
    data = client.get("/api/v1/reports/plan-execution?year=2026", headers=h).get_json()
    xlsx = client.get("/api/v1/reports/plan-execution?year=2026&format=xlsx", headers=h)
    assert xlsx.status_code == 200 and 'filename="plan-execution.xlsx"' in xlsx.headers["Content-Disposition"]
    table = [list(r) for r in openpyxl.load_workbook(io.BytesIO(xlsx.data)).active.iter_rows(values_only=True)]
    assert table[0] == data["columns"]
    report = _service(sessions, "plan-execution", {"year": "2026"})
    _same_figures(report, table[0], table[1:], data["columns"])
    assert {r[0]: r[9] for r in table[1:]} == {"2026-IT-01": 50000, "2026-PR-01": 6000}  # numbers, not text
    text = client.get("/api/v1/reports/spend?period=year&format=csv", headers=h)
    assert text.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(text.data.decode("utf-8-sig"))))
    assert [(r["period"], r["category"], r["amount"]) for r in rows] == [
        ("2025", "Laptop", "4500.00"), ("2026", "Laptop", "15999.99"), ("2026", "Printer", "4501.50")]


@pytest.mark.parametrize("path,field,message", [
    ("/reports/spend?period=week", "period", "period 须为 month, quarter, year 之一，不能是 'week'。"),
    ("/reports/spend?year=abc", "year", "年度须为 1900 至 2999 之间的整数，不能是 'abc'。"),
    ("/reports/spend-by-method?year=99999999999999999999", "year", "年度须为 1900 至 2999 之间的整数"),
    ("/reports/plan-execution?year=-1", "year", "年度须为 1900 至 2999 之间的整数"),
    ("/reports/assets?by=colour", "by", "by 须为 status, category, location, department 之一"),
    ("/reports/overdue?controlled=maybe", "controlled", "controlled 须为 1 或 0（是或否），不能是 'maybe'。"),
])
def test_bad_filters_are_refused_with_a_message(client: Any, sessions: Any, path: str, field: str,
                                                message: str) -> None:
    _login(client, sessions)
    response = client.get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and message in markup.unescape(html)
    assert f'aria-describedby="{field}-err"' in html  # beside its field
    assert "<svg" not in html and "<table" not in html
    name, query = path.removeprefix("/reports/").split("?")
    download = client.get(f"/reports/{name}/download.xlsx?{query}")
    assert download.status_code == 422 and message in markup.unescape(download.get_data(as_text=True))


def test_bad_requests_elsewhere(client: Any, sessions: Any, tokens: Any) -> None:
    _login(client, sessions, language="en")
    missing = client.get("/reports/no-such-report")
    assert missing.status_code == 404 and "There is no report no-such-report." in missing.get_data(as_text=True)
    pdf = client.get("/reports/spend/download.pdf")
    assert pdf.status_code == 404 and "Reports can be downloaded as CSV or XLSX." in pdf.get_data(as_text=True)
    h = tokens.headers("auditor")
    for query, code in (("spend?format=pdf", "bad_filter"), ("spend?period=week", "bad_filter"),
                        ("spend?year=20x6", "bad_filter"), ("nope", "unknown_report")):
        response = client.get(f"/api/v1/reports/{query}", headers={**h, "Accept-Language": "en"})
        assert response.status_code == 422 and response.get_json()["error"]["code"] == code, query
    english = client.get("/api/v1/reports/spend?format=pdf", headers={**h, "Accept-Language": "en"}).get_json()
    assert english["error"]["message"] == "format must be one of json, csv, xlsx, not 'pdf'."


def test_filter_form_is_labelled_and_keeps_its_values(client: Any, sessions: Any, ledger: None) -> None:
    _login(client, sessions)
    for name, args in PAGES:
        html = client.get(f"/reports/{name}{_query(args)}").get_data(as_text=True)
        form = html.split('<form method="get" class="filters"', 1)[1].split("</form>", 1)[0] if args else ""
        labelled = set(re.findall(r'<label[^>]* for="([^"]+)"', form))
        for tag in re.findall(r"<(?:input|select)\b[^>]*>", form):
            assert re.search(r'id="([^"]+)"', tag).group(1) in labelled, (name, tag)  # type: ignore[union-attr]
        for key, value in args.items():
            assert f'value="{value}"' in form, (name, key)
    spend = client.get("/reports/spend?period=quarter&year=2026").get_data(as_text=True)
    assert 'href="/reports/spend/download.xlsx?year=2026&amp;period=quarter"' in spend
