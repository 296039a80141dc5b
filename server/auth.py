"""Users, API tokens and role checks.

Every view declares who may call it with ``@roles(...)`` (or ``@public``); one
``before_request`` hook enforces it, and a view that declares nothing is refused,
so a forgotten decorator fails closed. The REST API takes bearer tokens only and
the web takes the session cookie only, so a cookie can never drive the API
(which is why the API needs no CSRF token).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, g, jsonify, redirect, request, session, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from server import audit
from server.audit import Actor
from server.errors import AlreadyExists, Invalid
from server.models import ApiToken, Role, User, utcnow

F = TypeVar("F", bound=Callable[..., Any])
PUBLIC = frozenset({"*"})
ALL_ROLES = frozenset(r.value for r in Role)
READERS = ALL_ROLES  # every signed-in role may read the ledger
TOKEN_PREFIX = "agt_"


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


# --- users and tokens (plain functions over a session, used by the CLI and admin views) ---

def create_user(db: Session, actor: Actor, username: str, password: str, role: str) -> User:
    if role not in ALL_ROLES:
        raise Invalid(f"role must be one of {', '.join(sorted(ALL_ROLES))}")
    if len(password) < 10:
        raise Invalid("password must be at least 10 characters")
    if db.scalars(select(User).where(User.username == username)).first():
        raise AlreadyExists(f"user {username} exists already")
    user = User(username=username, password_hash=generate_password_hash(password), role=role)
    db.add(user)
    db.flush()
    audit.record(db, actor, "user.create", "user", username, None, {"role": role})
    return user


def check_login(db: Session, username: str, password: str) -> User | None:
    user = db.scalars(select(User).where(User.username == username, User.active.is_(True))).first()
    if user is None:
        check_password_hash(generate_password_hash("x"), password)  # same time whether or not the user exists
        return None
    return user if check_password_hash(user.password_hash, password) else None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(db: Session, actor: Actor, name: str, role: str) -> str:
    """Make a bearer token; the secret is shown once and only its hash is kept."""
    if role not in ALL_ROLES:
        raise Invalid(f"role must be one of {', '.join(sorted(ALL_ROLES))}")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.add(ApiToken(name=name, token_hash=_digest(secret), role=role))
    db.flush()
    audit.record(db, actor, "token.create", "token", name, None, {"role": role})
    return secret


def token_identity(db: Session, secret: str) -> ApiToken | None:
    token = db.scalars(select(ApiToken).where(ApiToken.token_hash == _digest(secret))).first()
    if token is None or token.revoked_at is not None:
        return None
    now = utcnow()
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
    user_id = session.get("user_id")
    user = db.get(User, user_id) if user_id else None
    return Actor(user.username, "web", user.role) if user and user.active else None


def _refuse(is_api: bool, status: int, message: str) -> Any:
    if is_api:
        code = "unauthorized" if status == 401 else "forbidden"
        return jsonify(error={"code": code, "message": message}), status
    if status == 401:
        # script_root: behind a proxy that serves us under a prefix (behind_proxy), "next" must keep it.
        return redirect(url_for("web.login", next=request.script_root + request.path))
    return message, status


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
