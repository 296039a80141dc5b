"""Seals in the browser, in Chinese: the custodian registers a seal with its imprint and puts it into
service; a clerk asks to use it; the leader in charge approves fewer copies; the custodian stamps, and
stamping more than approved is refused beside the field; a take-out goes out and comes back; the
register lists the use and offers its PDF."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from PIL import Image

from server.audit import SYSTEM
from server.services import approvals, directory
from tests.browser.conftest import LiveServer, open_menu, sign_in


def _png(path: Path) -> Path:
    picture = Image.new("RGB", (100, 100), "white")
    for x in range(20, 80):
        picture.putpixel((x, 50), (200, 0, 0))
    out = io.BytesIO()
    picture.save(out, format="PNG")
    path.write_bytes(out.getvalue())
    return path


def test_seal_register_use_and_take_out(page: Any, live_server: LiveServer, tmp_path: Path) -> None:
    keeper, clerk = live_server.user("storekeeper", "keeper"), live_server.user("guard", "clerk")
    leader = live_server.user("auditor", "li")
    with live_server.sessions() as session, session.begin():
        approvals.grant(session, SYSTEM, leader, "leader", "办公室")
        custodian = directory.create_person(session, SYSTEM, "王芳", "办公室").code
        carrier = directory.create_person(session, SYSTEM, "赵磊", "办公室").code

    sign_in(page, live_server, keeper)
    open_menu(page, "办公登记", "印章")
    page.click("text=印章刻制登记")
    page.fill("#name", "县政府办公室公章")
    page.select_option("#kind", "official")
    page.fill("#department", "办公室")
    page.fill("#custodian", custodian)
    page.fill("#approval_ref", "县府办〔2026〕1号")
    page.set_input_files("#imprint", str(_png(tmp_path / "imprint.png")))
    page.click("button.primary")
    assert "已登记为刻制" in page.locator(".flash").inner_text()
    assert page.locator("figure.imprint img").evaluate("img => img.naturalWidth") == 100  # served and decoded
    code = page.locator("h1 code").inner_text()
    page.select_option("#action", "enable")
    page.fill("#approval_ref", "县府办〔2026〕2号")
    page.click("text=登记变更")
    assert page.locator("#seal-status").inner_text() == "启用"
    page.click("text=退出登录")

    sign_in(page, live_server, clerk)
    page.goto(f"{live_server.url}/seals/{code}")
    page.click("text=新建用印申请")
    page.fill("#document_title", "关于召开全县安全生产会议的通知")
    page.fill("#copies", "5")
    page.fill("#recipient", "各乡镇人民政府")
    page.fill("#purpose", "发文")
    page.fill("#department", "办公室")
    page.click("button.primary")
    assert "等待分管领导审批" in page.locator(".flash").inner_text()
    request_url = page.url
    page.click("text=退出登录")

    sign_in(page, live_server, leader)
    open_menu(page, "办公登记", "印章")
    page.click("#todo a")  # waiting for my decision
    page.fill("#quantity", "3")
    page.click("button[value=approve]")
    assert "已批准" in page.locator("#state").inner_text()
    page.click("text=退出登录")

    sign_in(page, live_server, keeper)
    page.goto(request_url)
    page.fill("#copies", "4")
    page.click("text=登记用印")
    assert "再盖 4 份超出批准份数" in page.locator("#copies-err").inner_text()
    page.fill("#copies", "3")
    page.click("text=登记用印")
    assert "已登记用印" in page.locator(".flash").inner_text()
    assert page.locator("#stamped").inner_text().startswith("3")
    page.goto(f"{live_server.url}/seal-register")
    assert "关于召开全县安全生产会议的通知" in page.locator("#register").inner_text()
    assert page.locator("text=打印（PDF）").get_attribute("href").startswith("/seal-register.pdf")

    due = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M")
    page.goto(f"{live_server.url}/seal-takeouts/new?seal={code}")
    page.fill("#carrier", carrier)
    page.fill("#destination", "市政务服务中心")
    page.fill("#purpose", "办理登记")
    page.fill("#due_at", due)
    page.fill("#department", "办公室")
    page.click("button.primary")
    assert "等待分管领导审批" in page.locator(".flash").inner_text()
    takeout_url = page.url
    page.click("text=退出登录")
    sign_in(page, live_server, leader)
    page.goto(takeout_url)
    page.click("button[value=approve]")
    page.click("text=退出登录")
    sign_in(page, live_server, keeper)
    page.goto(takeout_url)
    page.click("text=印章现在带出")
    assert page.locator("#state").inner_text() == "外带中"
    page.click("text=印章已归还")
    assert page.locator("#state").inner_text() == "已归还"
