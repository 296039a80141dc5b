"""Archives in the browser, in Chinese, with CSRF on: a volume filed from the menu, a loan asked for, approved
by the archive manager, refused at the lending desk for the wrong borrower, lent and returned."""

from __future__ import annotations

from typing import Any

from tests.archive_support import make_office
from tests.browser.conftest import LiveServer, open_menu, sign_in


def _submit(page: Any) -> None:
    """Enter in the form, as a scanner ends its input, and wait for the answer's page."""
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_file_ask_approve_lend_and_return(page: Any, live_server: LiveServer) -> None:
    office = make_office(live_server.sessions)
    sign_in(page, live_server, "u-storekeeper")
    open_menu(page, "办公登记", "档案")
    page.click("text=归档")
    page.fill("#title", "2025年度会议纪要")
    page.select_option("#class_code", "WS")
    page.fill("#year", "2025")
    page.select_option("#retention", "10y")
    page.select_option("#confidentiality", "internal")
    page.fill("#shelf", office.shelf)
    page.click("button.primary")
    assert "已归档" in page.locator(".flash").inner_text()
    code = page.locator("h1 code").inner_text()
    assert "保管至 2035-12-31" in page.locator("#volume-retention").inner_text()

    page.click("a.primary[href*='volume=']")  # the volume's own button, not the tab
    assert page.input_value("#volume") == code
    page.fill("#borrower", office.borrower)
    page.fill("#purpose", "核对会议决定")
    page.click("button.primary")
    assert "等待档案室负责人审批" in page.locator(".flash").inner_text()
    page.click("text=退出登录")

    sign_in(page, live_server, "archivist")
    page.goto(f"{live_server.url}/archives/loans/")
    page.click("h2 + ul a")  # the request waiting for me
    page.click("button[value=approve]")
    assert "已批准，待借出" in page.locator("#state").inner_text()
    page.click("text=退出登录")

    sign_in(page, live_server, "u-storekeeper")
    page.goto(f"{live_server.url}/archives/desk")
    page.fill("#volume", code)
    page.fill("#borrower", office.other)
    _submit(page)
    assert "没有借阅" in page.locator("#borrower-err").inner_text()  # beside the badge it is about
    page.fill("#borrower", office.borrower)
    _submit(page)
    assert "已借给 张伟" in page.locator(".flash").inner_text()
    page.fill("#volume", code)
    _submit(page)
    assert "张伟 已归还" in page.locator(".flash").inner_text()
    page.goto(f"{live_server.url}/archives/{code}")
    assert "在库" in page.locator("#volume-status").inner_text()
    assert "已归还" in page.locator("table").first.inner_text()
