"""Dispatch (派车): the office assigns a vehicle and a driver to an approved booking request.

* The booking must be approved, not cancelled, not dispatched yet, and its window not over.
* The vehicle must be in the fleet and usable (not under repair, not disposed), with seats for the
  driver and the passengers; the driver must be in the vehicle's pool of permitted drivers.
* Double booking is refused: a vehicle, or a driver, is never in two standing dispatches whose
  windows overlap (windows are half-open, [start, end): one trip may start when another ends).

Two clerks dispatching at once must not both see the vehicle free. So an assignment locks, in this
order, the booking, the vehicle and the driver's row, and only then looks for overlapping dispatches:
the second clerk waits for the first and sees the first one's dispatch (PostgreSQL's READ COMMITTED
re-reads after the lock; SQLite runs writing transactions one at a time). The order is fixed, so two
assignments never wait for each other in a circle; the consumer never locks bookings or people.
PostgreSQL also holds the rule in exclusion constraints (migration 0030): should a path ever forget
the locks, the database still refuses the second dispatch.

A cancelled dispatch frees its slot at once: only standing dispatches (``cancelled_at IS NULL``) count.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server import audit
from server.audit import Actor
from server.errors import AlreadyExists, Forbidden, IllegalTransition, NotFound, RuleViolation
from server.i18n import N_
from server.models import ApprovalState, Dispatch, Person, Trip, Vehicle, VehicleBooking, utcnow
from server.services import bookings, directory, supplies, vehicles


class DoubleBooked(RuleViolation):
    """The vehicle or the driver is dispatched elsewhere in the window (``vehicle_busy``, ``driver_busy``)."""

    status = 409


def _local(value: datetime) -> str:
    return value.isoformat(timespec="minutes")


def facts(dispatch: Dispatch) -> dict[str, object]:
    return {"booking": dispatch.booking_id, "vehicle": dispatch.vehicle.plate, "driver": dispatch.driver.code,
            "starts_at": dispatch.starts_at.isoformat(), "ends_at": dispatch.ends_at.isoformat(),
            "cancelled": dispatch.cancelled_at is not None}


def described(dispatch: Dispatch) -> dict[str, object]:
    """What an audit row says of the dispatch: its audited state, and its facts for a reader."""
    return {**facts(dispatch), **audit.state(dispatch)}


def assign(session: Session, actor: Actor, booking_id: int, plate: str, driver: str) -> Dispatch:
    """Dispatch ``booking_id`` with the vehicle of ``plate`` (or its A- code) driven by ``driver`` (P- code)."""
    booking = bookings.for_change(session, booking_id)
    _dispatchable(session, booking)
    vehicle = vehicles.lock(session, vehicles.by_plate(session, plate).id)
    person = _lock_person(session, directory.person_by_code(session, driver).id)
    _fits(session, booking, vehicle, person)
    _free(session, vehicle, person, booking.starts_at, booking.ends_at)
    made = Dispatch(booking=booking, booking_id=booking.id, vehicle=vehicle, vehicle_id=vehicle.id, driver=person,
                    driver_id=person.id, starts_at=booking.starts_at, ends_at=booking.ends_at,
                    dispatched_by=actor.name[:100], dispatched_at=utcnow())
    try:
        with session.begin_nested():
            session.add(made)
            session.flush()
    except IntegrityError:  # PostgreSQL's exclusion constraint: only if a writer skipped the locks
        raise DoubleBooked(N_("%(plate)s or its driver was dispatched elsewhere in this window meanwhile"),
                           code="vehicle_busy", plate=vehicle.plate) from None
    audit.change(session, actor, "dispatch.assign", made, extra=facts(made))
    return made


def _dispatchable(session: Session, booking: VehicleBooking) -> None:
    if booking.approval.state != ApprovalState.APPROVED or booking.cancelled_at is not None:
        state = bookings.state_of(session, booking)
        raise IllegalTransition(N_("this booking request is %(state)s: only an approved one is dispatched"),
                                state=bookings._state_term(state))
    standing = bookings.standing_dispatch(session, booking.id)
    if standing is not None:
        raise AlreadyExists(N_("booking request %(id)s is dispatched already (%(plate)s)"), code="already_dispatched",
                            id=booking.id, plate=standing.vehicle.plate)
    if booking.ends_at <= utcnow():
        raise IllegalTransition(N_("the window of booking request %(id)s is over"), code="window_over",
                                id=booking.id)


def _lock_person(session: Session, person_id: int) -> Person:
    session.execute(select(Person.id).where(Person.id == person_id).with_for_update())
    return session.scalars(select(Person).where(Person.id == person_id)).one()


def _fits(session: Session, booking: VehicleBooking, vehicle: Vehicle, person: Person) -> None:
    if not vehicle.active or vehicle.asset.status not in vehicles.USABLE:
        raise RuleViolation(N_("%(plate)s cannot be dispatched now (out of the fleet, under repair or disposed)"),
                            code="vehicle_unusable", plate=vehicle.plate)
    if vehicle.seats - 1 < booking.passengers:
        raise RuleViolation(N_("%(plate)s has seats for %(room)s passengers besides the driver, not %(wanted)s"),
                            code="too_few_seats", plate=vehicle.plate, room=vehicle.seats - 1,
                            wanted=booking.passengers)
    if not vehicles.may_drive(session, vehicle, person):
        raise RuleViolation(N_("%(driver)s is not a permitted driver of %(plate)s"), code="not_a_driver",
                            driver=person.code, plate=vehicle.plate)


def _free(session: Session, vehicle: Vehicle, person: Person, starts_at: datetime, ends_at: datetime) -> None:
    """Refuse when the vehicle or the driver has a standing dispatch overlapping the window (after the locks)."""
    window = vehicles.overlapping(starts_at, ends_at)
    clash = session.scalars(select(Dispatch).where(Dispatch.vehicle_id == vehicle.id, window)).first()
    if clash is not None:
        raise DoubleBooked(N_("%(plate)s is dispatched from %(start)s to %(end)s already (booking request "
                              "%(booking)s)"), code="vehicle_busy", plate=vehicle.plate, start=_local(clash.starts_at),
                           end=_local(clash.ends_at), booking=clash.booking_id)
    clash = session.scalars(select(Dispatch).where(Dispatch.driver_id == person.id, window)).first()
    if clash is not None:
        raise DoubleBooked(N_("%(driver)s drives from %(start)s to %(end)s already (booking request %(booking)s)"),
                           code="driver_busy", driver=person.code, start=_local(clash.starts_at),
                           end=_local(clash.ends_at), booking=clash.booking_id)


def get(session: Session, dispatch_id: int) -> Dispatch:
    found = session.get(Dispatch, dispatch_id)
    if found is None:
        raise NotFound(N_("there is no dispatch %(id)s"), id=dispatch_id)
    return found


def cancel(session: Session, actor: Actor, dispatch_id: int, reason: str) -> Dispatch:
    """The office takes a dispatch back (another vehicle, another driver): the slot is free at once
    and the booking waits to be dispatched again. Not while the vehicle is out on it."""
    if actor.role not in (*bookings.OFFICE, "admin"):
        raise Forbidden(N_("only the office may cancel a dispatch"))
    found = get(session, dispatch_id)
    bookings.for_change(session, found.booking_id)
    session.refresh(found)
    if found.cancelled_at is not None:
        raise IllegalTransition(N_("dispatch %(id)s is cancelled already"), id=dispatch_id)
    bookings.refuse_if_out(session, found)
    why = supplies.clean_text(reason, N_("reason"), 2000)
    before = described(found)
    found.cancelled_at, found.cancelled_by, found.cancel_reason = utcnow(), actor.name[:100], why
    audit.change(session, actor, "dispatch.cancel", found, before, {**facts(found), "reason": why})
    return found


def covering(session: Session, vehicle_id: int, at: datetime, standing: bool = True) -> Dispatch | None:
    """The vehicle's dispatch whose window covers ``at``: a standing one, or (``standing=False``) the
    newest one cancelled, for a gate that could not know of the cancellation."""
    query = select(Dispatch).where(Dispatch.vehicle_id == vehicle_id, Dispatch.starts_at <= at, Dispatch.ends_at > at)
    if standing:
        return session.scalars(query.where(Dispatch.cancelled_at.is_(None))).first()
    return session.scalars(query.where(Dispatch.cancelled_at.is_not(None))
                           .order_by(Dispatch.cancelled_at.desc())).first()


def upcoming(session: Session, since: datetime, hours: int = 24) -> list[Dispatch]:
    """Standing dispatches that meet [since, since + hours): what a gate needs to know offline."""
    return list(session.scalars(select(Dispatch).where(vehicles.overlapping(since, since + timedelta(hours=hours)))
                                .order_by(Dispatch.starts_at)))


def overdue(session: Session, now: datetime | None = None) -> list[Trip]:
    """Vehicles still out on a dispatch whose window has ended (the office should call the driver)."""
    now = now or utcnow()
    query = (select(Trip).join(Dispatch, Dispatch.id == Trip.dispatch_id)
             .where(Trip.out_at.is_not(None), Trip.in_at.is_(None), Dispatch.ends_at < now)
             .order_by(Dispatch.ends_at))
    return list(session.scalars(query))
