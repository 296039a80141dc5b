"""Is ingestion up? The consumer records a heartbeat; its age says whether kiosk events are being stored.

The consumer's writer writes the beat (``beat``) every ``heartbeat_interval_s`` while the consumer is
connected to the broker, so a beat proves the whole chain: network side connected, writer alive,
database writable. ``ingestion_status`` calls ingestion down when no consumer has beaten within
STALE_BEATS of its intervals, or none ever did.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from server.models import ServiceHeartbeat, utcnow

CONSUMER = "consumer/"  # a consumer's row is named "consumer/<its MQTT client id>"
STALE_BEATS = 3  # beats missed before a service counts as down


def consumer_name(client_id: str) -> str:
    return f"{CONSUMER}{client_id}"[:100]


def beat(session: Session, name: str, *, host: str, pid: int, started_at: datetime, interval_s: float,
         now: datetime | None = None) -> None:
    """Record that ``name`` is alive: one UPDATE of its row (an INSERT the first time)."""
    values = {"host": host[:255], "pid": pid, "started_at": started_at, "last_beat": now or utcnow(),
              "interval_s": interval_s}
    result = session.execute(update(ServiceHeartbeat).where(ServiceHeartbeat.name == name).values(**values))
    if not result.rowcount:  # type: ignore[attr-defined]
        session.add(ServiceHeartbeat(name=name, **values))


def ingestion_status(session: Session, now: datetime | None = None) -> dict[str, Any]:
    """``state`` "up" or "down", and the newest consumer beat: when, how old (s), from which process.

    Several consumers may share the subscription (``mqtt_shared``): ingestion is up while any of them is;
    ``consumers_up`` counts them.
    """
    now = now or utcnow()
    rows = session.scalars(select(ServiceHeartbeat).where(ServiceHeartbeat.name.startswith(CONSUMER))
                           .order_by(ServiceHeartbeat.last_beat.desc())).all()
    up = [row for row in rows if (now - row.last_beat).total_seconds() <= STALE_BEATS * row.interval_s]
    if not rows:
        return {"state": "down", "last_beat": None, "age_s": None, "consumers_up": 0, "consumer": None,
                "host": None, "pid": None, "started_at": None}
    newest = rows[0]
    return {"state": "up" if up else "down", "last_beat": newest.last_beat.isoformat(),
            "age_s": round((now - newest.last_beat).total_seconds(), 1), "consumers_up": len(up),
            "consumer": newest.name[len(CONSUMER):], "host": newest.host, "pid": newest.pid,
            "started_at": newest.started_at.isoformat()}
