"""The API documentation page (/api/docs) in a real browser: Swagger UI, served by the app under its own
Content-Security-Policy (no inline script, nothing from another site), lists the operations of
/api/v1/openapi.json, and one can be tried with a bearer token."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from server import auth
from server.audit import SYSTEM
from tests.browser.conftest import LiveServer

SHOTS = Path(os.environ["ASSETGATE_SHOTS"]) if os.environ.get("ASSETGATE_SHOTS") else None  # to look at it


def _watch(page: Any, server: LiveServer) -> tuple[list[str], list[str]]:
    """Console errors (a CSP violation is one) and requests to anywhere but the app."""
    errors: list[str] = []
    elsewhere: list[str] = []
    def console(msg: Any) -> None:
        if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):  # the browser's own
            errors.append(f"{msg.text} ({msg.location.get('url')})")

    page.on("console", console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda req: None if req.url.startswith((server.url, "data:")) else elsewhere.append(req.url))
    return errors, elsewhere


def test_the_docs_page_lists_the_operations_under_the_csp(page: Any, live_server: LiveServer) -> None:
    errors, elsewhere = _watch(page, live_server)
    response = page.goto(f"{live_server.url}/api/docs")
    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert page.locator("main > h1").inner_text() == "接口文档"
    tags = page.locator(".opblock-tag")
    tags.first.wait_for()
    assert tags.count() >= 20  # every area of the API, folded
    page.locator(".opblock-tag[data-tag='assets']").click()
    operation = page.locator(".opblock-summary-path[data-path='/api/v1/assets/{code}/checkout']")
    operation.wait_for()
    assert page.locator(".opblock").count() >= 5
    assert errors == [] and elsewhere == []
    if SHOTS:
        page.screenshot(path=str(SHOTS / "api-docs.png"), full_page=False)


def test_an_operation_can_be_tried_with_a_token(page: Any, live_server: LiveServer) -> None:
    with live_server.sessions() as session, session.begin():
        secret = auth.create_token(session, SYSTEM, "docs-reader", "auditor")
    errors, elsewhere = _watch(page, live_server)
    page.goto(f"{live_server.url}/api/docs")
    page.locator("button.authorize").click()
    page.locator(".auth-container input").fill(secret)
    page.locator(".auth-btn-wrapper button.authorize").click()
    page.locator("button.btn-done").click()
    page.locator(".opblock-tag[data-tag='directory']").click()
    block = page.locator(".opblock-get:has([data-path='/api/v1/categories'])")
    block.locator(".opblock-summary").click()
    block.locator("button.try-out__btn").click()
    block.locator("button.execute").click()
    status = block.locator(".live-responses-table tbody td.response-col_status").first
    status.wait_for()
    assert status.inner_text().strip() == "200"
    assert errors == [] and elsewhere == []


def test_the_page_says_where_the_document_is_without_javascript(live_server: LiveServer, browser: Any) -> None:
    context = browser.new_context(java_script_enabled=False, locale="en")
    try:
        tab = context.new_page()
        tab.goto(f"{live_server.url}/api/docs")
        assert tab.locator("a[href='/api/v1/openapi.json']").count() == 1
        assert "needs JavaScript" in tab.locator("main").inner_text()
    finally:
        context.close()
