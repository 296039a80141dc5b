"""Helpers shared by the gate tests: an office with a host, a gate kiosk, and quick pass making."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from server.audit import SYSTEM, Actor
from server.models import utcnow
from server.services import directory, kiosks, visitors
from server.services.visitors import VisitorIn

GUARD = Actor("guard-1", "web", "guard")
ADMIN = Actor("admin-1", "web", "admin")


def office(sessions: Any, gate_kiosks: tuple[str, ...] = ("gate-1",)) -> dict[str, str]:
    with sessions() as session, session.begin():
        gate = directory.create_location(session, SYSTEM, "East gate", "gate")
        host = directory.create_person(session, SYSTEM, "Li Hua")
        for name in gate_kiosks:
            kiosks.enroll(session, SYSTEM, name, "gate", gate.code)
        return {"gate": gate.code, "host": host.code}


def preregister(sessions: Any, host: str, name: str = "张伟", *, start: datetime | None = None,
                hours: float = 8, **fields: Any) -> str:
    start = start or utcnow() - timedelta(minutes=30)
    with sessions() as session, session.begin():
        row = visitors.register(session, SYSTEM, VisitorIn(name=name, host=host, **fields), start,
                                start + timedelta(hours=hours))
        return row.code


def shift(sessions: Any, code: str, delta: timedelta) -> None:
    """Move a pass's window (and its making) by ``delta``: a pass from the past, made the way a host makes one."""
    with sessions() as session, session.begin():
        row = visitors.pass_by_code(session, code)
        row.valid_from, row.valid_until, row.created_at = (row.valid_from + delta, row.valid_until + delta,
                                                           row.created_at + delta)


@contextmanager
def config_refresh(app: Any) -> Iterator[None]:
    """The scheduler's kiosk-config publishing, in a thread (its other rounds left out)."""
    from server import scheduler, settings_of

    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run, args=(app.extensions["assetgate.sessions"], settings_of(app),
                                                          stop, None), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(10)
