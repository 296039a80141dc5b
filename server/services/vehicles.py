"""The fleet (公务用车): vehicles, their drivers, and which of them are free for a window.

A vehicle is an asset of a vehicle category (``categories.vehicle``) registered here with its plate
(in the normal form of ``contract.normalize.plate``, so 京A·12345 and 京a12345 are one vehicle), its
seats (the driver's included), its fuel, its odometer and the pool of people allowed to drive it.
The dispatch office (services.bookings) assigns vehicles and drivers; the gate (services.vehicle_gate)
knows a vehicle by its A- tag or its plate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session, contains_eager, lazyload

from contract import normalize
from contract.messages import ODOMETER_MAX
from server import audit, names
from server.audit import Actor
from server.errors import AlreadyExists, Invalid, NotFound, RuleViolation, Term
from server.i18n import N_
from server.models import (
    Asset,
    AssetStatus,
    Category,
    Dispatch,
    FuelType,
    Person,
    Vehicle,
    VehicleDriver,
    utcnow,
)
from server.services import assets, bulk, directory

FUELS = tuple(f.value for f in FuelType)
MAX_SEATS = 60
MAX_DRIVERS = 50
# A vehicle whose asset is in one of these may be dispatched; under repair or disposed it may not.
USABLE = (AssetStatus.IN_STORAGE.value, AssetStatus.IN_USE.value)


@dataclass(frozen=True)
class VehicleIn:
    asset: str  # A- code of an asset of a vehicle category
    plate: str
    seats: int
    fuel: str
    odometer: int
    drivers: list[str] = field(default_factory=list)  # P- codes


def clean_plate(value: str) -> str:
    try:
        return normalize.plate(value or "")
    except normalize.NormalizeError as exc:
        raise Invalid(N_("the plate %(plate)s is not a plate: %(why)s"), code="bad_plate", plate=(value or "")[:20],
                      why=str(exc)) from None


def check_odometer(km: int) -> int:
    if isinstance(km, bool) or not isinstance(km, int) or not 0 <= km <= ODOMETER_MAX:
        raise Invalid(N_("an odometer reading is a whole number of km from 0 to %(most)s"), code="bad_odometer",
                      most=ODOMETER_MAX)
    return km


def _check(data: VehicleIn) -> tuple[str, int, str]:
    plate = clean_plate(data.plate)
    if isinstance(data.seats, bool) or not 1 <= data.seats <= MAX_SEATS:
        raise Invalid(N_("the seats must be between 1 and %(most)s"), code="bad_seats", most=MAX_SEATS)
    if data.fuel not in FUELS:
        raise Invalid(N_("the fuel must be one of %(fuels)s"), code="bad_fuel", fuels=", ".join(FUELS))
    if len(data.drivers) > MAX_DRIVERS:
        raise Invalid(N_("a vehicle has at most %(most)s permitted drivers"), code="bad_drivers", most=MAX_DRIVERS)
    return plate, check_odometer(data.odometer), data.fuel


def facts(vehicle: Vehicle) -> dict[str, Any]:
    return {"asset": vehicle.asset.code, "plate": vehicle.plate, "seats": vehicle.seats, "fuel": vehicle.fuel,
            "odometer": vehicle.odometer, "active": vehicle.active,
            "drivers": sorted(d.person.code for d in vehicle.drivers)}


def described(vehicle: Vehicle) -> dict[str, Any]:
    """What an audit row says of the vehicle: its audited state, and its codes for a reader."""
    return {**facts(vehicle), **audit.state(vehicle)}


def register(session: Session, actor: Actor, data: VehicleIn) -> Vehicle:
    """Add an asset of a vehicle category to the fleet."""
    plate, km, fuel = _check(data)
    asset = assets.asset_by_code(session, data.asset)
    if not asset.category.vehicle:
        raise RuleViolation(N_("%(asset)s is of the category %(category)s, which is not a vehicle category"),
                            code="not_a_vehicle_category", asset=asset.code, category=asset.category.name)
    if asset.status not in (*USABLE, AssetStatus.UNDER_REPAIR.value):
        raise RuleViolation(N_("%(asset)s is %(status)s: it cannot join the fleet"), code="illegal_transition",
                            asset=asset.code,
                            status=Term(asset.status, names.STATUSES.get(asset.status, asset.status)))
    if session.scalars(select(Vehicle.id).where(Vehicle.asset_id == asset.id)).first() is not None:
        raise AlreadyExists(N_("%(asset)s is in the fleet already"), asset=asset.code)
    if session.scalars(select(Vehicle.id).where(Vehicle.plate == plate)).first() is not None:
        raise AlreadyExists(N_("a vehicle with the plate %(plate)s is in the fleet already"), code="plate_taken",
                            plate=plate)
    people = [directory.person_by_code(session, code) for code in dict.fromkeys(data.drivers)]
    vehicle = Vehicle(asset=asset, asset_id=asset.id, plate=plate, seats=data.seats, fuel=fuel, initial_odometer=km,
                      odometer=km, registered_at=utcnow(), registered_by=actor.name[:100], active=True)
    vehicle.drivers = [VehicleDriver(person=p, person_id=p.id, added_by=actor.name[:100]) for p in people]
    session.add(vehicle)
    session.flush()
    audit.change(session, actor, "vehicle.register", vehicle, extra=facts(vehicle))
    for driver in vehicle.drivers:
        audit.change(session, actor, "vehicle.driver_add", driver, extra={"plate": plate, "driver": driver.person.code})
    return vehicle


def update(session: Session, actor: Actor, plate: str, seats: int | None = None, fuel: str | None = None,
           active: bool | None = None) -> Vehicle:
    """Change seats, fuel, or take a vehicle out of the fleet (or back)."""
    vehicle = for_change(session, plate)
    before = described(vehicle)
    _check(VehicleIn(vehicle.asset.code, vehicle.plate, vehicle.seats if seats is None else seats,
                     vehicle.fuel if fuel is None else fuel, vehicle.odometer))
    vehicle.seats = vehicle.seats if seats is None else seats
    vehicle.fuel = vehicle.fuel if fuel is None else fuel
    vehicle.active = vehicle.active if active is None else active
    audit.change(session, actor, "vehicle.update", vehicle, before, facts(vehicle))
    return vehicle


def set_drivers(session: Session, actor: Actor, plate: str, drivers: list[str]) -> Vehicle:
    """Replace a vehicle's pool of permitted drivers (P- codes). Dispatches made before stand."""
    if len(drivers) > MAX_DRIVERS:
        raise Invalid(N_("a vehicle has at most %(most)s permitted drivers"), code="bad_drivers", most=MAX_DRIVERS)
    vehicle = for_change(session, plate)
    people = {p.id: p for p in (directory.person_by_code(session, code) for code in drivers)}
    before = described(vehicle)
    keep = [d for d in vehicle.drivers if d.person_id in people]
    for gone in vehicle.drivers:
        if gone.person_id not in people:  # its row is deleted at the flush (delete-orphan): recorded first
            audit.removal(session, actor, "vehicle.driver_remove", gone, {"plate": vehicle.plate,
                                                                         "driver": gone.person.code})
    known = {d.person_id for d in keep}
    added = [VehicleDriver(person=p, person_id=p.id, added_by=actor.name[:100])
             for pid, p in people.items() if pid not in known]
    vehicle.drivers = keep + added
    session.flush()
    for driver in added:
        audit.change(session, actor, "vehicle.driver_add", driver, extra={"plate": vehicle.plate,
                                                                          "driver": driver.person.code})
    audit.change(session, actor, "vehicle.drivers", vehicle, before, facts(vehicle))
    return vehicle


def by_plate(session: Session, plate: str) -> Vehicle:
    """The vehicle of a plate written any way; an A- code names its vehicle too."""
    text = (plate or "").strip()
    if text[:2].upper() == "A-":
        return by_tag(session, text)
    found = find_by_plate(session, clean_plate(text))
    if found is None:
        raise NotFound(N_("there is no vehicle with the plate %(plate)s"), plate=text[:20])
    return found


def find_by_plate(session: Session, normal: str) -> Vehicle | None:
    return session.scalars(select(Vehicle).where(Vehicle.plate == normal)).first()


def by_tag(session: Session, tag: str) -> Vehicle:
    """The vehicle of an A- code (its key tag or windscreen label)."""
    asset = assets.asset_by_code(session, tag)
    found = session.scalars(select(Vehicle).where(Vehicle.asset_id == asset.id)).first()
    if found is None:
        raise NotFound(N_("%(asset)s is not an official vehicle"), asset=asset.code)
    return found


def lock(session: Session, vehicle_id: int) -> Vehicle:
    """The vehicle, locked until the transaction ends and read after the lock (see
    ``assets.asset_for_change``): dispatches and trip readings of one vehicle decide one at a time."""
    session.execute(select(Vehicle.id).where(Vehicle.id == vehicle_id).with_for_update())
    # Read again what an unlocked read may have loaded before (a consumer batch locked its vehicles
    # up front, ingest.lock_rows, and reads them after the lock anyway).
    return session.scalars(select(Vehicle).where(Vehicle.id == vehicle_id)
                           .execution_options(populate_existing=not bulk.active(session))).one()


def for_change(session: Session, plate: str) -> Vehicle:
    return lock(session, by_plate(session, plate).id)


def fleet(session: Session, active_only: bool = False) -> list[Vehicle]:
    query = select(Vehicle).order_by(Vehicle.plate)
    if active_only:
        query = query.where(Vehicle.active.is_(True))
    return list(session.scalars(query))


def may_drive(session: Session, vehicle: Vehicle, person: Person) -> bool:
    return session.get(VehicleDriver, (vehicle.id, person.id)) is not None


def overlapping(starts_at: datetime, ends_at: datetime) -> Any:
    """The standing dispatches whose window meets [starts_at, ends_at): the index's (ends_at > start) first."""
    return and_(Dispatch.cancelled_at.is_(None), Dispatch.ends_at > starts_at, Dispatch.starts_at < ends_at)


@dataclass(frozen=True)
class Free:
    vehicle: Vehicle
    spare_seats: int  # seats beyond the driver and the passengers


def free_vehicles(session: Session, starts_at: datetime, ends_at: datetime, passengers: int = 0,
                  limit: int = 200) -> list[Free]:
    """Vehicles free for the whole window, ordered by fit: enough seats first with the fewest to spare
    (a 5-seater for two people, the bus kept for a group), then the fewest km on the odometer (wear
    spread over the fleet), then the plate. Only usable vehicles (not under repair, not disposed)."""
    check_window(starts_at, ends_at)
    busy = exists().where(Dispatch.vehicle_id == Vehicle.id, overlapping(starts_at, ends_at))
    spare = Vehicle.seats - 1 - passengers
    # One statement; the drivers' pools are not read here (lazyload: only if a caller asks, see free_drivers_of).
    query = (select(Vehicle, spare).join(Asset, Asset.id == Vehicle.asset_id)
             .where(Vehicle.active.is_(True), Asset.status.in_(USABLE), spare >= 0, ~busy)
             .order_by(spare, Vehicle.odometer, Vehicle.plate).limit(limit)
             .options(lazyload(Vehicle.drivers),
                      contains_eager(Vehicle.asset).options(*(lazyload(r) for r in (Asset.category, Asset.location,
                                                                                     Asset.custodian)))))
    return [Free(vehicle, int(left)) for vehicle, left in session.execute(query)]


def free_drivers(session: Session, vehicle: Vehicle, starts_at: datetime, ends_at: datetime) -> list[Person]:
    """The vehicle's permitted drivers who are not dispatched elsewhere in the window."""
    return free_drivers_of(session, [vehicle.id], starts_at, ends_at).get(vehicle.id, [])


def free_drivers_of(session: Session, vehicle_ids: list[int], starts_at: datetime,
                    ends_at: datetime) -> dict[int, list[Person]]:
    """For each vehicle, its permitted drivers not dispatched elsewhere in the window, in one statement."""
    check_window(starts_at, ends_at)
    if not vehicle_ids:
        return {}
    busy = exists().where(Dispatch.driver_id == Person.id, overlapping(starts_at, ends_at))
    query = (select(VehicleDriver.vehicle_id, Person).join(Person, VehicleDriver.person_id == Person.id)
             .where(VehicleDriver.vehicle_id.in_(vehicle_ids), Person.active.is_(True), ~busy)
             .order_by(VehicleDriver.vehicle_id, Person.name))
    found: dict[int, list[Person]] = {}
    for vehicle_id, person in session.execute(query):
        found.setdefault(vehicle_id, []).append(person)
    return found


MAX_WINDOW_DAYS = 31


def check_window(starts_at: datetime, ends_at: datetime) -> None:
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise Invalid(N_("a time needs its time zone"), code="bad_window")
    if ends_at <= starts_at:
        raise Invalid(N_("the end of the window must be after its start"), code="bad_window")
    if (ends_at - starts_at).days >= MAX_WINDOW_DAYS:
        raise Invalid(N_("a window is at most %(days)s days long"), code="bad_window", days=MAX_WINDOW_DAYS)


def vehicle_categories(session: Session) -> list[Category]:
    return list(session.scalars(select(Category).where(Category.vehicle.is_(True)).order_by(Category.name)))


def mark_category(session: Session, actor: Actor, name: str, vehicle: bool = True) -> Category:
    """Say whether a category's assets are vehicles (so they may join the fleet)."""
    category = directory.category_by_name(session, (name or "").strip()[:100])
    if category.vehicle != vehicle:
        before = audit.state(category)
        category.vehicle = vehicle
        session.flush()
        audit.change(session, actor, "category.vehicle", category, before)  # its whole audited state
    return category
