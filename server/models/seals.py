"""Seals (印章): the register, each seal's imprints and life-cycle changes, use requests and the uses
recorded against them (用印登记), and take-outs (外带).

A seal carries an A- code (issued like an asset's, never reused) so that its QR label can be scanned
at the storeroom kiosk for a take-out and its return; it is not an asset row of its own.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.approvals import Approval
from server.models.assets import Person
from server.models.base import Base, code_str, created, intpk, name_str


class SealKind(enum.StrEnum):
    OFFICIAL = "official"  # 公章
    CONTRACT = "contract"  # 合同专用章
    FINANCE = "finance"  # 财务专用章
    DEPARTMENT = "department"  # 部门章


class SealStatus(enum.StrEnum):
    MADE = "made"  # 刻制
    IN_USE = "in_use"  # 启用
    SUSPENDED = "suspended"  # 停用
    RECALLED = "recalled"  # 收缴
    DESTROYED = "destroyed"  # 销毁


class Seal(Base):
    __tablename__ = "seals"
    id: Mapped[intpk]
    code: Mapped[code_str]
    name: Mapped[name_str]
    kind: Mapped[str] = mapped_column(String(20))
    department: Mapped[str] = mapped_column(String(100), default="")  # whose seal it is
    custodian_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    status: Mapped[str] = mapped_column(String(20), default=SealStatus.MADE.value, index=True)
    made_on: Mapped[date | None]
    note: Mapped[str] = mapped_column(Text, default="")
    # The seal this one was re-made (重新刻制) to replace, after a loss or a recall: each is replaced once.
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("seals.id"), unique=True)
    created_at: Mapped[created]
    updated_at: Mapped[created]

    custodian: Mapped[Person] = relationship(lazy="joined")


class SealEvent(Base):
    """One change of a seal (registered, a life-cycle step, a new custodian or imprint): never changed."""

    __tablename__ = "seal_events"
    id: Mapped[intpk]
    seal_id: Mapped[int] = mapped_column(ForeignKey("seals.id"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    approval_ref: Mapped[str] = mapped_column(String(100), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(60))
    at: Mapped[created]
    audit_hash: Mapped[str | None] = mapped_column(String(64), index=True)  # the audit row that describes it


class SealImprint(Base):
    """An imprint image (印模), re-encoded as PNG on upload; the newest is the seal's current one, older
    ones stay (a re-made seal's old imprint is still what old documents carry)."""

    __tablename__ = "seal_imprints"
    id: Mapped[intpk]
    seal_id: Mapped[int] = mapped_column(ForeignKey("seals.id"), index=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[created]
    audit_hash: Mapped[str | None] = mapped_column(String(64), index=True)  # the audit row that describes it


class SealUseRequest(Base):
    """用印申请: a document to stamp, approved through the shared chain (kind "seal_use")."""

    __tablename__ = "seal_use_requests"
    id: Mapped[intpk]
    seal_id: Mapped[int] = mapped_column(ForeignKey("seals.id"), index=True)
    department: Mapped[str] = mapped_column(String(100), index=True)
    requester: Mapped[str] = mapped_column(String(100))
    document_title: Mapped[str] = mapped_column(String(300))
    copies: Mapped[int] = mapped_column(Integer)
    recipient: Mapped[str] = mapped_column(String(200))  # the organisation the document goes to
    purpose: Mapped[str] = mapped_column(Text)
    approval_id: Mapped[int] = mapped_column(ForeignKey("approvals.id"), unique=True)
    created_at: Mapped[created]

    seal: Mapped[Seal] = relationship(lazy="joined")
    approval: Mapped[Approval] = relationship(lazy="joined")


class SealUse(Base):
    """用印登记: who stamped which request's document, when, and how many copies. Never changed."""

    __tablename__ = "seal_uses"
    id: Mapped[intpk]
    request_id: Mapped[int] = mapped_column(ForeignKey("seal_use_requests.id"), index=True)
    seal_id: Mapped[int] = mapped_column(ForeignKey("seals.id"))
    copies: Mapped[int] = mapped_column(Integer)
    stamped_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    at: Mapped[datetime]  # when it was stamped
    recorded_by: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(60))
    recorded_at: Mapped[created]
    note: Mapped[str] = mapped_column(Text, default="")
    audit_hash: Mapped[str | None] = mapped_column(String(64), index=True)  # the audit row that describes it

    request: Mapped[SealUseRequest] = relationship(lazy="joined")
    stamped_by: Mapped[Person] = relationship(lazy="joined")

    # The register: a seal's uses in time order, and a period across seals.
    __table_args__ = (Index("ix_seal_uses_seal_at", "seal_id", "at"), Index("ix_seal_uses_at", "at"))


class SealTakeout(Base):
    """外带: a seal taken out of the office by its carrier, approved (kind "seal_takeout"), with a due
    time; out and back are scanned at the storeroom kiosk (asset.checkout / asset.checkin) or recorded
    on the web. One approved request is one trip."""

    __tablename__ = "seal_takeouts"
    id: Mapped[intpk]
    seal_id: Mapped[int] = mapped_column(ForeignKey("seals.id"), index=True)
    department: Mapped[str] = mapped_column(String(100))
    requester: Mapped[str] = mapped_column(String(100))
    carrier_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    purpose: Mapped[str] = mapped_column(Text)
    destination: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime] = mapped_column(index=True)
    approval_id: Mapped[int] = mapped_column(ForeignKey("approvals.id"), unique=True)
    created_at: Mapped[created]
    out_at: Mapped[datetime | None]
    out_by: Mapped[str | None] = mapped_column(String(100))
    out_source: Mapped[str | None] = mapped_column(String(60))
    returned_at: Mapped[datetime | None]
    returned_by: Mapped[str | None] = mapped_column(String(100))
    return_source: Mapped[str | None] = mapped_column(String(60))

    seal: Mapped[Seal] = relationship(lazy="joined")
    carrier: Mapped[Person] = relationship(lazy="joined")
    approval: Mapped[Approval] = relationship(lazy="joined")
