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

from sqlalchemy import Table, bindparam, event, insert, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from server.models import AssetEvent, AuditEntry, KioskEvent

_KEY = "assetgate.bulk"
ORDER = (KioskEvent, AssetEvent, AuditEntry)
_UPDATES = "updates"


def persist(session: Session, model: type[Any], values: dict[str, Any]) -> None:
    pending = session.info.get(_KEY)
    if pending is None:
        session.add(model(**values))
    else:
        pending.setdefault(model, []).append(values)


def set_state(session: Session, obj: Any, values: dict[str, Any]) -> None:
    """Change a persistent object's fields. In a bulk block the object shows the new values at
    once (later events of the batch read them) and one executemany UPDATE per table writes
    them when the block ends, instead of the ORM's dirty tracking doing it row by row."""
    pending = session.info.get(_KEY)
    if pending is None:
        for name, value in values.items():
            setattr(obj, name, value)
        return
    for name, value in values.items():
        set_committed_value(obj, name, value)
    table = cast(Table, type(obj).__table__)
    columns = {name: value for name, value in values.items() if name in table.c}
    updates = pending.setdefault(_UPDATES, {}).setdefault(table, {})
    updates[obj.id] = {**updates.get(obj.id, {}), **columns}


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
        for table, rows_by_id in pending.get(_UPDATES, {}).items():
            _update_many(session, table, rows_by_id)
    finally:
        session.info.pop(_KEY, None)


def _update_many(session: Session, table: Table, rows_by_id: dict[int, dict[str, Any]]) -> None:
    by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row_id, values in rows_by_id.items():
        by_shape.setdefault(tuple(sorted(values)), []).append({"_id": row_id, **values})
    for shape, params in by_shape.items():
        statement = update(table).where(table.c.id == bindparam("_id")).values(
            {name: bindparam(name) for name in shape})
        session.connection().execute(statement, params)


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, *_args: Any) -> None:
    session.info.pop(_KEY, None)
