"""Engine and sessions. One engine per app (no module-level engine), made from the settings.

SQLite is the embedded default: WAL, foreign keys on, and every transaction begins
IMMEDIATE so that two writers queue up instead of failing half-way (a deferred
transaction that read first and writes later gets SQLITE_BUSY with no retry).
"""

from __future__ import annotations

import os
import select
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

import orjson
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

RECYCLE_SECONDS = 1800  # a pooled connection older than this is replaced (idle links cut silently by firewalls)
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def make_engine(url: str, **kwargs: Any) -> Engine:
    kwargs.setdefault("json_serializer", _json_text)  # JSON columns: orjson, several times faster
    kwargs.setdefault("json_deserializer", orjson.loads)
    if url.startswith("sqlite"):
        _private_file(make_url(url).database)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        _tune_sqlite(engine)
        return engine
    psycopg = make_url(url).get_driver_name() == "psycopg"
    engine = create_engine(url, pool_pre_ping=not psycopg, pool_recycle=RECYCLE_SECONDS, **kwargs)
    if psycopg:
        event.listen(engine.pool, "checkout", _alive)
    return engine


def _alive(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """pool_pre_ping's check without its round trip (a ``SELECT 1`` on every checkout: one more wait
    for the database per web request). A connection that sits idle in the pool has nothing to
    read; when the server ends it (a restart, ``pg_terminate_backend``, an idle timeout) it sends its
    farewell and closes, and the socket turns readable. Then the pool drops it and connects anew,
    as with pre-ping. A link cut without a word (a firewall) is what ``pool_recycle`` is for; a
    connection ended between this look and the first statement is ``first_read``'s."""
    if dbapi_connection.closed or getattr(dbapi_connection, "broken", False):
        raise DisconnectionError("the connection was closed")
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLPRI)
    if poller.poll(0):
        raise DisconnectionError("the server sent something to an idle connection: it has ended it")


def first_read(session: Session, read: Callable[[], T]) -> T:
    """The first statement of a request, tried once more on a fresh connection if the server had
    ended the pooled one just then (between ``_alive``'s look and the statement: a restart at that
    moment). Nothing was done in the request before it, so trying again changes nothing else."""
    try:
        return read()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        session.rollback()  # lets go of the dead connection; SQLAlchemy has invalidated the pool's older ones
        return read()


def read_only(view: F) -> F:
    """Mark a web view that only reads: on PostgreSQL its request runs its statements without a
    transaction of its own (``read_only_engine``), which saves the BEGIN and ROLLBACK round trips."""
    view._read_only = True  # type: ignore[attr-defined]
    return view


def is_read_only(view: Callable[..., Any] | None) -> bool:
    return bool(getattr(view, "_read_only", False))


def read_only_engine(engine: Engine) -> Engine | None:
    """The engine for ``read_only`` views: PostgreSQL in autocommit, each statement its own snapshot,
    which is what READ COMMITTED gives every statement of a transaction anyway. Anything but a read
    is refused before it is sent. None on SQLite, whose transactions stay as they are."""
    if engine.dialect.name != "postgresql":
        return None
    reader = engine.execution_options(isolation_level="AUTOCOMMIT")
    event.listen(reader, "before_cursor_execute", _only_reads)
    return reader


class WriteInReadOnlyView(RuntimeError):
    """A view marked ``read_only`` tried to change something: a programming error."""


def _only_reads(_conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool) -> None:
    dml = context is not None and (context.isinsert or context.isupdate or context.isdelete)
    if dml or not statement.lstrip()[:7].upper().startswith(("SELECT", "WITH", "EXPLAIN", "SHOW")):
        raise WriteInReadOnlyView(f"a read-only view sent: {statement[:80]}")


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
