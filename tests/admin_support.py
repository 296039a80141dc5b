"""Shared set-up of the administration tests: users signed in through the real login form."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from server import auth
from server.audit import SYSTEM
from server.models import AuditEntry

PASSWORD = "correct horse battery"


def make_user(sessions: Any, role: str, username: str | None = None) -> str:
    name = username or f"u-{role}"
    with sessions() as session, session.begin():
        auth.create_user(session, SYSTEM, name, PASSWORD, role)
    return name


def login(client: Any, sessions: Any, role: str, username: str | None = None, make: bool = True) -> str:
    name = make_user(sessions, role, username) if make else (username or f"u-{role}")
    response = client.post("/login", data={"username": name, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return name


def audited(sessions: Any, action: str) -> list[AuditEntry]:
    with sessions() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))
