"""Durable outbox: every event is in SQLite (WAL, synchronous=FULL) before the screen says "saved".

Guarantees (PROTOCOL.md section 4):
- ``add`` takes the next ``seq`` from a persistent counter in the same transaction as the
  insert, so seq is strictly increasing across restarts and power cuts, and never reused
  (the counter is not ``max(seq)+1``: acked rows are deleted).
- An event leaves only on a server ack that is final: any status except a rejection for
  ``unknown_kiosk`` or ``internal_error`` (``contract.messages.NOT_FINAL``), which say more
  about the server than about the event; such an event stays, and its ack goes into the
  history. Deleting on ack is committed with synchronous=NORMAL: if a power cut loses that
  delete, the event is sent again and the server answers ``duplicate``, which is harmless;
  losing an *added* event is not, so adds are fsynced.
- Several processes may open the same file (the agent and ``assetgate-kiosk publish`` or a
  test adding events); SQLite's locking and ``BEGIN IMMEDIATE`` keep the counter exact.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from contract.messages import EVENT_DATA, Ack, Event, is_final
from kiosk.clock import SyncProbe

HISTORY = 200  # recent acks kept for the screen and `assetgate-kiosk outbox`

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    created REAL NOT NULL,          -- unix time, for the oldest-age figure
    body BLOB NOT NULL              -- the exact bytes sent, so every resend is identical
);
CREATE TABLE IF NOT EXISTS acks (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    level TEXT NOT NULL,
    title TEXT NOT NULL,
    detail TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS acks_id ON acks (id);
CREATE TABLE IF NOT EXISTS boots (boot TEXT PRIMARY KEY, started TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Queued:
    """One event waiting for its ack, as stored."""

    seq: int
    id: str
    type: str
    created: float
    body: bytes

    def event(self) -> Event:
        return Event.model_validate_json(self.body)


@dataclass(frozen=True, slots=True)
class AckRecord:
    """An ack the kiosk received for one of its events (history for the screen)."""

    id: str
    seq: int
    type: str
    status: str
    reason: str | None
    level: str
    title: str
    detail: str
    at: float

    @property
    def final(self) -> bool:
        """False when the event stayed in the outbox (a rejection that is not final)."""
        return is_final(self.status, self.reason)

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}


def normalize_data(type_: str, data: dict[str, Any]) -> dict[str, Any]:
    """Validate event data against the contract and return its canonical JSON form.

    Raises KeyError for an unknown type and pydantic's ValidationError for bad data, so
    nothing the server would refuse for its shape is ever queued.
    """
    model = EVENT_DATA[type_]
    return model.model_validate(data).model_dump(mode="json", by_alias=True, exclude_none=True)


class Outbox:
    def __init__(self, path: str | Path, kiosk: str, *, sync_probe: SyncProbe | None = None) -> None:
        self.path = Path(path)
        self.kiosk = kiosk
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._sync = sync_probe or SyncProbe()
        self._lock = threading.Lock()
        # One connection shared by the agent's threads, serialised by self._lock.
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        with self._lock, self._tx():
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    self._db.execute(stmt)
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('next_seq', '1')")
        self.boot = str(uuid.uuid4())  # a new boot id per process start
        self._boot_saved = False  # recorded with this process's first event, not by read-only opens

    # -- transactions -------------------------------------------------------------------

    def _tx(self, durable: bool = True) -> _Tx:
        return _Tx(self._db, durable)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- writing ------------------------------------------------------------------------

    def add(self, type_: str, actor: str | None, data: dict[str, Any]) -> Event:
        """Store one new event durably and return it (with its seq, id, boot, time)."""
        return self.add_many([(type_, actor, data)])[0]

    def add_many(self, items: Iterable[tuple[str, str | None, dict[str, Any]]]) -> list[Event]:
        """Store several events in one transaction (one fsync): for bulk loads and tests."""
        prepared = [(t, a, normalize_data(t, d)) for t, a, d in items]
        events: list[Event] = []
        synced = self._sync.synced()
        with self._lock, self._tx():
            if not self._boot_saved:
                self._db.execute("INSERT OR IGNORE INTO boots VALUES (?, ?)", (self.boot, _now().isoformat()))
            seq = int(self._db.execute("SELECT value FROM meta WHERE key='next_seq'").fetchone()[0])
            rows = []
            for type_, actor, data in prepared:
                event = Event(
                    id=uuid.uuid4(),
                    kiosk=self.kiosk,
                    seq=seq,
                    boot=self.boot,
                    at=_now(),
                    synced=synced,
                    type=type_,  # type: ignore[arg-type]
                    actor=actor,
                    data=data,
                )
                events.append(event)
                rows.append((seq, str(event.id), type_, time.time(), event.to_bytes()))
                seq += 1
            self._db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", rows)
            self._db.execute("UPDATE meta SET value=? WHERE key='next_seq'", (str(seq),))
        self._boot_saved = True
        return events

    def mark_acked(self, ack: Ack) -> AckRecord | None:
        """Remove the acked event and remember the ack; None when the id is not pending.

        An ack for an unknown or already-acked id (a resend answered twice) changes nothing. An
        ack that is not final is remembered, but the event stays to be sent again.
        """
        if ack.id is None:
            return None
        with self._lock, self._tx(durable=False):
            row = self._db.execute("SELECT seq, type FROM events WHERE id=?", (ack.id,)).fetchone()
            if row is None:
                return None
            if ack.final:
                self._db.execute("DELETE FROM events WHERE id=?", (ack.id,))
            record = AckRecord(
                id=ack.id,
                seq=row[0],
                type=row[1],
                status=ack.status,
                reason=ack.reason,
                level=ack.display.level,
                title=ack.display.title,
                detail=ack.display.detail,
                at=time.time(),
            )
            self._db.execute(
                "INSERT INTO acks (id, seq, type, status, reason, level, title, detail, at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record.id, record.seq, record.type, record.status, record.reason, record.level,
                 record.title, record.detail, record.at),
            )
            self._db.execute("DELETE FROM acks WHERE n <= (SELECT max(n) FROM acks) - ?", (HISTORY,))
        return record

    # -- reading ------------------------------------------------------------------------

    def pending(self, limit: int = 1000, after_seq: int = 0) -> list[Queued]:
        """Unacked events in seq order, starting after ``after_seq``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, id, type, created, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            ).fetchall()
        return [Queued(*row) for row in rows]

    def depth(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM events").fetchone()[0])

    def oldest_age(self) -> float | None:
        """Seconds since the oldest unacked event was stored; None when the outbox is empty."""
        with self._lock:
            # The lowest seq is the oldest insert; reading it by primary key avoids a scan.
            row = self._db.execute("SELECT created FROM events ORDER BY seq LIMIT 1").fetchone()
        return None if row is None else max(0.0, time.time() - row[0])

    def last_seq(self) -> int:
        """The highest seq ever given out (0 before the first event)."""
        with self._lock:
            return int(self._db.execute("SELECT value FROM meta WHERE key='next_seq'").fetchone()[0]) - 1

    def max_pending_seq(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])

    def ack_for(self, event_id: str) -> AckRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, seq, type, status, reason, level, title, detail, at FROM acks WHERE id=?"
                " ORDER BY n DESC LIMIT 1",
                (event_id,),
            ).fetchone()
        return None if row is None else AckRecord(*row)

    def recent_acks(self, limit: int = 10) -> list[AckRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, seq, type, status, reason, level, title, detail, at FROM acks ORDER BY n DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [AckRecord(*row) for row in rows]

    def boots(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM boots").fetchone()[0])

    def summary(self) -> dict[str, Any]:
        """Depth, oldest age and the last acks, as ``assetgate-kiosk outbox`` prints them."""
        return {
            "kiosk": self.kiosk,
            "path": str(self.path),
            "depth": self.depth(),
            "oldest_s": self.oldest_age(),
            "last_seq": self.last_seq(),
            "recent_acks": [a.as_dict() for a in self.recent_acks()],
        }


class _Tx:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error; ``durable=False`` skips the fsync."""

    def __init__(self, db: sqlite3.Connection, durable: bool) -> None:
        self._db = db
        self._durable = durable

    def __enter__(self) -> sqlite3.Connection:
        if not self._durable:
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self._db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            if not self._durable:
                self._db.execute("PRAGMA synchronous=FULL")


def _now() -> datetime:
    # Local time with its offset (RFC 3339), as the contract asks; astimezone() adds the zone.
    return datetime.now().astimezone()


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=str)
