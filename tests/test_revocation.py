"""Issue 15, revocation: sessions end at sign-out, on disabling, password reset and role change (a replayed
cookie is refused); revoked and expired API tokens are refused; the CLI commands; all of it audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from server.audit import Actor
from server.cli import main
from server.errors import AlreadyExists, Forbidden, IllegalTransition, Invalid
from server.models import ApiToken, User, utcnow
from server.services import users
from tests.admin_support import PASSWORD, audited, login, make_user

CLI = Actor("cli", "cli", "admin")


def _signed_out(response: Any) -> bool:
    return response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_cookie_replayed_after_sign_out_is_refused(client: Any, sessions: Any) -> None:
    login(client, sessions, "auditor")
    assert client.get("/").status_code == 200
    stolen = client.get_cookie("session").value
    assert client.post("/logout").status_code == 302
    client.set_cookie("session", stolen)  # the cookie as it was before signing out, sent again
    assert _signed_out(client.get("/"))
    client.set_cookie("session", stolen)
    client.post("/language", data={"language": "en", "next": "/"})  # nor does it change the user's setting
    with sessions() as session:
        assert session.scalars(select(User.language).where(User.username == "u-auditor")).one() is None
    assert [e.entity_id for e in audited(sessions, "user.sign_out")] == ["u-auditor"]


def test_sign_out_ends_the_users_other_sessions_too(app: Any, sessions: Any) -> None:
    desk, phone = app.test_client(), app.test_client()
    login(desk, sessions, "guard")
    login(phone, sessions, "guard", make=False)
    desk.post("/logout")
    assert _signed_out(phone.get("/"))
    login(phone, sessions, "guard", make=False)  # signing in again works
    assert phone.get("/").status_code == 200


@pytest.mark.parametrize("change", ["disable", "reset_password", "set_role"])
def test_a_live_session_ends_when_the_user_is_disabled_reset_or_given_another_role(
        client: Any, sessions: Any, change: str) -> None:
    login(client, sessions, "storekeeper")
    assert client.get("/labels").status_code == 200
    with sessions() as session, session.begin():
        if change == "disable":
            users.disable(session, CLI, "u-storekeeper")
        elif change == "reset_password":
            users.reset_password(session, CLI, "u-storekeeper")
        else:
            users.set_role(session, CLI, "u-storekeeper", "guard")
    assert _signed_out(client.get("/labels"))
    action = {"disable": "user.disable", "reset_password": "user.password_reset", "set_role": "user.role"}[change]
    assert [e.entity_id for e in audited(sessions, action)] == ["u-storekeeper"]


def test_a_disabled_user_cannot_sign_in_until_enabled(client: Any, sessions: Any) -> None:
    make_user(sessions, "guard")
    with sessions() as session, session.begin():
        users.disable(session, CLI, "u-guard")
    assert client.post("/login", data={"username": "u-guard", "password": PASSWORD}).status_code == 401
    with sessions() as session, session.begin():
        users.enable(session, CLI, "u-guard")
    assert client.post("/login", data={"username": "u-guard", "password": PASSWORD}).status_code == 302


def test_role_change_takes_effect_at_the_next_sign_in(client: Any, sessions: Any) -> None:
    login(client, sessions, "storekeeper")
    with sessions() as session, session.begin():
        users.set_role(session, CLI, "u-storekeeper", "guard")
    login(client, sessions, "guard", "u-storekeeper", make=False)
    assert client.get("/labels").status_code == 403


def test_revoked_token_is_refused(client: Any, sessions: Any) -> None:
    with sessions() as session, session.begin():
        token, secret = users.issue_token(session, CLI, "export", "auditor")
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/assets", headers=headers).status_code == 200
    with sessions() as session, session.begin():
        users.revoke_token(session, CLI, token.id)
    refused = client.get("/api/v1/assets", headers=headers)
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "unauthorized"
    with sessions() as session, session.begin(), pytest.raises(IllegalTransition):
        users.revoke_token(session, CLI, token.id)
    assert [(e.entity, e.entity_id, e.after["name"], e.before["revoked_at"], e.after["revoked_at"] is not None)
            for e in audited(sessions, "token.revoke")] == [("api_token", str(token.id), "export", None, True)]


def test_expired_token_is_refused(client: Any, sessions: Any) -> None:
    with sessions() as session, session.begin():
        token, secret = users.issue_token(session, CLI, "visit-feed", "guard", utcnow() + timedelta(hours=1))
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/assets", headers=headers).status_code == 200
    with sessions() as session, session.begin():  # an hour goes by
        session.execute(update(ApiToken).where(ApiToken.id == token.id)
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
    assert client.get("/api/v1/assets", headers=headers).status_code == 401
    with sessions() as session:
        assert users.token_state(session.get(ApiToken, token.id)) == "expired"  # type: ignore[arg-type]


def test_token_expiry_must_lie_ahead_and_names_of_live_tokens_are_unique(sessions: Any) -> None:
    with sessions() as session, session.begin():
        with pytest.raises(Invalid) as err:
            users.issue_token(session, CLI, "old", "guard", utcnow() - timedelta(minutes=1))
        assert err.value.code == "bad_expiry"
        users.issue_token(session, CLI, "feed", "guard")
        with pytest.raises(AlreadyExists, match="active token feed"):
            users.issue_token(session, CLI, "feed", "guard")


def test_nobody_locks_the_office_out(sessions: Any) -> None:
    web_admin = Actor("boss", "web", "admin")
    make_user(sessions, "admin", "boss")
    with sessions() as session, session.begin():
        with pytest.raises(Forbidden) as own:
            users.disable(session, web_admin, "boss")
        assert own.value.code == "self"
        with pytest.raises(Forbidden) as last:
            users.set_role(session, CLI, "boss", "auditor")
        assert last.value.code == "last_admin"
    make_user(sessions, "admin", "deputy")
    with sessions() as session, session.begin():
        users.disable(session, web_admin, "deputy")
        with pytest.raises(Forbidden) as last:
            users.disable(session, CLI, "boss")
        assert last.value.code == "last_admin"
    with sessions() as session:
        assert session.scalars(select(User.active).where(User.username == "boss")).one() is True


def test_cli_disable_reset_password_and_token_revoke(database_url: str, tmp_path: Any, client: Any,
                                                     sessions: Any) -> None:
    env = {"ASSETGATE_DATABASE_URL": database_url, "ASSETGATE_INSTANCE_PATH": str(tmp_path)}
    runner = CliRunner()
    make_user(sessions, "storekeeper", "clerk")
    reset = runner.invoke(main, ["user", "reset-password", "clerk"], env=env)
    assert reset.exit_code == 0, reset.output
    new_password = reset.output.strip().rsplit(": ", 1)[1]
    assert client.post("/login", data={"username": "clerk", "password": PASSWORD}).status_code == 401
    assert client.post("/login", data={"username": "clerk", "password": new_password}).status_code == 302
    assert runner.invoke(main, ["user", "set-role", "clerk", "--role", "guard"], env=env).exit_code == 0
    assert runner.invoke(main, ["user", "disable", "clerk"], env=env).exit_code == 0
    again = runner.invoke(main, ["user", "disable", "clerk"], env=env)
    assert again.exit_code == 1 and "already_disabled" in again.output
    assert client.post("/login", data={"username": "clerk", "password": new_password}).status_code == 401
    assert runner.invoke(main, ["user", "enable", "clerk"], env=env).exit_code == 0
    assert runner.invoke(main, ["user", "disable", "ghost"], env=env).exit_code == 1

    made = runner.invoke(main, ["token", "create", "feed", "--role", "auditor", "--expires", "2999-12-31"], env=env)
    assert made.exit_code == 0, made.output
    headers = {"Authorization": f"Bearer {made.output.strip()}"}
    assert client.get("/api/v1/assets", headers=headers).status_code == 200
    assert runner.invoke(main, ["token", "revoke", "feed"], env=env).exit_code == 0
    assert client.get("/api/v1/assets", headers=headers).status_code == 401
    assert runner.invoke(main, ["token", "revoke", "feed"], env=env).exit_code == 1
    past = runner.invoke(main, ["token", "create", "old", "--role", "guard", "--expires", "2001-01-01"], env=env)
    assert past.exit_code == 1 and "bad_expiry" in past.output
    with sessions() as session:
        expiry = session.scalars(select(ApiToken.expires_at).where(ApiToken.name == "feed")).one()
    assert expiry is not None and expiry.isoformat() == "2999-12-31T16:00:00+00:00"  # midnight after, Shanghai
    expected = ["user.password_reset", "user.role", "user.disable", "user.enable", "token.revoke"]
    assert [len(audited(sessions, action)) for action in expected] == [1, 1, 1, 1, 1]


def test_two_admins_disabling_each_other_at_once_leave_one(sessions: Any) -> None:
    import threading

    make_user(sessions, "admin", "a1")
    make_user(sessions, "admin", "a2")
    first = sessions()
    first.begin()
    users.disable(first, Actor("a1", "web", "admin"), "a2")  # not committed yet: a2's row is locked
    outcome: list[str] = []

    def second() -> None:
        with sessions() as session, session.begin():
            try:
                users.disable(session, Actor("a2", "api", "admin"), "a1")
                outcome.append("disabled")
            except Forbidden as exc:
                outcome.append(exc.code)

    worker = threading.Thread(target=second)
    worker.start()
    worker.join(1.0)
    assert worker.is_alive()  # it waits for the first change
    first.commit()
    first.close()
    worker.join(30)
    assert outcome == ["last_admin"]
    with sessions() as session:
        assert session.scalars(select(User.username).where(User.active.is_(True))).all() == ["a1"]
