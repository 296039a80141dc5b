"""Kiosks, the events they sent, and what was refused."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.assets import Location
from server.models.base import Base, UTCDateTime, created, intpk, utcnow


class Kiosk(Base):
    __tablename__ = "kiosks"
    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(32), unique=True)  # the kiosk id of the topics
    mode: Mapped[str] = mapped_column(String(20))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    enrolled_at: Mapped[created]
    revoked_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]
    last_seq: Mapped[int | None] = mapped_column(BigInteger)
    last_boot: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # last retained status
    # Mosquitto's own hash of the kiosk's broker password (the password is shown once, at enrolment).
    broker_password_hash: Mapped[str | None] = mapped_column(String(255))

    location: Mapped[Location | None] = relationship(lazy="joined")


class KioskEvent(Base):
    """Every accepted kiosk event, once. The idempotency key is (kiosk, event id): an id is made
    on a kiosk, so one kiosk can never turn another kiosk's event into a duplicate."""

    __tablename__ = "kiosk_events"
    kiosk: Mapped[str] = mapped_column(String(32), primary_key=True)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    boot: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime]
    received_at: Mapped[created]
    synced: Mapped[bool] = mapped_column(Boolean)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)  # unsynced, skew, late, conflict...
    # The audit row that describes this row (server.audit.ledger): it must be there and say the same.
    # No index: the check finds a kiosk event by its key, which its description carries (one index
    # less to keep up on the consumer's hot path).
    audit_hash: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_kiosk_events_kiosk_seq", "kiosk", "seq"),)


class RejectedMessage(Base):
    """What the consumer refused, with the reason and a bounded copy of the bytes. A log, not
    the ledger: rate-limited per kiosk and deleted after the retention (services/rejected.py)."""

    __tablename__ = "rejected_messages"
    id: Mapped[intpk]
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    topic: Mapped[str] = mapped_column(String(255))
    kiosk: Mapped[str | None] = mapped_column(String(32))
    event_id: Mapped[str | None] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(String(40), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    size: Mapped[int] = mapped_column(Integer)
    raw: Mapped[str] = mapped_column(Text, default="")


class RejectedDrop(Base):
    """Refused messages that were answered but not logged (over their kiosk's rate), counted."""

    __tablename__ = "rejected_log_drops"
    kiosk: Mapped[str] = mapped_column(String(32), primary_key=True)  # "" when the topic named no kiosk
    reason: Mapped[str] = mapped_column(String(40), primary_key=True)
    dropped: Mapped[int] = mapped_column(BigInteger)
    last_at: Mapped[datetime]
