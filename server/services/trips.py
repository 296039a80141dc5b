"""The trip log (出车记录): trips, their odometer readings, corrections and costs.

The odometer only goes up. Every reading of a vehicle (each trip's out and in, and the reading it
was registered with) is placed by *when it was read*, not when it reached the server, and must lie
between its neighbours in time: no lower than the newest reading before it, no higher than the
oldest one after it. So a trip entered late, or an event a gate sent after days offline, is accepted
when it fits where it belongs; it is never blocked for being old. A reading that does not fit is
refused with both numbers (``bad_odometer``); a gate that was offline keeps it on its passage row,
flagged, and the trip's reading stays empty until the office corrects it.

A correction is an event of its own: the trip's reading changes, a row of ``odometer_corrections``
says what it was, what it is, who and why, and the audit log has both states. It is never a second
trip or a second reading (the fleet-tool bug where a fixed reading is counted twice).

Every write here first locks the vehicle (``vehicles.lock``), so two readings of one vehicle are
judged one after the other, each against what the other left.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from server import audit, params
from server.audit import Actor
from server.errors import DomainError, Invalid, NotFound, RuleViolation
from server.i18n import N_
from server.models import CostKind, Dispatch, OdometerCorrection, Trip, Vehicle, VehicleCost, utcnow
from server.services import directory, plans, supplies, vehicles

SIDES = ("out", "in")
COST_KINDS = tuple(k.value for k in CostKind)
MAX_COST = Decimal("1000000.00")
# A trip entered by hand may end a little in the future of the server's clock (a slow PC clock).
CLOCK_SLACK = timedelta(minutes=5)


@dataclass(frozen=True)
class Reading:
    at: datetime
    km: int


def _columns(side: str) -> tuple[Any, Any]:
    return (Trip.out_at, Trip.odometer_out) if side == "out" else (Trip.in_at, Trip.odometer_in)


def _local(value: datetime) -> str:
    return value.isoformat(timespec="minutes")


def _bound(session: Session, vehicle: Vehicle, at: datetime, below: bool, exclude: tuple[int, str] | None) -> \
        Reading | None:
    """The reading next to ``at``: the highest read at or before it (``below``), or the lowest read at or after
    it. Readings only go up, so the highest before is also the newest before."""
    found: list[Reading] = []
    registered = Reading(vehicle.registered_at, vehicle.initial_odometer)
    if (registered.at <= at) if below else (registered.at >= at):
        found.append(registered)
    for side in SIDES:
        when, km = _columns(side)
        query = select(when, km).where(Trip.vehicle_id == vehicle.id, km.is_not(None), when.is_not(None))
        query = query.where(when <= at) if below else query.where(when >= at)
        if exclude is not None and exclude[1] == side:
            query = query.where(Trip.id != exclude[0])
        row = session.execute(query.order_by(km.desc() if below else km.asc()).limit(1)).first()
        if row is not None:
            found.append(Reading(row[0], row[1]))
    if not found:
        return None
    return max(found, key=lambda r: r.km) if below else min(found, key=lambda r: r.km)


def reading_problem(session: Session, vehicle: Vehicle, at: datetime, km: int,
                    exclude: tuple[int, str] | None = None, others: tuple[Reading, ...] = ()) -> DomainError | None:
    """Why ``km`` read at ``at`` does not fit the vehicle's readings (and ``others``, not stored yet), or None."""
    before = [r for r in (_bound(session, vehicle, at, True, exclude), *others) if r is not None and r.at <= at]
    after = [r for r in (_bound(session, vehicle, at, False, exclude), *others) if r is not None and r.at >= at]
    low = max(before, key=lambda r: r.km) if before else None
    high = min(after, key=lambda r: r.km) if after else None
    if low is not None and km < low.km:
        return Invalid(N_("the odometer reading %(km)s km is below the %(known)s km read at %(when)s: the odometer "
                          "only goes up"), code="bad_odometer", km=km, known=low.km, when=_local(low.at))
    if high is not None and km > high.km:
        return Invalid(N_("the odometer reading %(km)s km is above the %(known)s km read later, at %(when)s"),
                       code="bad_odometer", km=km, known=high.km, when=_local(high.at))
    return None


def check_reading(session: Session, vehicle: Vehicle, at: datetime, km: int,
                  exclude: tuple[int, str] | None = None, others: tuple[Reading, ...] = ()) -> None:
    problem = reading_problem(session, vehicle, at, vehicles.check_odometer(km), exclude, others)
    if problem is not None:
        raise problem


def refresh_odometer(session: Session, actor: Actor, vehicle: Vehicle, trip: Trip) -> None:
    """The vehicle's current reading: readings only go up, so the highest is also the newest. A new
    reading is a change of the vehicle's row, audited with its state (after the trip's own row)."""
    session.flush()
    highest = session.execute(select(func.max(Trip.odometer_out), func.max(Trip.odometer_in))
                              .where(Trip.vehicle_id == vehicle.id)).one()
    km = max([vehicle.initial_odometer, *(km for km in highest if km is not None)])
    if km != vehicle.odometer:
        before = vehicles.described(vehicle)
        vehicle.odometer = km
        audit.change(session, actor, "vehicle.odometer", vehicle, before, {**vehicles.facts(vehicle),
                                                                           "trip": trip.id})


def described(trip: Trip) -> dict[str, Any]:
    """What an audit row says of the trip: its audited state, and its facts for a reader."""
    return {**facts(trip), **audit.state(trip)}


def facts(trip: Trip) -> dict[str, Any]:
    return {"vehicle": trip.vehicle.plate, "dispatch": trip.dispatch_id, "driver": trip.driver.code if trip.driver
            else None, "department": trip.department, "out_at": trip.out_at.isoformat() if trip.out_at else None,
            "in_at": trip.in_at.isoformat() if trip.in_at else None, "odometer_out": trip.odometer_out,
            "odometer_in": trip.odometer_in, "late": trip.late, "conflict": trip.conflict}


# --- the gate's side of a trip (services.vehicle_gate decides first, then calls these) ---

def gate_out(session: Session, actor: Actor, vehicle: Vehicle, at: datetime, km: int | None,
             dispatch: Dispatch | None, source: str, conflict: bool) -> Trip:
    """The start of a trip. If the return reached the server first (another gate was offline), this is
    that trip's start; a trip still open from before lost its return, and is flagged for the office."""
    trip = session.scalars(select(Trip).where(Trip.vehicle_id == vehicle.id, Trip.out_at.is_(None),
                                              Trip.in_at > at).order_by(Trip.in_at).limit(1)).first()
    before = None
    if trip is not None and trip.in_at is not None and session.scalars(select(Trip.id).where(
            Trip.vehicle_id == vehicle.id, Trip.out_at > at, Trip.out_at < trip.in_at).limit(1)).first():
        trip = None  # another trip started in between: that return is not this start's
    if trip is not None:
        before = described(trip)
    else:
        trip = Trip(vehicle=vehicle, vehicle_id=vehicle.id, source=source[:60], recorded_by=actor.name[:100],
                    recorded_at=utcnow(), late=False, conflict=False, department="", purpose="")
        session.add(trip)
        for lost in session.scalars(select(Trip).where(Trip.vehicle_id == vehicle.id, Trip.in_at.is_(None),
                                                       Trip.out_at < at)):
            if not lost.conflict:  # left again before coming back: its return was never recorded
                was = described(lost)
                lost.conflict = True
                audit.change(session, actor, "trip.return_lost", lost, was, facts(lost))
    trip.out_at, trip.odometer_out = at, km
    trip.conflict = trip.conflict or conflict
    if dispatch is not None:
        trip.dispatch, trip.dispatch_id, trip.driver, trip.driver_id = dispatch, dispatch.id, dispatch.driver, \
            dispatch.driver_id
        trip.department, trip.purpose = dispatch.booking.department, dispatch.booking.purpose[:2000]
    session.flush()
    audit.change(session, actor, "trip.out", trip, before, facts(trip))
    refresh_odometer(session, actor, vehicle, trip)
    return trip


def gate_in(session: Session, actor: Actor, vehicle: Vehicle, at: datetime, km: int | None, source: str,
            conflict: bool) -> Trip:
    """The end of the newest trip that left before ``at`` and is not back; or a trip known only by its return."""
    trip = session.scalars(select(Trip).where(Trip.vehicle_id == vehicle.id, Trip.in_at.is_(None),
                                              Trip.out_at <= at).order_by(Trip.out_at.desc()).limit(1)).first()
    before = described(trip) if trip is not None else None
    if trip is None:
        trip = Trip(vehicle=vehicle, vehicle_id=vehicle.id, source=source[:60], recorded_by=actor.name[:100],
                    recorded_at=utcnow(), late=False, conflict=False, department="", purpose="")
        session.add(trip)
    trip.in_at, trip.odometer_in = at, km
    trip.conflict = trip.conflict or conflict
    session.flush()
    audit.change(session, actor, "trip.in", trip, before, facts(trip))
    refresh_odometer(session, actor, vehicle, trip)
    return trip


# --- trips entered by hand, late if need be ---

@dataclass(frozen=True)
class TripIn:
    plate: str
    out_at: datetime
    in_at: datetime
    odometer_out: int
    odometer_in: int
    driver: str | None = None  # P- code
    department: str = ""
    purpose: str = ""
    dispatch: int | None = None


def record(session: Session, actor: Actor, data: TripIn) -> Trip:
    """A whole trip entered by hand, however long ago: accepted wherever it fits in the trip log."""
    vehicle = vehicles.for_change(session, data.plate)
    _check_times(data.out_at, data.in_at)
    out_km, in_km = vehicles.check_odometer(data.odometer_out), vehicles.check_odometer(data.odometer_in)
    if in_km < out_km:
        raise Invalid(N_("the odometer at the return (%(back)s km) is below the one at the start (%(out)s km)"),
                      code="bad_odometer", back=in_km, out=out_km)
    overlap = session.scalars(select(Trip).where(Trip.vehicle_id == vehicle.id, _meets(data.out_at, data.in_at))
                              .limit(1)).first()
    if overlap is not None:
        raise RuleViolation(N_("%(plate)s was on another trip then (trip %(trip)s)"), code="trip_overlap",
                            plate=vehicle.plate, trip=overlap.id)
    check_reading(session, vehicle, data.out_at, out_km)
    check_reading(session, vehicle, data.in_at, in_km, others=(Reading(data.out_at, out_km),))
    dispatch = _dispatch_of(session, vehicle, data.dispatch)
    driver = directory.person_by_code(session, data.driver) if data.driver else (dispatch.driver if dispatch else None)
    department = supplies.clean_text(data.department or (dispatch.booking.department if dispatch else ""),
                                     N_("department"), 100, False)
    trip = Trip(vehicle=vehicle, vehicle_id=vehicle.id, dispatch=dispatch,
                dispatch_id=dispatch.id if dispatch else None, driver=driver,
                driver_id=driver.id if driver else None, department=department,
                purpose=supplies.clean_text(data.purpose, N_("purpose"), 2000, False), out_at=data.out_at,
                in_at=data.in_at, odometer_out=out_km, odometer_in=in_km, source=actor.source[:60], late=True,
                conflict=False, recorded_by=actor.name[:100], recorded_at=utcnow())
    session.add(trip)
    session.flush()
    audit.change(session, actor, "trip.record", trip, extra=facts(trip))
    refresh_odometer(session, actor, vehicle, trip)
    return trip


def _check_times(out_at: datetime, in_at: datetime) -> None:
    if out_at.tzinfo is None or in_at.tzinfo is None:
        raise Invalid(N_("a time needs its time zone"), code="bad_trip")
    if in_at <= out_at:
        raise Invalid(N_("the return must be after the start"), code="bad_trip")
    if in_at > utcnow() + CLOCK_SLACK:
        raise Invalid(N_("a trip entered by hand must be over: its return is in the future"), code="bad_trip")
    if out_at.year < params.MIN_YEAR:
        raise Invalid(N_("the start is before %(year)s"), code="bad_trip", year=params.MIN_YEAR)


def _meets(out_at: datetime, in_at: datetime) -> ColumnElement[bool]:
    """Trips of the vehicle whose time out meets [out_at, in_at) (an open trip lasts until now)."""
    starts = func.coalesce(Trip.out_at, Trip.in_at)
    return (starts < in_at) & or_(Trip.in_at.is_(None) & Trip.out_at.is_not(None), Trip.in_at > out_at)


def _dispatch_of(session: Session, vehicle: Vehicle, dispatch_id: int | None) -> Dispatch | None:
    if dispatch_id is None:
        return None
    found = session.get(Dispatch, dispatch_id)
    if found is None or found.vehicle_id != vehicle.id:
        raise NotFound(N_("there is no dispatch %(id)s of %(plate)s"), id=dispatch_id, plate=vehicle.plate)
    return found


def get(session: Session, trip_id: int) -> Trip:
    found = session.get(Trip, trip_id)
    if found is None:
        raise NotFound(N_("there is no trip %(id)s"), id=trip_id)
    return found


def correct(session: Session, actor: Actor, trip_id: int, side: str, km: int, reason: str) -> OdometerCorrection:
    """Correct one odometer reading of a trip: the new value must fit the trip log like any other."""
    if side not in SIDES:
        raise Invalid(N_("the side must be out or in"), code="bad_side")
    why = supplies.clean_text(reason, N_("reason"), 2000)
    trip = get(session, trip_id)
    vehicle = vehicles.lock(session, trip.vehicle_id)
    session.refresh(trip)
    when, before = (trip.out_at, trip.odometer_out) if side == "out" else (trip.in_at, trip.odometer_in)
    if when is None:
        raise Invalid(N_("trip %(trip)s has no time for this reading"), code="bad_side", trip=trip.id)
    if before == km:
        raise Invalid(N_("the reading is %(km)s km already"), code="unchanged", km=km)
    check_reading(session, vehicle, when, km, exclude=(trip.id, side))
    was = described(trip)
    setattr(trip, f"odometer_{side}", km)
    made = OdometerCorrection(trip_id=trip.id, side=side, before=before, after=km, reason=why,
                              corrected_by=actor.name[:100], corrected_at=utcnow())
    session.add(made)
    session.flush()
    audit.change(session, actor, "trip.odometer_correct", trip, was, {**facts(trip), "side": side, "reason": why},
                 inserted=[made])
    refresh_odometer(session, actor, vehicle, trip)
    return made


def corrections(session: Session, trip_id: int) -> list[OdometerCorrection]:
    return list(session.scalars(select(OdometerCorrection).where(OdometerCorrection.trip_id == trip_id)
                                .order_by(OdometerCorrection.id)))


def log(session: Session, plate: str | None = None, no_dispatch: bool = False) -> Select[Any]:
    """Trips for keyset pages by (start, id), newest first; one vehicle's, or those without a dispatch."""
    query = select(Trip)
    if plate:
        query = query.where(Trip.vehicle_id == vehicles.by_plate(session, plate).id)
    if no_dispatch:
        query = query.where(Trip.dispatch_id.is_(None))
    return query


LOG_KEYS = (func.coalesce(Trip.out_at, Trip.in_at), Trip.id)


def distance(trip: Trip) -> int | None:
    if trip.odometer_out is None or trip.odometer_in is None:
        return None
    return trip.odometer_in - trip.odometer_out


# --- costs ---

@dataclass(frozen=True)
class CostIn:
    plate: str
    kind: str
    amount: Decimal | str
    spent_on: date
    trip: int | None = None
    note: str = ""


def record_cost(session: Session, actor: Actor, data: CostIn) -> VehicleCost:
    """Fuel, tolls, parking or maintenance paid for a vehicle (and one of its trips, if known)."""
    vehicle = vehicles.by_plate(session, data.plate)
    if data.kind not in COST_KINDS:
        raise Invalid(N_("the kind of cost must be one of %(kinds)s"), code="bad_kind", kinds=", ".join(COST_KINDS))
    amount = plans.money(data.amount, "amount")
    if not Decimal("0") < amount <= MAX_COST:
        raise Invalid(N_("the amount must be above 0 and at most %(most)s"), code="bad_amount", most=MAX_COST)
    if not params.MIN_YEAR <= data.spent_on.year <= params.MAX_YEAR or data.spent_on > utcnow().date() + \
            timedelta(days=1):
        raise Invalid(N_("the day of the cost must be a past day"), code="bad_day")
    if data.trip is not None and get(session, data.trip).vehicle_id != vehicle.id:
        raise Invalid(N_("trip %(trip)s is not a trip of %(plate)s"), code="bad_trip", trip=data.trip,
                      plate=vehicle.plate)
    cost = VehicleCost(vehicle_id=vehicle.id, trip_id=data.trip, kind=data.kind, amount=amount,
                       spent_on=data.spent_on, note=supplies.clean_text(data.note, N_("note"), 2000, False),
                       recorded_by=actor.name[:100], recorded_at=utcnow())
    session.add(cost)
    session.flush()
    audit.record(session, actor, "vehicle.cost", "vehicle_cost", cost.id, None, {
        "vehicle": vehicle.plate, "trip": data.trip, "kind": data.kind, "amount": str(amount),
        "spent_on": data.spent_on.isoformat(), "note": cost.note}, inserted=[cost])
    return cost


def costs(session: Session, plate: str | None = None, trip_id: int | None = None) -> Select[Any]:
    query = select(VehicleCost)
    if plate:
        query = query.where(VehicleCost.vehicle_id == vehicles.by_plate(session, plate).id)
    if trip_id is not None:
        query = query.where(VehicleCost.trip_id == trip_id)
    return query
