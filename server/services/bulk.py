"""Bulk writes for the consumer's fast path.

Inside ``with bulk.rows(session):`` the services hand their new history, event and audit
rows to ``persist`` as plain dicts; they are inserted with one executemany per table
when the block ends, in the order they were made (the audit chain relies on that).
Outside such a block ``persist`` adds an ORM object as usual. Either way the same
service code decides what the rows are; only the way they reach the database differs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import Table, event, insert
from sqlalchemy.orm import Session

from server.models import AssetEvent, AuditEntry, KioskEvent

_KEY = "assetgate.bulk"
ORDER = (KioskEvent, AssetEvent, AuditEntry)


def persist(session: Session, model: type[Any], values: dict[str, Any]) -> None:
    pending = session.info.get(_KEY)
    if pending is None:
        session.add(model(**values))
    else:
        pending.setdefault(model, []).append(values)


def active(session: Session) -> bool:
    return _KEY in session.info


@contextmanager
def rows(session: Session) -> Iterator[None]:
    session.info[_KEY] = {}
    try:
        yield
        pending = session.info.pop(_KEY)
        for model in ORDER:
            if pending.get(model):
                table = cast(Table, model.__table__)
                session.execute(insert(table), pending[model])
    finally:
        session.info.pop(_KEY, None)


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, *_args: Any) -> None:
    session.info.pop(_KEY, None)
