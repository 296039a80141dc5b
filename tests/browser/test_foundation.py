"""The foundation in a real browser: sign in per role, the menu each role sees, the language switch."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import LiveServer, sign_in

MENUS = {  # what each role's menu must show (zh) and must not show
    "admin": (["首页", "二维码标签"], []),
    "storekeeper": (["首页", "二维码标签"], []),
    "guard": (["首页"], ["二维码标签"]),
    "auditor": (["首页"], ["二维码标签"]),
}


@pytest.mark.parametrize("role", sorted(MENUS))
def test_each_role_signs_in_and_sees_only_its_menu(page: Any, live_server: LiveServer, role: str) -> None:
    sign_in(page, live_server, live_server.user(role))
    menu = page.locator("nav[aria-label='主菜单']").text_content()  # closed sections too
    shown, hidden = MENUS[role]
    for label in shown:
        assert label in menu
    for label in hidden:
        assert label not in menu
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    if role == "storekeeper":  # the sections open from the keyboard, no script needed
        labels = page.get_by_role("link", name="二维码标签", exact=True)
        assert not labels.is_visible()
        page.locator("nav.side summary", has_text="资产").focus()
        page.keyboard.press("Enter")
        labels.focus()
        page.keyboard.press("Enter")
        page.wait_for_url("**/labels")
        assert page.locator("nav.side details[open] summary").inner_text() == "资产"  # its section stays open
        assert page.locator("nav.side a[aria-current=page]").inner_text() == "二维码标签"


def test_switching_language_is_kept_for_the_user(page: Any, live_server: LiveServer) -> None:
    sign_in(page, live_server, live_server.user("storekeeper"))
    assert page.locator("h1").inner_text() == "首页"
    page.select_option("#language-select", "en")
    page.click(".lang button")
    assert page.locator("h1").inner_text() == "Dashboard"
    page.context.clear_cookies()  # a new session: the choice is the user's, not the cookie's
    sign_in(page, live_server, "storekeeper-user")
    assert page.locator("h1").inner_text() == "Dashboard"


def test_wrong_password_is_told_in_chinese(page: Any, live_server: LiveServer) -> None:
    live_server.user("guard")
    sign_in(page, live_server, "guard-user", "not the password")
    assert "用户名或密码错误" in page.locator(".flash").inner_text()


def test_unknown_page_is_the_products_own_error_page(page: Any, live_server: LiveServer) -> None:
    sign_in(page, live_server, live_server.user("auditor"))
    response = page.goto(f"{live_server.url}/c/A-0000I0X")
    assert response is not None and response.status == 404
    assert "不是本系统打印的编号" in page.content() or "不是有效编号" in page.content()
    assert page.locator("header.top").count() == 1
