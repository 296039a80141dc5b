"""Properties of the vehicle registers under random sequences, and dispatch under real concurrency:

* a vehicle (or a driver) is never in two standing dispatches whose windows overlap, and a dispatch is
  refused exactly when it would be (or the booking, seats or driver do not allow it);
* the odometer never decreases in the trip log, whatever order trips, gate events and corrections come in;
* clerks dispatching at the same moment never double-book (threads on SQLite and PostgreSQL).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.audit import SYSTEM
from server.errors import DomainError
from server.models import Dispatch, Trip, Vehicle, VehicleBooking, utcnow
from server.services import approvals, assets, bookings, dispatch, trips, vehicle_gate, vehicles, visits
from tests.vehicle_support import BUS, CAR, CLERK, LEADER, LIMIT, OFFICE, VAN, Fleet, fleet

PLATES = (CAR, VAN, BUS)
SEATS = {CAR: 5, VAN: 7, BUS: 20}
HALF_HOUR = timedelta(minutes=30)
# Weighted towards what makes dispatches (approved requests, permitted drivers, a few passengers), so that
# overlapping windows meet often enough for a broken rule to show in a few dozen examples.
dispatch_step = st.one_of(
    st.tuples(st.just("book"), st.integers(0, 24), st.integers(1, 8), st.sampled_from([0, 1, 2, 3, 5, 8]),
              st.sampled_from([True, True, True, False])),
    st.tuples(st.just("assign"), st.integers(0, 30), st.integers(0, 2), st.sampled_from([0, 0, 1, 1, 2]),
              st.booleans()),
    st.tuples(st.just("assign"), st.integers(0, 30), st.integers(0, 2), st.sampled_from([0, 1]), st.booleans()),
    st.tuples(st.just("cancel_booking"), st.integers(0, 30), st.integers(0, 0), st.integers(0, 0), st.booleans()),
    st.tuples(st.just("cancel_dispatch"), st.integers(0, 30), st.integers(0, 0), st.integers(0, 0), st.booleans()),
)


@pytest.fixture
def cars(sessions: Any) -> Fleet:
    return fleet(sessions)


def _overlap(a: Dispatch, b: Dispatch) -> bool:
    return a.starts_at < b.ends_at and b.starts_at < a.ends_at


def _standing(db: Session) -> list[Dispatch]:
    return list(db.scalars(select(Dispatch).where(Dispatch.cancelled_at.is_(None)).order_by(Dispatch.id)))


def _never_double_booked(db: Session) -> None:
    rows = _standing(db)
    for i, a in enumerate(rows):
        for b in rows[i + 1:]:
            assert not (a.vehicle_id == b.vehicle_id and _overlap(a, b)), f"vehicle twice: {a.id} {b.id}"
            assert not (a.driver_id == b.driver_id and _overlap(a, b)), f"driver twice: {a.id} {b.id}"


def _expect_assign(db: Session, booking: VehicleBooking, plate: str, driver: str, cars: Fleet) -> bool:
    """The oracle: whether the rules allow this dispatch, from what the database holds now."""
    if bookings.state_of(db, booking) != "approved" or SEATS[plate] - 1 < booking.passengers:
        return False
    if driver not in cars.drivers:
        return False
    vehicle = vehicles.by_plate(db, plate)
    for row in _standing(db):
        meets = row.starts_at < booking.ends_at and booking.starts_at < row.ends_at
        if meets and (row.vehicle_id == vehicle.id or row.driver.code == driver):
            return False
    return True


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(dispatch_step, min_size=4, max_size=30))
def test_a_vehicle_is_never_in_two_overlapping_dispatches(sessions: Any, cars: Fleet, steps: list[Any]) -> None:
    base = utcnow().replace(microsecond=0) + timedelta(days=1)
    people = [*cars.drivers, cars.stranger]
    with sessions() as db:
        made: list[int] = []
        for action, a, b, c, flag in steps:
            try:
                with db.begin_nested():
                    if action == "book":
                        start = base + a * HALF_HOUR
                        found = bookings.submit(db, CLERK, bookings.BookingIn("Finance", "work", c, "there", start,
                                                                             start + b * HALF_HOUR), LIMIT)
                        if flag:
                            approvals.decide(db, LEADER, found.approval_id, "approve")
                        made.append(found.id)
                    elif action == "assign" and made:
                        booking = bookings.by_id(db, made[a % len(made)])
                        plate, driver = PLATES[b], people[c]
                        expected = _expect_assign(db, booking, plate, driver, cars)
                        try:
                            with db.begin_nested():
                                dispatch.assign(db, OFFICE, booking.id, plate, driver)
                        except DomainError:
                            assert not expected, f"refused although free: {booking.id} {plate} {driver}"
                        else:
                            assert expected, f"dispatched although not allowed: {booking.id} {plate} {driver}"
                    elif action == "cancel_booking" and made:
                        bookings.cancel(db, CLERK, made[a % len(made)], "plans changed")
                    elif action == "cancel_dispatch":
                        standing = _standing(db)
                        if standing:
                            dispatch.cancel(db, OFFICE, standing[a % len(standing)].id, "another car")
            except DomainError:
                pass  # refused (a state that does not allow it): the savepoint took back what it wrote
            _never_double_booked(db)
        db.rollback()


window_step = st.tuples(st.integers(0, 16), st.integers(1, 6), st.integers(0, 2), st.integers(0, 1))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(requests=st.lists(window_step, min_size=2, max_size=12))
def test_every_request_is_dispatched_exactly_when_its_vehicle_and_driver_are_free(sessions: Any, cars: Fleet,
                                                                                  requests: list[Any]) -> None:
    """Approved requests in random windows, each offered a random vehicle and driver, in random order."""
    base = utcnow().replace(microsecond=0) + timedelta(days=1)
    with sessions() as db:
        for start, length, vehicle, driver in requests:
            begins = base + start * HALF_HOUR
            found = bookings.submit(db, CLERK, bookings.BookingIn("Finance", "work", 1, "there", begins,
                                                                 begins + length * HALF_HOUR), LIMIT)
            approvals.decide(db, LEADER, found.approval_id, "approve")
            expected = _expect_assign(db, found, PLATES[vehicle], cars.drivers[driver], cars)
            try:
                with db.begin_nested():
                    dispatch.assign(db, OFFICE, found.id, PLATES[vehicle], cars.drivers[driver])
            except DomainError as exc:
                assert not expected and exc.code in ("vehicle_busy", "driver_busy"), exc.code
            else:
                assert expected, "dispatched into a window its vehicle or driver was taken"
            _never_double_booked(db)
        db.rollback()


def _new_vehicle(db: Session, n: int) -> Vehicle:
    asset = assets.create_asset(db, SYSTEM, f"Sedan {n}", "公务用车")
    vehicle = vehicles.register(db, SYSTEM, vehicles.VehicleIn(asset.code, f"京H{n:05d}", 5, "petrol", 1000))
    vehicle.registered_at = utcnow() - timedelta(days=200)
    return vehicle


def _readings(db: Session, vehicle: Vehicle) -> list[tuple[datetime, int]]:
    found = [(vehicle.registered_at, vehicle.initial_odometer)]
    for trip in db.scalars(select(Trip).where(Trip.vehicle_id == vehicle.id)):
        found += [(at, km) for at, km in ((trip.out_at, trip.odometer_out), (trip.in_at, trip.odometer_in))
                  if at is not None and km is not None]
    return sorted(found)


def _odometer_never_decreases(db: Session, vehicle: Vehicle) -> None:
    readings = _readings(db, vehicle)
    for (t1, km1), (t2, km2) in zip(readings, readings[1:], strict=False):
        assert km1 <= km2, f"the odometer went down from {km1} ({t1}) to {km2} ({t2})"
        assert t1 != t2 or km1 == km2, f"two readings at {t1}: {km1} and {km2}"
    db.refresh(vehicle)
    assert vehicle.odometer == readings[-1][1], "the vehicle's odometer is not its newest reading"


odometer_step = st.one_of(
    st.tuples(st.just("late"), st.integers(1, 190), st.integers(1, 12), st.integers(0, 6000), st.integers(0, 600)),
    st.tuples(st.sampled_from(["gate_out", "gate_in"]), st.integers(2, 150 * 24 * 60), st.integers(0, 0),
              st.integers(0, 6000), st.integers(0, 1)),
    st.tuples(st.just("correct"), st.integers(0, 30), st.integers(0, 1), st.integers(0, 6000), st.integers(0, 0)),
)
OFFLINE_GATE = visits.Origin("kiosk:gate-1", None, True, kiosk=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(odometer_step, min_size=1, max_size=25), n=st.integers(0, 99_999))
def test_the_odometer_never_decreases_in_the_trip_log(sessions: Any, cars: Fleet, steps: list[Any], n: int) -> None:
    with sessions() as db:
        vehicle = _new_vehicle(db, n)
        now = utcnow()
        for action, a, b, km, extra in steps:
            try:
                with db.begin_nested():
                    if action == "late":
                        out_at = now - timedelta(days=a, hours=b)
                        trips.record(db, OFFICE, trips.TripIn(vehicle.plate, out_at, out_at + timedelta(hours=b),
                                                              km, km + extra))
                    elif action in ("gate_out", "gate_in"):
                        # made offline (a minute or more before it arrives): stored even when it does not fit
                        direction = action.split("_")[1]
                        vehicle_gate.at_gate(db, OFFICE, vehicle_gate.AtGate(direction, vehicle.plate, None, None,
                                                                             km if extra else None),
                                             at=now - timedelta(minutes=a), origin=OFFLINE_GATE)
                    elif action == "correct":
                        rows = list(db.scalars(select(Trip).where(Trip.vehicle_id == vehicle.id).order_by(Trip.id)))
                        if rows:
                            trips.correct(db, OFFICE, rows[a % len(rows)].id, ("out", "in")[b], km, "misread")
            except DomainError:
                pass
            _odometer_never_decreases(db, vehicle)
        db.rollback()


def _approved(sessions: Any, start: datetime, hours: int, count: int) -> list[int]:
    made = []
    with sessions() as db, db.begin():
        for _ in range(count):
            found = bookings.submit(db, CLERK, bookings.BookingIn("Finance", "work", 1, "there", start,
                                                                 start + timedelta(hours=hours)), LIMIT)
            approvals.decide(db, LEADER, found.approval_id, "approve")
            made.append(found.id)
    return made


def _race(sessions: Any, jobs: list[tuple[int, str, str]]) -> list[str]:
    """Every job (booking, vehicle, driver) dispatched by its own clerk, all released at once."""
    barrier, results = threading.Barrier(len(jobs)), [""] * len(jobs)

    def clerk(i: int, booking: int, plate: str, driver: str) -> None:
        barrier.wait(10)
        try:
            with sessions() as db, db.begin():
                dispatch.assign(db, OFFICE, booking, plate, driver)
            results[i] = "ok"
        except DomainError as exc:
            results[i] = exc.code

    threads = [threading.Thread(target=clerk, args=(i, *job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_clerks_dispatching_at_once_never_double_book(sessions: Any, cars: Fleet) -> None:
    start = utcnow().replace(microsecond=0) + timedelta(days=2)
    same_vehicle = _approved(sessions, start, 2, 6)
    results = _race(sessions, [(b, VAN, cars.drivers[i % 2]) for i, b in enumerate(same_vehicle)])
    assert results.count("ok") == 1 and set(results) <= {"ok", "vehicle_busy", "driver_busy"}, results
    later = start + timedelta(days=1)
    same_driver = _approved(sessions, later, 2, 3)
    results = _race(sessions, [(b, plate, cars.drivers[0]) for b, plate in zip(same_driver, PLATES, strict=True)])
    assert results.count("ok") == 1 and set(results) <= {"ok", "driver_busy"}, results
    with sessions() as db:
        _never_double_booked(db)
