"""``assetgate audit verify`` and ``checkpoint``: the chain, the checkpoints and the ledger, on one snapshot.

Everything is read in one read-only transaction that sees one moment of the database (PostgreSQL:
REPEATABLE READ; SQLite: a deferred transaction, which in WAL mode reads one snapshot without
taking the write lock, so the consumer goes on writing meanwhile). The log is read in id order,
a chunk at a time (keyset), so memory stays bounded however long it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session

from server.audit import chain, reconcile, report
from server.audit.checkpoints import Checkpoint, CheckpointProblem, Loaded
from server.audit.keys import LEGACY, keyring_of
from server.audit.report import Finding, Report
from server.models import AuditEntry

A = AuditEntry.__table__.c
BATCH = 2000


def begin_snapshot(session: Session) -> None:
    """Start the session's read-only snapshot transaction (ending whatever it had open)."""
    if session.in_transaction():
        session.rollback()
    options: dict[str, Any] = {"assetgate_read_snapshot": True}  # SQLite: BEGIN DEFERRED (server.db)
    if session.get_bind().dialect.name == "postgresql":
        options.update(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    session.connection(execution_options=options)


_PLAIN = [A[name] for name in chain.COLUMNS if name not in chain.JSON_COLUMNS]
_TEXTS = [cast(A[name], Text).label(f"{name}_text") for name in chain.JSON_COLUMNS]


def stream(session: Session, after_id: int = 0, batch: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    """The log from ``after_id`` on, in id order, a chunk at a time. The JSON columns come as the text
    the database holds (``texts``: hashed as it is); only ``inserted`` is parsed (the history check)."""
    while True:
        result = session.execute(select(*_PLAIN, *_TEXTS).where(A.id > after_id).order_by(A.id).limit(batch))
        plain = len(_PLAIN)
        names = list(result.keys())[:plain]
        rows = []
        for raw in result:
            row = dict(zip(names, raw, strict=False))  # the plain columns; the three texts follow them
            before, after, inserted = raw[plain:]
            texts = (b"null" if before is None else before.encode(), b"null" if after is None else after.encode(),
                     b"null" if inserted is None else inserted.encode())
            row["texts"], row["inserted"] = texts, None if inserted is None else orjson.loads(inserted)
            rows.append(row)
        if not rows:
            return
        yield rows
        after_id = rows[-1]["id"]


def verify(session: Session, checkpoints: Loaded | None = None, *, ledger: bool = True, batch: int = BATCH,
           limit: int = 100, progress: Callable[[int], None] | None = None) -> Report:
    """Check the chain (keys, links), the checkpoints (a truncated tail, rewritten history) and, with
    ``ledger``, that the ledger tables hold what the log describes. Reads only."""
    started = time.perf_counter()
    out = Report(limit=limit)
    loaded = checkpoints or Loaded()
    for number in loaded.forged:
        out.add(Finding(str(loaded.path or "audit.checkpoints"), str(number), "signature", "", "", None,
                        report.CHECKPOINT_FORGED))
    begin_snapshot(session)
    try:
        walk = chain.Walk(keyring_of(session))
        history = reconcile.HistoryCheck(session, out)
        points = [p for p in loaded.good if p.rows > 0]
        intact = _walk(session, walk, history if ledger else None, points, out, batch, progress)
        out.rows, out.legacy_rows = walk.rows, walk.legacy_rows
        out.checkpoints_checked = len(points)
        if intact and ledger:
            history.totals()
            reconcile.entities(session, out)
    finally:
        session.rollback()
        out.seconds = time.perf_counter() - started
    return out


def _walk(session: Session, walk: chain.Walk, history: reconcile.HistoryCheck | None, points: list[Checkpoint],
          out: Report, batch: int, progress: Callable[[int], None] | None = None) -> bool:
    """The chain in id order against the checkpoints; False when it broke (the first break is reported)."""
    pending = iter(points)
    point = next(pending, None)
    for chunk in stream(session, batch=batch):
        for row in chunk:
            problem = walk.check(row)
            if problem:
                out.broken_at, out.problem, out.rows = row["id"], problem, walk.rows
                return False
            while point is not None and point.rows == walk.rows:
                if point.head_hash != walk.prev_hash:
                    out.broken_at, out.problem = row["id"], report.CHECKPOINT_DIFFERS
                    out.add(Finding("audit_log", str(row["id"]), "hash", walk.prev_hash[:16], point.head_hash[:16],
                                    row["id"], report.CHECKPOINT_DIFFERS))
                    return False
                point = next(pending, None)
        out.head = chunk[-1]["id"]
        if history is not None:
            history.chunk(chunk)
        if progress is not None:
            progress(walk.rows)
    for missing in ([point] if point else []) + list(pending):
        out.add(Finding("audit_log", str(missing.head_id), "rows", str(walk.rows), str(missing.rows), None,
                        report.TRUNCATED))
        out.problem = report.TRUNCATED
    return True


# --- checkpoints ---

def take_checkpoint(session: Session, loaded: Loaded) -> tuple[Checkpoint, dict[str, int]]:
    """Check the rows added since the newest checkpoint and return the new checkpoint (and the actions
    added since, for the summary). Refuses (CheckpointProblem) when anything does not fit: a checkpoint
    must never sign a head that is already wrong."""
    if loaded.forged:
        raise CheckpointProblem(f"{loaded.path}: lines {', '.join(map(str, loaded.forged))} do not carry a valid "
                                "signature; run `assetgate audit verify` and look into it before a new checkpoint")
    begin_snapshot(session)
    try:
        walk = chain.Walk(keyring_of(session))
        previous, start = loaded.newest, 0
        if previous is not None and previous.rows:
            _still_there(session, previous)
            walk.prev_hash, walk.rows, walk.keyed_seen = previous.head_hash, previous.rows, previous.key_id != LEGACY
            start = previous.head_id or 0
        head_id, key_id = (previous.head_id, previous.key_id) if previous else (None, "")
        for chunk in stream(session, start):
            for row in chunk:
                problem = walk.check(row)
                if problem:
                    raise CheckpointProblem(f"audit row {row['id']}: {problem}; no checkpoint written "
                                            "(run `assetgate audit verify`)")
            head_id, key_id = chunk[-1]["id"], chunk[-1]["key_id"]
        added = select(A.action, func.count()).where(A.id > start).group_by(A.action).order_by(A.action)
        actions: dict[str, int] = dict(session.execute(added).all())
    finally:
        session.rollback()
    at = datetime.now(UTC).isoformat(timespec="seconds")
    return Checkpoint(at, walk.rows, head_id, walk.prev_hash, key_id), {k: int(v) for k, v in actions.items()}


def _still_there(session: Session, point: Checkpoint) -> None:
    stored = session.scalar(select(A.hash).where(A.id == point.head_id))
    count = session.scalar(select(func.count()).select_from(AuditEntry).where(A.id <= point.head_id))
    if stored != point.head_hash or count != point.rows:
        raise CheckpointProblem(f"the audit log no longer matches the checkpoint of {point.at} (row {point.head_id}, "
                                f"{point.rows} rows; now {count} rows up to it): run `assetgate audit verify`")


def check_summary(session: Session, summary: Mapping[str, Any]) -> list[str]:
    """What in the database disagrees with a kept summary (empty: the log still holds its head)."""
    begin_snapshot(session)
    try:
        head_id, rows = summary.get("head_id"), int(summary.get("rows") or 0)
        if not rows:
            return []
        stored = session.execute(select(A.hash, A.key_id).where(A.id == head_id)).first()
        count = session.scalar(select(func.count()).select_from(AuditEntry).where(A.id <= head_id)) or 0
    finally:
        session.rollback()
    problems = []
    if stored is None:
        problems.append(f"audit row {head_id}, the summary's newest, is missing (the tail was deleted)")
    elif stored.hash != summary.get("head_hash"):
        problems.append(f"audit row {head_id} has another hash than the summary says (history rewritten)")
    if count != rows:
        problems.append(f"{count} audit rows up to row {head_id}, the summary says {rows} (rows deleted or inserted)")
    return problems
