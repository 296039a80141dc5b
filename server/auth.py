"""Users, API tokens and role checks.

Every view declares who may call it with ``@roles(...)`` (or ``@public``); one
``before_request`` hook enforces it, and a view that declares nothing is refused,
so a forgotten decorator fails closed. The REST API takes bearer tokens only and
the web takes the session cookie only, so a cookie can never drive the API
(which is why the API needs no CSRF token).

Flask keeps the session in a signed cookie on the client, so signing out cannot destroy it:
the cookie carries the user's session epoch, and a cookie whose epoch is not the user's
current one is refused. Sign-out, disabling, a password reset and a role change move the
epoch on (``server.services.users``), which ends every session of that user at once.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, abort, current_app, g, jsonify, redirect, request, session, url_for
from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from server.audit import Actor
from server.db import first_read
from server.models import ApiToken, Role, User, utcnow
from server.services import users

F = TypeVar("F", bound=Callable[..., Any])
PUBLIC = frozenset({"*"})
ALL_ROLES = frozenset(r.value for r in Role)
READERS = ALL_ROLES  # every signed-in role may read the ledger
TOKEN_PREFIX = users.TOKEN_PREFIX


def roles(*names: str) -> Callable[[F], F]:
    """Declare the roles allowed on a view; admin is always allowed."""
    unknown = set(names) - ALL_ROLES
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    def mark(view: F) -> F:
        view._roles = frozenset(names) | {Role.ADMIN.value}  # type: ignore[attr-defined]
        return view

    return mark


def public(view: F) -> F:
    view._roles = PUBLIC  # type: ignore[attr-defined]
    return view


def allowed_roles(view: Callable[..., Any]) -> frozenset[str] | None:
    return getattr(view, "_roles", None)


# --- signing in, and what a request shows of who it is ---
# User and token management lives in server.services.users; these names stay for callers of old.
create_user = users.create_user
create_token = users.create_token
set_language = users.set_language


@functools.cache
def _decoy_hash() -> str:
    """A hash to check unknown usernames against, made once: checking it costs what a real check costs,
    and making it anew each time (a second hash) would take twice as long and tell who exists."""
    return generate_password_hash(secrets.token_urlsafe(16))


def check_login(db: Session, username: str, password: str) -> User | None:
    user = db.scalars(select(User).where(User.username == username[:80], User.active.is_(True))).first()
    if user is None:
        check_password_hash(_decoy_hash(), password)  # same time whether or not the user exists
        return None
    return user if check_password_hash(user.password_hash, password) else None


def remember(user: User) -> None:
    """Start a session for ``user``: a fresh cookie that carries the user's current epoch."""
    session.clear()
    session["user_id"] = user.id
    session["epoch"] = user.session_epoch


def session_user(db: Session) -> User | None:
    """The user of this request's session cookie, if it is still good: the user exists, is active,
    and no sign-out, disabling, password reset or role change happened since it was issued."""
    user_id = session.get("user_id")
    user = db.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.active or session.get("epoch") != user.session_epoch:
        return None
    return user


_IDENTITY = select(User.username, User.role, User.language, User.active, User.session_epoch) \
    .where(User.id == bindparam("user_id"))


def session_identity(db: Session) -> Row[str, str, str | None, bool, int] | None:
    """``session_user``'s check, for every request: the same rules, read as one plain row (an ORM
    object cost three times the CPU). Username, role, language."""
    user_id = session.get("user_id")
    if not isinstance(user_id, int):
        return None
    row = first_read(db, lambda: db.connection().execute(_IDENTITY, {"user_id": user_id}).first())
    if row is None or not row.active or session.get("epoch") != row.session_epoch:
        return None
    return row


def token_identity(db: Session, secret: str) -> ApiToken | None:
    token = first_read(db, lambda: db.scalars(select(ApiToken).where(
        ApiToken.token_hash == users.digest(secret))).first())
    now = utcnow()
    if token is None or users.token_state(token, now) != "active":
        return None
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        token.last_used_at = now  # coarse on purpose: one write a minute, not one a request
    return token


# --- request-time enforcement ---

def _identify(db: Session, is_api: bool) -> Actor | None:
    if is_api:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        token = token_identity(db, header[7:].strip())
        if token is None:
            return None
        db.commit()  # keeps last_used_at even when the request itself fails
        return Actor(f"token:{token.name}", "api", token.role)
    user = session_identity(db)
    if user is None:
        if "user_id" in session:
            session.clear()  # outdated: do not carry it around any longer
        return None
    g.user_language = user.language
    return Actor(user.username, "web", user.role)


def _refuse(is_api: bool, status: int, message: str) -> Any:
    if is_api:
        code = "unauthorized" if status == 401 else "forbidden"
        return jsonify(error={"code": code, "message": message}), status
    if status == 401:
        # script_root: behind a proxy that serves us under a prefix (behind_proxy), "next" must keep it.
        return redirect(url_for("session.login", next=request.script_root + request.full_path.rstrip("?")))
    abort(status)


def enforce() -> Any:
    """before_request: refuse any request whose view does not admit the caller's role."""
    if request.endpoint is None:  # 404/405: let Flask answer
        return None
    view = current_app.view_functions[request.endpoint]
    allowed = allowed_roles(view)
    is_api = request.blueprint == "api"
    if allowed == PUBLIC:
        return None
    if allowed is None:
        return _refuse(is_api, 403, "this route declares no roles")
    actor = _identify(g.db, is_api)
    if actor is None:
        return _refuse(is_api, 401, "sign in (web) or send a bearer token (API)")
    if actor.role not in allowed:
        return _refuse(is_api, 403, f"role {actor.role} may not do this")
    g.actor = actor
    return None


def init_app(app: Flask) -> None:
    app.before_request(enforce)
