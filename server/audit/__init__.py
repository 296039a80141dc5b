"""The audit log: every change, appended to a keyed hash chain, describing the ledger as it is.

Each row's hash is an HMAC-SHA256, under a key kept outside the database (``keys``), over the
previous row's hash and the row's canonical JSON (``chain``), so editing, deleting or inserting a row
behind the application's back breaks the chain at that row, and someone with the database alone
cannot recompute it. Appends are serialised (PostgreSQL advisory lock; SQLite transactions are
IMMEDIATE already) and ``prev_hash`` is unique, so the chain cannot fork.

Every change to the ledger writes its audit row here, with the full state of what it changed
(``change``: the fields ``ledger`` lists) and the history rows it wrote (``inserted``), so that
``verify`` can check the tables against the log (``reconcile``) and the log against the checkpoints
kept outside the database (``checkpoints``). docs/audit.md says what this detects, against whom.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from server.audit import chain, ledger
from server.audit.chain import GENESIS
from server.audit.check import verify
from server.audit.keys import KeyProblem, install, keyring_of
from server.audit.report import Finding, Report
from server.models import AuditEntry, utcnow
from server.services import bulk

__all__ = ["GENESIS", "SYSTEM", "Actor", "Finding", "KeyProblem", "Report", "change", "install", "inserting",
           "keyring_of", "record", "removal", "state", "verify"]

_CHAIN_LOCK = 0x41554454  # "AUDT": the advisory lock id that serialises appends on PostgreSQL


@dataclass(frozen=True)
class Actor:
    """Who makes a change and through what: web, api, cli or kiosk:<id>."""

    name: str
    source: str
    role: str | None = None


SYSTEM = Actor("system", "cli", "admin")
state = ledger.state


# A history row: an ORM object of a ``ledger.HISTORY`` table, or (its model, the dict ``bulk`` inserts).
Inserted = Any


def _lock_chain(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})


_HEAD = "assetgate.audit_head"
_PENDING = "assetgate.audit_pending"


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _forget_head(session: Session, *_args: Any) -> None:
    # The chain lock ends with the transaction, and a rollback may undo cached rows.
    session.info.pop(_HEAD, None)
    session.info.pop(_PENDING, None)


def record(
    session: Session,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: Any,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    inserted: Sequence[Inserted] = (),
) -> str:
    """Append one change to the chain, in the caller's transaction; returns its hash. ``inserted``:
    the history rows the change writes (and any announced by ``inserting``); each gets this row's
    hash in its ``audit_hash``."""
    keyring = keyring_of(session)
    prev_hash = session.info.get(_HEAD)
    if prev_hash is None:  # first append in this transaction: take the lock, read the head once
        _lock_chain(session)
        last = session.scalars(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)).first()
        prev_hash = last or GENESIS
    rows = [*session.info.pop(_PENDING, ()), *inserted]
    described: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        model, given = row if isinstance(row, tuple) else (type(row), row)
        described.setdefault(model.__tablename__, []).append(ledger.describe(model, given))
    values: dict[str, Any] = {
        "at": utcnow(), "actor": actor.name, "source": actor.source, "action": action, "entity": entity,
        "entity_id": str(entity_id), "before": _copy(before), "after": _copy(after),
        "inserted": described or None, "key_id": keyring.current, "prev_hash": prev_hash,
    }
    try:
        # Hashed and stored by the same JSON encoder (orjson): what is hashed is what the database gives back.
        values["hash"] = chain.keyed_hash(keyring.current_key, prev_hash, values)
    except TypeError:  # a value JSON cannot hold as it is (a Decimal): hashed, and stored, as its text
        for name in ("before", "after", "inserted"):
            values[name] = _jsonable(values[name])
        values["hash"] = chain.keyed_hash(keyring.current_key, prev_hash, values)
    for row in rows:
        if isinstance(row, tuple):
            row[1]["audit_hash"] = values["hash"]
        else:
            row.audit_hash = values["hash"]
    bulk.persist(session, AuditEntry, values)  # rows reach the database in the order made
    session.info[_HEAD] = values["hash"]
    return str(values["hash"])


def change(session: Session, actor: Actor, action: str, obj: Any, before: dict[str, Any] | None = None,
           extra: dict[str, Any] | None = None, inserted: Sequence[Inserted] = ()) -> str:
    """Record a change of an entity (``ledger.ENTITIES``): ``after`` is its full audited state, plus
    ``extra`` facts (a reason, an approval reference) that are not columns of its table."""
    entity, entity_id = ledger.entity_of(obj)
    after = ledger.state(obj)
    if extra:
        after = {**extra, **after}  # the state wins: an extra fact never hides a field
    return record(session, actor, action, entity, entity_id, before, after, inserted)


def removal(session: Session, actor: Actor, action: str, obj: Any, extra: dict[str, Any] | None = None) -> str:
    """Record that an entity's row is deleted on purpose (``after`` is None): call it before the delete."""
    entity, entity_id = ledger.entity_of(obj)
    return record(session, actor, action, entity, entity_id, {**ledger.state(obj), **(extra or {})}, None)


@contextmanager
def inserting(session: Session, model: type[Any], values: dict[str, Any]) -> Iterator[None]:
    """Announce a history row that the next ``record`` in the block describes (a kiosk event, written
    by ``ingest`` around the service that records the change). A block that records nothing fails."""
    session.info[_PENDING] = [*session.info.get(_PENDING, ()), (model, values)]
    try:
        yield
    except BaseException:
        session.info.pop(_PENDING, None)
        raise
    if session.info.pop(_PENDING, None):
        raise RuntimeError(f"a {model.__tablename__} row was announced but no audit row described it")


def _copy(value: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else dict(value)  # a caller that changes its dict later changes nothing here


def _jsonable(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the JSON column will give back for a value orjson cannot encode as it is."""
    if value is None:
        return None
    return orjson.loads(orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS))  # type: ignore[no-any-return]
