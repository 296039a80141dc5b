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

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from server.models import AuditEntry, utcnow

GENESIS = "0" * 64
_CHAIN_LOCK = 0x41554454  # "AUDT": the advisory lock id that serialises appends on PostgreSQL


@dataclass(frozen=True)
class Actor:
    """Who makes a change and through what: web, api, cli or kiosk:<id>."""

    name: str
    source: str
    role: str | None = None


SYSTEM = Actor("system", "cli", "admin")


def _canonical(entry: AuditEntry) -> bytes:
    at = entry.at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
    body = {
        "at": at,
        "actor": entry.actor,
        "source": entry.source,
        "action": entry.action,
        "entity": entry.entity,
        "entity_id": entry.entity_id,
        "before": entry.before,
        "after": entry.after,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False).encode()


def compute_hash(prev_hash: str, entry: AuditEntry) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + _canonical(entry)).hexdigest()


def _lock_chain(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})


def record(
    session: Session,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: Any,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one change to the chain, in the caller's transaction."""
    _lock_chain(session)
    last = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).first()
    prev_hash = last.hash if last else GENESIS
    # JSON round-trip now so that what is hashed is exactly what the database gives back.
    entry = AuditEntry(
        at=utcnow(),
        actor=actor.name,
        source=actor.source,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        before=_jsonable(before),
        after=_jsonable(after),
        prev_hash=prev_hash,
    )
    entry.hash = compute_hash(prev_hash, entry)
    session.add(entry)
    session.flush()
    return entry


def _jsonable(value: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else json.loads(json.dumps(value, default=str))


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
