"""Applying kiosk events: idempotent by event id, through the same services as web and API.

``ingest`` runs inside the caller's transaction, in a savepoint of its own, so one
bad event never spoils the others of a batch; the caller acks after commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contract import messages as m
from contract.messages import Display, Event, Reason
from server.audit import Actor
from server.errors import DomainError
from server.models import KioskEvent, RejectedMessage, utcnow
from server.services import assets, kiosks


@dataclass
class Result:
    status: str  # accepted | duplicate | rejected
    reason: str | None
    display: Display
    flags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Context:
    event: Event
    actor: Actor
    origin: assets.KioskOrigin


Handler = Callable[[Session, Context, Any], tuple[str, str, bool]]  # -> title, detail, conflict


def _asset_outcome(verb: str, outcome: assets.Outcome, where: str) -> tuple[str, str, bool]:
    code = outcome.event.asset.code
    if outcome.conflict:
        return f"Saved with a conflict: {code}", "the server knew a newer state; an admin will review", True
    if not outcome.applied:
        return f"Saved (older than current state): {code}", where, False
    return f"{verb} {code}", where, False


def _move(session: Session, ctx: Context, data: m.AssetMove) -> tuple[str, str, bool]:
    out = assets.move(session, ctx.actor, data.tag, data.to, at=ctx.event.at, origin=ctx.origin)
    return _asset_outcome("Moved", out, out.event.to_location.name if out.event.to_location else "")


def _checkout(session: Session, ctx: Context, data: m.AssetCheckout) -> tuple[str, str, bool]:
    out = assets.checkout(session, ctx.actor, data.tag, data.to, due=data.due, at=ctx.event.at, origin=ctx.origin)
    return _asset_outcome("Checked out", out, f"to {data.to}")


def _checkin(session: Session, ctx: Context, data: m.AssetCheckin) -> tuple[str, str, bool]:
    out = assets.checkin(session, ctx.actor, data.tag, data.location, at=ctx.event.at, origin=ctx.origin)
    return _asset_outcome("Checked in", out, out.event.to_location.name if out.event.to_location else "")


# Types of the contract whose server side is not built yet are refused with a reason.
HANDLERS: dict[str, Handler] = {
    "asset.move": _move,
    "asset.checkout": _checkout,
    "asset.checkin": _checkin,
}


def ingest(session: Session, event: Event, data: BaseModel, *, received_at: datetime | None = None,
           require_enrolled: bool = True, max_skew_s: float = 300.0) -> Result:
    received_at = received_at or utcnow()
    if session.get(KioskEvent, str(event.id)) is not None:
        return Result("duplicate", None, m.display_for("duplicate", None))
    previous = _previous_rejection(session, event)
    if previous is not None:
        return Result("rejected", previous, m.display_for("rejected", previous, "refused before"))
    kiosk = kiosks.active_kiosk(session, event.kiosk)
    if require_enrolled and kiosk is None:
        raise m.ContractError(Reason.UNKNOWN_KIOSK, f"kiosk {event.kiosk} is not enrolled", str(event.id))
    handler = HANDLERS.get(event.type)
    if handler is None:
        raise m.ContractError(Reason.NOT_SUPPORTED, f"{event.type} is not handled by this server yet", str(event.id))
    # Live: the kiosk's newest event while its outbox is (nearly) empty. A backlog sent
    # after days offline is old by nature and must not be flagged as clock skew.
    live = kiosk is None or (event.seq > (kiosk.last_seq or -1) and (kiosk.status.get("outbox") or 0) <= 1)
    flags = _flags(event, received_at, max_skew_s, live)
    ctx = Context(event, Actor(event.actor or f"kiosk:{event.kiosk}", f"kiosk:{event.kiosk}"),
                  assets.KioskOrigin(event.kiosk, event.seq, str(event.id)))
    try:
        with session.begin_nested():
            row = KioskEvent(id=str(event.id), kiosk=event.kiosk, seq=event.seq, boot=event.boot, type=event.type,
                             actor=event.actor, at=event.at, received_at=received_at, synced=event.synced,
                             data=event.data, flags=flags)
            session.add(row)
            session.flush()  # claims the id now: a concurrent consumer's copy fails here
            title, detail, conflict = handler(session, ctx, data)
            if conflict:
                row.flags = [*flags, "conflict"]
    except IntegrityError:
        if session.get(KioskEvent, str(event.id)) is not None:
            return Result("duplicate", None, m.display_for("duplicate", None))
        raise
    except DomainError as exc:
        raise m.ContractError(_reason(exc), exc.message, str(event.id)) from None
    if kiosk is not None:
        kiosk.last_seen_at = received_at
        kiosk.last_seq = max(kiosk.last_seq or 0, event.seq)
        kiosk.last_boot = event.boot
    level = "warn" if conflict or flags else "ok"
    return Result("accepted", "conflict" if conflict else None, Display(level=level, title=title[:120],
                  detail=detail[:500]), row.flags)


def _flags(event: Event, received_at: datetime, max_skew_s: float, live: bool) -> list[str]:
    flags = []
    if not event.synced:
        flags.append("unsynced")
    skew = (event.at - received_at).total_seconds()
    if skew > max_skew_s or (live and -skew > max_skew_s):
        flags.append("skew")
    return flags


def _reason(exc: DomainError) -> Reason | str:
    try:
        return Reason(exc.code)
    except ValueError:
        return exc.code


def _previous_rejection(session: Session, event: Event) -> str | None:
    """A resend of an event refused before gets the same answer and no second row."""
    query = (select(RejectedMessage.reason)
             .where(RejectedMessage.event_id == str(event.id), RejectedMessage.kiosk == event.kiosk).limit(1))
    return session.scalars(query).first()
