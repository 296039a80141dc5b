"""Engine and sessions. One engine per app (no module-level engine), made from the settings.

SQLite is the embedded default: WAL, foreign keys on, and every transaction begins
IMMEDIATE so that two writers queue up instead of failing half-way (a deferred
transaction that read first and writes later gets SQLITE_BUSY with no retry).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, **kwargs: Any) -> Engine:
    kwargs.setdefault("json_serializer", _json_text)  # JSON columns: orjson, several times faster
    kwargs.setdefault("json_deserializer", orjson.loads)
    if url.startswith("sqlite"):
        _private_file(make_url(url).database)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        _tune_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _private_file(database: str | None) -> None:
    """Create the SQLite file as 0600 (or narrow it) before SQLite opens it: SQLite makes its -wal and
    -shm files with the database file's mode, so all three stay private to the service user."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.is_dir():
        return  # SQLite will say that the folder is missing
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    if path.stat().st_mode & 0o077:
        with suppress(PermissionError):
            path.chmod(0o600)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so SAVEPOINT and BEGIN IMMEDIATE work
        # (the recipe in SQLAlchemy's SQLite dialect docs).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a kiosk event is acked after commit, so the commit must survive a power cut.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A read-only snapshot (the audit check, ``server.audit.verify``) begins DEFERRED: in WAL mode it
        # reads one moment of the database without holding the write lock for minutes.
        if connection.get_execution_options().get("assetgate_read_snapshot"):
            connection.exec_driver_sql("BEGIN DEFERRED")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def _json_text(value: Any) -> str:
    # Sorted keys: the audit chain hashes a JSON column's text as stored (server.audit.chain.json_text).
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SORT_KEYS).decode()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work commits on success and rolls back on any error."""
    with factory() as session, session.begin():
        yield session
