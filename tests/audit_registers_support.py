"""The office's registers in the whole-office audit scenario (``tests.audit_support.whole_ledger``):
the fleet, bookings and dispatches, trips with their readings, corrections and costs; seals with
their imprints, uses and take-outs; archives with loans and a destruction; the storeroom's settled
conflict and reorder. Each through the service the web, the API or the consumer calls, kiosk events
through the consumer's writer (fast path and safe path).

``Registers`` keeps what the tampering tests edit behind the application's back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from server import personal
from server.audit import SYSTEM, Actor
from server.config import Settings
from server.models import SealUse, Trip, utcnow
from server.services import (
    approvals,
    archive_conflicts,
    archive_destruction,
    archive_loans,
    archives,
    assets,
    bookings,
    directory,
    dispatch,
    kiosks,
    seal_imprints,
    seal_takeouts,
    seal_uses,
    seals,
    stocktake_supplies,
    stocktakes,
    supplies,
    supply_conflicts,
    supply_receipts,
    supply_reorder,
    trips,
    users,
    vehicle_gate,
    vehicles,
)
from server.writer import Delivery, Writer
from tests.peers import KioskPeer
from tests.seal_support import image
from tests.storeroom_support import stock_up

OFFICE = Actor("wang", "web", "storekeeper")
LEAD = Actor("lead", "web", "auditor")  # leader in charge (every department), archive manager, principal leader
LIMIT = Decimal("10000.00")
PLATE, SPARE = "京A12345", "京A55555"


@dataclass
class Registers:
    """Ids and codes of the registers' rows, for the tampering tests."""

    plate: str = ""
    vehicle: int = 0
    drivers: list[int] = field(default_factory=list)  # person ids in the vehicle's pool
    booking: int = 0
    dispatch: int = 0
    trip: int = 0  # a trip out and back at the gate, corrected once
    correction: int = 0
    cost: int = 0
    passage: int = 0
    seal: str = ""
    seal_use: int = 0
    takeout: int = 0
    volume: int = 0  # asset id of an archive volume (lent and returned)
    loan: int = 0
    destruction: int = 0
    destroyed: int = 0  # asset id of the volume on the destruction list


def _send(settings: Settings, sessions: Any, peer: KioskPeer, events: list[Any], fast: bool) -> None:
    writer = Writer(settings, sessions)
    replies = writer.process([Delivery(n, 1, peer.topics.events(e.kiosk), e.to_bytes()) for n, e in enumerate(events)],
                             fast=fast)
    assert [json.loads(r.ack or b"")["status"] for r in replies] == ["accepted"] * len(events), replies


def _grants(session: Any) -> None:
    approvals.grant(session, SYSTEM, LEAD.name, "archive_manager", "")
    approvals.grant(session, SYSTEM, LEAD.name, "principal", "")


def _fleet(session: Any, person: str, out: Registers) -> None:
    garage = directory.create_location(session, SYSTEM, "Garage", "site").code
    directory.get_or_create_category(session, SYSTEM, "公务用车")
    vehicles.mark_category(session, SYSTEM, "公务用车")
    drivers = [person, *(directory.create_person(session, SYSTEM, n, "Office").code for n in ("王师傅", "赵师傅"))]
    car = assets.create_asset(session, SYSTEM, "Sedan", "公务用车", garage).code
    made = vehicles.register(session, OFFICE, vehicles.VehicleIn(car, PLATE, 5, "petrol", 10_000, drivers[:2]))
    vehicles.update(session, OFFICE, PLATE, seats=7)
    vehicles.set_drivers(session, OFFICE, PLATE, [drivers[0], drivers[2]])  # one driver off the pool, one on
    spare = assets.create_asset(session, SYSTEM, "Van", "公务用车", garage).code
    vehicles.register(session, OFFICE, vehicles.VehicleIn(spare, SPARE, 9, "diesel", 500))
    vehicles.update(session, OFFICE, SPARE, active=False)
    now = utcnow()

    def booked(hours: float) -> int:
        asked = bookings.submit(session, OFFICE, bookings.BookingIn(
            "IT", "meeting at the bureau", 2, "市财政局", now - timedelta(minutes=30), now + timedelta(hours=hours)),
            LIMIT)
        approvals.decide(session, LEAD, asked.approval_id, "approve")
        return asked.id

    first, second, third = booked(3), booked(4), booked(5)
    held = dispatch.assign(session, OFFICE, second, PLATE, drivers[2])
    bookings.cancel(session, OFFICE, second, "meeting moved")  # its dispatch is cancelled with it
    other = dispatch.assign(session, OFFICE, third, PLATE, drivers[2])
    dispatch.cancel(session, OFFICE, other.id, "another driver")
    standing = dispatch.assign(session, OFFICE, first, PLATE, drivers[0])
    assert held.cancelled_at is not None
    out.plate, out.vehicle, out.booking, out.dispatch = PLATE, made.id, first, standing.id
    out.drivers = sorted(d.person_id for d in made.drivers)
    gone = vehicle_gate.at_gate(session, OFFICE, vehicle_gate.typed("out", PLATE, odometer=10_020))
    out.passage = gone.passage.id
    # A trip entered by hand, long before the registration's reading (read later): it fits below it.
    trips.record(session, OFFICE, trips.TripIn(PLATE, now - timedelta(days=400), now - timedelta(days=400, hours=-2),
                                               9_000, 9_040, drivers[0], "IT", "an old trip"))


def _fleet_at_the_gate(settings: Settings, sessions: Any, out: Registers, kiosk: bool) -> None:
    """The same vehicle out again from the gate kiosk (the first trip lost its return), and back; or
    (not ``kiosk``) back through the desk. The trip is corrected, and a cost recorded."""
    if kiosk:
        gate = KioskPeer.offline(settings.topic_prefix, "gate-1")
        with sessions() as session:
            tag = vehicles.by_plate(session, PLATE).asset.code
        _send(settings, sessions, gate, [gate.event("vehicle.out", {"plate": PLATE, "tag": tag, "odometer": 10_030}),
                                         gate.event("vehicle.in", {"plate": "京B88888"})], fast=True)
        _send(settings, sessions, gate, [gate.event("vehicle.in", {"plate": PLATE, "tag": tag, "odometer": 10_080})],
              fast=False)
    else:
        with sessions() as session, session.begin():
            vehicle_gate.at_gate(session, OFFICE, vehicle_gate.typed("in", PLATE, odometer=10_080))
    with sessions() as session, session.begin():
        trip = session.scalars(trips.log(session, PLATE).where(Trip.odometer_in == 10_080)).one()
        out.trip = trip.id
        out.correction = trips.correct(session, OFFICE, trip.id, "in", 10_090, "misread at the gate").id
        out.cost = trips.record_cost(session, OFFICE, trips.CostIn(PLATE, "fuel", "350.00", utcnow().date(),
                                                                   trip.id, "full tank")).id


def _seals(session: Any, person: str) -> tuple[str, str]:
    carrier = directory.create_person(session, SYSTEM, "Zhao Lei", "IT").code
    code = seals.register(session, OFFICE, seals.SealIn("IT seal", "department", "IT", person, "IT-2026-01")).code
    seals.step(session, OFFICE, code, "enable", "IT-2026-02")
    seal_imprints.upload(session, OFFICE, code, image())
    seals.change_custodian(session, OFFICE, code, carrier, "IT-2026-03", "handed over")
    asked = seal_uses.submit(session, OFFICE, seal_uses.UseRequestIn(code, "Budget 2027", 3, "County Bureau",
                                                                     "submit the budget", "IT"), LIMIT)
    approvals.decide(session, LEAD, asked.approval_id, "approve", 2)
    seal_uses.record_use(session, OFFICE, code, seal_uses.UseIn(asked.id, 2, note="both copies"))
    takeout = seal_takeouts.submit(session, OFFICE, seal_takeouts.TakeoutIn(
        code, carrier, "County Bureau", "sign the contract", utcnow() + timedelta(hours=4), "IT"), LIMIT)
    approvals.decide(session, LEAD, takeout.approval_id, "approve")
    return code, carrier


def _archives(session: Any, out: Registers) -> tuple[str, str]:
    _grants(session)
    terms = (7, 14, 30)
    archives.create_class(session, SYSTEM, archives.ClassIn("WS", "文书档案", 14), terms)
    archives.update_class(session, SYSTEM, "WS", archives.ClassIn("WS", "文书档案", 30), terms)
    shelf = directory.create_location(session, SYSTEM, "档案室 A 架", "shelf").code
    kept = archives.create_volume(session, OFFICE, archives.VolumeIn("2024年度发文汇编", "WS", 2024, "30y", "public",
                                                                     shelf, reference="WS-2024-001"))
    archives.extend_retention(session, OFFICE, kept.asset.code, "permanent", "appraised: kept for good")
    old = archives.create_volume(session, OFFICE, archives.VolumeIn("2010年度会议纪要", "WS", 2010, "10y", "public",
                                                                    shelf))
    out.volume, out.destroyed = kept.asset_id, old.asset_id
    return kept.asset.code, old.asset.code


def _loans_and_destruction(session: Any, volume: str, old: str, borrower: str, out: Registers) -> None:
    loan = archive_loans.submit(session, OFFICE, archive_loans.LoanIn(volume, borrower, "审计核对"))
    approvals.decide(session, LEAD, loan.approval_id, "approve")
    out.loan = loan.id
    listed = archive_destruction.propose(session, OFFICE, [old], "已过保管期限，经鉴定无保存价值")
    approvals.decide(session, LEAD, listed.approval_id, "approve")  # as archive manager
    approvals.decide(session, LEAD, listed.approval_id, "approve")  # as principal leader
    archive_destruction.carry_out(session, OFFICE, listed.id, "王强", "赵敏、孙丽", "粉碎")
    out.destruction = listed.id


def _storeroom(session: Any, person: str) -> None:
    """A pickup made offline that took the paper below zero, settled; then the paper's reorder."""
    paper = next(i for i in session.scalars(supplies.listing(session)) if i.name == "Paper").code
    stock = supplies.stock(session, supplies.item_by_code(session, paper).id)
    taken = supplies.pickup(session, OFFICE, supplies.PickupIn(paper, stock + 4, person, "offline"), live=False)
    supply_conflicts.settle(session, OFFICE, taken.id, "adjust", "four reams were on the top shelf", 4)
    supply_reorder.request(session, OFFICE, paper, supply_reorder.ReorderIn(
        department="IT", reason="restock", quantity=20, category="Toner"), LIMIT)
    count = stocktakes.open_stocktake(session, OFFICE, "office")
    stocktake_supplies.count(session, OFFICE, count, paper, 1)


def base(sessions: Any) -> str:
    """What the registers need of the rest of the office, when they are tested alone: people, the
    approvers, the kiosks, paper on the shelf. Returns a person's badge."""
    with sessions() as session, session.begin():
        users.create_user(session, SYSTEM, LEAD.name, "a-long-password", "auditor", "IT")  # one: a password costs
        approvals.grant(session, SYSTEM, LEAD.name, "leader", "")
        store = directory.create_location(session, SYSTEM, "Store", "storeroom").code
        gate = directory.create_location(session, SYSTEM, "Gate", "gate").code
        kiosks.enroll(session, SYSTEM, "store-1", "storeroom", store)
        kiosks.enroll(session, SYSTEM, "gate-1", "gate", gate)
        person = directory.create_person(session, SYSTEM, "Li Wei", "IT").code
        directory.get_or_create_category(session, SYSTEM, "Toner")
        supply_receipts.mark_category(session, SYSTEM, "Toner", True)
        paper = supplies.create_item(session, OFFICE, supplies.ItemIn("Paper", "ream", reorder_level=5,
                                                                      unit_price=Decimal("25.00")))
        stock_up(session, paper.code, 20, "25.00", OFFICE)
    return person


def registers(settings: Settings, sessions: Any, person: str, app: Any = None,
              kiosk: bool = True) -> Registers:
    """Every register's write paths once (or more); returns what the tampering tests need. Without
    ``kiosk`` the kiosks' scans are made through the web's services instead (quicker: the tampering
    tests need the rows, the whole-office test the paths)."""
    out = Registers()
    with sessions() as session, session.begin():
        _fleet(session, person, out)
        out.seal, carrier = _seals(session, person)
        volume, old = _archives(session, out)
        _loans_and_destruction(session, volume, old, person, out)
        _storeroom(session, person)
    _fleet_at_the_gate(settings, sessions, out, kiosk)
    if kiosk:
        store_kiosk = KioskPeer.offline(settings.topic_prefix, "store-1")
        _send(settings, sessions, store_kiosk, [store_kiosk.event("asset.checkout", {"tag": out.seal, "to": carrier}),
                                                store_kiosk.event("asset.checkout", {"tag": volume, "to": person})],
              fast=True)  # a seal's take-out and a volume lent, scanned at the storeroom
        _send(settings, sessions, store_kiosk, [store_kiosk.event("asset.checkin", {"tag": out.seal})], fast=False)
    else:
        with sessions() as session, session.begin():
            seal_takeouts.take_out(session, OFFICE, out.seal, carrier)
            archive_loans.lend(session, OFFICE, volume, person)
            seal_takeouts.bring_back(session, OFFICE, out.seal)
    with sessions() as session, session.begin():
        out.takeout = session.scalars(seal_takeouts.listing("returned")).one().id
        out.seal_use = session.scalars(select(SealUse.id)).one()
        archive_loans.give_back(session, OFFICE, volume)
        # A second return scanned by a kiosk that was off line: kept as a conflict, then settled.
        late = archive_conflicts.return_at_kiosk(session, OFFICE, volume, None, at=utcnow(), offline=True,
                                                 origin=assets.KioskOrigin("store-1", 900, "late-return-1"))
        assert late.conflict is not None
        archive_conflicts.settle(session, OFFICE, late.conflict.id, "两次扫描，同一次归还")
    _remind(settings, sessions, volume, person)
    if app is not None:  # the destruction list printed: audited, and nothing changes
        with app.test_request_context(), sessions() as session, session.begin():
            archive_destruction.pdf(session, OFFICE, archive_destruction.by_id(session, out.destruction), "办公室")
    return out


def _remind(settings: Settings, sessions: Any, volume: str, borrower: str) -> None:
    """The volume lent again, and reminded once overdue (through the webhook, the only channel here)."""
    personal.install(sessions, settings.model_copy(update={"gate_webhook_url": "http://127.0.0.1:9/hook"}))
    try:
        with sessions() as session, session.begin():
            again = archive_loans.submit(session, OFFICE, archive_loans.LoanIn(volume, borrower, "复核"))
            approvals.decide(session, LEAD, again.approval_id, "approve")
            lent = archive_loans.lend(session, OFFICE, volume, borrower)
            assert lent.due_at is not None
            assert archive_loans.remind_overdue(session, SYSTEM, now=lent.due_at + timedelta(days=1)) == 1
    finally:
        personal.install(sessions, settings)
