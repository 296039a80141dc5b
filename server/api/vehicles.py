"""REST: the fleet (公务用车), free vehicles for a window, the trip log, odometer corrections, costs, and
vehicles at the gate desk. Every route calls the services the web pages and the consumer call."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from flask import g, jsonify, request
from pydantic import AwareDatetime, Field

from server import params
from server import vehicle_serialize as out
from server.api import Body, CodeText, IntParam, Param, accepts, bp, query
from server.api.visitors import DESK, refused
from server.auth import READERS, roles
from server.errors import DomainError, Invalid
from server.i18n import N_
from server.models import VehicleCost, VehiclePassage
from server.services import paging, trips, vehicle_gate, vehicles

KEEPERS = ("storekeeper",)  # the office keeps the fleet, the trip log and the costs (admin always may)
Code = Annotated[str, Field(min_length=1, max_length=300)]
PlateText = Annotated[str, Field(min_length=1, max_length=32)]
Km = Annotated[int, Field(ge=0, le=9_999_999)]
FROM = Param("from", "Start of the window (RFC 3339 with offset).", {"type": "string", "format": "date-time"})
TO = Param("to", "End of the window (RFC 3339 with offset).", {"type": "string", "format": "date-time"})
PASSENGERS = IntParam("passengers", "Passengers besides the driver.", low=0, high=vehicles.MAX_SEATS - 1, default=0)
AFTER = Param("after", "The previous page's next cursor.", {"type": "string", "maxLength": 512})
LIMIT = IntParam("limit", "Page size.", low=1, high=500, default=50)


class VehicleBody(Body):
    asset: CodeText = Field(description="A- code of an asset of a vehicle category")
    plate: PlateText
    seats: int = Field(ge=1, le=vehicles.MAX_SEATS, description="the driver's included")
    fuel: Literal["petrol", "diesel", "hybrid", "electric"]
    odometer: Km
    drivers: list[Code] = Field(default_factory=list, max_length=vehicles.MAX_DRIVERS, description="P- codes")


class VehicleChange(Body):
    seats: int | None = Field(None, ge=1, le=vehicles.MAX_SEATS)
    fuel: Literal["petrol", "diesel", "hybrid", "electric"] | None = None
    active: bool | None = None


class DriversBody(Body):
    drivers: list[Code] = Field(max_length=vehicles.MAX_DRIVERS, description="P- codes: the whole pool")


class CategoryMark(Body):
    name: str = Field(min_length=1, max_length=100)
    vehicle: bool = True


class TripBody(Body):
    vehicle: PlateText = Field(description="plate or A- code")
    out_at: AwareDatetime
    in_at: AwareDatetime
    odometer_out: Km
    odometer_in: Km
    driver: Code | None = None
    department: str = Field("", max_length=100)
    purpose: str = Field("", max_length=2000)
    dispatch: int | None = Field(None, ge=1)


class CorrectionBody(Body):
    side: Literal["out", "in"]
    odometer: Km
    reason: str = Field(min_length=1, max_length=2000)


class CostBody(Body):
    vehicle: PlateText = Field(description="plate or A- code")
    kind: Literal["fuel", "tolls", "parking", "maintenance"]
    amount: str = Field(min_length=1, max_length=20, description="yuan, at most two decimals")
    spent_on: date
    trip: int | None = Field(None, ge=1)
    note: str = Field("", max_length=2000)


class GateBody(Body):
    direction: Literal["out", "in"]
    plate: PlateText
    tag: Code | None = None
    pass_: Code | None = Field(None, alias="pass")
    odometer: Km | None = None


def _when(param: Param) -> datetime:
    raw = param.raw()
    try:
        value = datetime.fromisoformat(raw) if raw and len(raw) <= 40 else None
    except ValueError:
        value = None
    if value is None or value.tzinfo is None or not params.MIN_YEAR <= value.year <= params.MAX_YEAR:
        raise Invalid(N_("%(name)s must be a time with its offset, such as 2026-12-01T08:00:00+08:00"),
                      code="bad_parameter", name=param.name)
    return value


def _page(stmt: Any, keys: list[Any]) -> paging.Page[Any]:
    return paging.keyset_page(g.db, stmt, keys, AFTER.raw(), True, LIMIT.read() or 50)


@bp.get("/vehicles")
@roles(*READERS)
def list_vehicles() -> Any:
    """The fleet, by plate."""
    return jsonify(items=[out.vehicle(v) for v in vehicles.fleet(g.db)])


@bp.post("/vehicles")
@roles(*KEEPERS)
@accepts(VehicleBody)
def register_vehicle(body: VehicleBody) -> Any:
    """Add an asset of a vehicle category to the fleet with its plate, seats, fuel, odometer and drivers."""
    made = vehicles.register(g.db, g.actor, vehicles.VehicleIn(body.asset, body.plate, body.seats, body.fuel,
                                                               body.odometer, body.drivers))
    g.db.commit()
    return jsonify(out.vehicle(made)), 201


@bp.get("/vehicles/free")
@roles(*READERS)
@query(FROM, TO, PASSENGERS)
def free_vehicles() -> Any:
    """Vehicles free for the whole window, ordered by fit (fewest spare seats, then fewest km), each with
    its permitted drivers who are free then too."""
    start, end = _when(FROM), _when(TO)
    found = vehicles.free_vehicles(g.db, start, end, PASSENGERS.read() or 0)
    drivers = vehicles.free_drivers_of(g.db, [f.vehicle.id for f in found], start, end)
    return jsonify(items=[{**out.vehicle(f.vehicle, with_drivers=False), "spare_seats": f.spare_seats,
                           "free_drivers": [p.code for p in drivers.get(f.vehicle.id, [])]} for f in found])


@bp.post("/vehicle-categories")
@roles(*KEEPERS)
@accepts(CategoryMark)
def mark_vehicle_category(body: CategoryMark) -> Any:
    """Say whether a category's assets are vehicles, which may join the fleet."""
    category = vehicles.mark_category(g.db, g.actor, body.name, body.vehicle)
    g.db.commit()
    return jsonify(name=category.name, vehicle=category.vehicle)


@bp.get("/vehicles/<plate>")
@roles(*READERS)
def get_vehicle(plate: str) -> Any:
    """One vehicle (by plate written any way, or its A- code)."""
    return jsonify(out.vehicle(vehicles.by_plate(g.db, plate)))


@bp.post("/vehicles/<plate>")
@roles(*KEEPERS)
@accepts(VehicleChange)
def change_vehicle(plate: str, body: VehicleChange) -> Any:
    """Change seats or fuel, or take a vehicle out of the fleet (active false) or back."""
    changed = vehicles.update(g.db, g.actor, plate, body.seats, body.fuel, body.active)
    g.db.commit()
    return jsonify(out.vehicle(changed))


@bp.post("/vehicles/<plate>/drivers")
@roles(*KEEPERS)
@accepts(DriversBody)
def set_drivers(plate: str, body: DriversBody) -> Any:
    """Replace the vehicle's pool of permitted drivers."""
    changed = vehicles.set_drivers(g.db, g.actor, plate, body.drivers)
    g.db.commit()
    return jsonify(out.vehicle(changed))


@bp.get("/vehicles/<plate>/trips")
@roles(*READERS)
@query(AFTER, LIMIT)
def vehicle_trips(plate: str) -> Any:
    """A vehicle's trip log, newest first (by when each trip left), keyset pages."""
    page = _page(trips.log(g.db, plate), list(trips.LOG_KEYS))
    return jsonify(items=[out.trip(t) for t in page.items], next=page.next_cursor)


@bp.get("/trips")
@roles(*READERS)
@query(Param("vehicle", "Only this vehicle (plate or A- code)."),
       Param("no_dispatch", "1: only trips without a dispatch.", {"type": "string", "enum": ["", "0", "1"]}),
       AFTER, LIMIT)
def list_trips() -> Any:
    """Trips, newest first; ?vehicle= and ?no_dispatch=1; keyset pages."""
    flag = request.args.get("no_dispatch", "")
    if flag not in ("", "0", "1"):
        raise Invalid(N_("no_dispatch must be 1 or 0"), code="bad_parameter")
    page = _page(trips.log(g.db, request.args.get("vehicle") or None, flag == "1"), list(trips.LOG_KEYS))
    return jsonify(items=[out.trip(t) for t in page.items], next=page.next_cursor)


@bp.post("/trips")
@roles(*KEEPERS)
@accepts(TripBody)
def record_trip(body: TripBody) -> Any:
    """A whole trip entered by hand, however late: accepted where its readings fit the trip log."""
    made = trips.record(g.db, g.actor, trips.TripIn(body.vehicle, body.out_at, body.in_at, body.odometer_out,
                                                    body.odometer_in, body.driver, body.department, body.purpose,
                                                    body.dispatch))
    g.db.commit()
    return jsonify(out.trip(made, g.db)), 201


@bp.get("/trips/<int:trip_id>")
@roles(*READERS)
def get_trip(trip_id: int) -> Any:
    """One trip with its odometer corrections and costs."""
    return jsonify(out.trip(trips.get(g.db, trip_id), g.db))


@bp.post("/trips/<int:trip_id>/corrections")
@roles(*KEEPERS)
@accepts(CorrectionBody)
def correct_odometer(trip_id: int, body: CorrectionBody) -> Any:
    """Correct the trip's out or in reading, with the reason: a correction of its own, audited."""
    trips.correct(g.db, g.actor, trip_id, body.side, body.odometer, body.reason)
    g.db.commit()
    return jsonify(out.trip(trips.get(g.db, trip_id), g.db)), 201


@bp.get("/vehicle-costs")
@roles(*READERS)
@query(Param("vehicle", "Only this vehicle (plate or A- code)."), AFTER, LIMIT)
def list_costs() -> Any:
    """Costs, newest first; ?vehicle=; keyset pages."""
    page = _page(trips.costs(g.db, request.args.get("vehicle") or None), [VehicleCost.id])
    return jsonify(items=[out.cost(c) for c in page.items], next=page.next_cursor)


@bp.post("/vehicle-costs")
@roles(*KEEPERS)
@accepts(CostBody)
def record_cost(body: CostBody) -> Any:
    """Fuel, tolls, parking or maintenance paid for a vehicle (and a trip of it, if known)."""
    made = trips.record_cost(g.db, g.actor, trips.CostIn(body.vehicle, body.kind, body.amount, body.spent_on,
                                                         body.trip, body.note))
    g.db.commit()
    return jsonify(out.cost(made)), 201


@bp.get("/vehicle-passages")
@roles(*DESK, "auditor")
@query(Param("kind", "official, visitor or unknown.", {"type": "string", "enum": ["official", "visitor", "unknown"]}),
       Param("conflicts", "1: only conflicts.", {"type": "string", "enum": ["", "0", "1"]}), AFTER, LIMIT)
def list_passages() -> Any:
    """Vehicles through the gate, newest first; visitors' plates shown until the retention purge."""
    stmt = vehicle_gate.passages(g.db, request.args.get("kind") or None, request.args.get("conflicts") == "1")
    page = _page(stmt, [VehiclePassage.at, VehiclePassage.id])
    return jsonify(items=[out.passage(g.db, p) for p in page.items], next=page.next_cursor)


@bp.post("/vehicles/gate")
@roles(*DESK)
@accepts(GateBody)
def vehicle_at_gate(body: GateBody) -> Any:
    """A vehicle at the gate desk: an official one leaves only with a dispatch (else 409 no_dispatch and an
    alert for the admin); others are logged as a visitor's or unknown."""
    try:
        done = vehicle_gate.at_gate(g.db, g.actor, vehicle_gate.typed(body.direction, body.plate, body.tag,
                                                                        body.pass_, body.odometer))
    except DomainError as exc:
        refused(exc)
    g.db.commit()
    return jsonify(out.passage(g.db, done.passage)), 201
