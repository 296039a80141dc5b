"""The ledger's tables as SQLAlchemy 2 typed models.

Nothing here is ever hard-deleted: assets, codes and events stay for good and
corrections are new rows. Times are stored as UTC and come back timezone-aware.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC (the same on SQLite and PostgreSQL), returns aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is UTC:  # the common case, and several times cheaper than astimezone
            return value.replace(tzinfo=None)
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)

    # On SQLite the stored form is text, "YYYY-MM-DD HH:MM:SS.ffffff" (SQLAlchemy's DATETIME
    # format). Converting it in one C call each way, instead of SQLAlchemy's two layers and a
    # regular expression, matters where thousands of rows go by (the consumer, reports).
    def bind_processor(self, dialect: Dialect) -> Any:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def to_text(value: datetime | None) -> str | None:
            if value is not None and value.tzinfo is UTC:  # most values: cut the "+00:00" off
                return value.isoformat(" ", "microseconds")[:26]
            naive = self.process_bind_param(value, dialect)
            return None if naive is None else naive.isoformat(" ", "microseconds")

        return to_text

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def from_text(value: str | None) -> datetime | None:
            return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)

        return from_text


intpk = Annotated[int, mapped_column(Integer, primary_key=True)]
code_str = Annotated[str, mapped_column(String(32), unique=True, index=True)]
name_str = Annotated[str, mapped_column(String(200))]
created = Annotated[datetime, mapped_column(UTCDateTime, default=utcnow)]
money = Annotated[Decimal, mapped_column(Numeric(14, 2))]


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: UTCDateTime}


class Role(enum.StrEnum):
    ADMIN = "admin"
    STOREKEEPER = "storekeeper"
    GUARD = "guard"
    AUDITOR = "auditor"


class AssetStatus(enum.StrEnum):
    IN_STORAGE = "in_storage"
    IN_USE = "in_use"
    UNDER_REPAIR = "under_repair"
    DISPOSED = "disposed"


class IssuedCode(Base):
    """Every code the server ever issued, so that none is issued twice (even after disposal)."""

    __tablename__ = "issued_codes"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(1))
    issued_at: Mapped[created]


class Category(Base):
    __tablename__ = "categories"
    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(100), unique=True)
    controlled: Mapped[bool] = mapped_column(Boolean, default=False)


class Location(Base):
    __tablename__ = "locations"
    id: Mapped[intpk]
    code: Mapped[code_str]
    name: Mapped[name_str]
    kind: Mapped[str] = mapped_column(String(20), default="office")  # storeroom, office, gate, shelf...
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    created_at: Mapped[created]


class Person(Base):
    __tablename__ = "people"
    id: Mapped[intpk]
    code: Mapped[code_str]
    name: Mapped[name_str]
    department: Mapped[str] = mapped_column(String(100), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[created]


class Asset(Base):
    __tablename__ = "assets"
    id: Mapped[intpk]
    code: Mapped[code_str]
    name: Mapped[name_str]
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    serial: Mapped[str | None] = mapped_column(String(100), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=AssetStatus.IN_STORAGE.value)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    custodian_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    department: Mapped[str] = mapped_column(String(100), default="")
    purchase_line_id: Mapped[int | None] = mapped_column(
        ForeignKey("purchase_lines.id", name="fk_assets_purchase_line_id"), index=True)
    intake_id: Mapped[int | None] = mapped_column(ForeignKey("intakes.id", name="fk_assets_intake_id"), index=True)
    price: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    acquired_on: Mapped[date | None]
    # Set by a check-out with a due time, cleared by check-in, repair and disposal: the overdue list.
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    # Time of the newest event applied to status/location: an older event that arrives
    # late (kiosk offline) goes into history without rolling the current state back.
    state_at: Mapped[datetime | None]
    created_at: Mapped[created]
    updated_at: Mapped[created]

    category: Mapped[Category] = relationship(lazy="joined")
    location: Mapped[Location | None] = relationship(lazy="joined")
    custodian: Mapped[Person | None] = relationship(lazy="joined")
    events: Mapped[list[AssetEvent]] = relationship(back_populates="asset")

    # The search (services/asset_search.py): one index per sort key, ending in the id that breaks
    # ties, so a page seeks straight to where the last one ended (keyset), and the filters by
    # category, location and custodian use the same ones. Names: trigram GIN on PostgreSQL for
    # "contains"; SQLite makes the same declaration a plain index.
    __table_args__ = (
        Index("ix_assets_by_name", "name", "id"),
        Index("ix_assets_by_status", "status", "id"),
        Index("ix_assets_by_category", "category_id", "id"),
        Index("ix_assets_by_location", "location_id", "id"),
        Index("ix_assets_by_custodian", "custodian_id", "id"),
        Index("ix_assets_by_acquired", "acquired_on", "id"),
        Index("ix_assets_by_price", "price", "id"),
        Index("ix_assets_name_search", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}),
    )


class AssetEvent(Base):
    """One line of an asset's history: who, when, where, why."""

    __tablename__ = "asset_events"
    id: Mapped[intpk]
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"))
    type: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime]  # when it happened (kiosk clock for kiosk events)
    recorded_at: Mapped[created]
    actor: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(60))  # web, api, cli, kiosk:<id>
    kiosk: Mapped[str | None] = mapped_column(String(32))
    seq: Mapped[int | None] = mapped_column(BigInteger)
    kiosk_event_id: Mapped[str | None] = mapped_column(String(36))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    from_location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    to_location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    custodian_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    applied: Mapped[bool] = mapped_column(Boolean, default=True)  # False: history only (arrived late)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    asset: Mapped[Asset] = relationship(back_populates="events")
    from_location: Mapped[Location | None] = relationship(foreign_keys=[from_location_id], lazy="joined")
    to_location: Mapped[Location | None] = relationship(foreign_keys=[to_location_id], lazy="joined")

    __table_args__ = (Index("ix_asset_events_order", "asset_id", "at", "kiosk", "seq"),)


class ProcurementMethod(enum.StrEnum):
    ONLINE_INQUIRY = "online_inquiry"
    SELF_PURCHASE = "self_purchase"
    FRAMEWORK_AGREEMENT = "framework_agreement"
    PUBLIC_TENDER = "public_tender"
    OTHER = "other"


class PlanLine(Base):
    """One line of an approved procurement plan. What was used of it is never stored here:
    it is always summed from the purchase lines that point at it."""

    __tablename__ = "plan_lines"
    id: Mapped[intpk]
    ref: Mapped[str] = mapped_column(String(40), unique=True)  # e.g. 2026-IT-01, from the approved plan
    budget_year: Mapped[int] = mapped_column(Integer, index=True)
    department: Mapped[str] = mapped_column(String(100))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    approved_qty: Mapped[int] = mapped_column(Integer)
    unit_price_cap: Mapped[money]
    approved_amount: Mapped[money]
    method: Mapped[str] = mapped_column(String(30))
    approval_ref: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[created]

    category: Mapped[Category] = relationship(lazy="joined")


class Purchase(Base):
    __tablename__ = "purchases"
    id: Mapped[intpk]
    supplier: Mapped[str] = mapped_column(String(200))
    purchased_on: Mapped[date] = mapped_column(index=True)
    method: Mapped[str] = mapped_column(String(30))
    reference: Mapped[str] = mapped_column(String(100))  # invoice or contract number
    # Approval reference of a recorded exception to the plan's required method, if any.
    method_exception_ref: Mapped[str | None] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[created]

    lines: Mapped[list[PurchaseLine]] = relationship(back_populates="purchase", order_by="PurchaseLine.id")


class PurchaseLine(Base):
    __tablename__ = "purchase_lines"
    id: Mapped[intpk]
    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchases.id"), index=True)
    plan_line_id: Mapped[int] = mapped_column(ForeignKey("plan_lines.id"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    description: Mapped[str] = mapped_column(String(200), default="")
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[money]
    amount: Mapped[money]  # quantity x unit_price of this line, as invoiced (not a running total)

    purchase: Mapped[Purchase] = relationship(back_populates="lines")
    plan_line: Mapped[PlanLine] = relationship(lazy="joined")
    category: Mapped[Category] = relationship(lazy="joined")


class Intake(Base):
    """One receipt of (part of) a purchase line; its request key makes a retry harmless."""

    __tablename__ = "intakes"
    id: Mapped[intpk]
    request_key: Mapped[str] = mapped_column(String(64), unique=True)
    purchase_line_id: Mapped[int] = mapped_column(ForeignKey("purchase_lines.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    received_on: Mapped[date]
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[created]


class User(Base):
    __tablename__ = "users"
    id: Mapped[intpk]
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str | None] = mapped_column(String(8))  # None: follow the browser
    created_at: Mapped[created]


class ApiToken(Base):
    """Bearer tokens; only a SHA-256 of the secret is kept."""

    __tablename__ = "api_tokens"
    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[created]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


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
    """Every accepted kiosk event, once: its id is the idempotency key."""

    __tablename__ = "kiosk_events"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kiosk: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(BigInteger)
    boot: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime]
    received_at: Mapped[created]
    synced: Mapped[bool] = mapped_column(Boolean)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)  # unsynced, skew, late, conflict...

    __table_args__ = (Index("ix_kiosk_events_kiosk_seq", "kiosk", "seq"),)


class RejectedMessage(Base):
    """What the consumer refused, with the reason and a bounded copy of the bytes."""

    __tablename__ = "rejected_messages"
    id: Mapped[intpk]
    received_at: Mapped[created]
    topic: Mapped[str] = mapped_column(String(255))
    kiosk: Mapped[str | None] = mapped_column(String(32))
    event_id: Mapped[str | None] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(String(40), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    size: Mapped[int] = mapped_column(Integer)
    raw: Mapped[str] = mapped_column(Text, default="")


class AuditEntry(Base):
    """Append-only, hash-chained: each row's hash covers its content and the previous hash."""

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
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    __table_args__ = (UniqueConstraint("prev_hash", name="uq_audit_prev_hash"),)
