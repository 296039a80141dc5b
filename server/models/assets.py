"""Assets, their codes, categories, locations, people and life events."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.base import Base, code_str, created, intpk, name_str


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
    # A category of office supplies (办公用品): its purchase lines are received into the storeroom's
    # stock (services/supply_receipts), never made into assets by an intake.
    supplies: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    vehicle: Mapped[bool] = mapped_column(Boolean, default=False)  # its assets may join the fleet (issue 14)


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
        ForeignKey("purchase_lines.id", name="fk_assets_purchase_line_id"), index=True
    )
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
    # The audit row that describes this row (server.audit.ledger): it must be there and say the same.
    audit_hash: Mapped[str | None] = mapped_column(String(64), index=True)

    asset: Mapped[Asset] = relationship(back_populates="events")
    from_location: Mapped[Location | None] = relationship(foreign_keys=[from_location_id], lazy="joined")
    to_location: Mapped[Location | None] = relationship(foreign_keys=[to_location_id], lazy="joined")

    __table_args__ = (Index("ix_asset_events_order", "asset_id", "at", "kiosk", "seq"),)
