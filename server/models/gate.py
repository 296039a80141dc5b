"""The gate (issue 12; docs/gate.md)."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.approvals import Approval
from server.models.assets import Asset, Person
from server.models.base import Base, code_str, created, intpk

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

    items: Mapped[list[ExitPermitAsset]] = relationship(
        back_populates="permit", order_by="ExitPermitAsset.id", lazy="selectin"
    )


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
