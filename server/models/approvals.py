"""Departments and the approval chain every request kind shares."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.access import User
from server.models.base import Base, created, intpk


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
    ARCHIVE_MANAGER = "archive_manager"  # 档案室负责人: archive loans and destructions (services.archive_loans)


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
        back_populates="approval", order_by="ApprovalDecision.id", lazy="selectin"
    )

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
    # The audit row that describes this row (server.audit.ledger): it must be there and say the same.
    audit_hash: Mapped[str | None] = mapped_column(String(64), index=True)

    approval: Mapped[Approval] = relationship(back_populates="decisions")
