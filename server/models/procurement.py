"""Plans, purchases and intakes."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.approvals import Approval
from server.models.assets import Asset, Category
from server.models.base import Base, created, intpk, money


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
    # The audit row that describes this row (server.audit.ledger): it must be there and say the same.
    audit_hash: Mapped[str | None] = mapped_column(String(64), index=True)


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
    # The audit row that describes this row (server.audit.ledger): it must be there and say the same.
    audit_hash: Mapped[str | None] = mapped_column(String(64), index=True)

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
