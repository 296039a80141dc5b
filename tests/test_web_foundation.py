"""The web foundation without a browser: languages, formatting, error pages, codes, paging, the catalogue."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from server import auth
from server.audit import SYSTEM
from server.errors import Invalid
from server.services import assets, directory, paging

PASSWORD = "correct horse battery"


def _login(client: Any, sessions: Any, role: str, language: str | None = None) -> None:
    with sessions() as session, session.begin():
        user = auth.create_user(session, SYSTEM, f"u-{role}", PASSWORD, role)
        user.language = language
    client.post("/login", data={"username": f"u-{role}", "password": PASSWORD})


def test_chinese_by_default_english_by_accept_language(client: Any) -> None:
    assert "<h1>登录</h1>" in client.get("/login").get_data(as_text=True)
    english = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert "<h1>Sign in</h1>" in english
    assert "<h1>登录</h1>" in client.get("/login", headers={"Accept-Language": "fr"}).get_data(as_text=True)


def test_the_users_setting_wins_over_the_browser(client: Any, sessions: Any) -> None:
    _login(client, sessions, "auditor", language="en")
    page = client.get("/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "<h1>Dashboard</h1>" in page
    client.post("/language", data={"language": "zh", "next": "/"})
    assert "<h1>首页</h1>" in client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    client.post("/language", data={"language": "xx", "next": "/"})  # unknown: ignored
    assert "<h1>首页</h1>" in client.get("/").get_data(as_text=True)


def test_dates_money_and_statuses_in_the_readers_language(app: Any) -> None:
    from server import i18n, names

    for language, day, money, status in (("zh", "2026年12月1日", "¥12,345.00", "在库"),
                                         ("en", "December 1, 2026", "CN¥12,345.00", "In storage")):
        with app.test_request_context("/", headers={"Accept-Language": language}):
            app.preprocess_request()
            assert i18n.fmt_date(date(2026, 12, 1)) == day
            assert i18n.fmt_money(Decimal("12345")) == money
            assert names.status("in_storage") == status
            assert names.status("no_such_status") == "no_such_status"  # shown as it is, never hidden
    with app.test_request_context("/"):
        app.preprocess_request()
        # stored in UTC, shown in the office's zone (Asia/Shanghai): 20:30 UTC is the next day there
        assert i18n.fmt_date(datetime(2026, 11, 30, 20, 30, tzinfo=UTC)) == "2026年12月1日"
        assert names.method("online_inquiry") == "网上询价"


@pytest.mark.parametrize("path,status,text", [
    ("/no/such/page", 404, "未找到"),
    ("/assets/A-NOSUCH0", 404, "没有编号为 A-NOSUCH0 的资产"),
    ("/c/A-000010A", 404, "有字符识读或输入错误"),
    ("/c/garbage", 404, "不是本系统打印的编号"),
])
def test_error_pages_are_ours_and_chinese(client: Any, sessions: Any, path: str, status: int, text: str) -> None:
    _login(client, sessions, "auditor")
    response = client.get(path)
    body = response.get_data(as_text=True)
    assert response.status_code == status and text in body
    assert 'class="top"' in body and "Werkzeug" not in body


def test_forbidden_and_too_large_pages(settings_overrides: dict[str, Any]) -> None:
    from server import create_app

    app = create_app({**settings_overrides, "max_upload_bytes": 2048})
    client = app.test_client()
    _login(client, app.extensions["assetgate.sessions"], "guard")
    forbidden = client.get("/labels")
    assert forbidden.status_code == 403 and "无权执行此操作" in forbidden.get_data(as_text=True)
    client.post("/logout")
    _login(client, app.extensions["assetgate.sessions"], "storekeeper")
    big = client.post("/labels", data={"codes": "A" * 5000})
    assert big.status_code == 413 and "上传文件过大" in big.get_data(as_text=True)
    assert client.get("/api/v1/nope", headers={"Accept": "application/json"}).get_json()["error"]["code"]
    app.extensions["assetgate.engine"].dispose()


def test_an_unexpected_error_is_a_500_page_and_logged(settings_overrides: dict[str, Any],
                                                       caplog: pytest.LogCaptureFixture) -> None:
    from server import create_app
    from server.auth import public

    app = create_app({**settings_overrides, "testing": False})

    @public
    def boom() -> Any:
        raise RuntimeError("kaboom")

    app.add_url_rule("/boom", "boom", boom)
    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert "服务器内部错误" in response.get_data(as_text=True)
    assert "kaboom" not in response.get_data(as_text=True)
    assert any("kaboom" in (r.exc_text or "") for r in caplog.records)
    app.extensions["assetgate.engine"].dispose()


def test_code_link_opens_the_asset(client: Any, sessions: Any) -> None:
    with sessions() as session, session.begin():
        directory.get_or_create_category(session, SYSTEM, "Printer")
        code = assets.create_asset(session, SYSTEM, "HP", "Printer").code
    _login(client, sessions, "guard")
    for form in (code, code.lower(), f"https://x.example/c/{code}"):
        response = client.get(f"/c/{form}")
        assert response.status_code == 302 and response.headers["Location"] == f"/assets/{code}"


def test_keyset_pages_cover_every_row_once(sessions: Any) -> None:
    from sqlalchemy import select

    from server.models import Asset

    with sessions() as session, session.begin():
        directory.get_or_create_category(session, SYSTEM, "Chair")
        for i in range(23):
            assets.create_asset(session, SYSTEM, f"Chair {i % 5}", "Chair")
    with sessions() as session:
        for descending in (False, True):
            seen: list[int] = []
            cursor = None
            while True:
                page = paging.keyset_page(session, select(Asset), [Asset.name, Asset.id], cursor, descending, 5)
                seen += [a.id for a in page.items]
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
            assert sorted(seen) == sorted(set(seen)) and len(seen) == 23
        with pytest.raises(Invalid):
            paging.keyset_page(session, select(Asset), [Asset.name, Asset.id], "!!junk", False, 5)
        with pytest.raises(Invalid):
            paging.decode_cursor("x" * 600, 2)


def test_every_page_comes_from_a_module_the_factory_lists(app: Any) -> None:
    """One blueprint per area, registered by create_app (server.web.AREAS); a module with pages on
    another area's blueprint (server.web.PARTS) has them put there by server.web.register, so a page
    never exists because some module happened to be imported."""
    from server import web

    listed = {module.__name__ for module in (*web.AREAS, web.static, web.errors)}
    listed |= {part.__name__ for _, part in web.PARTS}
    stray = {endpoint: view.__module__ for endpoint, view in app.view_functions.items()
             if view.__module__.startswith("server.web") and view.__module__ not in listed}
    assert stray == {}
    assert {"gate.permits", "procurement.purchase_void", "supplies.conflicts"} <= set(app.view_functions)


def test_every_marked_string_has_a_chinese_translation() -> None:
    from server.catalogue import missing

    assert missing("zh") == {}


def test_translations_keep_their_placeholders() -> None:
    from server.catalogue import translated

    placeholder = re.compile(r"%\(\w+\)[sd]")
    wrong = {msgid: text for msgid, text in translated("zh").items()
             if sorted(placeholder.findall(msgid)) != sorted(placeholder.findall(text))}
    assert wrong == {}


# Form pages besides every ".../new" one (found in the URL map, so a new area's are checked too). The
# users, kiosks, audit, asset, archive and procurement pages have this check in their own tests.
FORM_PAGES = ("/login", "/labels", "/", "/gate/", "/gate/walk-in", "/gate/watchlist", "/supplies/pickup",
              "/requests/approvers", "/departments")
CHECKED_ELSEWHERE = ("/archives/", "/procurement/")


def test_every_input_has_a_label(app: Any, client: Any, sessions: Any) -> None:
    """Accessibility: each visible input on the pages a person fills in has a <label for> or aria-label."""
    _login(client, sessions, "admin")
    new = [rule.rule for rule in app.url_map.iter_rules()
           if rule.rule.endswith("/new") and not rule.arguments and "GET" in (rule.methods or ())
           and not rule.rule.startswith(CHECKED_ELSEWHERE)]
    assert len(new) >= 8
    for path in (*FORM_PAGES, *new):
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        labelled = set(re.findall(r'<label[^>]* for="([^"]+)"', html))
        for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
            if 'type="hidden"' in tag or "aria-label=" in tag:
                continue
            ident = re.search(r'id="([^"]+)"', tag)
            assert ident and ident.group(1) in labelled, (path, tag)


def test_no_string_is_translated_two_ways() -> None:
    """Each area keeps its own .po file; the same English must get the same Chinese in all of them."""
    from babel.messages.pofile import read_po

    from server.i18n import TRANSLATIONS

    seen: dict[str, dict[str, str]] = {}
    for path in sorted((TRANSLATIONS / "zh").glob("*.po")):
        with path.open("rb") as handle:
            for message in read_po(handle):
                if message.id and message.string:
                    seen.setdefault(str(message.id), {})[path.name] = str(message.string)
    assert {k: v for k, v in seen.items() if len(set(v.values())) > 1} == {}
