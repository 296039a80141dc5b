"""Official vehicles through the services: request, approval, refusal, dispatch, trip, return; double
booking; free vehicles by fit; the odometer and its corrections; late trips; costs; bad input."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from server.audit import SYSTEM, Actor
from server.errors import DomainError, Forbidden
from server.models import (
    AuditEntry,
    GateAlert,
    OdometerCorrection,
    Trip,
    VehicleBooking,
    VehiclePassage,
    utcnow,
)
from server.services import approvals, bookings, dispatch, lifecycle, trips, vehicle_gate, vehicles, visits
from server.services.gate_alerts import GateRefusal
from tests.vehicle_support import BUS, CAR, CLERK, LEADER, LIMIT, OFFICE, VAN, Fleet, book, fleet, window

KIOSK = visits.Origin("kiosk:gate-1", None, True, kiosk=True)


@pytest.fixture
def cars(sessions: Any) -> Fleet:
    return fleet(sessions)


def _gate(session: Any, direction: str, plate: str, tag: str | None = None, km: int | None = None,
          at: Any = None, origin: visits.Origin = KIOSK) -> vehicle_gate.GateOutcome:
    return vehicle_gate.at_gate(session, OFFICE, vehicle_gate.AtGate(direction, plate, tag, None, km), at=at,
                                origin=origin)


def _code(call: Any) -> str:
    with pytest.raises(DomainError) as refused:
        call()
    return refused.value.code


def test_request_approval_dispatch_trip_return(sessions: Any, cars: Fleet) -> None:
    start, end = window(-0.25, 3)
    with sessions() as session, session.begin():
        booking = book(session, start, end, passengers=3, approve=False)
        found = bookings.by_id(session, booking)
        assert bookings.state_of(session, found) == "pending"
        assert found.approval.kind == "vehicle_booking" and found.approval.level_list == ["leader"]
        assert [a.id for a in approvals.waiting_for(session, "leader")] == [found.approval_id]
        assert _code(lambda: approvals.decide(session, CLERK, found.approval_id, "approve")) == "forbidden"
        approvals.decide(session, LEADER, found.approval_id, "approve")
        assert bookings.state_of(session, found) == "approved"
        assert [b.id for b in bookings.queue(session)] == [booking]
        made = dispatch.assign(session, OFFICE, booking, VAN, cars.drivers[0])
        assert bookings.state_of(session, found) == "dispatched" and bookings.queue(session) == []
    with sessions() as session, session.begin():
        out = _gate(session, "out", VAN, cars.tags[VAN], 10_020)
        assert (out.dispatch.id, out.conflict, out.trip.department, out.trip.driver.code) == (
            made.id, False, "Finance", cars.drivers[0])
        back = _gate(session, "in", VAN, None, 10_085, at=utcnow() + timedelta(minutes=1))
        assert back.trip.id == out.trip.id and trips.distance(back.trip) == 65
        assert vehicles.by_plate(session, "京a·22222").odometer == 10_085
        assert [p.kind for p in session.scalars(select(VehiclePassage))] == ["official", "official"]


def test_a_rejection_needs_a_reason_and_a_rejected_request_is_not_dispatched(sessions: Any, cars: Fleet) -> None:
    with sessions() as session, session.begin():
        booking = book(session, *window(), approve=False)
        chain = bookings.by_id(session, booking).approval_id
        assert _code(lambda: approvals.decide(session, LEADER, chain, "reject")) == "reason_required"
        approvals.decide(session, LEADER, chain, "reject", reason="use the bus")
        assert _code(lambda: dispatch.assign(session, OFFICE, booking, CAR, cars.drivers[0])) == "illegal_transition"
        assert bookings.state_of(session, bookings.by_id(session, booking)) == "rejected"
        other = book(session, *window(), approve=False)
        with pytest.raises(Forbidden):  # only its requester withdraws a request still waiting
            bookings.cancel(session, OFFICE, other, "no")
        bookings.cancel(session, CLERK, other, "not needed")
        assert bookings.state_of(session, bookings.by_id(session, other)) == "withdrawn"


def test_double_booking_is_refused_and_a_cancellation_frees_the_slot(sessions: Any, cars: Fleet) -> None:
    start, end = window(2, 1)
    with sessions() as session, session.begin():
        # second overlaps the first's hour only; third starts when the first ends
        first, second, third = (book(session, start + timedelta(hours=h), end + timedelta(hours=h))
                                for h in (0, -0.5, 1))
        held = dispatch.assign(session, OFFICE, first, CAR, cars.drivers[0])
        refused = _code(lambda: dispatch.assign(session, OFFICE, second, CAR, cars.drivers[1]))
        assert refused == "vehicle_busy"
        assert _code(lambda: dispatch.assign(session, OFFICE, second, VAN, cars.drivers[0])) == "driver_busy"
        dispatch.assign(session, OFFICE, third, CAR, cars.drivers[0])  # starts when the first ends: no overlap
        assert _code(lambda: dispatch.assign(session, OFFICE, first, VAN, cars.drivers[1])) == "already_dispatched"
        bookings.cancel(session, CLERK, first, "meeting moved")
        assert dispatch.get(session, held.id).cancelled_at is not None
        dispatch.assign(session, OFFICE, second, CAR, cars.drivers[1])  # the slot is free again
        assert _code(lambda: dispatch.assign(session, OFFICE, first, VAN, cars.drivers[1])) == "illegal_transition"
    with sessions() as session:
        actions = [a for (a,) in session.execute(select(AuditEntry.action).where(
            AuditEntry.action.like("dispatch.%")).order_by(AuditEntry.id))]
        assert actions == ["dispatch.assign", "dispatch.assign", "dispatch.cancel", "dispatch.assign"]


def test_free_vehicles_are_ordered_by_fit_and_urgent_requests_come_first(sessions: Any, cars: Fleet) -> None:
    start, end = window(1, 2)
    with sessions() as session, session.begin():
        for plate, km in ((VAN, 12_000), (BUS, 9_000)):
            vehicles.by_plate(session, plate).odometer = km
        assert [(f.vehicle.plate, f.spare_seats) for f in vehicles.free_vehicles(session, start, end, 2)] == [
            (CAR, 2), (VAN, 4), (BUS, 17)]
        assert [f.vehicle.plate for f in vehicles.free_vehicles(session, start, end, 6)] == [VAN, BUS]
        assert [f.vehicle.plate for f in vehicles.free_vehicles(session, start, end, 7)] == [BUS]
        assert vehicles.free_vehicles(session, start, end, 25) == []
        normal = book(session, start, end)
        urgent = book(session, start + timedelta(hours=1), end + timedelta(hours=1), urgency="urgent")
        assert [b.id for b in bookings.queue(session)] == [urgent, normal]
        dispatch.assign(session, OFFICE, normal, CAR, cars.drivers[0])
        assert [f.vehicle.plate for f in vehicles.free_vehicles(session, start, end, 2)] == [VAN, BUS]
        van = vehicles.by_plate(session, VAN)
        assert [p.code for p in vehicles.free_drivers(session, van, start, end)] == [cars.drivers[1]]
        lifecycle.send_to_repair(session, SYSTEM, cars.tags[VAN], "brakes")
        assert [f.vehicle.plate for f in vehicles.free_vehicles(session, start, end, 2)] == [BUS]
        assert _code(lambda: dispatch.assign(session, OFFICE, urgent, VAN, cars.drivers[1])) == "vehicle_unusable"


def test_an_official_vehicle_leaves_only_with_a_dispatch(sessions: Any, cars: Fleet) -> None:
    """Live: refused (no_dispatch) and the admin sees the refused exit; made offline: stored as a conflict."""
    with pytest.raises(GateRefusal) as refused, sessions() as session, session.begin():
        _gate(session, "out", CAR, cars.tags[CAR], 10_010)
    assert refused.value.code == "no_dispatch"
    with sessions() as session, session.begin():  # what the consumer does after the event's rollback
        refused.value.aftermath(session)
    with sessions() as session, session.begin():
        alert = session.scalars(select(GateAlert)).one()
        assert (alert.kind, alert.subject) == ("no_dispatch", cars.tags[CAR])
        assert session.scalar(select(func.count()).select_from(Trip)) == 0
        made_offline = utcnow() - timedelta(hours=2)
        out = _gate(session, "out", CAR, cars.tags[CAR], 10_010, at=made_offline)
        assert out.conflict and out.dispatch is None and out.trip.conflict
        assert out.passage.conflict and "without an approved dispatch" in out.passage.note
        assert [a.kind for a in session.scalars(select(GateAlert).order_by(GateAlert.id))] == [
            "no_dispatch", "vehicle_conflict"]
    unsynced = visits.Origin("kiosk:gate-1", None, False, kiosk=True)  # its time cannot show it was offline
    with pytest.raises(GateRefusal), sessions() as session, session.begin():
        _gate(session, "out", BUS, None, 10_001, at=made_offline, origin=unsynced)


def test_a_dispatch_cancelled_after_an_offline_exit_is_a_conflict(sessions: Any, cars: Fleet) -> None:
    start, end = window(-1, 3)
    with sessions() as session, session.begin():
        booking = book(session, start, end)
        made = dispatch.assign(session, OFFICE, booking, CAR, cars.drivers[0])
    left = utcnow() - timedelta(minutes=30)
    with sessions() as session, session.begin():
        bookings.cancel(session, CLERK, booking, "cancelled")
    with sessions() as session, session.begin():
        out = _gate(session, "out", CAR, cars.tags[CAR], 10_010, at=left)
        assert out.conflict and out.dispatch is not None and out.dispatch.id == made.id
        assert _code(lambda: _gate(session, "out", VAN, cars.tags[VAN], 10_000)) == "no_dispatch"


def test_the_odometer_only_goes_up_and_a_correction_is_its_own_audited_event(sessions: Any, cars: Fleet) -> None:
    t0 = utcnow() - timedelta(days=3)
    with sessions() as session, session.begin():
        trip = trips.record(session, OFFICE, trips.TripIn(CAR, t0, t0 + timedelta(hours=2), 10_100, 10_180))
        later = trips.record(session, OFFICE, trips.TripIn(CAR, t0 + timedelta(days=1),
                                                           t0 + timedelta(days=1, hours=1), 10_200, 10_230))
        assert _code(lambda: trips.record(session, OFFICE, trips.TripIn(
            CAR, t0 + timedelta(days=2), t0 + timedelta(days=2, hours=1), 10_150, 10_300))) == "bad_odometer"
        assert _code(lambda: trips.correct(session, OFFICE, trip.id, "in", 10_250, "typo")) == "bad_odometer"
        assert _code(lambda: trips.correct(session, OFFICE, trip.id, "in", 10_180, "same")) == "unchanged"
        assert _code(lambda: trips.correct(session, OFFICE, trip.id, "in", 10_190, "")) == "required"
        trips.correct(session, OFFICE, trip.id, "in", 10_190, "read 8 as 9 at the gate")
        trip_id, later_id = trip.id, later.id
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Trip)) == 2  # never a duplicate trip
        fixed = session.get(Trip, trip_id)
        assert (fixed.odometer_in, trips.distance(fixed)) == (10_190, 90)
        correction = session.scalars(select(OdometerCorrection)).one()
        assert (correction.before, correction.after, correction.side) == (10_180, 10_190, "in")
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "trip.odometer_correct")).one()
        assert (entry.before["odometer_in"], entry.after["odometer_in"]) == (10_180, 10_190)
        assert session.get(Trip, later_id).odometer_out == 10_200
        assert vehicles.by_plate(session, CAR).odometer == 10_230


def test_an_old_trip_entered_late_is_accepted_where_it_fits(sessions: Any, cars: Fleet) -> None:
    with sessions() as session, session.begin():
        _gate(session, "out", BUS, None, 10_500, at=utcnow() - timedelta(days=1, minutes=1),
              origin=visits.Origin("kiosk:gate-1", None, True, kiosk=True))  # offline, no dispatch: a conflict
        _gate(session, "in", BUS, None, 10_700, at=utcnow() - timedelta(hours=20))
        long_ago = utcnow() - timedelta(days=40)
        old = trips.record(session, OFFICE, trips.TripIn(BUS, long_ago, long_ago + timedelta(hours=5), 10_100,
                                                         10_300, cars.drivers[1], "Finance", "audit visit"))
        assert old.late and old.dispatch_id is None and vehicles.by_plate(session, BUS).odometer == 10_700
        overlap = trips.TripIn(BUS, long_ago + timedelta(hours=1), long_ago + timedelta(hours=2), 10_150, 10_160)
        assert _code(lambda: trips.record(session, OFFICE, overlap)) == "trip_overlap"
        future = trips.TripIn(BUS, utcnow(), utcnow() + timedelta(hours=3), 10_700, 10_800)
        assert _code(lambda: trips.record(session, OFFICE, future)) == "bad_trip"


def test_a_return_that_arrives_before_its_exit_makes_one_trip(sessions: Any, cars: Fleet) -> None:
    """Two gates: the exit was made at an offline gate and arrives after the return from the other."""
    start, end = window(-2, 4)
    with sessions() as session, session.begin():
        dispatch.assign(session, OFFICE, book(session, start, end), CAR, cars.drivers[0])
    with sessions() as session, session.begin():
        back = _gate(session, "in", CAR, None, 10_090)
        out = _gate(session, "out", CAR, cars.tags[CAR], 10_030, at=utcnow() - timedelta(hours=1))
        assert out.trip.id == back.trip.id and out.dispatch is not None and not out.conflict
        assert (out.trip.odometer_out, out.trip.odometer_in) == (10_030, 10_090)
        assert session.scalar(select(func.count()).select_from(Trip)) == 1


def test_visitors_and_unknown_vehicles_are_logged_as_such_with_the_plate_sealed(sessions: Any, cars: Fleet) -> None:
    from tests.gate_support import office, preregister

    place = office(sessions)
    code = preregister(sessions, place["host"], plate="粤B·D12345")
    with sessions() as session, session.begin():
        visitor = vehicle_gate.at_gate(session, OFFICE, vehicle_gate.typed("in", "粤bd 12345"), origin=KIOSK)
        stranger = vehicle_gate.at_gate(session, OFFICE, vehicle_gate.typed("in", "沪C88888"), origin=KIOSK)
        with_pass = vehicle_gate.at_gate(session, OFFICE, vehicle_gate.typed("out", "沪C88888", pass_code=code))
        assert [(o.passage.kind, o.passage.pass_code) for o in (visitor, stranger, with_pass)] == [
            ("visitor", code), ("unknown", None), ("visitor", code)]
        row = session.get(VehiclePassage, stranger.passage.id)
        assert row.plate is None and row.plate_enc and "沪C88888" not in row.plate_enc
        assert vehicle_gate.shown_plate(session, row) == "沪C88888"


def test_bad_input_is_refused_with_a_clear_reason_and_changes_nothing(sessions: Any, cars: Fleet) -> None:
    start, end = window()
    with sessions() as session, session.begin():
        before = session.scalar(select(func.count()).select_from(AuditEntry))
        laptop = cars.laptop
        cases = [
            (lambda: vehicles.register(session, OFFICE, vehicles.VehicleIn(laptop, "京B1", 5, "petrol", 0)),
             "not_a_vehicle_category"),
            (lambda: vehicles.register(session, OFFICE, vehicles.VehicleIn(cars.tags[CAR], "京B1", 5, "petrol", 0)),
             "already_exists"),
            (lambda: vehicles.clean_plate("京A#12"), "bad_plate"),
            (lambda: vehicles.clean_plate("京A123456789012345"), "bad_plate"),
            (lambda: vehicles.check_odometer(-1), "bad_odometer"),
            (lambda: bookings.submit(session, CLERK, bookings.BookingIn("Finance", "x", 2, "y", end, start), LIMIT),
             "bad_window"),
            (lambda: bookings.submit(session, CLERK, bookings.BookingIn("Finance", "x", 99, "y", start, end), LIMIT),
             "bad_passengers"),
            (lambda: bookings.submit(session, CLERK, bookings.BookingIn("Finance", " ", 2, "y", start, end), LIMIT),
             "required"),
            (lambda: bookings.submit(session, CLERK, bookings.BookingIn("Finance", "x", 2, "y", start, end, "soon"),
                                     LIMIT), "bad_urgency"),
            (lambda: bookings.submit(session, CLERK, bookings.BookingIn(
                "Finance", "x", 2, "y", start - timedelta(days=2), end - timedelta(days=2)), LIMIT), "bad_window"),
            (lambda: trips.record_cost(session, OFFICE, trips.CostIn(CAR, "snacks", "10", start.date())), "bad_kind"),
            (lambda: trips.record_cost(session, OFFICE, trips.CostIn(CAR, "fuel", "0", start.date())),
             "bad_amount"),
            (lambda: trips.record_cost(session, OFFICE, trips.CostIn(CAR, "fuel", "1.234", start.date())),
             "invalid"),
            (lambda: vehicles.by_plate(session, "京Z00000"), "unknown_code"),
            (lambda: vehicle_gate.typed("out", "京A12345", tag="A-12"), "bad_code"),
        ]
        for call, code in cases:
            assert _code(call) == code, code
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == before
        assert session.scalar(select(func.count()).select_from(VehicleBooking)) == 0
    with sessions() as session, session.begin():
        booking = book(session, start, end, passengers=6)
        assert _code(lambda: dispatch.assign(session, OFFICE, booking, CAR, cars.drivers[0])) == "too_few_seats"
        assert _code(lambda: dispatch.assign(session, OFFICE, booking, BUS, cars.stranger)) == "not_a_driver"
        lifecycle.dispose(session, SYSTEM, cars.tags[BUS], "scrapped", "APP-1", note="worn out")
        assert _code(lambda: dispatch.assign(session, OFFICE, booking, BUS, cars.drivers[0])) == "vehicle_unusable"


def test_costs_count_per_vehicle_and_trip(sessions: Any, cars: Fleet) -> None:
    t0 = utcnow() - timedelta(days=2)
    with sessions() as session, session.begin():
        trip = trips.record(session, OFFICE, trips.TripIn(VAN, t0, t0 + timedelta(hours=3), 10_000, 10_200))
        trips.record_cost(session, OFFICE, trips.CostIn(VAN, "fuel", "300.50", t0.date(), trip.id, "加油"))
        trips.record_cost(session, OFFICE, trips.CostIn(VAN, "tolls", "45", t0.date(), trip.id))
        trips.record_cost(session, OFFICE, trips.CostIn(VAN, "maintenance", "800", t0.date()))
        assert _code(lambda: trips.record_cost(session, OFFICE, trips.CostIn(CAR, "fuel", "1", t0.date(),
                                                                             trip.id))) == "bad_trip"
        on_trip = list(session.scalars(trips.costs(session, trip_id=trip.id)))
        assert sorted(c.amount for c in on_trip) == [Decimal("45.00"), Decimal("300.50")]


def test_the_overdue_list_shows_a_vehicle_still_out_after_its_window(sessions: Any, cars: Fleet) -> None:
    start = utcnow() - timedelta(hours=3)
    with sessions() as session, session.begin():
        booking = bookings.submit(session, CLERK, bookings.BookingIn("Finance", "x", 1, "y", start,
                                                                     utcnow() + timedelta(minutes=30)), LIMIT)
        approvals.decide(session, LEADER, booking.approval_id, "approve")
        made = dispatch.assign(session, OFFICE, booking.id, CAR, cars.drivers[0])
        _gate(session, "out", CAR, cars.tags[CAR], 10_010, at=utcnow() - timedelta(seconds=5))
        assert dispatch.overdue(session) == []
        made.ends_at = utcnow() - timedelta(minutes=1)  # the window ended, the car is not back
        assert [t.vehicle.plate for t in dispatch.overdue(session)] == [CAR]
        assert _code(lambda: bookings.cancel(session, CLERK, booking.id, "too late")) == "vehicle_out"


def test_taking_a_vehicle_out_of_the_fleet_and_changing_its_drivers(sessions: Any, cars: Fleet) -> None:
    with sessions() as session, session.begin():
        vehicles.update(session, OFFICE, CAR, active=False)
        start, end = window()
        assert CAR not in [f.vehicle.plate for f in vehicles.free_vehicles(session, start, end)]
        changed = vehicles.set_drivers(session, OFFICE, VAN, [cars.stranger])
        assert [d.person.code for d in changed.drivers] == [cars.stranger]
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.entity == "vehicle")
                                  .order_by(AuditEntry.id)).all()
        assert actions[-2:] == ["vehicle.update", "vehicle.drivers"]
        assert vehicles.mark_category(session, Actor("x", "web"), "Laptop").vehicle is True


def test_the_retention_purge_empties_visitors_plates_logged_at_the_gate(sessions: Any, cars: Fleet) -> None:
    from server.services import retention

    with sessions() as session, session.begin():
        old = vehicle_gate.at_gate(session, OFFICE, vehicle_gate.typed("in", "沪C88888"),
                                   at=utcnow() - timedelta(days=100), origin=KIOSK)
        new = vehicle_gate.at_gate(session, OFFICE, vehicle_gate.typed("in", "沪C99999"), origin=KIOSK)
        official = _gate(session, "in", CAR, None, None, at=utcnow() - timedelta(days=100))
        ids = (old.passage.id, new.passage.id, official.passage.id)
    with sessions() as session, session.begin():
        assert retention.purge(session, SYSTEM, dry_run=True).vehicle_plates_anonymised == 1
        assert retention.purge(session, SYSTEM).vehicle_plates_anonymised == 1
    with sessions() as session:
        rows = [session.get(VehiclePassage, i) for i in ids]
        assert [vehicle_gate.shown_plate(session, r) for r in rows] == ["", "沪C99999", CAR]
        assert rows[0].plate_index is None and rows[0].purged_at is not None and rows[0].kind == "unknown"
