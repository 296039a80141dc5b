"""The official vehicles' cost indicators (issue 14), members of the family of ``services.indicators``:
each returns (columns, rows), and ``services.reports`` serves them like the others (JSON, CSV, XLSX,
the web's table and chart).

* ``vehicle-cost-per-km``: per vehicle, the costs of the period (fuel, tolls, parking, maintenance,
  by the day they were paid) divided by the distance driven in the period (the trips that left in
  it with both readings: in minus out). A vehicle that drove nothing has no cost per km.
* ``vehicle-use-by-department``: per department, its trips (by their dispatch's booking, or as
  entered), the distance, the hours out, its booking requests and the costs booked to its trips.
* ``vehicle-utilisation``: per vehicle, hours dispatched and hours out within the period (clipped to
  it) against the hours of the period; without dates the period is the last 30 days.
* ``trips-without-dispatch``: every trip of the period that has no dispatch: left without one
  (offline gate, a conflict for the office) or entered by hand without one.

A period is whole days in the office's time zone, both ends included.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.i18n import N_
from server.models import Dispatch, Trip, Vehicle, VehicleBooking, VehicleCost, utcnow
from server.personal import policy
from server.services.trips import distance

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
NO_HOURS = Decimal("0.0")  # hours keep one decimal
DEFAULT_DAYS = 30
Rows = tuple[list[str], list[dict[str, Any]]]


def _zone(session: Session) -> tzinfo:
    try:
        return policy(session).zone
    except RuntimeError:  # a session made without the gate's policy (a script): days in UTC
        return UTC


def _span(session: Session, start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    zone = _zone(session)
    since = datetime.combine(start, time.min, zone).astimezone(UTC) if start else None
    until = datetime.combine(end + timedelta(days=1), time.min, zone).astimezone(UTC) if end else None
    return since, until


def _trips(session: Session, since: datetime | None, until: datetime | None) -> list[Trip]:
    """Trips that left in the period (or, known only by their return, came back in it)."""
    start = func.coalesce(Trip.out_at, Trip.in_at)
    query = select(Trip)
    if since is not None:
        query = query.where(start >= since)
    if until is not None:
        query = query.where(start < until)
    return list(session.scalars(query.order_by(start, Trip.id)))


def _hours(start: datetime | None, end: datetime | None, since: datetime, until: datetime) -> Decimal:
    if start is None or end is None:
        return NO_HOURS
    seconds = (min(end, until) - max(start, since)).total_seconds()
    return (Decimal(max(seconds, 0)) / 3600).quantize(Decimal("0.1"), ROUND_HALF_UP)


def cost_per_km(session: Session, start: date | None, end: date | None) -> Rows:
    since, until = _span(session, start, end)
    km: dict[int, int] = defaultdict(int)
    for trip in _trips(session, since, until):
        km[trip.vehicle_id] += distance(trip) or 0
    query = select(VehicleCost.vehicle_id, VehicleCost.kind, func.sum(VehicleCost.amount)).group_by(
        VehicleCost.vehicle_id, VehicleCost.kind)
    if start is not None:
        query = query.where(VehicleCost.spent_on >= start)
    if end is not None:
        query = query.where(VehicleCost.spent_on <= end)
    spent: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for vehicle_id, kind, amount in session.execute(query):
        spent[vehicle_id][kind] = Decimal(str(amount or 0)).quantize(CENT)
    rows = []
    for vehicle in session.scalars(select(Vehicle).order_by(Vehicle.plate)):
        costs = spent.get(vehicle.id, {})
        total = sum(costs.values(), ZERO)
        driven = km.get(vehicle.id, 0)
        rows.append({"plate": vehicle.plate, "name": vehicle.asset.name, "distance_km": driven,
                     "fuel_cost": costs.get("fuel", ZERO), "tolls": costs.get("tolls", ZERO),
                     "parking": costs.get("parking", ZERO), "maintenance": costs.get("maintenance", ZERO),
                     "total_cost": total,
                     "cost_per_km": (total / driven).quantize(CENT, ROUND_HALF_UP) if driven else None})
    return (["plate", "name", "distance_km", "fuel_cost", "tolls", "parking", "maintenance", "total_cost",
             "cost_per_km"], rows)


def use_by_department(session: Session, start: date | None, end: date | None) -> Rows:
    since, until = _span(session, start, end)
    now = utcnow()
    totals: dict[str, dict[str, Any]] = defaultdict(lambda: {"trips": 0, "distance_km": 0, "hours_out": NO_HOURS,
                                                             "bookings": 0, "trip_costs": ZERO})
    trip_department: dict[int, str] = {}
    for trip in _trips(session, since, until):
        row = totals[trip.department]
        row["trips"] += 1
        row["distance_km"] += distance(trip) or 0
        if trip.out_at is not None:  # still out: counted until now
            row["hours_out"] += _hours(trip.out_at, trip.in_at or now, trip.out_at, trip.in_at or now)
        trip_department[trip.id] = trip.department
    booked = select(VehicleBooking.department, func.count()).group_by(VehicleBooking.department)
    if since is not None:
        booked = booked.where(VehicleBooking.starts_at >= since)
    if until is not None:
        booked = booked.where(VehicleBooking.starts_at < until)
    for department, count in session.execute(booked):
        totals[department]["bookings"] += int(count)
    if trip_department:
        for trip_id, amount in session.execute(select(VehicleCost.trip_id, VehicleCost.amount).where(
                VehicleCost.trip_id.in_(list(trip_department)))):
            if trip_id is not None:
                totals[trip_department[trip_id]]["trip_costs"] += Decimal(str(amount)).quantize(CENT)
    rows = [{"department": dept, **values} for dept, values in sorted(totals.items())]
    return ["department", "trips", "distance_km", "hours_out", "bookings", "trip_costs"], rows


def utilisation(session: Session, start: date | None, end: date | None) -> Rows:
    since, until = _span(session, start, end)
    until = until or utcnow()
    since = since or until - timedelta(days=DEFAULT_DAYS)
    period = _hours(since, until, since, until)
    out: dict[int, list[Any]] = defaultdict(lambda: [0, NO_HOURS])
    for trip in session.scalars(select(Trip).where(Trip.out_at.is_not(None), Trip.out_at < until,
                                                   (Trip.in_at.is_(None)) | (Trip.in_at > since))):
        out[trip.vehicle_id][0] += 1
        out[trip.vehicle_id][1] += _hours(trip.out_at, trip.in_at or utcnow(), since, until)
    dispatched: dict[int, Decimal] = defaultdict(lambda: NO_HOURS)
    for row in session.scalars(select(Dispatch).where(Dispatch.cancelled_at.is_(None), Dispatch.starts_at < until,
                                                      Dispatch.ends_at > since)):
        dispatched[row.vehicle_id] += _hours(row.starts_at, row.ends_at, since, until)
    rows = []
    for vehicle in session.scalars(select(Vehicle).order_by(Vehicle.plate)):
        trips_out, hours_out = out.get(vehicle.id, [0, NO_HOURS])
        rows.append({"plate": vehicle.plate, "name": vehicle.asset.name, "trips": trips_out,
                     "hours_dispatched": dispatched.get(vehicle.id, NO_HOURS), "hours_out": hours_out,
                     "period_hours": period,
                     "utilisation_percent": (hours_out * 100 / period).quantize(Decimal("0.1"), ROUND_HALF_UP)
                     if period else None})
    return ["plate", "name", "trips", "hours_dispatched", "hours_out", "period_hours", "utilisation_percent"], rows


def without_dispatch(session: Session, start: date | None, end: date | None) -> Rows:
    since, until = _span(session, start, end)
    rows = [{"trip": trip.id, "plate": trip.vehicle.plate, "left_at": trip.out_at.isoformat() if trip.out_at else None,
             "back_at": trip.in_at.isoformat() if trip.in_at else None, "distance_km": distance(trip),
             "department": trip.department, "source": trip.source, "entered_late": trip.late,
             "conflict": trip.conflict}
            for trip in _trips(session, since, until) if trip.dispatch_id is None]
    return ["trip", "plate", "left_at", "back_at", "distance_km", "department", "source", "entered_late",
            "conflict"], rows


Indicator = Callable[[Session, date | None, date | None], Rows]
# name -> (function, title, description); each takes the report arguments from and to.
FAMILY: dict[str, tuple[Indicator, str, str]] = {
    "vehicle-cost-per-km": (cost_per_km, N_("Vehicle cost per km"),
                            N_("Per official vehicle: fuel, tolls, parking and maintenance of the period, divided "
                               "by the km driven in it.")),
    "vehicle-use-by-department": (use_by_department, N_("Vehicle use by department"),
                                  N_("Per department: trips, km, hours out, booking requests and the costs of its "
                                     "trips.")),
    "vehicle-utilisation": (utilisation, N_("Vehicle utilisation"),
                            N_("Per official vehicle: hours dispatched and hours out against the hours of the "
                               "period (the last 30 days unless dates are given).")),
    "trips-without-dispatch": (without_dispatch, N_("Trips without a dispatch"),
                               N_("Trips that left without a dispatch or were entered without one: for the office "
                                  "to review.")),
}
# Column key -> (name for a person, kind), for services.reports.COLUMNS.
COLUMNS: dict[str, tuple[str, str]] = {
    "plate": (N_("Plate"), "text"),
    "distance_km": (N_("Distance (km)"), "count"),
    "fuel_cost": (N_("Fuel"), "money"),
    "tolls": (N_("Tolls"), "money"),
    "parking": (N_("Parking"), "money"),
    "cost_per_km": (N_("Cost per km"), "money"),
    "trips": (N_("Trips"), "count"),
    "hours_out": (N_("Hours out"), "number"),
    "hours_dispatched": (N_("Hours dispatched"), "number"),
    "period_hours": (N_("Hours in the period"), "number"),
    "utilisation_percent": (N_("Utilisation (%)"), "percent"),
    "bookings": (N_("Booking requests"), "count"),
    "trip_costs": (N_("Costs of its trips"), "money"),
    "trip": (N_("Trip"), "text"),
    "left_at": (N_("Left at"), "datetime"),
    "back_at": (N_("Back at"), "datetime"),
    "entered_late": (N_("Entered by hand"), "bool"),
    "conflict": (N_("Conflict"), "bool"),
}
