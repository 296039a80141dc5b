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
    Float,
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
    RETIRED = "retired"  # made by an intake that was reversed: never in use, its code never reused


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
    email: Mapped[str | None] = mapped_column(String(200))  # where a host is told of a visitor's arrival
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


class PlanLineAmendment(Base):
    """An approved change to a plan line: the values before and after, kept for good. The line itself
    carries the newest values (what every rule checks against)."""

    __tablename__ = "plan_line_amendments"
    id: Mapped[intpk]
    plan_line_id: Mapped[int] = mapped_column(ForeignKey("plan_lines.id"), index=True)
    old_qty: Mapped[int] = mapped_column(Integer)
    old_amount: Mapped[money]
    new_qty: Mapped[int] = mapped_column(Integer)
    new_amount: Mapped[money]
    approval_ref: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[created]


class Purchase(Base):
    __tablename__ = "purchases"
    id: Mapped[intpk]
    supplier: Mapped[str] = mapped_column(String(200))
    purchased_on: Mapped[date] = mapped_column(index=True)
    method: Mapped[str] = mapped_column(String(30))
    reference: Mapped[str] = mapped_column(String(100))  # invoice or contract number
    # Approval reference of a recorded exception to the plan's required method, if any.
    method_exception_ref: Mapped[str | None] = mapped_column(String(100))
    # A donation or free transfer-in (the only purchases whose lines may have a unit price of 0), and its approval.
    free_kind: Mapped[str | None] = mapped_column(String(20))
    free_approval_ref: Mapped[str | None] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[created]
    # A voided purchase stays, with why and on whose approval; it no longer counts against the plan.
    voided_at: Mapped[datetime | None]
    void_reason: Mapped[str | None] = mapped_column(Text)
    void_approval_ref: Mapped[str | None] = mapped_column(String(100))
    voided_by: Mapped[str | None] = mapped_column(String(100))

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
    # A reversed intake stays, its assets retired: why, by whom, when.
    reversed_at: Mapped[datetime | None]
    reverse_reason: Mapped[str | None] = mapped_column(Text)
    reversed_by: Mapped[str | None] = mapped_column(String(100))


class User(Base):
    __tablename__ = "users"
    id: Mapped[intpk]
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str | None] = mapped_column(String(8))  # None: follow the browser
    department: Mapped[str] = mapped_column(String(100), default="")
    # Flask's session cookie lives in the browser, so signing out cannot delete it: a cookie is
    # honoured only while it carries the user's current epoch, which sign-out, disabling, a
    # password reset and a role change move on (server.auth).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[created]


class SignInFailure(Base):
    """A failed sign-in, counted to hold an account or address that keeps guessing (services/signin)."""

    __tablename__ = "sign_in_failures"
    id: Mapped[intpk]
    username: Mapped[str] = mapped_column(String(80), index=True)
    address: Mapped[str] = mapped_column(String(45), index=True)
    at: Mapped[datetime] = mapped_column(index=True)


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
    expires_at: Mapped[datetime | None]  # None: until revoked


class IdempotencyKey(Base):
    """A POST's ``Idempotency-Key``, per caller: the first answer (2xx only) is replayed to a retry.

    The row is made before the request runs, in a transaction of its own, so a second request
    with the same key while the first is in flight finds it (and is refused) instead of running
    again; ``status`` stays NULL until the answer is stored (server/api/idempotency.py).
    """

    __tablename__ = "idempotency_keys"
    id: Mapped[intpk]
    actor: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(255))
    request: Mapped[str] = mapped_column(String(300))  # method and path
    request_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the query string and body
    status: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[str | None] = mapped_column(Text)  # the JSON answer as sent
    created_at: Mapped[datetime] = mapped_column(index=True)

    __table_args__ = (UniqueConstraint("actor", "key", name="uq_idempotency_actor_key"),)


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


class Department(Base):
    """A department as the admin keeps it: its staff count (for per-head figures)."""

    __tablename__ = "departments"
    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(100), unique=True)
    staff_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[created]
    updated_at: Mapped[created]


class ApprovalLevel(enum.StrEnum):
    LEADER = "leader"  # 分管领导, the leader in charge of the department
    PRINCIPAL = "principal"  # 主要领导, above the office's threshold


class ApprovalState(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class ApproverGrant(Base):
    """A user may approve at one level, for one department or (department "") for all."""

    __tablename__ = "approver_grants"
    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    level: Mapped[str] = mapped_column(String(20))
    department: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[created]

    user: Mapped[User] = relationship(lazy="joined")
    __table_args__ = (UniqueConstraint("user_id", "level", "department", name="uq_approver_grant"),)


class Approval(Base):
    """The approval chain of one request (a purchase request, a requisition, a booking...): the levels
    it needs, in order, where it stands, and what was approved. Decisions are rows of their own."""

    __tablename__ = "approvals"
    id: Mapped[intpk]
    kind: Mapped[str] = mapped_column(String(30))
    department: Mapped[str] = mapped_column(String(100), index=True)
    requester: Mapped[str] = mapped_column(String(100), index=True)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    quantity: Mapped[int | None] = mapped_column(Integer)  # what was asked for
    approved_quantity: Mapped[int | None] = mapped_column(Integer)  # after partial approvals
    levels: Mapped[str] = mapped_column(String(60))  # comma-separated ApprovalLevel values, in order
    step: Mapped[int] = mapped_column(Integer, default=0)  # index into levels of the next decision
    state: Mapped[str] = mapped_column(String(20), default=ApprovalState.PENDING.value, index=True)
    created_at: Mapped[created]
    decided_at: Mapped[datetime | None]

    decisions: Mapped[list[ApprovalDecision]] = relationship(
        back_populates="approval", order_by="ApprovalDecision.id", lazy="selectin")

    @property
    def level_list(self) -> list[str]:
        return self.levels.split(",") if self.levels else []

    @property
    def current_level(self) -> str | None:
        levels = self.level_list
        return levels[self.step] if self.state == ApprovalState.PENDING and self.step < len(levels) else None


class ApprovalDecision(Base):
    __tablename__ = "approval_decisions"
    id: Mapped[intpk]
    approval_id: Mapped[int] = mapped_column(ForeignKey("approvals.id"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(20))
    decided_by: Mapped[str] = mapped_column(String(100))
    decision: Mapped[str] = mapped_column(String(20))  # approve, reject
    quantity: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[created]

    approval: Mapped[Approval] = relationship(back_populates="decisions")


class PurchaseRequest(Base):
    """申购: a department asks for equipment or supplies before anything is bought."""

    __tablename__ = "purchase_requests"
    id: Mapped[intpk]
    department: Mapped[str] = mapped_column(String(100), index=True)
    requester: Mapped[str] = mapped_column(String(100))
    item: Mapped[str] = mapped_column(String(200))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    estimated_unit_price: Mapped[money]
    reason: Mapped[str] = mapped_column(Text)
    replaces_asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id"))
    approval_id: Mapped[int] = mapped_column(ForeignKey("approvals.id"), unique=True)
    plan_line_id: Mapped[int | None] = mapped_column(ForeignKey("plan_lines.id"))
    purchase_id: Mapped[int | None] = mapped_column(ForeignKey("purchases.id"))
    created_at: Mapped[created]

    category: Mapped[Category] = relationship(lazy="joined")
    approval: Mapped[Approval] = relationship(lazy="joined")
    replaces: Mapped[Asset | None] = relationship(lazy="joined")
    plan_line: Mapped[PlanLine | None] = relationship(lazy="joined")
class ServiceHeartbeat(Base):
    """A long-running service's sign of life, overwritten in place (operational state, not ledger).

    The consumer's writer updates its row every ``interval_s`` while the consumer is connected to
    the broker; ``services.health`` calls the service down when the last beat is too old.
    """

    __tablename__ = "service_heartbeats"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)  # e.g. "consumer/<mqtt client id>"
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    last_beat: Mapped[datetime]
    interval_s: Mapped[float] = mapped_column(Float)
class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Job(Base):
    """A long piece of work (a big label PDF, a big plan import) run by a process of its own.

    The process writes its progress here; pages and the API read it. The result file lives in the
    instance folder (``jobs/``), named in ``result_file``. Not part of the ledger: what a job changes
    is audited by the services it calls.
    """

    __tablename__ = "jobs"
    id: Mapped[intpk]
    kind: Mapped[str] = mapped_column(String(30))  # labels, plan_check, plan_import
    state: Mapped[str] = mapped_column(String(10), default=JobState.QUEUED.value, index=True)
    owner: Mapped[str] = mapped_column(String(100))  # the actor who started it (only they and admins see it)
    source: Mapped[str] = mapped_column(String(60))
    role: Mapped[str] = mapped_column(String(20))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # a summary: counts, rows refused
    result_file: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # code, template, params, message
    pid: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[created]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]


# --- the gate (issue 12; docs/gate.md) ---
# Columns ending in ``_enc`` hold Fernet tokens (server.personal), never clear text; ``*_index``
# columns hold blind indexes of their normal forms. The retention purge empties both.


class PassStatus(enum.StrEnum):
    VALID = "valid"
    PENDING_APPROVAL = "pending_approval"
    REJECTED = "rejected"  # its approval was refused
    REVOKED = "revoked"


class SignoutKind(enum.StrEnum):
    SIGNOUT = "signout"  # scanned at a gate, or at the desk
    AUTOMATIC = "automatic"  # at the configured hour; never a normal sign-out


class VisitorPass(Base):
    """A V- pass: who may come, to see whom, for what, and when (its validity window)."""

    __tablename__ = "visitor_passes"
    id: Mapped[intpk]
    code: Mapped[code_str]
    kind: Mapped[str] = mapped_column(String(20))  # preregistered | walk_in
    status: Mapped[str] = mapped_column(String(20), default=PassStatus.VALID.value, index=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(200), default="")
    valid_from: Mapped[datetime] = mapped_column(index=True)
    valid_until: Mapped[datetime] = mapped_column(index=True)
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("approvals.id"), unique=True)
    name_enc: Mapped[str | None] = mapped_column(Text)
    organisation_enc: Mapped[str | None] = mapped_column(Text)
    id_last4_enc: Mapped[str | None] = mapped_column(Text)
    plate_enc: Mapped[str | None] = mapped_column(Text)
    name_index: Mapped[str | None] = mapped_column(String(40), index=True)
    plate_index: Mapped[str | None] = mapped_column(String(40), index=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[created]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(100))
    revoke_reason: Mapped[str] = mapped_column(Text, default="")
    purged_at: Mapped[datetime | None]  # personal fields removed by the retention purge

    host: Mapped[Person] = relationship(lazy="joined")
    approval: Mapped[Approval | None] = relationship(lazy="joined")


class Visit(Base):
    """One stay on site: signed in with a pass, signed out (or automatically, or not yet)."""

    __tablename__ = "visits"
    id: Mapped[intpk]
    pass_id: Mapped[int] = mapped_column(ForeignKey("visitor_passes.id"), index=True)
    signed_in_at: Mapped[datetime] = mapped_column(index=True)
    recorded_at: Mapped[created]  # when the server learned of the sign-in
    in_source: Mapped[str] = mapped_column(String(60))  # web, api, kiosk:<id>
    in_actor: Mapped[str] = mapped_column(String(100))
    in_event_id: Mapped[str | None] = mapped_column(String(36))
    plate_enc: Mapped[str | None] = mapped_column(Text)
    plate_index: Mapped[str | None] = mapped_column(String(40), index=True)
    # None while on site: the on-site list is "signed_out_at IS NULL", through this index.
    signed_out_at: Mapped[datetime | None] = mapped_column(index=True)
    out_kind: Mapped[str | None] = mapped_column(String(20))
    out_source: Mapped[str | None] = mapped_column(String(60))
    out_event_id: Mapped[str | None] = mapped_column(String(36))
    conflict: Mapped[bool] = mapped_column(Boolean, default=False)  # a second sign-in made offline
    purged_at: Mapped[datetime | None]

    visitor_pass: Mapped[VisitorPass] = relationship(lazy="joined")


class WatchlistEntry(Base):
    """A person (name and aliases) or a plate to watch for at the gate."""

    __tablename__ = "watchlist_entries"
    id: Mapped[intpk]
    kind: Mapped[str] = mapped_column(String(10))  # person | plate
    label_enc: Mapped[str] = mapped_column(Text)  # the name or plate as entered
    aliases_enc: Mapped[str | None] = mapped_column(Text)  # JSON list of other names
    note_enc: Mapped[str | None] = mapped_column(Text)  # why, and what the guard should do
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[created]
    removed_at: Mapped[datetime | None]
    removed_by: Mapped[str | None] = mapped_column(String(100))


class WatchlistKey(Base):
    """One blind index of an entry's normal forms (name, each alias, or plate)."""

    __tablename__ = "watchlist_keys"
    id: Mapped[intpk]
    entry_id: Mapped[int] = mapped_column(ForeignKey("watchlist_entries.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # name | plate
    value_index: Mapped[str] = mapped_column(String(40), index=True)


class ExitPermit(Base):
    """物品放行条: assets allowed out through the gate, by whom, why, until when; a loan comes back."""

    __tablename__ = "exit_permits"
    id: Mapped[intpk]
    reason: Mapped[str] = mapped_column(Text)
    carrier: Mapped[str] = mapped_column(String(200))
    valid_until: Mapped[datetime] = mapped_column(index=True)
    loan: Mapped[bool] = mapped_column(Boolean, default=False)
    expected_return: Mapped[date | None]
    issued_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[created]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(100))

    items: Mapped[list[ExitPermitAsset]] = relationship(back_populates="permit", order_by="ExitPermitAsset.id",
                                                         lazy="selectin")


class ExitPermitAsset(Base):
    __tablename__ = "exit_permit_assets"
    id: Mapped[intpk]
    permit_id: Mapped[int] = mapped_column(ForeignKey("exit_permits.id"), index=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    exited_at: Mapped[datetime | None]
    exit_source: Mapped[str | None] = mapped_column(String(60))
    returned_at: Mapped[datetime | None]
    return_source: Mapped[str | None] = mapped_column(String(60))

    permit: Mapped[ExitPermit] = relationship(back_populates="items")
    asset: Mapped[Asset] = relationship(lazy="joined")
    __table_args__ = (UniqueConstraint("permit_id", "asset_id", name="uq_exit_permit_asset"),)


class GateAlert(Base):
    """Something at the gate an admin should see: a watchlist hit, a refused exit, a pass signed in twice."""

    __tablename__ = "gate_alerts"
    id: Mapped[intpk]
    kind: Mapped[str] = mapped_column(String(30), index=True)  # watchlist_hit | refused_exit | pass_conflict
    at: Mapped[datetime] = mapped_column(index=True)
    recorded_at: Mapped[created]
    source: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(32))  # the pass or asset code; never a name
    detail: Mapped[str] = mapped_column(Text, default="")
    resolved_at: Mapped[datetime | None] = mapped_column(index=True)
    resolved_by: Mapped[str | None] = mapped_column(String(100))


class Notification(Base):
    """A message waiting to go out (email or webhook): the outbox that keeps sign-in from waiting on it."""

    __tablename__ = "notifications"
    id: Mapped[intpk]
    channel: Mapped[str] = mapped_column(String(10))  # email | webhook
    kind: Mapped[str] = mapped_column(String(40))  # visitor.arrived | watchlist.hit
    recipient: Mapped[str] = mapped_column(String(500))
    body_enc: Mapped[str | None] = mapped_column(Text)  # JSON, encrypted: it may name the visitor
    created_at: Mapped[created]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)  # None: done (sent or given up)
    sent_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
class MovementKind(enum.StrEnum):
    RECEIPT = "receipt"
    PICKUP = "pickup"
    RETURN = "return"
    ADJUSTMENT = "adjustment"
    STOCKTAKE = "stocktake"  # a stocktake difference


class SupplyItem(Base):
    """An office supply kept in the storeroom (S- code). Its stock is never stored: it is the sum of
    its movements (``supply_movements``), so no number can drift or be edited without a trace."""

    __tablename__ = "supply_items"
    id: Mapped[intpk]
    code: Mapped[code_str]
    name: Mapped[name_str]
    unit: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(100), default="")
    location: Mapped[str] = mapped_column(String(100), default="")  # storeroom shelf/bin
    reorder_level: Mapped[int] = mapped_column(Integer, default=0)
    reorder_quantity: Mapped[int] = mapped_column(Integer, default=0)
    valuable: Mapped[bool] = mapped_column(Boolean, default=False)  # 贵重: always needs a requisition
    # Everyday use: the most one pickup may take without a requisition (None: no limit).
    everyday_max: Mapped[int | None] = mapped_column(Integer)
    unit_price: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))  # values a requisition for its approval
    created_at: Mapped[created]


class SupplyMovement(Base):
    """One line of a supply's ledger: signed quantity (receipts and returns add, pickups take).
    Rows are never changed; a mistake is corrected by an adjustment with its reason."""

    __tablename__ = "supply_movements"
    id: Mapped[intpk]
    item_id: Mapped[int] = mapped_column(ForeignKey("supply_items.id"))
    kind: Mapped[str] = mapped_column(String(20))
    quantity: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]  # when it happened (kiosk clock for kiosk pickups)
    recorded_at: Mapped[created]
    actor: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(60))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    department: Mapped[str] = mapped_column(String(100), default="")
    purpose: Mapped[str] = mapped_column(Text, default="")  # pickups: what for; adjustments: the reason
    kiosk_event_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    # An offline pickup that took stock below zero: stored (nothing is lost), flagged for the storekeeper.
    conflict: Mapped[bool] = mapped_column(Boolean, default=False)
    requisition_id: Mapped[int | None] = mapped_column(ForeignKey("requisitions.id"), index=True)

    item: Mapped[SupplyItem] = relationship(lazy="joined")
    person: Mapped[Person | None] = relationship(lazy="joined")

    # (item, id, quantity): the stock sum and the newest-first ledger page both read this index alone.
    __table_args__ = (Index("ix_supply_movements_item", "item_id", "id", "quantity"),)


class Requisition(Base):
    """领用申请: a department asks for supplies beyond everyday use (or any valuable item); its
    approval chain (``approvals``, kind "requisition") decides how many; pickups then fulfil it."""

    __tablename__ = "requisitions"
    id: Mapped[intpk]
    item_id: Mapped[int] = mapped_column(ForeignKey("supply_items.id"), index=True)
    department: Mapped[str] = mapped_column(String(100), index=True)
    requester: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(Text)
    approval_id: Mapped[int] = mapped_column(ForeignKey("approvals.id"), unique=True)
    created_at: Mapped[created]

    item: Mapped[SupplyItem] = relationship(lazy="joined")
    approval: Mapped[Approval] = relationship(lazy="joined")


class SupplyAlert(Base):
    """A reorder notification: raised when a movement takes stock from above the reorder level to
    at or under it (once per crossing), cleared when stock rises above the level again."""

    __tablename__ = "supply_alerts"
    id: Mapped[intpk]
    item_id: Mapped[int] = mapped_column(ForeignKey("supply_items.id"), index=True)
    stock: Mapped[int] = mapped_column(Integer)  # right after the crossing
    raised_at: Mapped[created]
    cleared_at: Mapped[datetime | None]

    item: Mapped[SupplyItem] = relationship(lazy="joined")


class Stocktake(Base):
    """盘点: a count of the assets of a scope against the set expected there, frozen at opening."""

    __tablename__ = "stocktakes"
    id: Mapped[intpk]
    scope: Mapped[str] = mapped_column(String(20))  # office | department | locations
    department: Mapped[str] = mapped_column(String(100), default="")
    location_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(20), default="open", index=True)  # open | closed
    opened_by: Mapped[str] = mapped_column(String(100))
    opened_at: Mapped[created]
    closed_by: Mapped[str | None] = mapped_column(String(100))
    closed_at: Mapped[datetime | None]
    forced: Mapped[bool] = mapped_column(Boolean, default=False)  # closed with unresolved lines, said explicitly
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # counts per class, locked at closing


class StocktakeExpected(Base):
    """One asset of the frozen expected set, with where its record put it at opening."""

    __tablename__ = "stocktake_expected"
    stocktake_id: Mapped[int] = mapped_column(ForeignKey("stocktakes.id"), primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), primary_key=True)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))


class StocktakeScan(Base):
    """One sighting: a code seen at a location. Duplicates are harmless (the newest counts)."""

    __tablename__ = "stocktake_scans"
    id: Mapped[intpk]
    stocktake_id: Mapped[int] = mapped_column(ForeignKey("stocktakes.id"))
    code: Mapped[str] = mapped_column(String(64))
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id"))  # None: unknown code
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(60))  # web, csv, api, kiosk:<id>
    kiosk_event_id: Mapped[str | None] = mapped_column(String(36), unique=True)

    __table_args__ = (Index("ix_stocktake_scans_asset", "stocktake_id", "asset_id", "id"),
                      Index("ix_stocktake_scans_code", "stocktake_id", "code"))


class StocktakeResolution(Base):
    """How one discrepancy is resolved: move, lost, correct or ignore; applied when the stocktake closes."""

    __tablename__ = "stocktake_resolutions"
    id: Mapped[intpk]
    stocktake_id: Mapped[int] = mapped_column(ForeignKey("stocktakes.id"))
    code: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(20))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    approval_ref: Mapped[str] = mapped_column(String(100), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[created]
    applied: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (UniqueConstraint("stocktake_id", "code", name="uq_stocktake_resolution"),)
