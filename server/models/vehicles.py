"""Official vehicles (issue 14; docs/vehicles.md): the fleet, booking requests, dispatches, the trip
log with its odometer corrections and costs, and every vehicle that passed the gate."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.approvals import Approval
from server.models.assets import Asset, Person
from server.models.base import Base, created, intpk


class FuelType(enum.StrEnum):
    PETROL = "petrol"
    DIESEL = "diesel"
    HYBRID = "hybrid"
    ELECTRIC = "electric"


class Urgency(enum.StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class CostKind(enum.StrEnum):
    FUEL = "fuel"
    TOLLS = "tolls"
    PARKING = "parking"
    MAINTENANCE = "maintenance"


class PassageKind(enum.StrEnum):
    OFFICIAL = "official"  # a vehicle of the fleet
    VISITOR = "visitor"  # a visitor's car (a V- pass, or the plate of a visitor on site)
    UNKNOWN = "unknown"  # neither: logged as such


class Vehicle(Base):
    """An official vehicle (公务用车): an asset of the fleet with its plate, seats, fuel and odometer.

    ``odometer`` is the newest reading of the trip log (by when it was read, not when it was entered),
    kept here so that lists need no aggregate; services.trips rewrites it after every reading."""

    __tablename__ = "vehicles"
    id: Mapped[intpk]
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), unique=True)
    plate: Mapped[str] = mapped_column(String(16), unique=True)  # normal form (contract.normalize.plate)
    seats: Mapped[int] = mapped_column(Integer)  # the driver's included
    fuel: Mapped[str] = mapped_column(String(20))
    initial_odometer: Mapped[int] = mapped_column(Integer)  # km when registered
    odometer: Mapped[int] = mapped_column(Integer)  # km, the newest reading
    registered_at: Mapped[created]
    registered_by: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)  # False: taken out of the fleet

    asset: Mapped[Asset] = relationship(lazy="joined")
    # The pool is configuration, not ledger: a driver taken off it is a row deleted (the audit log keeps both pools).
    drivers: Mapped[list[VehicleDriver]] = relationship(back_populates="vehicle", lazy="selectin",
                                                        order_by="VehicleDriver.person_id",
                                                        cascade="all, delete-orphan")


class VehicleDriver(Base):
    """A person in a vehicle's pool of permitted drivers (驾驶员)."""

    __tablename__ = "vehicle_drivers"
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True, index=True)
    added_at: Mapped[created]
    added_by: Mapped[str] = mapped_column(String(100))

    vehicle: Mapped[Vehicle] = relationship(back_populates="drivers")
    person: Mapped[Person] = relationship(lazy="joined")


class VehicleBooking(Base):
    """用车申请: a department asks for a vehicle; its approval chain (kind "vehicle_booking") is the shared one."""

    __tablename__ = "vehicle_bookings"
    id: Mapped[intpk]
    department: Mapped[str] = mapped_column(String(100), index=True)
    requester: Mapped[str] = mapped_column(String(100))
    purpose: Mapped[str] = mapped_column(Text)
    passengers: Mapped[int] = mapped_column(Integer)  # besides the driver
    destination: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    urgency: Mapped[str] = mapped_column(String(10), default=Urgency.NORMAL.value)
    approval_id: Mapped[int] = mapped_column(ForeignKey("approvals.id"), unique=True)
    created_at: Mapped[created]
    cancelled_at: Mapped[datetime | None]
    cancelled_by: Mapped[str | None] = mapped_column(String(100))
    cancel_reason: Mapped[str] = mapped_column(Text, default="")

    approval: Mapped[Approval] = relationship(lazy="joined")


# Dispatches still standing: the only ones that hold a vehicle or a driver.
_STANDING = text("cancelled_at IS NULL")


class Dispatch(Base):
    """派车: a vehicle and a driver assigned to an approved booking for a window [starts_at, ends_at).

    Two standing dispatches of one vehicle, or of one driver, never overlap: services.dispatch checks
    it under row locks, and on PostgreSQL exclusion constraints (migration 0030) hold it as well."""

    __tablename__ = "vehicle_dispatches"
    id: Mapped[intpk]
    booking_id: Mapped[int] = mapped_column(ForeignKey("vehicle_bookings.id"), index=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"))
    driver_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    dispatched_by: Mapped[str] = mapped_column(String(100))
    dispatched_at: Mapped[created]
    cancelled_at: Mapped[datetime | None]
    cancelled_by: Mapped[str | None] = mapped_column(String(100))
    cancel_reason: Mapped[str] = mapped_column(Text, default="")

    booking: Mapped[VehicleBooking] = relationship(lazy="joined")
    vehicle: Mapped[Vehicle] = relationship(lazy="joined")
    driver: Mapped[Person] = relationship(lazy="joined")

    # Finding what overlaps a window seeks (vehicle, ends_at > start) among standing dispatches only,
    # so 100,000 past dispatches are never read (bench/bench_vehicles.py).
    __table_args__ = (
        Index("ix_vehicle_dispatches_vehicle", "vehicle_id", "ends_at", "starts_at",
              postgresql_where=_STANDING, sqlite_where=_STANDING),
        Index("ix_vehicle_dispatches_driver", "driver_id", "ends_at", "starts_at",
              postgresql_where=_STANDING, sqlite_where=_STANDING),
    )


class Trip(Base):
    """出车记录: one trip of a vehicle, out and back, with the odometer at both ends.

    A trip comes from the gate (``vehicle.out`` / ``vehicle.in``) or is entered by hand, late if need be.
    Either side may be missing while the other gate's event has not arrived. A correction of a reading
    is a row of ``odometer_corrections`` (and an audit entry), never a second trip."""

    __tablename__ = "vehicle_trips"
    id: Mapped[intpk]
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"))
    dispatch_id: Mapped[int | None] = mapped_column(ForeignKey("vehicle_dispatches.id"), index=True)
    driver_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    department: Mapped[str] = mapped_column(String(100), default="")
    purpose: Mapped[str] = mapped_column(Text, default="")
    out_at: Mapped[datetime | None]
    in_at: Mapped[datetime | None]
    odometer_out: Mapped[int | None] = mapped_column(Integer)
    odometer_in: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(60))  # kiosk:<id>, web, api
    late: Mapped[bool] = mapped_column(Boolean, default=False)  # entered by hand after the fact
    conflict: Mapped[bool] = mapped_column(Boolean, default=False)  # made offline against what the server knew
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[created]

    vehicle: Mapped[Vehicle] = relationship(lazy="joined")
    dispatch: Mapped[Dispatch | None] = relationship(lazy="joined")
    driver: Mapped[Person | None] = relationship(lazy="joined")

    __table_args__ = (
        Index("ix_vehicle_trips_out", "vehicle_id", "out_at"),
        Index("ix_vehicle_trips_in", "vehicle_id", "in_at"),
    )


class OdometerCorrection(Base):
    """A corrected odometer reading of a trip: what it was, what it is, who, why."""

    __tablename__ = "odometer_corrections"
    id: Mapped[intpk]
    trip_id: Mapped[int] = mapped_column(ForeignKey("vehicle_trips.id"), index=True)
    side: Mapped[str] = mapped_column(String(3))  # out | in
    before: Mapped[int | None] = mapped_column(Integer)
    after: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    corrected_by: Mapped[str] = mapped_column(String(100))
    corrected_at: Mapped[created]
    audit_hash: Mapped[str | None] = mapped_column(String(64), index=True)  # the audit row that describes it


class VehicleCost(Base):
    """Fuel, tolls, parking or maintenance paid for a vehicle, and for one of its trips if known."""

    __tablename__ = "vehicle_costs"
    id: Mapped[intpk]
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"))
    trip_id: Mapped[int | None] = mapped_column(ForeignKey("vehicle_trips.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    spent_on: Mapped[date]
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[created]
    audit_hash: Mapped[str | None] = mapped_column(String(64), index=True)  # the audit row that describes it

    __table_args__ = (Index("ix_vehicle_costs_vehicle", "vehicle_id", "spent_on"),)


class VehiclePassage(Base):
    """One vehicle through the gate, as the guard recorded it: official, a visitor's, or unknown.

    A visitor's or an unknown plate is personal data: it is kept encrypted with a blind index
    (``*_enc``, ``*_index``, server.personal) like a visit's, and the retention purge empties both.
    An official vehicle's plate is the office's own and stays readable."""

    __tablename__ = "vehicle_passages"
    id: Mapped[intpk]
    direction: Mapped[str] = mapped_column(String(3))  # out | in
    kind: Mapped[str] = mapped_column(String(10))
    at: Mapped[datetime] = mapped_column(index=True)
    recorded_at: Mapped[created]
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"), index=True)
    plate: Mapped[str | None] = mapped_column(String(16))  # official vehicles only
    plate_enc: Mapped[str | None] = mapped_column(Text)
    plate_index: Mapped[str | None] = mapped_column(String(40), index=True)
    pass_code: Mapped[str | None] = mapped_column(String(32))
    odometer: Mapped[int | None] = mapped_column(Integer)  # as typed at the gate
    trip_id: Mapped[int | None] = mapped_column(ForeignKey("vehicle_trips.id"), index=True)
    dispatch_id: Mapped[int | None] = mapped_column(ForeignKey("vehicle_dispatches.id"))
    source: Mapped[str] = mapped_column(String(60))
    actor: Mapped[str] = mapped_column(String(100))
    kiosk_event_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    conflict: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(Text, default="")  # why it is a conflict
    purged_at: Mapped[datetime | None]
    audit_hash: Mapped[str | None] = mapped_column(String(64), index=True)  # the audit row that describes it

    vehicle: Mapped[Vehicle | None] = relationship(lazy="joined")
