"""Administration in a real browser: an admin creates a user, sets its role and disables it (the disabled
user cannot sign in), enrols a kiosk and downloads its bundle, and runs the audit check from its page."""

from __future__ import annotations

import zipfile
from typing import Any

from tests.browser.conftest import LiveServer, open_menu, sign_in


def test_admin_manages_a_user(page: Any, browser: Any, live_server: LiveServer) -> None:
    sign_in(page, live_server, live_server.user("admin", "boss"))
    open_menu(page, "系统与审计", "用户与令牌")
    assert page.locator("h1").inner_text() == "用户"
    page.fill("#username", "xiao.li")
    page.select_option("#role", "storekeeper")
    page.fill("#password", "a long password 9")
    page.press("#password", "Enter")  # the form works from the keyboard
    assert "用户 xiao.li 已创建" in page.locator(".flashes").inner_text()

    row = page.locator("tr", has_text="xiao.li")
    row.locator("select").select_option("guard")
    row.locator("button", has_text="设置角色").click()
    assert "xiao.li 的角色已改为门卫" in page.locator(".flashes").inner_text()

    page.locator("tr", has_text="xiao.li").locator("button", has_text="停用").click()
    assert "停用用户 xiao.li？" in page.locator(".confirm").inner_text()  # the confirmation step
    page.click("button:has-text('确认执行')")
    assert "已停用" in page.locator("tr", has_text="xiao.li").inner_text()

    other = browser.new_context(locale="zh-CN")
    try:
        tab = other.new_page()
        sign_in(tab, live_server, "xiao.li", "a long password 9")
        assert "用户名或密码错误" in tab.locator(".flash").inner_text()
        assert tab.url.endswith("/login")
    finally:
        other.close()


def test_admin_enrols_a_kiosk_and_downloads_its_bundle(page: Any, live_server: LiveServer) -> None:
    sign_in(page, live_server, live_server.user("admin", "boss"))
    open_menu(page, "系统与审计", "自助终端")
    page.click("text=登记自助终端")
    page.fill("#name", "gate-9")
    page.select_option("#mode", "gate")
    page.click("button:has-text('登记')")
    assert page.locator("h1").inner_text() == "自助终端 gate-9 已登记"
    with page.expect_download() as info:
        page.click("#bundle")
    download = info.value
    assert download.suggested_filename == "kiosk-gate-9.zip"
    with zipfile.ZipFile(download.path()) as bundle:
        assert 'kiosk = "gate-9"' in bundle.read("gate-9/kiosk.toml").decode()
        assert len(bundle.read("gate-9/broker-password").strip()) >= 24
    page.click("text=返回自助终端列表")
    assert "gate-9" in page.locator("table").inner_text()


def test_auditor_runs_the_audit_check_from_its_page(page: Any, live_server: LiveServer) -> None:
    sign_in(page, live_server, live_server.user("auditor"))
    open_menu(page, "系统与审计", "审计日志")
    assert "user.create" in page.locator("table").inner_text()
    page.click("text=完整性校验")
    page.click("#run-check")
    assert "完整无误" in page.locator(".result").inner_text()
    assert "已校验记录数" in page.locator(".result").inner_text()
