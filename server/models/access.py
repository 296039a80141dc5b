"""People who sign in, their tokens, and idempotency keys."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, created, intpk


class Role(enum.StrEnum):
    ADMIN = "admin"
    STOREKEEPER = "storekeeper"
    GUARD = "guard"
    AUDITOR = "auditor"


class User(Base):
    __tablename__ = "users"
    id: Mapped[intpk]
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str | None] = mapped_column(String(8))  # None: follow the browser
    department: Mapped[str] = mapped_column(String(100), default="")
    # Flask's session cookie lives in the browser, so signing out cannot delete it: a cookie is
    # honoured only while it carries the user's current epoch, which sign-out, disabling, a
    # password reset and a role change move on (server.auth).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[created]


class SignInFailure(Base):
    """A failed sign-in, counted to hold an account or address that keeps guessing (services/signin)."""

    __tablename__ = "sign_in_failures"
    id: Mapped[intpk]
    username: Mapped[str] = mapped_column(String(80), index=True)
    address: Mapped[str] = mapped_column(String(45), index=True)
    at: Mapped[datetime] = mapped_column(index=True)


class ApiToken(Base):
    """Bearer tokens; only a SHA-256 of the secret is kept."""

    __tablename__ = "api_tokens"
    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[created]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]  # None: until revoked


class IdempotencyKey(Base):
    """A POST's ``Idempotency-Key``, per caller: the first answer (2xx only) is replayed to a retry.

    The row is made before the request runs, in a transaction of its own, so a second request
    with the same key while the first is in flight finds it (and is refused) instead of running
    again; ``status`` stays NULL until the answer is stored (server/api/idempotency.py).
    """

    __tablename__ = "idempotency_keys"
    id: Mapped[intpk]
    actor: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(255))
    request: Mapped[str] = mapped_column(String(300))  # method and path
    request_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the query string and body
    status: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[str | None] = mapped_column(Text)  # the JSON answer as sent
    created_at: Mapped[datetime] = mapped_column(index=True)

    __table_args__ = (UniqueConstraint("actor", "key", name="uq_idempotency_actor_key"),)
