"""The users and tokens pages (admin) and their REST twins: roles refused, the confirmation step,
secrets shown once, errors in Chinese beside their fields."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from server.models import ApiToken, User
from tests.admin_support import PASSWORD, audited, login, make_user

PAGES = [("GET", "/users"), ("POST", "/users"), ("POST", "/users/x/role"), ("POST", "/users/x/disable"),
         ("POST", "/users/x/enable"), ("POST", "/users/x/password"), ("GET", "/users/tokens"),
         ("POST", "/users/tokens"), ("POST", "/users/tokens/1/revoke")]


def _user(sessions: Any, name: str) -> User:
    with sessions() as session:
        return session.scalars(select(User).where(User.username == name)).one()


@pytest.mark.parametrize("role", ["storekeeper", "guard", "auditor"])
def test_only_admins_reach_the_pages(client: Any, sessions: Any, role: str) -> None:
    login(client, sessions, role)
    for method, path in PAGES:
        response = client.open(path, method=method)
        assert response.status_code == 403 and "无权执行此操作" in response.get_data(as_text=True), path
    assert "用户与令牌" not in client.get("/").get_data(as_text=True)  # nor does the menu offer them


def test_admin_creates_users_with_a_generated_or_given_password(client: Any, sessions: Any) -> None:
    login(client, sessions, "admin")
    page = client.get("/users").get_data(as_text=True)
    assert "<h1>用户</h1>" in page and "u-admin" in page
    shown = client.post("/users", data={"username": "wang.fang", "role": "storekeeper", "password": ""})
    assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
    password = re.search(r'<code id="secret">([^<]+)</code>', shown.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    assert "仅显示这一次" in shown.get_data(as_text=True)
    given = client.post("/users", data={"username": "li.na", "role": "guard", "password": "a long password 1"})
    assert given.status_code == 302
    assert _user(sessions, "wang.fang").role == "storekeeper" and _user(sessions, "li.na").role == "guard"
    other = client.application.test_client()
    assert other.post("/login", data={"username": "wang.fang", "password": password}).status_code == 302
    assert [e.entity_id for e in audited(sessions, "user.create")][-2:] == ["wang.fang", "li.na"]


@pytest.mark.parametrize("data,field,message", [
    ({"username": "u-admin", "role": "guard", "password": ""}, "username", "用户 u-admin 已存在"),
    ({"username": "two words", "role": "guard", "password": ""}, "username", "不含空格"),
    ({"username": "a/b", "role": "guard", "password": ""}, "username", "不含空格或斜杠"),
    ({"username": "x1", "role": "king", "password": ""}, "role", "角色须为以下之一"),
    ({"username": "x2", "role": "guard", "password": "short"}, "password", "密码至少需要 10 个字符"),
    ({"username": "", "role": "guard", "password": ""}, "username", "此项必填"),
])
def test_user_form_errors_are_chinese_and_beside_their_field(client: Any, sessions: Any, data: dict[str, str],
                                                             field: str, message: str) -> None:
    login(client, sessions, "admin")
    response = client.post("/users", data=data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(rf'<p class="error" id="{field}-err">[^<]*{message}', body), body
    with sessions() as session:
        assert session.scalar(select(User.id).where(User.username == data["username"])) is None or \
            data["username"] == "u-admin"
        assert len(session.scalars(select(User)).all()) == 1  # nothing made


def test_disable_needs_confirmation_then_signs_the_user_out(app: Any, client: Any, sessions: Any) -> None:
    login(client, sessions, "admin")
    victim = app.test_client()
    login(victim, sessions, "storekeeper")
    first = client.post("/users/u-storekeeper/disable")
    assert first.status_code == 200 and "停用用户 u-storekeeper？" in first.get_data(as_text=True)
    assert 'name="confirmed" value="1"' in first.get_data(as_text=True)
    assert _user(sessions, "u-storekeeper").active  # nothing changed yet
    assert victim.get("/").status_code == 200
    done = client.post("/users/u-storekeeper/disable", data={"confirmed": "1"})
    assert done.status_code == 302
    assert not _user(sessions, "u-storekeeper").active
    assert victim.get("/").status_code == 302
    assert "已停用" in client.get("/users").get_data(as_text=True)
    assert client.post("/users/u-storekeeper/enable").status_code == 302
    assert _user(sessions, "u-storekeeper").active


def test_admin_cannot_disable_or_demote_themselves(client: Any, sessions: Any) -> None:
    login(client, sessions, "admin")
    make_user(sessions, "admin", "deputy")
    refused = client.post("/users/u-admin/disable", data={"confirmed": "1"}, follow_redirects=True)
    assert "不能停用自己" in refused.get_data(as_text=True)
    assert _user(sessions, "u-admin").active
    demoted = client.post("/users/u-admin/role", data={"role": "guard"}, follow_redirects=True)
    assert "不能停用自己或更改自己的角色" in demoted.get_data(as_text=True)
    assert client.post("/users/nobody/disable").status_code == 404


def test_set_role_and_reset_password(app: Any, client: Any, sessions: Any) -> None:
    login(client, sessions, "admin")
    make_user(sessions, "guard", "zhao")
    moved = client.post("/users/zhao/role", data={"role": "auditor"}, follow_redirects=True)
    assert "zhao 的角色已改为审计员" in moved.get_data(as_text=True)
    assert _user(sessions, "zhao").role == "auditor"
    same = client.post("/users/zhao/role", data={"role": "auditor"}, follow_redirects=True)
    assert "zhao 已是该角色" in same.get_data(as_text=True)
    ask = client.post("/users/zhao/password")
    assert "重置 zhao 的密码？" in ask.get_data(as_text=True)
    reset = client.post("/users/zhao/password", data={"confirmed": "1"})
    password = re.search(r'<code id="secret">([^<]+)</code>', reset.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    other = app.test_client()
    assert other.post("/login", data={"username": "zhao", "password": PASSWORD}).status_code == 401
    assert other.post("/login", data={"username": "zhao", "password": password}).status_code == 302


def test_resetting_your_own_password_keeps_this_session(client: Any, sessions: Any) -> None:
    login(client, sessions, "admin")
    client.post("/users/u-admin/password", data={"confirmed": "1"})
    assert client.get("/users").status_code == 200


def test_tokens_page_shows_the_secret_once_and_revokes_after_confirmation(client: Any, sessions: Any) -> None:
    login(client, sessions, "admin")
    made = client.post("/users/tokens", data={"name": "finance-export", "role": "auditor", "expires": "2999-12-31"})
    secret = re.search(r'<code id="secret">(agt_[^<]+)</code>', made.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/assets", headers=headers).status_code == 200
    listing = client.get("/users/tokens").get_data(as_text=True)
    assert "finance-export" in listing and secret not in listing and "有效" in listing
    with sessions() as session:
        token_id = session.scalars(select(ApiToken.id).where(ApiToken.name == "finance-export")).one()
    ask = client.post(f"/users/tokens/{token_id}/revoke")
    assert "吊销 API 令牌 finance-export？" in ask.get_data(as_text=True)
    assert client.get("/api/v1/assets", headers=headers).status_code == 200
    assert client.post(f"/users/tokens/{token_id}/revoke", data={"confirmed": "1"}).status_code == 302
    assert client.get("/api/v1/assets", headers=headers).status_code == 401
    assert "已吊销" in client.get("/users/tokens").get_data(as_text=True)
    assert client.post("/users/tokens/999/revoke").status_code == 404
    assert client.post("/users/tokens/abc/revoke").status_code == 404


@pytest.mark.parametrize("data,field,message", [
    ({"name": "old", "role": "guard", "expires": "2001-01-01"}, "expires", "到期时间必须晚于当前时间"),
    ({"name": "x", "role": "guard", "expires": "not a day"}, "expires", ""),
    ({"name": "x y", "role": "guard", "expires": ""}, "name", "不含空格"),
    ({"name": "x", "role": "nobody", "expires": ""}, "role", "角色须为以下之一"),
])
def test_token_form_errors(client: Any, sessions: Any, data: dict[str, str], field: str, message: str) -> None:
    login(client, sessions, "admin")
    response = client.post("/users/tokens", data=data)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    error = re.search(rf'<p class="error" id="{field}-err">([^<]*)</p>', body)
    assert error and message in error.group(1) and re.search(r"[\u4e00-\u9fff]", error.group(1)), body
    with sessions() as session:
        assert session.scalars(select(ApiToken)).all() == []


def test_rest_users_and_tokens(client: Any, tokens: Any, sessions: Any) -> None:
    admin = tokens.headers("admin")
    assert client.get("/api/v1/users", headers=tokens.headers("auditor")).status_code == 403
    made = client.post("/api/v1/users", headers=admin, json={"username": "sun", "role": "guard"})
    assert made.status_code == 201 and len(made.get_json()["password"]) >= 10
    given = client.post("/api/v1/users", headers=admin, json={"username": "qian", "role": "guard",
                                                              "password": "a long password 2"})
    assert given.status_code == 201 and "password" not in given.get_json()
    dup = client.post("/api/v1/users", headers=admin, json={"username": "sun", "role": "guard"})
    assert dup.status_code == 409 and dup.get_json()["error"]["message"] == "用户 sun 已存在"
    assert client.post("/api/v1/users/sun/role", headers=admin, json={"role": "auditor"}).get_json()["user"][
        "role"] == "auditor"
    assert client.post("/api/v1/users/sun/disable", headers=admin).get_json()["user"]["active"] is False
    assert client.post("/api/v1/users/sun/enable", headers=admin).get_json()["user"]["active"] is True
    new = client.post("/api/v1/users/sun/password", headers=admin).get_json()["password"]
    assert client.post("/login", data={"username": "sun", "password": new}).status_code == 302
    assert client.post("/api/v1/users/ghost/disable", headers=admin).status_code == 404
    assert {u["username"] for u in client.get("/api/v1/users", headers=admin).get_json()["items"]} == {"sun", "qian"}

    token = client.post("/api/v1/tokens", headers=admin, json={"name": "feed", "role": "guard",
                                                                "expires_at": "2199-01-01T00:00:00+08:00"})
    assert token.status_code == 201
    body = token.get_json()
    assert body["token"]["expires_at"] == "2198-12-31T16:00:00+00:00" and body["secret"].startswith("agt_")
    feed = {"Authorization": f"Bearer {body['secret']}"}
    assert client.get("/api/v1/assets", headers=feed).status_code == 200
    naive = client.post("/api/v1/tokens", headers=admin, json={"name": "n", "role": "guard",
                                                                "expires_at": "2999-01-01T00:00:00"})
    assert naive.status_code == 422
    revoked = client.post(f"/api/v1/tokens/{body['token']['id']}/revoke", headers=admin)
    assert revoked.get_json()["token"]["state"] == "revoked"
    assert client.get("/api/v1/assets", headers=feed).status_code == 401
    listed = client.get("/api/v1/tokens", headers=admin).get_json()["items"]
    assert {t["name"]: t["state"] for t in listed} == {"feed": "revoked", "test-admin": "active",
                                                       "test-auditor": "active"}
    assert all("secret" not in t and "token_hash" not in t for t in listed)
