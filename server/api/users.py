"""REST: users and API tokens (admin only), through the same services as the pages and the CLI."""

from __future__ import annotations

from typing import Any, Literal

from flask import g, jsonify
from pydantic import AwareDatetime, Field

from server.api import Body, accepts, bp
from server.auth import roles
from server.models import ApiToken, User
from server.services import users

RoleName = Literal["admin", "storekeeper", "guard", "auditor"]


class UserIn(Body):
    username: str = Field(min_length=1, max_length=80)
    role: RoleName
    password: str | None = Field(None, max_length=200, description="Left out: one is generated and returned once.")


class RoleIn(Body):
    role: RoleName


class TokenIn(Body):
    name: str = Field(min_length=1, max_length=80)
    role: RoleName
    expires_at: AwareDatetime | None = Field(None, description="When it stops working; left out: until revoked.")


def _user(row: User) -> dict[str, Any]:
    return {"username": row.username, "role": row.role, "active": row.active, "language": row.language,
            "created_at": row.created_at.isoformat()}


def _token(row: ApiToken) -> dict[str, Any]:
    def when(value: Any) -> str | None:
        return value.isoformat() if value else None

    return {"id": row.id, "name": row.name, "role": row.role, "state": users.token_state(row),
            "created_at": row.created_at.isoformat(), "last_used_at": when(row.last_used_at),
            "expires_at": when(row.expires_at), "revoked_at": when(row.revoked_at)}


@bp.get("/users")
@roles()
def list_users() -> Any:
    """Web users with their roles and whether they may sign in."""
    return jsonify(items=[_user(u) for u in users.list_users(g.db)])


@bp.post("/users")
@roles()
@accepts(UserIn)
def create_user(body: UserIn) -> Any:
    """Create a web user; a generated password is returned once (a given one is not echoed)."""
    password = body.password or users.generate_password()
    user = users.create_user(g.db, g.actor, body.username, password, body.role)
    g.db.commit()
    return jsonify(user=_user(user), **({} if body.password else {"password": password})), 201


@bp.post("/users/<username>/role")
@roles()
@accepts(RoleIn)
def set_user_role(username: str, body: RoleIn) -> Any:
    """Give a user another role; their sessions end."""
    user = users.set_role(g.db, g.actor, username, body.role)
    g.db.commit()
    return jsonify(user=_user(user))


@bp.post("/users/<username>/disable")
@roles()
def disable_user(username: str) -> Any:
    """Disable a user: they cannot sign in and their sessions end at once."""
    user = users.disable(g.db, g.actor, username)
    g.db.commit()
    return jsonify(user=_user(user))


@bp.post("/users/<username>/enable")
@roles()
def enable_user(username: str) -> Any:
    """Let a disabled user sign in again."""
    user = users.enable(g.db, g.actor, username)
    g.db.commit()
    return jsonify(user=_user(user))


@bp.post("/users/<username>/password")
@roles()
def reset_user_password(username: str) -> Any:
    """A new generated password for a user, returned once; their sessions end."""
    user, password = users.reset_password(g.db, g.actor, username)
    g.db.commit()
    return jsonify(user=_user(user), password=password)


@bp.get("/tokens")
@roles()
def list_tokens() -> Any:
    """API tokens, newest first, with their state (active, expired, revoked); never their secrets."""
    return jsonify(items=[_token(t) for t in users.list_tokens(g.db)])


@bp.post("/tokens")
@roles()
@accepts(TokenIn)
def create_api_token(body: TokenIn) -> Any:
    """Create an API token; its secret is returned once and only a hash of it is kept."""
    token, secret = users.issue_token(g.db, g.actor, body.name, body.role, body.expires_at)
    g.db.commit()
    return jsonify(token=_token(token), secret=secret), 201


@bp.post("/tokens/<token_id>/revoke")
@roles()
def revoke_api_token(token_id: str) -> Any:
    """Revoke an API token: it is refused from the next request on."""
    token = users.revoke_token(g.db, g.actor, users.token_by_id(g.db, token_id).id)
    g.db.commit()
    return jsonify(token=_token(token))
