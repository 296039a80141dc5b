"""Web users and API tokens: creation, roles, disabling, password resets, expiry and revocation.

Plain functions over a session, used alike by the CLI, the REST API and the admin pages; every
change is audited. A change that takes access away (disabling, a role change, a password reset,
signing out) moves the user's session epoch on, so every session cookie issued before it stops
working at once (``server.auth`` compares the two on each request).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from server import audit, params
from server.audit import Actor
from server.errors import AlreadyExists, Forbidden, IllegalTransition, Invalid, NotFound
from server.i18n import N_
from server.models import ApiToken, Role, User, utcnow

ROLES = frozenset(r.value for r in Role)
MIN_PASSWORD = 10
TOKEN_PREFIX = "agt_"
# Any printable text without spaces (as typed at sign-in) or slashes (a user's pages are /users/<name>/...).
_NAME = re.compile(r"[^\s/\\\x00-\x1f\x7f]{1,80}")


def state(user: User) -> dict[str, Any]:
    """What the audit log records of a user (server.audit.ledger): the password hash only as a digest
    of it, the session epoch not at all."""
    return audit.state(user)


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise Invalid(N_("role must be one of %(roles)s"), code="unknown_role", roles=", ".join(sorted(ROLES)))


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise Invalid(N_("the password must be at least %(n)s characters"), code="short_password", n=MIN_PASSWORD)


def _check_name(name: str, what: str) -> None:
    if not _NAME.fullmatch(name):
        raise Invalid(N_("a name must be 1 to 80 characters, without spaces or slashes"), code=f"bad_{what}_name")


# --- users ---

def create_user(db: Session, actor: Actor, username: str, password: str, role: str, department: str = "") -> User:
    _check_name(username, "user")
    _check_role(role)
    _check_password(password)
    if db.scalars(select(User).where(User.username == username)).first():
        raise AlreadyExists(N_("there is a user %(name)s already"), name=username)
    user = User(username=username, password_hash=generate_password_hash(password), role=role, active=True,
                department=department.strip()[:100])
    db.add(user)
    db.flush()
    audit.record(db, actor, "user.create", "user", username, None, state(user))
    return user


def user_by_name(db: Session, username: str) -> User:
    user = db.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(N_("there is no user %(name)s"), code="unknown_user", name=username[:80])
    return user


def list_users(db: Session) -> list[User]:
    return list(db.scalars(select(User).order_by(User.username)))


def _end_sessions(user: User) -> None:
    user.session_epoch += 1


def _not_self(actor: Actor, user: User) -> None:
    """Nobody locks themselves out from the web or the API (the CLI, run on the server itself, is
    the way back in and is not held to this)."""
    if actor.source != "cli" and actor.name == user.username:
        raise Forbidden(N_("you cannot disable yourself or change your own role; ask another admin"), code="self")


def _not_last_admin(db: Session, user: User) -> None:
    """The office keeps at least one active admin. The active admins' rows are locked before they
    are counted, so two admins disabling each other at once cannot both pass (the second waits for
    the first and counts again; SQLite runs writers one at a time anyway)."""
    if user.role != Role.ADMIN.value or not user.active:
        return
    admins = select(User.id).where(User.role == Role.ADMIN.value, User.active.is_(True)).order_by(User.id)
    if db.get_bind().dialect.name == "postgresql":
        admins = admins.with_for_update()
    others = [admin_id for admin_id in db.scalars(admins) if admin_id != user.id]
    if not others:
        raise Forbidden(N_("%(name)s is the last active admin; make another admin first"), code="last_admin",
                        name=user.username)


def set_role(db: Session, actor: Actor, username: str, role: str) -> User:
    _check_role(role)
    user = user_by_name(db, username)
    if user.role == role:
        raise IllegalTransition(N_("%(name)s has this role already"), code="same_role", name=username)
    _not_self(actor, user)
    _not_last_admin(db, user)
    before = state(user)
    user.role = role
    _end_sessions(user)
    audit.record(db, actor, "user.role", "user", username, before, state(user))
    return user


def disable(db: Session, actor: Actor, username: str) -> User:
    user = user_by_name(db, username)
    if not user.active:
        raise IllegalTransition(N_("%(name)s is disabled already"), code="already_disabled", name=username)
    _not_self(actor, user)
    _not_last_admin(db, user)
    before = state(user)
    user.active = False
    _end_sessions(user)
    audit.record(db, actor, "user.disable", "user", username, before, state(user))
    return user


def enable(db: Session, actor: Actor, username: str) -> User:
    user = user_by_name(db, username)
    if user.active:
        raise IllegalTransition(N_("%(name)s is active already"), code="already_active", name=username)
    before = state(user)
    user.active = True
    audit.record(db, actor, "user.enable", "user", username, before, state(user))
    return user


def reset_password(db: Session, actor: Actor, username: str, password: str | None = None) -> tuple[User, str]:
    """A new password (generated unless given), shown once; the user's sessions end."""
    user = user_by_name(db, username)
    password = password or generate_password()
    _check_password(password)
    before = state(user)
    user.password_hash = generate_password_hash(password)
    _end_sessions(user)
    audit.record(db, actor, "user.password_reset", "user", username, before, state(user))
    return user, password


def sign_out(db: Session, user: User) -> None:
    """End every session of this user (the browser's cookie cannot be taken back, so it is outdated)."""
    _end_sessions(user)
    audit.record(db, Actor(user.username, "web", user.role), "user.sign_out", "user", user.username,
                 state(user), state(user))


def set_language(db: Session, user: User, language: str) -> None:
    """A user's language for pages and messages (a personal setting: not audited)."""
    user.language = language


# --- API tokens ---

def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def end_of_day(day: date, timezone: str) -> datetime:
    """The moment a token "valid until ``day``" stops: the midnight after it, in the office's time zone."""
    return datetime.combine(day + timedelta(days=1), time(0), ZoneInfo(timezone))


def token_state(token: ApiToken, now: datetime | None = None) -> str:
    """``active``, ``revoked`` or ``expired``."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= (now or utcnow()):
        return "expired"
    return "active"


def issue_token(db: Session, actor: Actor, name: str, role: str,
                expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """A bearer token and its secret; the secret is shown once and only its hash is kept."""
    _check_name(name, "token")
    _check_role(role)
    if expires_at is not None and (expires_at.tzinfo is None or expires_at <= utcnow()):
        raise Invalid(N_("the expiry must be a time in the future"), code="bad_expiry")
    expires_at = expires_at.astimezone(UTC) if expires_at is not None else None
    if any(token_state(t) == "active" for t in tokens_named(db, name)):
        raise AlreadyExists(N_("there is an active token %(name)s already; revoke it or choose another name"),
                            name=name)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name, token_hash=digest(secret), role=role, expires_at=expires_at)
    db.add(token)
    db.flush()
    audit.change(db, actor, "token.create", token)
    return token, secret


def create_token(db: Session, actor: Actor, name: str, role: str, expires_at: datetime | None = None) -> str:
    """Like ``issue_token``, the secret only."""
    return issue_token(db, actor, name, role, expires_at)[1]


def list_tokens(db: Session) -> list[ApiToken]:
    return list(db.scalars(select(ApiToken).order_by(ApiToken.id.desc())))


def tokens_named(db: Session, name: str) -> list[ApiToken]:
    return list(db.scalars(select(ApiToken).where(ApiToken.name == name).order_by(ApiToken.id)))


def token_by_id(db: Session, token_id: int | str) -> ApiToken:
    """A token by its number (as given in a URL: text that is not a number names no token)."""
    text = str(token_id)
    number = params.row_id(text)
    token = db.get(ApiToken, number) if number is not None else None
    if token is None:
        raise NotFound(N_("there is no API token number %(id)s"), code="unknown_token", id=text[:20])
    return token


def revoke_token(db: Session, actor: Actor, token_id: int) -> ApiToken:
    token = token_by_id(db, token_id)
    if token.revoked_at is not None:
        raise IllegalTransition(N_("the token %(name)s is revoked already"), code="already_revoked", name=token.name)
    before = audit.state(token)
    token.revoked_at = utcnow()
    audit.change(db, actor, "token.revoke", token, before)
    return token


def revoke_tokens_named(db: Session, actor: Actor, name: str) -> list[ApiToken]:
    """Revoke the token(s) of that name not revoked yet (the CLI names tokens, the pages number them)."""
    live = [t for t in tokens_named(db, name) if t.revoked_at is None]
    if not live:
        raise NotFound(N_("there is no unrevoked token %(name)s"), code="unknown_token", name=name[:80])
    return [revoke_token(db, actor, t.id) for t in live]
