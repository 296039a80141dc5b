"""Bulk writes for the consumer's fast path.

Inside ``with bulk.rows(session):`` the services hand their new history, event and audit
rows to ``persist`` as plain dicts; they are inserted with one executemany per table
when the block ends, in the order they were made (the audit chain relies on that).
Outside such a block ``persist`` adds an ORM object as usual. Either way the same
service code decides what the rows are; only the way they reach the database differs.

The executemany goes to the driver directly, each value converted by its column type's
own bind processor: SQLAlchemy's per-row parameter handling around that was most of
the consumer's time. A test writes the same rows both ways and compares what the
database holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Column, Table, event
from sqlalchemy.engine import Connection, Dialect
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
    # Rows the ORM still holds go first: an audit row made before the block precedes the block's in the chain.
    session.flush()
    session.info[_KEY] = {}
    try:
        yield
        pending = session.info.pop(_KEY)
        connection = session.connection()
        for model in ORDER:
            if pending.get(model):
                _insert_many(connection, cast(Table, model.__table__), pending[model])
        for table, rows_by_id in pending.get(_UPDATES, {}).items():
            _update_many(connection, table, rows_by_id)
    finally:
        session.info.pop(_KEY, None)


def _insert_many(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        by_shape.setdefault(tuple(row), []).append(row)
    for shape, same in by_shape.items():
        sql, encode = _insert_plan(connection.dialect, table, shape)
        connection.exec_driver_sql(sql, [encode(row) for row in same])


def _update_many(connection: Connection, table: Table, rows_by_id: dict[int, dict[str, Any]]) -> None:
    by_shape: dict[tuple[str, ...], list[tuple[dict[str, Any], int]]] = {}
    for row_id, values in rows_by_id.items():
        by_shape.setdefault(tuple(sorted(values)), []).append((values, row_id))
    for shape, same in by_shape.items():
        sql, encode = _update_plan(connection.dialect, table, shape)
        connection.exec_driver_sql(sql, [(*encode(values), row_id) for values, row_id in same])


RowEncoder = Callable[[dict[str, Any]], tuple[Any, ...]]


@cache
def _insert_plan(dialect: Dialect, table: Table, shape: tuple[str, ...]) -> tuple[str, RowEncoder]:
    missing = [c.name for c in table.columns if c.name not in shape and c.default is not None]
    if missing:  # the ORM would fill these in; a bulk row must say them itself
        raise ValueError(f"bulk rows for {table.name} lack {', '.join(missing)}")
    quote = dialect.identifier_preparer.quote
    marks = ", ".join([_placeholder(dialect)] * len(shape))
    sql = f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in shape)}) VALUES ({marks})"
    return sql, _row_encoder(dialect, table, shape)


@cache
def _update_plan(dialect: Dialect, table: Table, shape: tuple[str, ...]) -> tuple[str, RowEncoder]:
    quote, mark = dialect.identifier_preparer.quote, _placeholder(dialect)
    assignments = ", ".join(f"{quote(name)} = {mark}" for name in shape)
    sql = f"UPDATE {quote(table.name)} SET {assignments} WHERE {quote('id')} = {mark}"
    return sql, _row_encoder(dialect, table, shape)


def _placeholder(dialect: Dialect) -> str:
    marks = {"qmark": "?", "format": "%s", "pyformat": "%s"}
    if dialect.paramstyle not in marks:
        raise NotImplementedError(f"bulk rows: paramstyle {dialect.paramstyle} of {dialect.name}")
    return marks[dialect.paramstyle]


def _row_encoder(dialect: Dialect, table: Table, shape: tuple[str, ...]) -> RowEncoder:
    """dict -> the driver's parameters, in ``shape`` order, converting only the columns that need it."""
    pick = itemgetter(*shape)
    converted = [(i, conv) for i, name in enumerate(shape) if (conv := _converter(dialect, table.c[name]))]

    def encode(row: dict[str, Any]) -> tuple[Any, ...]:
        values = list(pick(row)) if len(shape) > 1 else [pick(row)]
        for i, conv in converted:
            values[i] = conv(values[i])
        return tuple(values)

    return encode


def _converter(dialect: Dialect, column: Column[Any]) -> Callable[[Any], Any] | None:
    # The column type's own conversion: the driver gets what SQLAlchemy would give it.
    return column.type.dialect_impl(dialect).bind_processor(dialect)  # type: ignore[no-any-return]


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, *_args: Any) -> None:
    session.info.pop(_KEY, None)
