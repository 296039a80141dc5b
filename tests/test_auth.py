"""Roles on every route, bearer tokens for the API, sessions with CSRF for the web."""

from __future__ import annotations

import re
from typing import Any

import pytest

from server import auth
from server.audit import SYSTEM
from server.auth import ALL_ROLES, PUBLIC, allowed_roles


def _routes(app: Any) -> list[tuple[str, str, frozenset[str] | None]]:
    out = []
    for rule in app.url_map.iter_rules():
        url = re.sub(r"<(?:\w+:)?\w+>", "A-000010*", re.sub(r"<int:\w+>", "1", rule.rule))
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((method, url, allowed_roles(app.view_functions[rule.endpoint])))
    return out


def test_every_route_declares_roles(app: Any) -> None:
    undeclared = [(m, u) for m, u, roles in _routes(app) if roles is None]
    assert undeclared == []
    public = sorted(u for _, u, roles in _routes(app) if roles == PUBLIC)
    assert public == ["/api/docs", "/api/docs/swagger-ui/A-000010*", "/api/v1/openapi.json", "/language", "/login",
                      "/login", "/static/A-000010*"]


def test_unauthenticated_requests_are_refused(app: Any, client: Any) -> None:
    checked = 0
    for method, url, roles in _routes(app):
        if roles == PUBLIC:
            continue
        response = client.open(url, method=method, json={} if method == "POST" else None)
        if url.startswith("/api/"):
            assert response.status_code == 401, (method, url)
            assert response.get_json()["error"]["code"] == "unauthorized"
        else:
            assert response.status_code == 302, (method, url)
            assert "/login" in response.headers["Location"]
        checked += 1
    assert checked >= 20


def test_wrong_role_is_refused_on_every_api_route(app: Any, client: Any, tokens: Any) -> None:
    checked = 0
    for method, url, roles in _routes(app):
        if not url.startswith("/api/") or roles == PUBLIC or roles is None:
            continue
        for role in sorted(ALL_ROLES - roles):
            response = client.open(url, method=method, headers=tokens.headers(role), json={})
            assert response.status_code == 403, (method, url, role)
            checked += 1
    assert checked >= 10


def test_wrong_role_is_refused_on_web_routes(app: Any, client: Any, sessions: Any) -> None:
    with sessions() as session, session.begin():
        for role in ALL_ROLES:
            auth.create_user(session, SYSTEM, f"u-{role}", "correct horse battery", role)
    # One signed-in client per role: a sign-in checks a password hash (slow on purpose), once is enough.
    clients = {}
    for role in ALL_ROLES:
        clients[role] = app.test_client()
        clients[role].post("/login", data={"username": f"u-{role}", "password": "correct horse battery"})
    checked = 0
    for method, url, roles in _routes(app):
        if url.startswith("/api/") or roles in (PUBLIC, None):
            continue
        for role in sorted(ALL_ROLES - roles):
            assert clients[role].open(url, method=method).status_code == 403, (url, role)
            checked += 1
    assert checked >= 100


def test_bad_and_revoked_tokens(client: Any, tokens: Any, sessions: Any) -> None:
    assert client.get("/api/v1/assets", headers={"Authorization": "Bearer agt_nope"}).status_code == 401
    assert client.get("/api/v1/assets", headers={"Authorization": "Basic abc"}).status_code == 401
    good = tokens.headers("auditor")
    assert client.get("/api/v1/assets", headers=good).status_code == 200
    from sqlalchemy import update

    from server.models import ApiToken, utcnow

    with sessions() as session, session.begin():
        session.execute(update(ApiToken).values(revoked_at=utcnow()))
    assert client.get("/api/v1/assets", headers=good).status_code == 401


def test_tokens_are_stored_hashed(client: Any, tokens: Any, sessions: Any) -> None:
    secret = tokens.headers("admin")["Authorization"][7:]
    from sqlalchemy import select

    from server.models import ApiToken

    with sessions() as session:
        stored = session.scalars(select(ApiToken.token_hash)).all()
    assert secret not in stored and all(len(h) == 64 for h in stored)


def test_session_cookie_cannot_drive_the_api(client: Any, sessions: Any) -> None:
    with sessions() as session, session.begin():
        auth.create_user(session, SYSTEM, "boss", "correct horse battery", "admin")
    assert client.post("/login", data={"username": "boss", "password": "correct horse battery"}).status_code == 302
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/assets").status_code == 401


@pytest.fixture
def csrf_app(settings_overrides: dict[str, Any]) -> Any:
    from server import create_app

    settings_overrides["csrf_enabled"] = True
    app = create_app(settings_overrides)
    yield app
    app.extensions["assetgate.engine"].dispose()


def test_login_form_needs_csrf_token(csrf_app: Any) -> None:
    sessions = csrf_app.extensions["assetgate.sessions"]
    with sessions() as session, session.begin():
        auth.create_user(session, SYSTEM, "boss", "correct horse battery", "admin")
    client = csrf_app.test_client()
    refused = client.post("/login", data={"username": "boss", "password": "correct horse battery"})
    assert refused.status_code == 400
    body = refused.get_data(as_text=True)  # the 400 page is ours, in Chinese, never Werkzeug's
    assert "请求无法识别" in body and 'class="top"' in body
    assert "Werkzeug" not in body and "token is missing" not in body
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    ok = client.post("/login", data={"username": "boss", "password": "correct horse battery", "csrf_token": token})
    assert ok.status_code == 302


def test_wrong_password_and_open_redirect(client: Any, sessions: Any) -> None:
    with sessions() as session, session.begin():
        auth.create_user(session, SYSTEM, "boss", "correct horse battery", "admin")
    assert client.post("/login", data={"username": "boss", "password": "nope"}).status_code == 401
    assert client.post("/login", data={"username": "ghost", "password": "nope"}).status_code == 401
    for target in ("//evil.example/x", "/%09/evil.example/", "/\\evil.example/", "https://evil.example/",
                   "/%0d%0a//evil.example", "javascript:alert(1)"):
        with client.session_transaction() as s:
            s.clear()
        r = client.post("/login", query_string={"next": target},
                        data={"username": "boss", "password": "correct horse battery"})
        assert r.headers["Location"] == "/", target
    with client.session_transaction() as s:
        s.clear()
    r = client.post("/login", query_string={"next": "/assets/A-1?x=1"},
                    data={"username": "boss", "password": "correct horse battery"})
    assert r.headers["Location"] == "/assets/A-1?x=1"
