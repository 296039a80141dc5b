"""The gate's clock work, one process (``assetgate gate run``; ``assetgate serve`` starts it):
notifications that are due, the automatic sign-out at its hour, reminders of overdue archive loans,
the daily retention purge, and the kiosks' retained configs republished when they change.

A gate's config follows the data (its passes, who is on site, the watchlist), so it is rebuilt
every ``kiosk_config_refresh_s`` and published when it differs from what this process published
last. That work is here, not in the consumer's writer: building it reads and decrypts every
visitor on site, and the writer would make the gates' acks wait meanwhile (bench_gate measured a
p99 of 1.8 s with 2,000 visitors on site). The consumer still publishes every config when it
connects.

Each step is its own short transaction and safe to repeat: the automatic sign-out only closes
visits that are still open, a purge that ran today (found in the audit log) is not run again, and
notifications are claimed before they are sent. So a scheduler that restarts, or two of them,
do no harm.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import paho.mqtt.client as mqtt
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from contract.topics import QOS, Topics
from server.audit import Actor
from server.config import Settings
from server.models import AuditEntry, utcnow
from server.personal import policy
from server.services import archive_loans, kiosks, notify, retention, visits

log = logging.getLogger("assetgate.scheduler")
ACTOR = Actor("scheduler", "cli", "admin")
TICK_S = 15.0


@dataclass
class Tick:
    sent: int = 0
    failed: int = 0
    signed_out: int = 0
    purged: bool = False
    reminded: int = 0  # overdue archive loans whose borrower was reminded


def tick(sessions: sessionmaker[Session], settings: Settings, now: datetime | None = None) -> Tick:
    now = now or utcnow()
    done = Tick()
    delivery = notify.deliver_due(sessions, settings, now)
    done.sent, done.failed = delivery.sent, delivery.failed
    with sessions() as session, session.begin():
        done.signed_out = visits.auto_signout(session, ACTOR, now)
    with sessions() as session, session.begin():
        done.reminded = archive_loans.remind_overdue(session, ACTOR, now, settings.archive_reminder_days)
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


class ConfigPublisher:
    """Publishes the kiosks' retained configs that changed since it last published them."""

    def __init__(self, settings: Settings) -> None:
        self.topics = Topics(settings.topic_prefix)
        self._sent: dict[str, bytes] = {}
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=f"{settings.mqtt_client_id}-configs-{uuid.uuid4().hex[:6]}")
        if settings.mqtt_username:
            self.client.username_pw_set(settings.mqtt_username, settings.mqtt_password)
        if settings.mqtt_tls_ca:
            self.client.tls_set(ca_certs=str(settings.mqtt_tls_ca))
        self.client.on_connect = self._on_connect
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.connect_async(settings.mqtt_host, settings.mqtt_port, keepalive=30)
        self.client.loop_start()

    def _on_connect(self, *_args: Any) -> None:
        self._sent.clear()  # after a reconnect, publish everything once again

    def publish_changed(self, sessions: sessionmaker[Session]) -> int:
        if not self.client.is_connected():
            return 0
        with sessions() as session:
            made = kiosks.configs(session)
        changed = [(name, payload) for name, payload in made if self._sent.get(name) != payload]
        for name, payload in changed:
            self.client.publish(self.topics.config(name), payload, qos=QOS, retain=True)
            self._sent[name] = payload
        return len(changed)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def run(sessions: sessionmaker[Session], settings: Settings, stop: threading.Event,
        interval: float | None = TICK_S, publisher: ConfigPublisher | None = None) -> None:
    """Tick until ``stop`` is set; a failed step is logged and tried again at its next turn.
    ``interval`` None: only the kiosk configs (tests)."""
    publisher = publisher or ConfigPublisher(settings)
    next_configs = 0.0
    next_tick = float("inf") if interval is None else 0.0
    try:
        while not stop.is_set():
            now = time.monotonic()
            if now >= next_configs:
                next_configs = now + settings.kiosk_config_refresh_s
                _guarded("kiosk configs", lambda: publisher.publish_changed(sessions))
            if now >= next_tick and interval is not None:
                next_tick = now + interval
                _guarded("scheduler tick", lambda: _tick_logged(sessions, settings))
            stop.wait(max(0.05, min(next_tick, next_configs) - time.monotonic()))
    finally:
        publisher.stop()


def _tick_logged(sessions: sessionmaker[Session], settings: Settings) -> None:
    done = tick(sessions, settings)
    if done.sent or done.failed or done.signed_out:
        log.info("notifications sent %d, failed %d; visits signed out automatically %d",
                 done.sent, done.failed, done.signed_out)


def _guarded(what: str, step: Any) -> None:
    try:
        step()
    except Exception:  # the database or the broker away, a bug: log it, keep the clock going
        log.exception("%s failed", what)
