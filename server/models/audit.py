"""The audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, intpk


class AuditEntry(Base):
    """Append-only, hash-chained: each row's hash covers its content and the previous hash, keyed with
    the HMAC key ``key_id`` names ("legacy": a plain SHA-256 row from before the keyed chain).
    ``inserted`` describes the history rows the change wrote (``server.audit.ledger``)."""

    __tablename__ = "audit_log"
    id: Mapped[intpk]
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(60))
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    inserted: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    key_id: Mapped[str] = mapped_column(String(32), server_default="legacy")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    # The newest row of each entity (reconciliation) is found through the second index.
    __table_args__ = (UniqueConstraint("prev_hash", name="uq_audit_prev_hash"),
                      Index("ix_audit_log_entity", "entity", "entity_id", "id"))
