"""Browser tests: the real app served on loopback, driven by Playwright in Debian's headless Chromium.

Playwright's own browser download is not used (scripts/setup.sh installs Debian's ``chromium``);
CSRF is on, as in production. A failing test leaves a screenshot in test-artifacts/screenshots/.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from server import auth, create_app
from server.audit import SYSTEM

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "correct horse battery"


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Debian's chromium is not installed: run scripts/setup.sh")
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        chromium = playwright.chromium.launch(executable_path=chromium_path(), headless=True,
                                              args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


class LiveServer:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.sessions = app.extensions["assetgate.sessions"]
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def user(self, role: str, username: str | None = None, language: str | None = None) -> str:
        name = username or f"{role}-user"
        with self.sessions() as session, session.begin():
            user = auth.create_user(session, SYSTEM, name, PASSWORD, role)
            user.language = language
        return name

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(5)


@pytest.fixture
def live_server(settings_overrides: dict[str, Any]) -> Iterator[LiveServer]:
    app = create_app({**settings_overrides, "csrf_enabled": True, "testing": False})
    server = LiveServer(app)
    yield server
    server.stop()
    app.extensions["assetgate.engine"].dispose()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.browser_failed = report.failed


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    if getattr(request.node, "browser_failed", False):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def sign_in(page: Any, server: LiveServer, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{server.url}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit].primary")
    page.wait_for_load_state()


def open_menu(page: Any, section: str | None, entry: str) -> None:
    """Click an entry of the side menu as a person would: open its section first (a <details> that is
    closed unless this page is in it); ``section`` None for the links at the top."""
    scope = page.locator("nav.side")
    if section is not None:
        scope = scope.locator("details", has=page.locator("summary", has_text=section))
        if scope.get_attribute("open") is None:
            scope.locator("summary").click()
    scope.get_by_role("link", name=entry, exact=True).click()
    page.wait_for_load_state()
