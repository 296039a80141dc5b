"""Shared set-up of the vehicle tests: a fleet of three vehicles, two drivers, a leader in charge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from server.audit import SYSTEM, Actor
from server.models import utcnow
from server.services import approvals, assets, bookings, directory, vehicles
from tests.admin_support import make_user

OFFICE = Actor("u-storekeeper", "web", "storekeeper")  # dispatches
CLERK = Actor("u-guard", "web", "guard")  # asks for vehicles
LEADER = Actor("leader", "web", "auditor")  # leader in charge of Finance
LIMIT = Decimal("10000.00")
CAR, VAN, BUS = "京A12345", "京A22222", "京A33333"
# The registration is the first reading of a vehicle's trip log: trips entered late go after it.
REGISTERED_DAYS_AGO = 365


@dataclass
class Fleet:
    tags: dict[str, str]  # plate -> A- code
    drivers: list[str]  # P- codes, permitted on every vehicle
    stranger: str  # a person who may drive nothing
    laptop: str  # an asset that is not a vehicle


def fleet(sessions: Any, users: bool = True) -> Fleet:
    if users:
        for role, name in (("auditor", "leader"), ("storekeeper", None), ("guard", None)):
            make_user(sessions, role, name)
    with sessions() as session, session.begin():
        if users:
            approvals.grant(session, SYSTEM, "leader", "leader", "Finance")
        made = setup(session)
    return made


def setup(session: Session, km: int = 10_000) -> Fleet:
    directory.get_or_create_category(session, SYSTEM, "公务用车")
    vehicles.mark_category(session, SYSTEM, "公务用车")
    directory.get_or_create_category(session, SYSTEM, "Laptop")
    garage = directory.create_location(session, SYSTEM, "Garage", "site").code
    drivers = [directory.create_person(session, SYSTEM, name, "Office").code for name in ("王师傅", "赵师傅")]
    stranger = directory.create_person(session, SYSTEM, "Li Lei", "Finance").code
    tags = {}
    for plate, seats, name in ((CAR, 5, "Sedan"), (VAN, 7, "Van"), (BUS, 20, "Minibus")):
        asset = assets.create_asset(session, SYSTEM, name, "公务用车", garage)
        made = vehicles.register(session, SYSTEM, vehicles.VehicleIn(asset.code, plate, seats, "petrol", km, drivers))
        made.registered_at = utcnow() - timedelta(days=REGISTERED_DAYS_AGO)  # in the fleet for a while
        tags[plate] = asset.code
    laptop = assets.create_asset(session, SYSTEM, "ThinkPad", "Laptop", garage).code
    return Fleet(tags, drivers, stranger, laptop)


def window(start_in_hours: float = 1, hours: float = 2) -> tuple[datetime, datetime]:
    start = utcnow().replace(microsecond=0) + timedelta(hours=start_in_hours)
    return start, start + timedelta(hours=hours)


def book(session: Session, start: datetime, end: datetime, passengers: int = 1, urgency: str = "normal",
         approve: bool = True, department: str = "Finance") -> int:
    made = bookings.submit(session, CLERK, bookings.BookingIn(department, "meeting at the bureau", passengers,
                                                              "市财政局", start, end, urgency), LIMIT)
    if approve:
        approvals.decide(session, LEADER, made.approval_id, "approve")
    return made.id
