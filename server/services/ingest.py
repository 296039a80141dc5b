"""Applying kiosk events: idempotent by event id, through the same services as web and API.

``ingest`` runs inside the caller's transaction, in a savepoint of its own, so one
bad event never spoils the others of a batch; the caller acks after commit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contract import codes
from contract import messages as m
from contract.messages import Display, Event, Reason
from server import audit
from server.audit import Actor
from server.errors import DomainError, NotFound
from server.i18n import N_
from server.models import Asset, Kiosk, KioskEvent, RejectedMessage, Seal, SupplyItem, VisitorPass, utcnow
from server.services import (
    archive_conflicts,
    archive_loans,
    archives,
    assets,
    bulk,
    exit_permits,
    gate_alerts,
    kiosks,
    lookup,
    seal_takeouts,
    seals,
    stocktakes,
    supplies,
    vehicle_gate,
    visits,
)
from server.services.visitors import VisitorIn


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
    code = outcome.asset.code
    if outcome.conflict:
        return f"Saved with a conflict: {code}", "the server knew a newer state; an admin will review", True
    if not outcome.applied:
        return f"Saved (older than current state): {code}", where, False
    return f"{verb} {code}", where, False


def _move(session: Session, ctx: Context, data: m.AssetMove) -> tuple[str, str, bool]:
    out = assets.move(session, ctx.actor, data.tag, data.to, at=ctx.event.at, origin=ctx.origin)
    return _asset_outcome("Moved", out, out.to_location.name if out.to_location else "")


def _is_volume(session: Session, tag: str) -> bool:
    """Whether the tag is an archive volume or file: lent and returned through its loan (archive_loans)."""
    try:
        return archives.volume_of(session, assets.asset_by_code(session, tag)) is not None
    except NotFound:
        return False  # the asset service says so again, with its own reason


def _checkout(session: Session, ctx: Context, data: m.AssetCheckout) -> tuple[str, str, bool]:
    if seals.find(session, data.tag) is not None:  # a seal's A- code: a take-out (外带), not an asset check-out
        trip = seal_takeouts.take_out(session, ctx.actor, data.tag, data.to, at=ctx.event.at)
        return f"Seal out: {data.tag}", f"take-out {trip.id}, due {trip.due_at.isoformat(timespec='minutes')}", False
    if _is_volume(session, data.tag):  # the loan's due date counts, not the kiosk's
        lent = archive_conflicts.lend_at_kiosk(session, ctx.actor, data.tag, data.to, at=ctx.event.at,
                                               origin=ctx.origin, offline=made_offline(ctx.event))
        if lent.conflict is not None or lent.loan is None:  # made off line against a rule: kept, flagged
            return f"Saved with a conflict: {data.tag}", archive_conflicts.summary(lent.conflict), True
        where = "read on site" if lent.loan.on_site else "due back"
        return f"Lent {data.tag}", f"to {data.to}, {where} {lent.loan.due_on.isoformat()}, loan {lent.loan.id}", False
    out = assets.checkout(session, ctx.actor, data.tag, data.to, due=data.due, at=ctx.event.at, origin=ctx.origin)
    return _asset_outcome("Checked out", out, f"to {data.to}")


def _checkin(session: Session, ctx: Context, data: m.AssetCheckin) -> tuple[str, str, bool]:
    if seals.find(session, data.tag) is not None:  # the return scan of a seal's take-out
        trip = seal_takeouts.bring_back(session, ctx.actor, data.tag, at=ctx.event.at)
        late = trip.returned_at is not None and trip.returned_at > trip.due_at
        return f"Seal back: {data.tag}", f"take-out {trip.id}" + (", returned late" if late else ""), False
    if _is_volume(session, data.tag):
        back = archive_conflicts.return_at_kiosk(session, ctx.actor, data.tag, data.location, at=ctx.event.at,
                                                 origin=ctx.origin, offline=made_offline(ctx.event))
        if back.loan is None:
            return f"Saved with a conflict: {data.tag}", archive_conflicts.summary(back.conflict), True
        return (f"Returned {data.tag}", f"loan {back.loan.id}" + (", late" if archive_loans.late(back.loan) else ""),
                False)
    out = assets.checkin(session, ctx.actor, data.tag, data.location, at=ctx.event.at, origin=ctx.origin)
    return _asset_outcome("Checked in", out, out.to_location.name if out.to_location else "")


def _gate_origin(ctx: Context) -> visits.Origin:
    event = ctx.event
    return visits.Origin(f"kiosk:{event.kiosk}", str(event.id), event.synced, kiosk=True)


def _visitor_signin(session: Session, ctx: Context, data: m.VisitorSignin) -> tuple[str, str, bool]:
    details = VisitorIn(name=data.name, host=data.host, organisation=data.organisation, purpose=data.purpose,
                        id_last4=data.id_last4, plate=data.plate)
    out = visits.sign_in(session, ctx.actor, data.pass_, at=ctx.event.at, origin=_gate_origin(ctx), details=details)
    if out.conflict:
        return (f"Saved with a conflict: {out.visitor_pass.code}",
                "signed in at another gate meanwhile, or revoked; an admin will review", True)
    return f"Signed in {out.visitor_pass.code}", "walk-in registered" if out.walk_in else "", False


def _visitor_signout(session: Session, ctx: Context, data: m.VisitorSignout) -> tuple[str, str, bool]:
    out = visits.sign_out(session, ctx.actor, data.pass_, at=ctx.event.at, origin=_gate_origin(ctx))
    return f"Signed out {out.visitor_pass.code}", "replaced the automatic sign-out" if out.corrected else "", False


def _asset_exit(session: Session, ctx: Context, data: m.AssetExit) -> tuple[str, str, bool]:
    out = exit_permits.at_gate(session, ctx.actor, data.tag, at=ctx.event.at, origin=ctx.origin)
    if out.action == "return":
        return f"Returned {out.asset_code}", f"exit permit {out.permit.id}" + (", loan closed" if out.closed
                                                                               else ""), False
    return f"May leave: {out.asset_code}", f"exit permit {out.permit.id}, carrier {out.permit.carrier}"[:500], False
# A storeroom event older than this when it arrives was made while the kiosk was off line.
OFFLINE_AFTER_S = 300.0


def made_offline(event: Event) -> bool:
    """Whether a storeroom kiosk's event was made off line, as far as the server can tell: its clock was
    not synchronised (its time proves nothing), or it is older than ``OFFLINE_AFTER_S``. Such an event
    (a pickup, an archive lending or return) has happened: breaking a rule makes it a conflict, not a refusal."""
    return not event.synced or (utcnow() - event.at).total_seconds() > OFFLINE_AFTER_S


def _supply_pickup(session: Session, ctx: Context, data: m.SupplyPickup) -> tuple[str, str, bool]:
    """A live pickup below zero is refused (insufficient_stock); one made off line (unsynced
    clock or an old event) already happened, so it is stored and flagged as a conflict."""
    event = ctx.event
    live = not made_offline(event)
    wanted = supplies.PickupIn(item=data.item, quantity=data.qty, taker=data.taker, purpose=data.purpose or "")
    moved = supplies.pickup(session, ctx.actor, wanted, at=event.at, live=live, kiosk_event_id=str(event.id))
    item, left = moved.item, supplies.stock(session, moved.item_id)
    if moved.conflict:
        return (f"Saved with a conflict: {item.code}",
                f"stock is now {left} {item.unit}; the storekeeper will review", True)
    return f"Picked up {data.qty} {item.unit} {item.name}"[:120], f"{left} {item.unit} left", False


def _stocktake_scan(session: Session, ctx: Context, data: m.StocktakeScan) -> tuple[str, str, bool]:
    """A sighting for an open stocktake (``session`` is its number); answers the asset's class."""
    if not (data.session.isascii() and data.session.isdigit() and len(data.session) <= 9):  # a database int
        raise NotFound(N_("no stocktake %(id)s"), id=data.session[:20])
    _row, cls = stocktakes.scan(session, ctx.actor, int(data.session), data.tag, data.location, at=ctx.event.at,
                                kiosk_event_id=str(ctx.event.id))
    return f"Counted {data.tag}", cls.replace("_", " "), False


def _vehicle(session: Session, ctx: Context, data: m.VehicleOut | m.VehicleIn) -> tuple[str, str, bool]:
    """A vehicle through the gate (services.vehicle_gate): an official one out only with a dispatch."""
    direction = "out" if ctx.event.type == "vehicle.out" else "in"
    out = vehicle_gate.at_gate(session, ctx.actor, vehicle_gate.AtGate(direction, data.plate, data.tag, data.pass_,
                                                                        data.odometer),
                               at=ctx.event.at, origin=_gate_origin(ctx))
    if out.vehicle is None:
        kind = "visitor's vehicle" if out.passage.kind == "visitor" else "vehicle (not known)"
        return f"Logged: {kind} {direction}", out.passage.pass_code or "", False
    if out.conflict:
        return f"Saved with a conflict: {out.vehicle.plate}", "; ".join(out.notes)[:500], True
    if direction == "out":
        assert out.dispatch is not None
        found = out.dispatch
        return (f"May leave: {out.vehicle.plate}", f"dispatch {found.id}, driver {found.driver.code}, until "
                f"{found.ends_at.isoformat(timespec='minutes')}", False)
    return f"Back: {out.vehicle.plate}", f"trip {out.trip.id}" if out.trip else "", False


# Types of the contract whose server side is not built yet are refused with a reason.
HANDLERS: dict[str, Handler] = {
    "asset.move": _move,
    "asset.checkout": _checkout,
    "asset.checkin": _checkin,
    "asset.exit": _asset_exit,
    "visitor.signin": _visitor_signin,
    "visitor.signout": _visitor_signout,
    "supply.pickup": _supply_pickup,
    "stocktake.scan": _stocktake_scan,
    "vehicle.out": _vehicle,
    "vehicle.in": _vehicle,
}
# What a stored kiosk event keeps of its data: a visitor's personal fields live encrypted with the
# pass and the visit (services.visitors, purged after the retention period), never in the clear here.
# A vehicle's plate too: a visitor's is personal (the passage keeps it sealed), an official one is on its passage.
PERSONAL_FIELDS: dict[str, tuple[str, ...]] = {"visitor.signin": ("name", "organisation", "id_last4", "plate"),
                                               "vehicle.out": ("plate",), "vehicle.in": ("plate",)}


def _kept_data(event: Event) -> dict[str, Any]:
    personal = PERSONAL_FIELDS.get(event.type)
    return {k: v for k, v in event.data.items() if k not in personal} if personal else event.data


def redacted(payload: bytes) -> bytes:
    """A refused message as the rejected log keeps it: without a visitor's personal fields when it
    is readable enough to find them (a refused sign-in is kept for the admin, the name is not)."""
    if b"visitor." not in payload and b"vehicle." not in payload:
        return payload
    try:
        raw = json.loads(payload[: m.MAX_EVENT_BYTES])
    except ValueError:
        return payload
    personal = PERSONAL_FIELDS.get(str(raw.get("type"))) if isinstance(raw, dict) else None
    if not personal or not isinstance(raw.get("data"), dict):
        return payload
    raw["data"] = {k: ("[personal]" if k in personal else v) for k, v in raw["data"].items()}
    return json.dumps(raw, ensure_ascii=False).encode()


@dataclass
class Prefetched:
    """What a batch of events needs from the database, read in a few queries up front."""

    known: set[tuple[str, str]]  # (kiosk, event id) stored before
    rejected: dict[tuple[str, str], str]  # (kiosk, event id) -> reason of a final rejection
    kiosks: dict[str, Kiosk | None]


def prefetch(session: Session, events: list[Event]) -> Prefetched:
    """Read what the batch needs; after ``lock_rows``, so that what is read stays true."""
    ids = [str(e.id) for e in events]
    names = {e.kiosk for e in events}
    # Both columns of the key: an id stored by another kiosk is not this kiosk's event.
    known = {(kiosk, event_id) for kiosk, event_id in session.execute(
        select(KioskEvent.kiosk, KioskEvent.id).where(KioskEvent.kiosk.in_(names), KioskEvent.id.in_(ids)))}
    rejected = {(kiosk or "", event_id or ""): reason for kiosk, event_id, reason in session.execute(
        select(RejectedMessage.kiosk, RejectedMessage.event_id, RejectedMessage.reason)
        .where(RejectedMessage.event_id.in_(ids), RejectedMessage.reason.not_in(m.NOT_FINAL)))}
    found = {k.name: k for k in session.scalars(select(Kiosk).where(Kiosk.name.in_(names)))}
    for kind, wanted in _codes_by_kind(events).items():
        if kind in _KINDS:
            lookup.prefetch(session, _KINDS[kind], wanted)
        if kind == codes.Kind.ASSET:  # a seal's code is an A- code too: take-out or check-out, no query per event
            lookup.prefetch(session, "seal", wanted)
    return Prefetched(known, rejected, {n: k if k and k.revoked_at is None else None for n, k in found.items()})


def lock_rows(session: Session, events: list[Event]) -> None:
    """Lock the kiosks and then the assets, supply items and visitor passes a batch names, each
    table in a fixed order, before the batch reads them: another consumer sharing the load (or a
    web request) then waits for this batch instead of deciding on what it read before this one
    committed (a kiosk's ``last_seq``, an asset's state, an item's stock, a pass's visit), and
    two batches naming the same rows in different orders cannot deadlock. Only ids are selected
    here; the rows are read after the locks, in statements of their own (see
    ``assets.asset_for_change`` for why). Locking every row up front, not one per change,
    matters too: a change after an earlier change of the batch took the audit chain's lock
    could wait for a web request that holds its row and waits for the chain, in a circle."""
    names = sorted({event.kiosk for event in events})
    session.execute(select(Kiosk.id).where(Kiosk.name.in_(names)).order_by(Kiosk.name).with_for_update()).all()
    named = _codes_by_kind(events)
    for kind, model in _LOCKED:
        if named[kind]:
            session.execute(select(model.id).where(model.code.in_(named[kind])).order_by(model.id)
                            .with_for_update()).all()
    vehicle_gate.lock_for(session, events)  # then the vehicles the batch names by tag or plate


# What a kiosk event can change, in the order they are locked (every writer takes them so).
_LOCKED: tuple[tuple[codes.Kind, Any], ...] = (
    (codes.Kind.ASSET, Asset), (codes.Kind.ASSET, Seal),  # a seal's code is an A- code (take-out, return)
    (codes.Kind.SUPPLY, SupplyItem), (codes.Kind.VISITOR, VisitorPass))
# The kinds the prefetch reads ahead (server/services/lookup.py), by its names for them.
_KINDS = {codes.Kind.ASSET: "asset", codes.Kind.LOCATION: "location", codes.Kind.PERSON: "person"}


def _codes_by_kind(events: list[Event]) -> dict[codes.Kind, set[str]]:
    """The codes a batch's data names, in the form the handlers will look them up by."""
    by_kind: dict[codes.Kind, set[str]] = {kind: set() for kind in codes.Kind}
    for event in events:
        for value in event.data.values():
            if isinstance(value, str):
                try:
                    code = codes.parse(value)  # a URL form or lower case names the same row
                except codes.CodeError:
                    continue  # not a code (a date, a note); validation has said what it must
                by_kind[code.kind].add(str(code))
    return by_kind


def ingest(session: Session, event: Event, data: BaseModel, *, received_at: datetime | None = None,
           require_enrolled: bool = True, max_skew_s: float = 300.0, batch: Prefetched | None = None) -> Result:
    """Apply one event, at most once per (kiosk, event id). With ``batch`` (the consumer's fast path) lookups come
    from the prefetch and nothing is flushed or savepointed: handlers check before they
    write, and any surprise makes the consumer redo the batch on the safe path."""
    received_at = received_at or utcnow()
    event_id = str(event.id)
    key = (event.kiosk, event_id)
    seen = key in batch.known if batch else session.get(KioskEvent, key) is not None
    if seen:
        return Result("duplicate", None, m.display_for("duplicate", None))
    previous = batch.rejected.get((event.kiosk, event_id)) if batch else _previous_rejection(session, event)
    if previous is not None:
        return Result("rejected", previous, m.display_for("rejected", previous, "refused before"))
    kiosk = batch.kiosks.get(event.kiosk) if batch else kiosks.active_kiosk(session, event.kiosk)
    if require_enrolled and kiosk is None:
        raise m.ContractError(Reason.UNKNOWN_KIOSK, f"kiosk {event.kiosk} is not enrolled", event_id)
    handler = HANDLERS.get(event.type)
    if handler is None:
        raise m.ContractError(Reason.NOT_SUPPORTED, f"{event.type} is not handled by this server yet", event_id)
    # Live: the kiosk's newest event while its outbox is (nearly) empty. A backlog sent
    # after days offline is old by nature and must not be flagged as clock skew.
    live = kiosk is None or (event.seq > (kiosk.last_seq or -1) and (kiosk.status.get("outbox") or 0) <= 1)
    flags = _flags(event, received_at, max_skew_s, live)
    ctx = Context(event, Actor(event.actor or f"kiosk:{event.kiosk}", f"kiosk:{event.kiosk}"),
                  assets.KioskOrigin(event.kiosk, event.seq, event_id))
    row = {"id": event_id, "kiosk": event.kiosk, "seq": event.seq, "boot": event.boot, "type": event.type,
           "actor": event.actor, "at": event.at, "received_at": received_at, "synced": event.synced,
           "data": _kept_data(event), "flags": flags}
    try:
        if batch is not None:
            # The handler's audit row describes the kiosk event too (and the event points back at it).
            with audit.inserting(session, KioskEvent, row):
                title, detail, conflict = handler(session, ctx, data)
            bulk.persist(session, KioskEvent, {**row, "flags": [*flags, "conflict"] if conflict else flags})
            batch.known.add(key)
        else:
            with session.begin_nested():
                claim = KioskEvent(**row)
                session.add(claim)
                session.flush()  # claims the id now: a concurrent consumer's copy fails here
                with audit.inserting(session, KioskEvent, row):
                    title, detail, conflict = handler(session, ctx, data)
                claim.audit_hash = str(row["audit_hash"])
                if conflict:
                    claim.flags = [*flags, "conflict"]
    except IntegrityError:
        if session.get(KioskEvent, key) is not None:
            return Result("duplicate", None, m.display_for("duplicate", None))
        raise
    except DomainError as exc:
        gate_alerts.keep(session, exc)  # a refusal at the gate leaves its alert (after the savepoint's rollback)
        raise m.ContractError(_reason(exc), exc.message, event_id) from None
    if kiosk is not None:
        kiosk.last_seen_at = received_at
        kiosk.last_seq = max(kiosk.last_seq or 0, event.seq)
        kiosk.last_boot = event.boot
    level: Literal["ok", "warn"] = "warn" if conflict or flags else "ok"
    return Result("accepted", "conflict" if conflict else None, Display(level=level, title=title[:120],
                  detail=detail[:500]), [*flags, "conflict"] if conflict else flags)


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
    """A resend of an event refused before gets the same answer and no second row. Not after a
    rejection that is not final (``unknown_kiosk``, ``internal_error``): the kiosk kept the event
    and sends it again because the server may know it by now."""
    query = (select(RejectedMessage.reason)
             .where(RejectedMessage.event_id == str(event.id), RejectedMessage.kiosk == event.kiosk,
                    RejectedMessage.reason.not_in(m.NOT_FINAL)).limit(1))
    return session.scalars(query).first()
