"""A purchase request in the browser: the clerk submits it, the leader in charge approves fewer, in Chinese."""

from __future__ import annotations

from typing import Any

from server.audit import SYSTEM
from server.services import approvals, directory
from tests.browser.conftest import LiveServer, open_menu, sign_in


def test_submit_and_approve_a_smaller_quantity(page: Any, live_server: LiveServer) -> None:
    clerk, leader = live_server.user("storekeeper", "clerk"), live_server.user("auditor", "li")
    with live_server.sessions() as session, session.begin():
        directory.get_or_create_category(session, SYSTEM, "笔记本电脑")
        approvals.grant(session, SYSTEM, leader, "leader", "办公室")
    sign_in(page, live_server, clerk)
    open_menu(page, "采购", "申购")
    page.click("text=新建申购")
    page.fill("#department", "办公室")
    page.fill("#item", "ThinkPad X1")
    page.select_option("#category", "笔记本电脑")
    page.fill("#quantity", "2")
    page.fill("#estimated_unit_price", "4500")
    page.fill("#reason", "旧电脑已损坏")
    page.click("button.primary")
    assert "等待分管领导审批" in page.locator(".flash").inner_text()
    page.click("text=退出登录")

    sign_in(page, live_server, leader)
    page.goto(f"{live_server.url}/requests/todo")
    page.click("text=1")  # the request's number
    page.fill("#quantity", "1")
    page.click("button[value=approve]")
    assert "审批意见已记录" in page.locator(".flash").inner_text()
    assert "已批准" in page.locator("dl.facts").inner_text()
