"""The gate's clock work, one process (``assetgate gate run``; ``assetgate serve`` starts it):
notifications that are due, the automatic sign-out at its hour, and the daily retention purge.

Each step is its own short transaction and safe to repeat: the automatic sign-out only closes
visits that are still open, a purge that ran today (found in the audit log) is not run again, and
notifications are claimed before they are sent. So a scheduler that restarts, or two of them,
do no harm.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.audit import Actor
from server.config import Settings
from server.models import AuditEntry, utcnow
from server.personal import policy
from server.services import notify, retention, visits

log = logging.getLogger("assetgate.scheduler")
ACTOR = Actor("scheduler", "cli", "admin")
TICK_S = 15.0


@dataclass
class Tick:
    sent: int = 0
    failed: int = 0
    signed_out: int = 0
    purged: bool = False


def tick(sessions: sessionmaker[Session], settings: Settings, now: datetime | None = None) -> Tick:
    now = now or utcnow()
    done = Tick()
    delivery = notify.deliver_due(sessions, settings, now)
    done.sent, done.failed = delivery.sent, delivery.failed
    with sessions() as session, session.begin():
        done.signed_out = visits.auto_signout(session, ACTOR, now)
    if settings.purge_hour >= 0:
        with sessions() as session, session.begin():
            local = now.astimezone(policy(session).zone)
            if local.hour >= settings.purge_hour and not _purged_on(session, now):
                report = retention.purge(session, ACTOR, now)
                log.info("retention purge: %s", report.as_dict())
                done.purged = True
    return done


def _purged_on(session: Session, now: datetime) -> bool:
    query = select(AuditEntry.id).where(AuditEntry.action == "visitors.purge",
                                        AuditEntry.entity_id == now.date().isoformat()).limit(1)
    return session.scalars(query).first() is not None


def run(sessions: sessionmaker[Session], settings: Settings, stop: threading.Event, interval: float = TICK_S) -> None:
    """Tick until ``stop`` is set; a failed tick is logged and the next one tries again."""
    while not stop.is_set():
        try:
            done = tick(sessions, settings)
            if done.sent or done.failed or done.signed_out:
                log.info("notifications sent %d, failed %d; visits signed out automatically %d",
                         done.sent, done.failed, done.signed_out)
        except Exception:  # the database away, a bug: log it, keep the clock going
            log.exception("scheduler tick failed")
        stop.wait(interval)
