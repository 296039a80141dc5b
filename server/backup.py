"""Backups and restores of the two things an AssetGate site must not lose.

- **The instance folder**: the secret key, the audit signing keys and checkpoints, kiosk bundles,
  job results. A ``.tar.gz`` (mode 600: it holds keys). The SQLite database in it is left out:
  a file copied while the writer commits is not a consistent database; it has its own backup.
- **The database**: SQLite through SQLite's online backup API (a consistent copy while the
  consumer keeps writing), PostgreSQL with ``pg_dump --format=custom`` (one snapshot, by MVCC).

A restore checks its input before it touches anything, and never overwrites a database or an
instance folder that holds data unless told to (``replace``).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import tarfile
from pathlib import Path
from urllib.parse import quote, urlencode

from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from server.db import make_engine

# The SQLite database and its journals: backed up by backup_database, consistently.
_DB_FILES = ("assetgate.db", "assetgate.db-wal", "assetgate.db-shm", "assetgate.db-journal")


class BackupError(RuntimeError):
    """A backup or restore cannot be done; the message says why, and nothing was changed."""


def _private(path: Path) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)


# -- instance folder ------------------------------------------------------------------------


def backup_instance(instance: Path, out: Path) -> int:
    """Archive the instance folder (without the SQLite database) to ``out``; returns the file count."""
    if not instance.is_dir():
        raise BackupError(f"no instance folder at {instance}")
    count = 0
    tmp = out.with_name(out.name + ".part")
    _private(tmp)
    with tarfile.open(tmp, "w:gz") as tar:
        for path in sorted(instance.rglob("*")):
            relative = path.relative_to(instance)
            if path.is_dir() or relative.as_posix() in _DB_FILES:
                continue
            tar.add(path, arcname=relative.as_posix(), recursive=False)
            count += 1
    tmp.replace(out)  # an interrupted backup never leaves a half archive under the real name
    return count


def restore_instance(archive: Path, instance: Path) -> int:
    """Unpack an instance archive into an absent or empty folder (mode 700); returns the file count."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            for member in members:
                if not member.isfile() or member.name.startswith("/") or ".." in Path(member.name).parts:
                    raise BackupError(f"{archive}: unexpected entry {member.name!r}; not an instance backup")
            if instance.exists() and any(instance.iterdir()):
                raise BackupError(f"{instance} is not empty: restore into a new folder, then swap them")
            instance.mkdir(mode=0o700, parents=True, exist_ok=True)
            instance.chmod(0o700)
            tar.extractall(instance, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BackupError(f"{archive}: cannot read the archive: {exc}") from None
    return len(members)


# -- database ---------------------------------------------------------------------------------


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database:
        raise BackupError("in-memory SQLite has nothing to back up")
    return Path(database)


def _libpq(url: str) -> str:
    """The SQLAlchemy URL as pg_dump/pg_restore take it: no +driver, and the query percent-encoded
    (SQLAlchemy writes a space as '+', which libpq keeps: ``options=-c x=y`` would break)."""
    parsed = make_url(url).set(drivername="postgresql")
    base = parsed.set(query={}).render_as_string(hide_password=False)
    return f"{base}?{urlencode(parsed.query, doseq=True, quote_via=quote)}" if parsed.query else base


def _run(args: list[str]) -> None:
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{args[0]} failed: {result.stderr.strip() or result.stdout.strip()}")


def backup_database(url: str, out: Path) -> None:
    """A consistent copy of the database in ``out`` (SQLite file or pg_dump custom format)."""
    tmp = out.with_name(out.name + ".part")
    tmp.unlink(missing_ok=True)
    _private(tmp)
    if url.startswith("sqlite"):
        source = _sqlite_path(url)
        if not source.is_file():
            raise BackupError(f"no database file at {source}")
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, sqlite3.connect(tmp) as dst:
            src.backup(dst)
        dst.close()
        src.close()
    elif url.startswith("postgresql"):
        _run(["pg_dump", "--format=custom", "--no-owner", f"--file={tmp}", f"--dbname={_libpq(url)}"])
    else:
        raise BackupError(f"no backup method for {make_url(url).drivername}")
    tmp.replace(out)


def _has_tables(url: str) -> bool:
    engine = make_engine(url)
    try:
        return bool(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _check_sqlite_backup(dump: Path) -> None:
    try:
        with sqlite3.connect(f"file:{dump}?mode=ro", uri=True) as db:
            ok = db.execute("PRAGMA integrity_check").fetchone()[0]
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        db.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{dump}: not an SQLite database: {exc}") from None
    if ok != "ok" or "alembic_version" not in tables:
        raise BackupError(f"{dump}: not an AssetGate database backup (integrity {ok}, tables {sorted(tables)[:5]})")


def restore_database(url: str, dump: Path, replace: bool = False) -> None:
    """Load a backup into the configured database; it must be empty unless ``replace``."""
    if not dump.is_file():
        raise BackupError(f"no backup file at {dump}")
    if url.startswith("sqlite"):
        _check_sqlite_backup(dump)
        target = _sqlite_path(url)
        if target.exists() and _has_tables(url) and not replace:
            raise BackupError(f"{target} holds data: stop the service and pass --replace to overwrite it")
        target.parent.mkdir(parents=True, exist_ok=True)
        # Through the backup API rather than a file copy: a WAL left beside the old file cannot
        # be replayed over the restored one.
        with sqlite3.connect(f"file:{dump}?mode=ro", uri=True) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
        dst.close()
        src.close()
    elif url.startswith("postgresql"):
        _run(["pg_restore", "--list", str(dump)])  # a readable custom-format dump, or stop here
        if _has_tables(url) and not replace:
            raise BackupError("the database holds data: stop the service and pass --replace to overwrite it")
        # One transaction: a restore that fails half-way leaves the database as it was.
        _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error",
              f"--dbname={_libpq(url)}", str(dump)])
    else:
        raise BackupError(f"no restore method for {make_url(url).drivername}")


def default_name(kind: str, folder: Path | None = None) -> Path:
    """``assetgate-<kind>-<UTC stamp>`` in ``folder`` (default: the working directory)."""
    from datetime import UTC, datetime

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = {"instance": ".tar.gz", "database": ".dump"}[kind]
    return (folder or Path(os.getcwd())) / f"assetgate-{kind}-{stamp}{suffix}"
