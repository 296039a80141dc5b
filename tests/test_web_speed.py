"""What keeps the asset search and the asset page cheap (docs/web.md, "Search at a million assets"),
and that none of it changes what a page says: formatting equal to Babel's, constant translations
compiled into each language's templates, the menu kept per role and language, row links equal to
url_for, few statements and no transaction for the read-only views, a dead pooled connection
replaced without a ping, and forged page cursors refused."""

from __future__ import annotations

import base64
import json
import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import flask_babel
import pytest
from flask import url_for
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from server import auth, create_app, i18n
from server import db as db_module
from server.audit import SYSTEM
from server.db import WriteInReadOnlyView, read_only_engine
from server.models import Category
from server.services import assets
from server.web.nav import link
from tests.conftest import BACKEND, PG_URL
from tests.procurement_support import ACTOR, office

PASSWORD = "correct horse battery"


def _login(client: Any, sessions: Any, role: str, language: str | None = None) -> None:
    with sessions() as session, session.begin():
        user = auth.create_user(session, SYSTEM, f"speed-{role}", PASSWORD, role)
        user.language = language
    assert client.post("/login", data={"username": f"speed-{role}", "password": PASSWORD}).status_code == 302


@pytest.fixture
def asset_code(sessions: Any) -> str:
    with sessions() as session, session.begin():
        where = office(session)
        code = assets.create_asset(session, ACTOR, "Dell Latitude", "Laptop", where.store, serial="SN-SPEED",
                                   price=Decimal("5999.00"), acquired_on=date(2026, 3, 20)).code
        assets.checkout(session, ACTOR, code, where.person)
    return code


# --- formatting: the same text as Flask-Babel ---

@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Europe/Berlin"])
def test_dates_times_and_money_read_as_flask_babel_writes_them(settings_overrides: dict[str, Any], zone: str) -> None:
    with _app(settings_overrides, timezone=zone) as app:
        _compare_with_flask_babel(app, zone)


@contextmanager
def _app(settings_overrides: dict[str, Any], **changes: Any) -> Iterator[Any]:
    app = create_app({**settings_overrides, **changes})
    try:
        yield app
    finally:
        app.extensions["assetgate.engine"].dispose()


def _compare_with_flask_babel(app: Any, zone: str) -> None:
    pick = random.Random(7)
    for language in ("zh", "en"):
        with app.test_request_context("/", headers={"Accept-Language": language}):
            for i in range(1500):
                # to 2037: pytz's tables (Flask-Babel's zone) stop there; zoneinfo goes on (see below)
                moment = datetime(1999, 1, 1, tzinfo=UTC) + timedelta(seconds=pick.randrange(38 * 365 * 86400))
                moment = [moment, moment.replace(tzinfo=None), moment.astimezone(timezone(timedelta(hours=-7)))][i % 3]
                amount = Decimal(pick.randrange(-10**10, 10**10)) / Decimal(10 ** pick.randrange(0, 5))
                assert i18n.fmt_datetime(moment) == flask_babel.format_datetime(moment, "short")
                assert i18n.fmt_date(moment) == flask_babel.format_date(moment, "long")
                assert i18n.fmt_date(moment.date()) == flask_babel.format_date(moment.date(), "long")
                for value in (amount, float(amount), int(amount)):
                    assert i18n.fmt_money(value) == flask_babel.format_currency(
                        value, "CNY", format="¤#,##0.00", currency_digits=True)
            if zone == "Europe/Berlin":  # summer time after 2037: zoneinfo has it, pytz does not
                assert "3:32" in i18n.fmt_datetime(datetime(2043, 4, 19, 1, 32, tzinfo=UTC))
            for odd in ("0.125", "0.135", "2.675", "-0.001", "-0", "0", "-0.005", "1E+3", "12345678901.995"):
                assert i18n.fmt_money(Decimal(odd)) == flask_babel.format_currency(
                    Decimal(odd), "CNY", format="¤#,##0.00", currency_digits=True)


def test_gettext_follows_the_locale_flask_babel_chose(app: Any) -> None:
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert i18n.gettext("Status") == "Status" and i18n.current_language() == "en"
        with flask_babel.force_locale("zh_Hans_CN"):
            assert i18n.gettext("Status") == "状态" and i18n.current_language() == "zh"
        assert i18n.gettext("By %(who)s, through %(source)s", who="a", source="b") == "By a, through b"
    assert i18n.gettext("Status") == "Status"  # outside a request: as written


# --- templates: constant translations compiled in ---

TRICKY = """{{ _('Status') }}|{{ gettext('Sign out') }}|{{ _('By %(who)s, through %(source)s', who='<b>', source=s) }}|
{{ kv(_('Location'), '<i>') }}|{{ _('none') ~ ' → ' ~ '<x>' }}|{{ (_('Status'))|length }}|{{ _("Newest first.") }}"""


@pytest.mark.parametrize("language", ["zh", "en"])
def test_constant_translations_compiled_in_say_what_gettext_says(app: Any, language: str) -> None:
    with app.test_request_context("/", headers={"Accept-Language": language}):
        overlay = app.jinja_env._for_request()
        assert overlay is not None and overlay.language == language
        compiled = overlay.from_string(TRICKY).render(s="web")
        at_run_time = app.jinja_env.from_string(TRICKY).render(s="web")
        assert compiled == at_run_time
        assert "&lt;b&gt;" in compiled and "&lt;i&gt;" in compiled  # variables still escaped
        source = overlay.compile("{{ _('Status') }}", raw=True)
        assert "context.call" not in source and ("状态" if language == "zh" else "Status") in source
        assert "context.call" in overlay.compile("{{ _('By %(who)s', who=x) }}", raw=True)  # looked up when shown


def test_each_language_renders_its_own_templates(client: Any, sessions: Any) -> None:
    _login(client, sessions, "auditor")
    for _ in range(2):  # the second time from each language's cache
        assert "<h1>资产</h1>" in client.get("/assets").get_data(as_text=True)
        assert "<h1>Assets</h1>" in client.get("/assets", headers={"Accept-Language": "en"}).get_data(as_text=True)
    client.post("/language", data={"language": "en", "next": "/assets"})
    assert "<h1>Assets</h1>" in client.get("/assets").get_data(as_text=True)
    client.post("/language", data={"language": "zh", "next": "/assets"})
    assert "<h1>资产</h1>" in client.get("/assets").get_data(as_text=True)


# --- the menu, kept per role, language and URL prefix ---

def _menu(html: str) -> list[tuple[str, str]]:
    nav = re.search(r'<nav class="side"[^>]*>(.*?)</nav>', html, re.S)
    assert nav
    return re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', nav.group(1))


def test_the_kept_menu_is_each_roles_own_in_each_language(settings_overrides: dict[str, Any], sessions: Any) -> None:
    with _app(settings_overrides, behind_proxy=1) as app:
        menus = _menus(app, sessions)
    assert menus["storekeeper", "en"] != menus["auditor", "en"]
    assert ("/assets", "资产查询") in menus["auditor", "zh"] and ("/assets", "Asset search") in menus["auditor", "en"]
    assert [url for url, _ in menus["auditor", "zh"]] == [url for url, _ in menus["auditor", "en"]]


def _menus(app: Any, sessions: Any) -> dict[tuple[str, str], list[tuple[str, str]]]:
    menus = {}
    for role in ("auditor", "storekeeper"):
        client = app.test_client()
        _login(client, sessions, role)
        for language in ("zh", "en"):
            client.post("/language", data={"language": language, "next": "/"})
            for _ in range(2):
                menus[role, language] = _menu(client.get("/assets").get_data(as_text=True))
        prefixed = _menu(client.get("/assets", headers={"X-Forwarded-Prefix": "/ag"}).get_data(as_text=True))
        assert prefixed and all(url.startswith("/ag/") for url, _ in prefixed)
        assert [label for _, label in prefixed] == [label for _, label in menus[role, "en"]]
        assert not any(url.startswith("/ag/") for url, _ in _menu(client.get("/assets").get_data(as_text=True)))
    return menus


# --- row links ---

def test_row_links_are_what_url_for_gives(app: Any) -> None:
    pick = random.Random(3)
    alphabet = "AZaz09-_.~ /?#%&+=:;@!$'()*,\"<>\\é中\x7f"
    values = ["A-000010A", "", *("".join(pick.choice(alphabet) for _ in range(pick.randrange(1, 12)))
                                 for _ in range(300))]
    for root in ("", "/assetgate", "/a b"):
        with app.test_request_context("/", environ_overrides={"SCRIPT_NAME": root}):
            for endpoint in ("assets.page", "assets.person_page", "assets.location_page"):
                for value in values:
                    if value:
                        assert link(value, endpoint) == url_for(endpoint, code=value), (endpoint, value, root)


# --- statements and round trips of the read-only views ---

@contextmanager
def _statements(app: Any) -> Iterator[list[tuple[str, str]]]:
    """Each statement sent and the transaction state its connection was in just after it."""
    engine = app.extensions["assetgate.engine"]
    sent: list[tuple[str, str]] = []

    def after(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        state = "?"
        if engine.dialect.name == "postgresql":
            state = conn.connection.dbapi_connection.info.transaction_status.name
        sent.append((statement.split()[0].upper(), state))

    event.listen(engine, "after_cursor_execute", after)
    try:
        yield sent
    finally:
        event.remove(engine, "after_cursor_execute", after)


@pytest.mark.parametrize("path,query,selects", [
    ("/assets/{code}", "", 3),  # who is signed in, the asset with its origin, the history
    ("/assets", "q=Dell", 4),  # who, a serial?, the page, the category list
    ("/assets", "q={code}", 2),  # who, the code: a redirect
    ("/assets", "sort=price&dir=desc", 4),  # who, the priced rows, then the unpriced, the category list
])
def test_the_read_only_pages_send_few_statements_and_no_transaction(app: Any, client: Any, sessions: Any,
                                                                    asset_code: str, path: str, query: str,
                                                                    selects: int) -> None:
    _login(client, sessions, "auditor")
    client.get("/assets")
    with _statements(app) as sent:
        answer = client.get(path.format(code=asset_code), query_string=query.format(code=asset_code))
    assert answer.status_code in (200, 302)
    reads = [kind for kind, _ in sent if kind != "BEGIN"]  # SQLite's BEGIN IMMEDIATE stays
    assert reads == ["SELECT"] * selects
    if BACKEND == "postgresql":  # autocommit: no BEGIN sent, every statement on an idle connection
        assert {state for _, state in sent} == {"IDLE"}


def test_a_page_that_writes_still_has_its_transaction(app: Any, client: Any, sessions: Any, asset_code: str) -> None:
    _login(client, sessions, "storekeeper")
    with _statements(app) as sent:
        answer = client.post(f"/assets/{asset_code}/do/checkin", data={"reason": "back"})
    assert answer.status_code == 302
    if BACKEND == "postgresql":
        assert "INTRANS" in {state for _, state in sent}


@pytest.mark.skipif(BACKEND != "postgresql", reason="PostgreSQL's read-only engine; SQLite keeps its transactions")
def test_a_read_only_session_cannot_write(app: Any, sessions: Any) -> None:
    reader = read_only_engine(app.extensions["assetgate.engine"])
    assert reader is not None
    with sessions(bind=reader) as session:
        session.add(Category(name="Never stored", controlled=False))
        with pytest.raises(WriteInReadOnlyView):
            session.flush()
    with sessions() as session:
        assert session.query(Category).filter_by(name="Never stored").count() == 0


def test_sqlite_keeps_its_transactions(app: Any) -> None:
    if BACKEND == "postgresql":
        pytest.skip("SQLite only")
    assert read_only_engine(app.extensions["assetgate.engine"]) is None


# --- a pooled connection the server ended ---

def _end_the_apps_connections(database_url: str) -> None:
    """What a restart of PostgreSQL does to the pool: each backend says goodbye and goes (waited for)."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        ended = conn.execute(text("SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                                  "WHERE datname = :name AND pid <> pg_backend_pid()"),
                             {"name": make_url(database_url).database}).all()
    admin.dispose()
    assert ended and all(done for (done,) in ended), "the app had a connection open, now ended"


@pytest.mark.skipif(BACKEND != "postgresql", reason="PostgreSQL ends connections; SQLite has none")
def test_a_connection_the_server_ended_is_replaced_without_a_ping(app: Any, client: Any, sessions: Any,
                                                                   database_url: str) -> None:
    engine = app.extensions["assetgate.engine"]
    connects: list[int] = []
    event.listen(engine.pool, "connect", lambda *_: connects.append(1))
    _login(client, sessions, "auditor")
    for _ in range(5):
        assert client.get("/assets").status_code == 200
    assert len(connects) <= 1  # a healthy pooled connection is kept, not re-made
    _end_the_apps_connections(database_url)
    before = len(connects)
    for _ in range(3):
        assert client.get("/assets").status_code == 200  # not a 500: the ended connection was replaced
    assert len(connects) == before + 1


@pytest.mark.skipif(BACKEND != "postgresql", reason="PostgreSQL ends connections; SQLite has none")
@pytest.mark.parametrize("api", [False, True])
def test_a_connection_ended_after_the_look_costs_no_request(app: Any, client: Any, sessions: Any, tokens: Any,
                                                            database_url: str, api: bool) -> None:
    """The server ends the connection after the pool's look at it (here: no look at all): the
    request's first statement fails, and is tried once more on a new connection."""
    engine = app.extensions["assetgate.engine"]
    _login(client, sessions, "auditor")
    path, headers = ("/api/v1/assets", tokens.headers("auditor")) if api else ("/assets", {})
    assert client.get(path, headers=headers).status_code == 200
    event.remove(engine.pool, "checkout", db_module._alive)
    try:
        _end_the_apps_connections(database_url)
        assert client.get(path, headers=headers).status_code == 200
    finally:
        event.listen(engine.pool, "checkout", db_module._alive)


# --- forged cursors ---

def _cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


@pytest.mark.parametrize("path,cursor", [
    ("/assets/{code}", _cursor(["v", "x"], ["v", 1])),
    ("/assets/{code}", _cursor(["t", "2020-01-01T00:00:00"], ["v", 1])),  # naive: not ours
    ("/assets/{code}", _cursor(["d", "2020-01-01"], ["v", 1])),
    ("/assets/{code}", _cursor(["t", "2020-01-01T00:00:00+00:00"], ["v", "zz"])),
    ("/assets?sort=code", _cursor(["v", 1])),
    ("/assets?sort=price", _cursor(["v", "x"], ["v", 1])),
    ("/assets?sort=price", _cursor(["n", "x"], ["v", 1])),
    ("/assets?sort=acquired", _cursor(["t", "2020-01-01T00:00:00+00:00"], ["v", 1])),
    ("/assets?sort=location", _cursor(["v", None], ["v", 2], ["v", 3])),
    ("/assets?sort=location", _cursor(["v", "Room"], ["v", True], ["v", 3])),
])
def test_forged_page_cursors_are_refused_clearly(client: Any, sessions: Any, asset_code: str, path: str,
                                                 cursor: str) -> None:
    _login(client, sessions, "auditor")
    separator = "&" if "?" in path else "?"
    answer = client.get(f"{path.format(code=asset_code)}{separator}after={cursor}")
    assert answer.status_code == 422


def test_real_cursors_of_the_empty_run_still_page(client: Any, sessions: Any, asset_code: str) -> None:
    _login(client, sessions, "auditor")
    answer = client.get("/assets", query_string={"sort": "location", "after": _cursor(["v", None], ["v", None],
                                                                                        ["v", 1])})
    assert answer.status_code == 200
