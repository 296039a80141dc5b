"""The gate desk in a real browser: the scan field has the focus, a scan (typed like a wedge scanner,
ending in Enter) signs in and out, and the on-site list follows a kiosk's sign-in by itself within
about a second, without a reload."""

from __future__ import annotations

import time
from typing import Any

from server.services import visits
from tests.browser.conftest import LiveServer, open_menu, sign_in
from tests.gate_support import GUARD, office, preregister


def test_the_desk_scans_and_follows_the_gates(page: Any, live_server: LiveServer) -> None:
    place = office(live_server.sessions)
    first = preregister(live_server.sessions, place["host"], "王芳", organisation="市财政局", plate="京A12345")
    second = preregister(live_server.sessions, place["host"], "李四")
    sign_in(page, live_server, live_server.user("guard"))
    open_menu(page, "门岗", "门岗值班台")
    assert page.locator("h1").inner_text() == "门岗值班台"
    assert page.evaluate("document.activeElement.id") == "code"  # the scanner types straight in
    assert "王芳" in page.locator("#expected-h + table").inner_text()

    page.keyboard.type(first)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert f"已登记入场：王芳（{first}）" in page.locator(".flashes").inner_text()
    assert page.evaluate("document.activeElement.id") == "code"  # ready for the next visitor
    assert "京A12345" in page.locator("#on-site").inner_text()

    # Another gate (a kiosk) signs a visitor in: the open desk shows it without a reload.
    with live_server.sessions() as session, session.begin():
        visits.sign_in(session, GUARD, second, origin=visits.Origin("kiosk:gate-1", "e1", kiosk=True))
    started = time.monotonic()
    page.locator("#on-site", has_text="李四").wait_for(timeout=3000)
    assert time.monotonic() - started < 2.5
    assert page.locator(".onsite-count strong").inner_text() == "2"

    page.fill("#code", first.lower())
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert f"已离场：王芳（{first}）" in page.locator(".flashes").inner_text()
    assert "王芳" not in page.locator("#on-site").inner_text()
    page.screenshot(path=str(live_server.app.instance_path) + "/gate-desk.png", full_page=True)


def test_a_refused_pass_is_said_in_red(page: Any, live_server: LiveServer) -> None:
    sign_in(page, live_server, live_server.user("guard"))
    page.goto(f"{live_server.url}/gate/")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'code'")  # autofocus, then scan
    page.keyboard.type("V-00000000")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    message = page.locator(".flash.error")
    assert "未知编号" in message.inner_text()
    color = page.evaluate("getComputedStyle(document.querySelector('.flash.error')).backgroundColor")
    assert color == "rgb(253, 226, 225)"
