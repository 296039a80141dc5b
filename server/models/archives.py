"""Archives (档案): classes, volumes and files, loans (借阅) and destruction lists (销毁清册).

A volume or file is an asset (its A- code, QR label, shelf and history are the asset's); the row
here adds what an archive needs. Loans and destructions each have their approval chain
(``approvals``, kinds "archive_loan" and "archive_destruction"). Nothing is deleted.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.approvals import Approval
from server.models.assets import Asset, Person
from server.models.base import Base, created, intpk


class ArchiveClass(Base):
    """A class of records (文书, 会计, 人事...): how long a loan may last, and whether its confidential
    volumes may only be read on site."""

    __tablename__ = "archive_classes"
    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    loan_days: Mapped[int] = mapped_column(Integer)
    on_site_only: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[created]
    updated_at: Mapped[created]


class ArchiveVolume(Base):
    """A volume (案卷) or a file (文件) of the archive: the asset with its class, year, retention and
    confidentiality level. ``retention_until`` is kept beside ``retention`` so that the lists of what
    is due for review or destruction read an index instead of computing every row."""

    __tablename__ = "archive_volumes"
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # volume | file
    reference: Mapped[str | None] = mapped_column(String(60), unique=True)  # 档号, the archive's own number
    class_id: Mapped[int] = mapped_column(ForeignKey("archive_classes.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)  # the year the records are of
    retention: Mapped[str] = mapped_column(String(12))  # permanent | 30y | 10y
    retention_until: Mapped[date | None] = mapped_column(Date, index=True)  # None: kept for good
    confidentiality: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("archive_volumes.asset_id"))  # a file's volume
    created_at: Mapped[created]

    asset: Mapped[Asset] = relationship(lazy="joined")
    archive_class: Mapped[ArchiveClass] = relationship(lazy="joined")


class ArchiveLoan(Base):
    """A loan request (借阅申请) and, once approved, the loan itself: lent and returned when scanned.
    A lending made at a kiosk while it was off line, without an approved request, is a loan without an
    approval (``approval_id`` None): it happened, so it is kept and flagged (``ArchiveConflict``)."""

    __tablename__ = "archive_loans"
    id: Mapped[intpk]
    asset_id: Mapped[int] = mapped_column(ForeignKey("archive_volumes.asset_id"), index=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    department: Mapped[str] = mapped_column(String(100), default="")  # the borrower's, when asked
    purpose: Mapped[str] = mapped_column(Text)
    on_site: Mapped[bool] = mapped_column(Boolean, default=False)  # read in the reading room only
    due_on: Mapped[date] = mapped_column(Date)
    requester: Mapped[str] = mapped_column(String(100))
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("approvals.id"), unique=True)
    lent_at: Mapped[datetime | None]
    lent_by: Mapped[str | None] = mapped_column(String(100))
    lent_source: Mapped[str | None] = mapped_column(String(60))
    due_at: Mapped[datetime | None]  # set when lent: the end of the due day
    returned_at: Mapped[datetime | None]
    returned_by: Mapped[str | None] = mapped_column(String(100))
    returned_source: Mapped[str | None] = mapped_column(String(60))
    reminded_at: Mapped[datetime | None]
    reminders: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[created]

    volume: Mapped[ArchiveVolume] = relationship(lazy="joined")
    borrower: Mapped[Person] = relationship(lazy="joined")
    approval: Mapped[Approval | None] = relationship(lazy="joined")

    # The open loans (lent, not back) by due time: the overdue list and the dashboard.
    __table_args__ = (Index("ix_archive_loans_open", "returned_at", "due_at"),)


class ArchiveConflict(Base):
    """A lending or return scanned at a kiosk while it was off line that broke a rule the kiosk could not
    check (no approved request, the volume out on another loan, a volume not out). It happened, so it is
    stored and flagged here for the archive manager, who settles it once with a note. The refusal's words
    are kept as a template and its values, to be shown in the reader's language."""

    __tablename__ = "archive_conflicts"
    id: Mapped[intpk]
    kind: Mapped[str] = mapped_column(String(10))  # lend | return
    reason: Mapped[str] = mapped_column(String(30))  # no_loan_request | volume_on_loan | not_on_loan
    message: Mapped[str] = mapped_column(Text)  # the refusal's English template (msgid)
    message_values: Mapped[dict[str, Any]] = mapped_column(default=dict)  # its values
    asset_id: Mapped[int] = mapped_column(ForeignKey("archive_volumes.asset_id"), index=True)
    borrower_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))  # a lending's borrower
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("archive_loans.id"))  # the loan it made or concerns
    kiosk: Mapped[str] = mapped_column(String(100))
    kiosk_event_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]  # when it happened (the kiosk's clock)
    recorded_at: Mapped[created]
    settled_at: Mapped[datetime | None]
    settled_by: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)

    volume: Mapped[ArchiveVolume] = relationship(lazy="joined")
    borrower: Mapped[Person | None] = relationship(lazy="joined")

    # The open ones (the manager's list, the dashboard's count).
    __table_args__ = (Index("ix_archive_conflicts_open", "settled_at", "id"),)


class ArchiveDestruction(Base):
    """A destruction list (销毁清册): the volumes past retention proposed for destruction, its approval,
    and once carried out who destroyed them, who witnessed it, how and when."""

    __tablename__ = "archive_destructions"
    id: Mapped[intpk]
    requester: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)  # the appraisal's grounds (鉴定意见)
    approval_id: Mapped[int] = mapped_column(ForeignKey("approvals.id"), unique=True)
    destroyed_at: Mapped[datetime | None]
    executor: Mapped[str | None] = mapped_column(String(100))  # who destroyed them
    witnesses: Mapped[str | None] = mapped_column(String(300))  # who watched (监销人), names joined by "、"
    method: Mapped[str | None] = mapped_column(String(100))  # shredding, pulping...
    recorded_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[created]

    approval: Mapped[Approval] = relationship(lazy="joined")
    items: Mapped[list[ArchiveDestructionItem]] = relationship(
        back_populates="destruction", order_by="ArchiveDestructionItem.position", lazy="selectin")


class ArchiveDestructionItem(Base):
    __tablename__ = "archive_destruction_items"
    destruction_id: Mapped[int] = mapped_column(ForeignKey("archive_destructions.id"), primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("archive_volumes.asset_id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)
    audit_hash: Mapped[str | None] = mapped_column(String(64))  # the audit row that describes it (found by key)

    destruction: Mapped[ArchiveDestruction] = relationship(back_populates="items")
    volume: Mapped[ArchiveVolume] = relationship(lazy="joined")
