"""Vehicles at the gate (PROTOCOL.md ``vehicle.out`` / ``vehicle.in``; docs/vehicles.md).

Whoever asks (the MQTT consumer for a gate kiosk, the REST API for the desk), the rules are:

* An official vehicle is known by its A- tag (key tag or windscreen label) or by its plate. With a
  tag, the plate must be that vehicle's (``plate_mismatch``: the wrong key was scanned).
* It leaves only with a standing dispatch whose window covers the moment it leaves. Otherwise the
  exit is refused (``no_dispatch``): the kiosk shows red, and the refusal leaves a gate alert for the
  admin (``gate_alerts``, after the refused event's rollback).
* Its odometer reading, when given, must fit the trip log (``services.trips``; ``bad_odometer``).
  The exit starts a trip (linked to its dispatch, driver and department), the return ends it.
* A gate that could not have known better already let the vehicle through: a kiosk event made offline
  (its clock synchronised, and made a minute or more before it reached the server, or before the server
  learned what forbids it: the rule the gate uses for visitors, ``visits.Origin.blind_to``) is stored,
  never refused for these reasons, and flagged as a conflict with an alert (left without a dispatch, a
  dispatch cancelled after it left, a reading that does not fit, the wrong key): nothing is lost.
  Unlike a visitor's sign-in, an event with an unsynchronised clock is not taken as made offline: its
  time cannot show that, and for an official vehicle the rule errs on the side of the dispatch (the
  refusal still leaves the event in the rejected log and an alert for the admin).
* Any other vehicle is logged as a visitor's (a V- pass, or the plate of a visitor on site or
  expected now) or as unknown. Those plates are personal data: kept encrypted with a blind index,
  like a visit's, and emptied by the retention purge.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from contract import codes, normalize
from contract.messages import Event, Reason
from server import audit
from server.audit import Actor
from server.errors import Invalid, RuleViolation
from server.i18n import N_
from server.models import (
    Asset,
    Dispatch,
    PassageKind,
    PassStatus,
    Trip,
    Vehicle,
    VehiclePassage,
    Visit,
    VisitorPass,
    utcnow,
)
from server.personal import policy
from server.services import dispatch as dispatches
from server.services import gate_alerts, trips, vehicles, visits, watchlist
from server.services.gate_alerts import GateRefusal

DIRECTIONS = ("out", "in")
CODE_ERRORS = {
    "bad_code": N_("%(text)s is not an AssetGate code"),
    "bad_check": N_("the check symbol of %(text)s is wrong: a character was misread or mistyped"),
    "wrong_kind": N_("%(text)s is not a code of the right kind here"),
}
VISITOR_RECENT = timedelta(hours=12)  # a visitor's car leaving soon after the visitor signed out


@dataclass(frozen=True)
class AtGate:
    direction: str  # out | in
    plate: str  # normal form (contract.normalize.plate)
    tag: str | None = None  # A- code
    pass_code: str | None = None  # V- code
    odometer: int | None = None


def typed(direction: str, plate: str, tag: str | None = None, pass_code: str | None = None,
          odometer: int | None = None) -> AtGate:
    """What a person typed at the desk, in the forms a kiosk event carries (or Invalid saying what is wrong)."""
    def code(text: str | None, kind: codes.Kind) -> str | None:
        if not text or not text.strip():
            return None
        try:
            return codes.normalize(text, kind)
        except codes.CodeError as exc:
            raise Invalid(CODE_ERRORS.get(exc.reason, CODE_ERRORS["bad_code"]), code=exc.reason,
                          text=text.strip()[:40]) from None

    if direction not in DIRECTIONS:
        raise Invalid(N_("the direction must be out or in"), code="bad_schema")
    km = None if odometer is None else vehicles.check_odometer(odometer)
    return AtGate(direction, vehicles.clean_plate(plate), code(tag, codes.Kind.ASSET),
                  code(pass_code, codes.Kind.VISITOR), km)


@dataclass(frozen=True)
class GateOutcome:
    passage: VehiclePassage
    vehicle: Vehicle | None
    trip: Trip | None
    dispatch: Dispatch | None
    conflict: bool
    notes: tuple[str, ...] = ()


def at_gate(session: Session, actor: Actor, data: AtGate, at: datetime | None = None,
            origin: visits.Origin = visits.WEB) -> GateOutcome:
    """A vehicle through the gate: judge first, then write (nothing is written for a refusal)."""
    at = at or utcnow()
    if data.direction not in DIRECTIONS:
        raise RuleViolation(N_("the direction must be out or in"), code="bad_schema")
    official = _official(session, data)
    if official is None:
        return _other(session, actor, data, at, origin)
    vehicle = vehicles.lock(session, official.id)
    now, notes = utcnow(), []
    if data.tag and data.plate != vehicle.plate:
        if not _offline(origin, at, at, now):
            raise RuleViolation(N_("the tag %(tag)s is the key of %(plate)s, not of %(typed)s"),
                                code=Reason.PLATE_MISMATCH, tag=vehicle.asset.code, plate=vehicle.plate,
                                typed=data.plate)
        notes.append(f"the tag of {vehicle.plate} came with the plate {data.plate}")
    found = None
    if data.direction == "out":
        found, note = _dispatch_for(session, vehicle, at, origin, now)
        notes += [note] if note else []
    km = data.odometer
    if km is not None:
        problem = trips.reading_problem(session, vehicle, at, km)
        if problem is not None:
            if not _offline(origin, at, at, now):
                raise problem
            notes.append(problem.message)
            km = None  # kept on the passage as typed; the trip's reading waits for a correction
    conflict = bool(notes)
    if data.direction == "out":
        trip = trips.gate_out(session, actor, vehicle, at, km, found, origin.source, conflict)
    else:
        trip = trips.gate_in(session, actor, vehicle, at, km, origin.source, conflict)
    passage = _passage(session, actor, data, at, origin, PassageKind.OFFICIAL, vehicle=vehicle, trip=trip,
                       found=found, conflict=conflict, note="; ".join(notes))
    if conflict:
        gate_alerts.raise_alert(session, "vehicle_conflict", vehicle.asset.code, at, origin.source,
                                f"{vehicle.plate}: {'; '.join(notes)}")
    return GateOutcome(passage, vehicle, trip, found, conflict, tuple(notes))


def _offline(origin: visits.Origin, at: datetime, learned: datetime, now: datetime) -> bool:
    """Made where its gate could not know what the server knew: see the module's docstring."""
    return origin.kiosk and origin.synced and (at < learned or now - at >= visits.OFFLINE_AFTER)


def _official(session: Session, data: AtGate) -> Vehicle | None:
    if data.tag:
        return vehicles.by_tag(session, data.tag)  # unknown_code when no vehicle has that tag
    return vehicles.find_by_plate(session, data.plate)


def _dispatch_for(session: Session, vehicle: Vehicle, at: datetime, origin: visits.Origin,
                  now: datetime) -> tuple[Dispatch | None, str]:
    """The standing dispatch covering ``at``; for a gate that could not know, whatever there was (and why it
    is a conflict); otherwise the refusal, which leaves its alert."""
    standing = dispatches.covering(session, vehicle.id, at)
    if standing is not None:
        return standing, ""
    cancelled = dispatches.covering(session, vehicle.id, at, standing=False)
    learned = cancelled.cancelled_at if cancelled is not None and cancelled.cancelled_at else at
    if _offline(origin, at, learned, now):
        if cancelled is not None and at < learned:
            return cancelled, f"dispatch {cancelled.id} was cancelled after the vehicle left"
        return None, "left without an approved dispatch (the gate was offline)"
    code, plate, source = vehicle.asset.code, vehicle.plate, origin.source

    def aftermath(later: Session) -> None:
        gate_alerts.raise_alert(later, "no_dispatch", code, at, source, f"{plate}: no approved dispatch covers "
                                                                       f"{at.isoformat(timespec='minutes')}")

    raise GateRefusal(N_("%(plate)s has no approved dispatch for now: it may not leave"), code=Reason.NO_DISPATCH,
                      aftermath=aftermath, plate=plate)


def _other(session: Session, actor: Actor, data: AtGate, at: datetime, origin: visits.Origin) -> GateOutcome:
    """A visitor's car or an unknown one: logged, with the plate sealed."""
    vault = policy(session).vault
    index = vault.index("plate", data.plate)
    pass_code = data.pass_code or _visitor_with(session, index, at)
    kind = PassageKind.VISITOR if pass_code else PassageKind.UNKNOWN
    hits = watchlist.matches(session, None, [data.plate])
    note = f"plate on the watchlist (entries {', '.join(map(str, hits))})" if hits else ""
    passage = _passage(session, actor, data, at, origin, kind, pass_code=pass_code, conflict=False, note=note)
    if hits:  # the guard's own procedure follows; the admin is told
        gate_alerts.raise_alert(session, "watchlist_hit", pass_code or f"vehicle:{passage.id}", at, origin.source,
                                note)
    return GateOutcome(passage, None, None, None, False, (note,) if note else ())


def _visitor_with(session: Session, index: str | None, at: datetime) -> str | None:
    """The pass of a visitor who came with this plate: on site (or just left), or expected now."""
    if index is None:
        return None
    visit = session.scalars(select(Visit).where(
        Visit.plate_index == index, or_(Visit.signed_out_at.is_(None), Visit.signed_out_at > at - VISITOR_RECENT))
        .order_by(Visit.signed_in_at.desc()).limit(1)).first()
    if visit is not None:
        return visit.visitor_pass.code
    expected = session.scalars(select(VisitorPass.code).where(
        VisitorPass.plate_index == index, VisitorPass.status == PassStatus.VALID.value,
        VisitorPass.valid_from <= at, VisitorPass.valid_until >= at).limit(1)).first()
    return expected


def _passage(session: Session, actor: Actor, data: AtGate, at: datetime, origin: visits.Origin, kind: PassageKind,
             *, vehicle: Vehicle | None = None, trip: Trip | None = None, found: Dispatch | None = None,
             pass_code: str | None = None, conflict: bool, note: str) -> VehiclePassage:
    vault = policy(session).vault
    official = kind == PassageKind.OFFICIAL
    row = VehiclePassage(direction=data.direction, kind=kind.value, at=at, recorded_at=utcnow(),
                         vehicle=vehicle, vehicle_id=vehicle.id if vehicle else None,
                         plate=vehicle.plate if vehicle else None,
                         plate_enc=None if official else vault.seal(data.plate),
                         plate_index=None if official else vault.index("plate", data.plate),
                         pass_code=pass_code, odometer=data.odometer, trip_id=trip.id if trip else None,
                         dispatch_id=found.id if found else None, source=origin.source[:60],
                         actor=actor.name[:100], kiosk_event_id=origin.event_id, conflict=conflict,
                         note=note[:2000])
    session.add(row)
    session.flush()
    audit.record(session, actor, f"vehicle.{data.direction}", "vehicle_passage", row.id, None, {
        "kind": kind.value, "vehicle": row.plate, "pass": pass_code, "odometer": data.odometer,
        "trip": row.trip_id, "dispatch": row.dispatch_id, "at": at.isoformat(), "source": row.source,
        "conflict": conflict}, inserted=[row])
    return row


def passages(session: Session, kind: str | None = None, conflicts: bool = False) -> Any:
    """The gate's vehicle log, for keyset pages by (at, id), newest first."""
    query = select(VehiclePassage)
    if kind:
        if kind not in {k.value for k in PassageKind}:
            raise Invalid(N_("unknown kind %(kind)s"), code="bad_filter", kind=kind[:20])
        query = query.where(VehiclePassage.kind == kind)
    if conflicts:
        query = query.where(VehiclePassage.conflict.is_(True))
    return query


def shown_plate(session: Session, row: VehiclePassage) -> str:
    """The plate for a reader: an official one as it is, a visitor's opened from its seal ("" once purged)."""
    return row.plate or policy(session).vault.open(row.plate_enc) or ""


# --- the consumer's and the kiosk config's side ---

def lock_for(session: Session, events: list[Event]) -> None:
    """Lock, in id order, the vehicles a consumer batch names by tag or plate (see ``ingest.lock_rows``)."""
    plates, tags = set(), set()
    for event in events:
        if not event.type.startswith("vehicle."):
            continue
        with suppress(normalize.NormalizeError):  # validation has refused it; nothing to lock
            plates.add(normalize.plate(str(event.data.get("plate", ""))))
        with suppress(codes.CodeError):
            tags.add(str(codes.parse(str(event.data.get("tag") or ""))))
    if not plates and not tags:
        return
    named = or_(Vehicle.plate.in_(plates), Vehicle.asset_id.in_(select(Asset.id).where(Asset.code.in_(tags))))
    session.execute(select(Vehicle.id).where(named).order_by(Vehicle.id).with_for_update()).all()


def kiosk_extras(session: Session, now: datetime | None = None) -> dict[str, Any]:
    """What a gate kiosk needs offline: official vehicles (tag -> plate) and their dispatches of the next day."""
    now = now or utcnow()
    fleet = {v.id: v for v in vehicles.fleet(session, active_only=True)}
    windows: dict[str, list[list[str]]] = {}
    for row in dispatches.upcoming(session, now):
        if row.vehicle_id in fleet:
            windows.setdefault(fleet[row.vehicle_id].asset.code, []).append(
                [row.starts_at.isoformat(), row.ends_at.isoformat()])
    return {"vehicles": {v.asset.code: v.plate for v in fleet.values()}, "dispatches": windows}
