"""The storeroom: supplies, requisitions and stocktakes."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.approvals import Approval
from server.models.assets import Person
from server.models.base import Base, code_str, created, intpk, name_str


class MovementKind(enum.StrEnum):
    RECEIPT = "receipt"
    PICKUP = "pickup"
    RETURN = "return"
    ADJUSTMENT = "adjustment"
    STOCKTAKE = "stocktake"  # a stocktake difference
    REVERSAL = "reversal"  # a receipt entered by mistake, taken back out (冲销)


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
    Rows are never changed; a mistake is corrected by an adjustment with its reason, or a receipt
    entered by mistake by its reversal (a line of its own pointing at it)."""

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
    # The audit row that describes this row (server.audit.ledger): it must be there and say the same.
    audit_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    # Receipts: the purchase line (of a supply category) the stock came from, and its unit price,
    # the cost FIFO values later pickups at.
    purchase_line_id: Mapped[int | None] = mapped_column(ForeignKey("purchase_lines.id"), index=True)
    unit_cost: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    stocktake_id: Mapped[int | None] = mapped_column(ForeignKey("stocktakes.id"))  # a stocktake difference
    request_key: Mapped[str | None] = mapped_column(String(64), unique=True)  # a receipt form sent twice
    # A reversal: the receipt it takes back (unique: a receipt is reversed once, even by two at a time).
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("supply_movements.id"), unique=True)

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
    # The admin's sign-off of the closed report (once): who, when, and what they noted.
    signed_off_by: Mapped[str | None] = mapped_column(String(100))
    signed_off_at: Mapped[datetime | None]
    sign_off_note: Mapped[str] = mapped_column(Text, default="", server_default="")


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
    # The audit row that describes this row (server.audit.ledger): it must be there and say the same.
    audit_hash: Mapped[str | None] = mapped_column(String(64), index=True)

    __table_args__ = (
        Index("ix_stocktake_scans_asset", "stocktake_id", "asset_id", "id"),
        Index("ix_stocktake_scans_code", "stocktake_id", "code"),
    )


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
    # A loss without an approval reference asks through the approval chain (kind "stocktake_loss").
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("approvals.id"))

    __table_args__ = (UniqueConstraint("stocktake_id", "code", name="uq_stocktake_resolution"),)


class StocktakeSupplyCount(Base):
    """A supply item counted on the shelf during a stocktake, with the ledger's stock at that moment.
    A recount is a new row; the newest counts. At closing the difference becomes a ``stocktake``
    movement; movements after the count are real and stay as they are."""

    __tablename__ = "stocktake_supply_counts"
    id: Mapped[intpk]
    stocktake_id: Mapped[int] = mapped_column(ForeignKey("stocktakes.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("supply_items.id"))
    counted: Mapped[int] = mapped_column(Integer)
    expected: Mapped[int] = mapped_column(Integer)  # the ledger's stock when it was counted
    at: Mapped[created]
    actor: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(60))
    audit_hash: Mapped[str | None] = mapped_column(String(64), index=True)  # the audit row that describes it

    item: Mapped[SupplyItem] = relationship(lazy="joined")
    __table_args__ = (Index("ix_stocktake_supply_counts_item", "stocktake_id", "item_id", "id"),)


class SupplyConflictResolution(Base):
    """How the storekeeper or admin settled one conflicting offline pickup: accepted as it stands
    (with a note), or corrected by an adjustment (a ledger line of its own)."""

    __tablename__ = "supply_conflict_resolutions"
    id: Mapped[intpk]
    movement_id: Mapped[int] = mapped_column(ForeignKey("supply_movements.id"), unique=True)
    action: Mapped[str] = mapped_column(String(20))  # accept | adjust
    note: Mapped[str] = mapped_column(Text)
    adjustment_id: Mapped[int | None] = mapped_column(ForeignKey("supply_movements.id"))
    decided_by: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[created]
    audit_hash: Mapped[str | None] = mapped_column(String(64), index=True)  # the audit row that describes it


class SupplyReorderRequest(Base):
    """A reorder that became a purchase request (申购), so the reorder list shows it and it is not asked twice."""

    __tablename__ = "supply_reorder_requests"
    id: Mapped[intpk]
    item_id: Mapped[int] = mapped_column(ForeignKey("supply_items.id"), index=True)
    purchase_request_id: Mapped[int] = mapped_column(ForeignKey("purchase_requests.id"), unique=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("supply_alerts.id"))
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[created]
    audit_hash: Mapped[str | None] = mapped_column(String(64), index=True)  # the audit row that describes it
