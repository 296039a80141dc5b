"""Reports in a real browser: the menu leads to a report whose chart is drawn (inline SVG with bars), no
script and nothing from the network; the filters work from the keyboard; the CSV download arrives."""

from __future__ import annotations

from datetime import date
from typing import Any

from tests.browser.conftest import LiveServer, open_menu, sign_in
from tests.procurement_support import buy, office, plan_line


def _ledger(server: LiveServer) -> None:
    with server.sessions() as session, session.begin():
        office(session)
        plan_line(session, "2026-IT-01", qty=10, cap="6000.00", amount="50000.00")
        plan_line(session, "2026-PR-01", "Printer", qty=4, cap="2000.00", amount="6000.00", method="online_inquiry")
        buy(session, qty=2, price="5000.00", on=date(2026, 1, 20))
        buy(session, qty=1, price="5999.99", on=date(2026, 5, 3))
        buy(session, "2026-PR-01", qty=3, price="1500.50", category="Printer", method="public_tender",
            exception_ref="EXC-1", on=date(2026, 8, 1))


def _drawn_bars(chart: Any) -> int:
    """Bars the browser actually drew (a stacked bar's empty parts are there, but zero high)."""
    boxes = [chart.locator("g.bar rect").nth(i).bounding_box() for i in range(chart.locator("g.bar rect").count())]
    return sum(1 for box in boxes if box is not None and box["width"] > 5 and box["height"] > 5)


def test_the_reports_page_draws_a_chart(page: Any, live_server: LiveServer) -> None:
    _ledger(live_server)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    sign_in(page, live_server, live_server.user("auditor"))
    open_menu(page, None, "报表")
    assert page.locator("h1").inner_text() == "报表"
    page.click("text=采购支出（按期间、品目）")
    chart = page.locator("figure.chart svg")
    chart.wait_for(state="visible")
    box = chart.bounding_box()
    assert box is not None and box["width"] > 600 and box["height"] > 250
    assert _drawn_bars(chart) == 3  # Jan and May laptops, Aug printers
    assert "各期间、各品目采购支出" in chart.text_content()
    assert chart.locator("script").count() == 0 and page.locator("script:not([src$='htmx.min.js'])").count() == 0
    assert all(url.startswith(live_server.url) for url in requests), requests  # nothing from a CDN
    page.screenshot(path=str(live_server.app.instance_path) + "/reports-spend.png", full_page=True)

    # The filters from the keyboard: quarters of 2026 -> one bar per quarter and category.
    page.focus("#year")
    page.keyboard.type("2026")
    page.focus("#period")
    page.select_option("#period", "quarter")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**period=quarter**")
    assert page.locator("table.report tbody tr").count() == 3
    assert "2026-Q3" in page.locator("table.report").inner_text()
    assert _drawn_bars(page.locator("figure.chart svg")) == 3
    with page.expect_download() as download:
        page.click("text=下载 CSV")
    assert download.value.suggested_filename == "spend.csv"


def test_a_bad_filter_is_told_beside_the_field(page: Any, live_server: LiveServer) -> None:
    sign_in(page, live_server, live_server.user("storekeeper"))
    response = page.goto(f"{live_server.url}/reports/plan-execution?year=20x6")
    assert response is not None and response.status == 422
    assert "年度须为 1900 至 2999 之间的整数" in page.locator("#year-err").inner_text()
    assert page.locator("figure.chart").count() == 0
