"""The audit log: every change, appended to a hash chain.

Each row's hash is SHA-256 over the previous row's hash and a canonical JSON of the
row, so editing, deleting or inserting a row behind the application's back breaks
the chain at that row. Appends are serialised (PostgreSQL advisory lock; SQLite
transactions are IMMEDIATE already) and ``prev_hash`` is unique, so the chain
cannot fork.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from server.models import AuditEntry, utcnow
from server.services import bulk

GENESIS = "0" * 64
_CHAIN_LOCK = 0x41554454  # "AUDT": the advisory lock id that serialises appends on PostgreSQL


@dataclass(frozen=True)
class Actor:
    """Who makes a change and through what: web, api, cli or kiosk:<id>."""

    name: str
    source: str
    role: str | None = None


SYSTEM = Actor("system", "cli", "admin")


HASHED = ("actor", "source", "action", "entity", "entity_id", "before", "after")


def _canonical(row: dict[str, Any]) -> bytes:
    body = {name: row[name] for name in HASHED}
    body["at"] = row["at"].astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False).encode()


def compute_hash(prev_hash: str, row: dict[str, Any] | AuditEntry) -> str:
    """SHA-256 over the previous hash and the row's canonical JSON (a dict or a stored entry)."""
    values = row if isinstance(row, dict) else {name: getattr(row, name) for name in (*HASHED, "at")}
    return hashlib.sha256(prev_hash.encode() + b"\n" + _canonical(values)).hexdigest()


def _lock_chain(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})


_HEAD = "assetgate.audit_head"


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _forget_head(session: Session, *_args: Any) -> None:
    # The chain lock ends with the transaction, and a rollback may undo cached rows.
    session.info.pop(_HEAD, None)


def record(
    session: Session,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: Any,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> str:
    """Append one change to the chain, in the caller's transaction; returns its hash."""
    prev_hash = session.info.get(_HEAD)
    if prev_hash is None:  # first append in this transaction: take the lock, read the head once
        _lock_chain(session)
        last = session.scalars(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)).first()
        prev_hash = last or GENESIS
    # JSON round-trip now so that what is hashed is exactly what the database gives back.
    values: dict[str, Any] = {
        "at": utcnow(), "actor": actor.name, "source": actor.source, "action": action, "entity": entity,
        "entity_id": str(entity_id), "before": _jsonable(before), "after": _jsonable(after), "prev_hash": prev_hash,
    }
    values["hash"] = compute_hash(prev_hash, values)
    bulk.persist(session, AuditEntry, values)  # rows reach the database in the order made
    session.info[_HEAD] = values["hash"]
    return str(values["hash"])


_PLAIN = (str, int, float, bool, type(None))


def _jsonable(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the JSON column will give back, so the hash is computed over exactly that."""
    if value is None:
        return None
    if all(isinstance(v, _PLAIN) for v in value.values()):  # the common case: a flat snapshot
        return dict(value)
    return json.loads(json.dumps(value, default=str))  # type: ignore[no-any-return]


@dataclass(frozen=True)
class ChainReport:
    rows: int
    broken_at: int | None  # id of the first row whose hash or link is wrong
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify(session: Session, batch: int = 5000) -> ChainReport:
    """Walk the chain in id order and report the first row that does not fit."""
    prev_hash, rows, after_id = GENESIS, 0, 0
    while True:
        chunk = session.scalars(
            select(AuditEntry).where(AuditEntry.id > after_id).order_by(AuditEntry.id).limit(batch)
        ).all()
        if not chunk:
            return ChainReport(rows, None)
        for entry in chunk:
            if entry.prev_hash != prev_hash:
                return ChainReport(rows, entry.id, "link to the previous row is wrong (row removed or inserted)")
            if compute_hash(prev_hash, entry) != entry.hash:
                return ChainReport(rows, entry.id, "content does not match its hash (row edited)")
            prev_hash, rows, after_id = entry.hash, rows + 1, entry.id
        session.expunge_all()


def snapshot(obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """The audited view of a model object: the named fields, JSON-friendly."""
    out: dict[str, Any] = {}
    for name in fields:
        value = getattr(obj, name)
        out[name] = value.isoformat() if isinstance(value, datetime) else value
    return out
