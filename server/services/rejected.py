"""The rejected log's bounds: a rate limit per kiosk, a counter of what it left out, retention.

Every refused message is answered and counted, but only some are logged with their bytes:
each kiosk (the kiosk its topic names; "" when it names none) has a token bucket of
``rejected_log_burst`` rows, refilled at ``rejected_log_per_minute``. What is over goes into
``rejected_log_drops``, one counter per (kiosk, reason). Without this a single kiosk sending
junk as fast as the broker takes it added about 37 GB an hour (some 3 KB a row); with the
defaults one kiosk adds at most ``burst + 60 x per_minute`` rows an hour. Rows older than
``rejected_log_retention_days`` are deleted in chunks by the consumer's writer.

The limit is kept in the writer process's memory: two consumers sharing the subscription
each allow a kiosk its rate, and a restarted writer starts with full buckets.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from server.models import RejectedDrop, RejectedMessage

PURGE_CHUNK = 5000  # rows deleted per transaction, so the writer is never held up for long
MAX_BUCKETS = 10_000  # kiosk names remembered; full buckets are forgotten beyond this

Drops = Counter[tuple[str, str]]  # (kiosk, reason) -> refused messages not logged


class RateLimit:
    """A token bucket per kiosk: ``take`` says whether one more row may go into the log."""

    def __init__(self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # kiosk -> (tokens, when counted)

    def take(self, kiosk: str) -> bool:
        now = self.clock()
        tokens, then = self._buckets.get(kiosk, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[kiosk] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > MAX_BUCKETS:
            self._forget_full(now)
        return allowed

    def snapshot(self) -> dict[str, tuple[float, float]]:
        """The state to go back to when the batch that spends tokens is rolled back."""
        return dict(self._buckets)

    def restore(self, state: dict[str, tuple[float, float]]) -> None:
        self._buckets = state

    def _forget_full(self, now: float) -> None:
        # A bucket that has refilled is the same as one never seen.
        self._buckets = {k: (t, w) for k, (t, w) in self._buckets.items()
                         if t + (now - w) * self.rate < self.burst}


def record_drops(session: Session, drops: Drops, at: datetime) -> None:
    """Add a batch's unlogged refusals to the counters, in the batch's transaction. An upsert, so
    that two consumers sharing the subscription add to the same row instead of colliding."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for (kiosk, reason), count in sorted(drops.items()):  # a fixed order: no lock cycle between consumers
        statement = insert(RejectedDrop).values(kiosk=kiosk, reason=reason, dropped=count, last_at=at)
        session.execute(statement.on_conflict_do_update(
            index_elements=["kiosk", "reason"],
            set_={"dropped": RejectedDrop.dropped + statement.excluded.dropped, "last_at": at}))


def purge(session: Session, now: datetime, retention_days: float, limit: int = PURGE_CHUNK) -> int:
    """Delete up to ``limit`` rows older than the retention; returns how many went."""
    cutoff = now - timedelta(days=retention_days)
    old = select(RejectedMessage.id).where(RejectedMessage.received_at < cutoff).order_by(RejectedMessage.id)
    ids = list(session.scalars(old.limit(limit)))
    if ids:
        session.execute(delete(RejectedMessage).where(RejectedMessage.id.in_(ids)))
    return len(ids)


def drops_by_kiosk(session: Session) -> dict[str, int]:
    return {kiosk: int(total) for kiosk, total in session.execute(
        select(RejectedDrop.kiosk, func.sum(RejectedDrop.dropped)).group_by(RejectedDrop.kiosk))}


def drop_rows(session: Session) -> list[Any]:
    """(kiosk, reason, dropped) for the metrics."""
    return list(session.execute(select(RejectedDrop.kiosk, RejectedDrop.reason, RejectedDrop.dropped)
                                .order_by(RejectedDrop.kiosk, RejectedDrop.reason)))
