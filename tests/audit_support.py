"""A day of the whole office, through every service that writes to the ledger (for the audit tests).

``whole_ledger`` makes at least one row of every table ``server.audit.ledger`` reconciles, each the
way the application makes it: the web's and the API's services, the CLI's, and kiosk events through
the consumer's writer on its fast path (bulk) and its safe path (a savepoint per event). The office's
registers (vehicles, seals, archives) are in ``tests.audit_registers_support``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from server.audit import SYSTEM, Actor
from server.config import Settings
from server.models import utcnow
from server.services import (
    approvals,
    assets,
    corrections,
    departments,
    directory,
    exit_permits,
    intake,
    kiosks,
    lifecycle,
    plans,
    purchase_requests,
    purchases,
    requisitions,
    retention,
    stocktake_report,
    stocktake_supplies,
    stocktakes,
    supplies,
    supply_receipts,
    users,
    vehicles,
    visitors,
    visits,
    watchlist,
)
from server.services.visitors import VisitorIn
from server.writer import Delivery, Writer
from tests.audit_registers_support import Registers, registers
from tests.peers import KioskPeer
from tests.storeroom_support import stock_up

CLERK = Actor("wang", "web", "storekeeper")
LEADER = Actor("lead", "web", "auditor")
LIMIT = Decimal("10000.00")


@dataclass
class Made:
    """Codes and ids of what the day made, for the tampering tests."""

    store: str
    room: str
    person: str
    disposed: str  # an asset disposed for good
    moved: str  # an asset moved by a kiosk event (fast path)
    purchase: int  # a purchase with a line of 2 x 5000.00
    kiosk_event: tuple[str, str]  # (kiosk, event id) of an accepted kiosk event
    registers: Registers | None = None  # the office's registers (tests.audit_registers_support)


def _plan_row(ref: str, category: str, qty: int, cap: str, amount: str) -> dict[str, Any]:
    return {"ref": ref, "budget_year": 2026, "department": "IT", "category": category, "approved_qty": qty,
            "unit_price_cap": cap, "approved_amount": amount, "method": "self_purchase", "approval_ref": f"A-{ref}"}


def _office(session: Any) -> Made:
    directory.get_or_create_category(session, SYSTEM, "Laptop")
    directory.get_or_create_category(session, SYSTEM, "Seal", controlled=True)
    store = directory.create_location(session, SYSTEM, "Store", "storeroom")
    room = directory.create_location(session, SYSTEM, "Room 1", "office")
    person = directory.create_person(session, SYSTEM, "Li Wei", "IT")
    directory.set_email(session, SYSTEM, person.code, "li@example.gov")
    departments.set_staff(session, SYSTEM, "IT", 12)
    departments.set_staff(session, SYSTEM, "IT", 13)
    for name, role in (("wang", "storekeeper"), ("lead", "auditor"), ("boss", "auditor"), ("temp", "guard")):
        users.create_user(session, SYSTEM, name, "a-long-password", role, "IT")
    users.set_role(session, SYSTEM, "temp", "auditor")
    users.disable(session, SYSTEM, "temp")
    users.enable(session, SYSTEM, "temp")
    users.reset_password(session, SYSTEM, "temp")
    token, _secret = users.issue_token(session, SYSTEM, "feed", "auditor")
    users.revoke_token(session, SYSTEM, token.id)
    approvals.grant(session, SYSTEM, "lead", "leader", "")
    approvals.grant(session, SYSTEM, "boss", "principal", "")
    gone = approvals.grant(session, SYSTEM, "temp", "leader", "IT")
    approvals.revoke_grant(session, SYSTEM, gone.id)
    kiosks.enroll(session, SYSTEM, "store-1", "storeroom", store.code)
    kiosks.enroll(session, SYSTEM, "old-1", "storeroom")
    kiosks.revoke(session, SYSTEM, "old-1", utcnow())
    kiosks.enroll(session, SYSTEM, "old-1", "storeroom")  # enrolled again: the same row
    return Made(store.code, room.code, person.code, "", "", 0, ("", ""))


def _assets(session: Any, made: Made) -> list[str]:
    codes = [assets.create_asset(session, CLERK, f"Laptop {i}", "Laptop", made.store, price=Decimal("4999.5"),
                                 acquired_on=date(2026, 3, 1)).code for i in range(6)]
    assets.move(session, CLERK, codes[0], made.room)
    assets.checkout(session, CLERK, codes[1], made.person, due=date(2026, 12, 31))
    assets.checkin(session, CLERK, codes[1], made.store)
    lifecycle.send_to_repair(session, CLERK, codes[2], "Fixit")
    lifecycle.back_from_repair(session, CLERK, codes[2], made.store)
    lifecycle.transfer(session, CLERK, codes[3], "Finance", "T-1")
    lifecycle.change_custodian(session, CLERK, codes[3], made.person)
    lifecycle.record_maintenance(session, CLERK, codes[3], date(2026, 4, 1), "Fixit", "120.00", "fan")
    lifecycle.dispose(session, CLERK, codes[4], "scrapped", "D-1")
    made.disposed = codes[4]
    return codes


def _procurement(session: Any, made: Made) -> None:
    plans.create_line(session, SYSTEM, _plan_row("2026-IT-01", "Laptop", 20, "6000.00", "100000.00"))
    plans.import_rows(session, SYSTEM, [_plan_row("2026-IT-02", "Laptop", 5, "6000.00", "20000.00"),
                                        _plan_row("2026-IT-03", "Laptop", 5, "6000.00", "20000.00")])
    bought = purchases.record(session, SYSTEM, "ACME", date(2026, 3, 15), "self_purchase", "INV-1",
                              [purchases.LineIn("2026-IT-01", "Laptop", 2, Decimal("5000.00"))])
    made.purchase = bought.id
    received = intake.receive(session, SYSTEM, bought.lines[0].id, "key-1", made.store, quantity=1)
    corrections.reverse_intake(session, SYSTEM, received.intake.id, "wrong line")
    intake.receive(session, SYSTEM, bought.lines[0].id, "key-2", made.store, quantity=2)
    other = purchases.record(session, SYSTEM, "ACME", date(2026, 3, 16), "self_purchase", "INV-2",
                             [purchases.LineIn("2026-IT-02", "Laptop", 1, Decimal("4000.00"))])
    corrections.void_purchase(session, SYSTEM, other.id, "typed twice", "V-1")
    corrections.amend_plan_line(session, SYSTEM, "2026-IT-03", "AM-1", approved_qty=4, approved_amount="16000.00")
    asked = purchase_requests.submit(session, CLERK, purchase_requests.RequestIn(
        "IT", "Laptop", "Laptop", 2, "5000.00", "new staff"), LIMIT)
    approvals.decide(session, LEADER, asked.approval_id, "approve", quantity=1)
    purchase_requests.link(session, SYSTEM, asked.id, "2026-IT-01", bought.id)
    withdrawn = purchase_requests.submit(session, CLERK, purchase_requests.RequestIn(
        "IT", "Laptop", "Laptop", 1, "100.00", "spare"), LIMIT)
    approvals.withdraw(session, CLERK, withdrawn.approval_id)


def _storeroom(session: Any, made: Made, asset_codes: list[str]) -> int:
    paper = supplies.create_item(session, CLERK, supplies.ItemIn("Paper", "ream", reorder_level=5,
                                                                 unit_price=Decimal("25.00")))
    pens = supplies.create_item(session, CLERK, supplies.ItemIn("Pen", "box", valuable=True,
                                                                unit_price=Decimal("80.00")))
    stock_up(session, paper.code, 20, "25.00", CLERK, note="first delivery")
    stock_up(session, pens.code, 10, "80.00", CLERK)
    directory.get_or_create_category(session, SYSTEM, "Toner")
    supply_receipts.mark_category(session, SYSTEM, "Toner", True)  # a category becomes one of supplies
    directory.get_or_create_category(session, SYSTEM, "Cars")
    vehicles.mark_category(session, SYSTEM, "Cars", True)  # and one whose assets may join the fleet
    supplies.pickup(session, CLERK, supplies.PickupIn(paper.code, 3, made.person, "printing"))
    supplies.give_back(session, CLERK, paper.code, 1, made.person, "unused")
    supplies.adjust(session, CLERK, paper.code, -1, "torn")
    wanted = requisitions.submit(session, CLERK, requisitions.RequisitionIn(pens.code, 2, "IT", "meeting"), LIMIT)
    approvals.decide(session, LEADER, wanted.approval_id, "approve")
    supplies.pickup(session, CLERK, supplies.PickupIn(pens.code, 2, made.person, "meeting", requisition=wanted.id))
    count = stocktakes.open_stocktake(session, CLERK, "office")
    stocktake_supplies.count(session, CLERK, count, paper.code, 16)  # one ream short: an adjustment at closing
    stocktakes.scan(session, CLERK, count.id, asset_codes[0], made.store)
    stocktakes.scan_csv(session, CLERK, count.id, f"code,location\n{asset_codes[1]},{made.store}\n")
    stocktakes.resolve(session, CLERK, count.id, asset_codes[0], "ignore", reason="seen twice")
    stocktakes.resolve(session, CLERK, count.id, asset_codes[0], "move")  # a second choice replaces the first
    stocktakes.close(session, CLERK, count.id, force=True)
    stocktake_report.sign_off(session, SYSTEM, count.id)
    return stocktakes.open_stocktake(session, CLERK, "locations", location_codes=[made.store]).id


def settings_zone(session: Any) -> str:
    from server.personal import policy

    return str(policy(session).zone)


def _gate(session: Any, made: Made, asset_codes: list[str]) -> None:
    now = utcnow()
    gate = directory.create_location(session, SYSTEM, "Gate", "gate")
    kiosks.enroll(session, SYSTEM, "gate-1", "gate", gate.code)
    guest = visitors.register(session, SYSTEM, VisitorIn(name="张伟", host=made.person, plate="京A12345"),
                              now - timedelta(hours=1), now + timedelta(hours=6))
    visits.sign_in(session, SYSTEM, guest.code)
    visits.sign_out(session, SYSTEM, guest.code)
    zone = ZoneInfo(settings_zone(session))
    yesterday_noon = datetime.combine(now.astimezone(zone).date() - timedelta(days=1), time(12), zone)
    walker = visitors.walk_in(session, SYSTEM, VisitorIn(name="李四", host=made.person), at=yesterday_noon)
    visits.sign_in(session, SYSTEM, walker.code, at=yesterday_noon + timedelta(hours=1))
    assert visits.auto_signout(session, SYSTEM) == 1  # at 22:00 yesterday (office time)
    visitors.walk_in(session, SYSTEM, VisitorIn(name="周八", host=made.person), at=now - timedelta(days=3))
    revoked = visitors.register(session, SYSTEM, VisitorIn(name="王五", host=made.person), now,
                                now + timedelta(hours=2))
    visitors.revoke(session, SYSTEM, revoked.code, "not expected")
    visitors.issue_blank(session, SYSTEM, 2)
    entry = watchlist.add(session, SYSTEM, "plate", "京B99999", note="stolen car")
    watchlist.add(session, SYSTEM, "person", "赵六", ["赵老六"])
    watchlist.remove(session, SYSTEM, entry.id)
    exit_permits.issue(session, SYSTEM, exit_permits.PermitIn(
        [asset_codes[5]], "repair outside", "Fixit", now + timedelta(days=2), loan=True,
        expected_return=date.today() + timedelta(days=3)))
    exit_permits.at_gate(session, SYSTEM, asset_codes[5])  # out
    exit_permits.at_gate(session, SYSTEM, asset_codes[5])  # back
    other = exit_permits.issue(session, SYSTEM, exit_permits.PermitIn([asset_codes[0]], "show", "Li",
                                                                      now + timedelta(days=1)))
    exit_permits.revoke(session, SYSTEM, other.id)


def _kiosk_events(settings: Settings, sessions: Any, made: Made, asset_codes: list[str], stocktake: int) -> None:
    """Kiosk events through the consumer's writer: the fast path (bulk), then the safe path."""
    store = KioskPeer.offline(settings.topic_prefix, "store-1")
    gate = KioskPeer.offline(settings.topic_prefix, "gate-1")
    with sessions() as session:
        paper = supplies.item_by_code(session, next(iter(
            i.code for i in session.scalars(supplies.listing(session)) if i.name == "Paper"))).code
    with sessions() as session, session.begin():
        blank = visitors.issue_blank(session, SYSTEM, 1)[0]
        exit_permits.issue(session, SYSTEM, exit_permits.PermitIn([asset_codes[3]], "lend", "Li",
                                                                  utcnow() + timedelta(days=1)))
    fast = [store.event("asset.move", {"tag": asset_codes[0], "to": made.store}),
            store.event("asset.checkout", {"tag": asset_codes[1], "to": made.person}),
            store.event("supply.pickup", {"item": paper, "qty": 1, "taker": made.person}),
            store.event("stocktake.scan", {"session": str(stocktake), "tag": asset_codes[2], "location": made.store}),
            gate.event("visitor.signin", {"pass": blank, "name": "孙七", "host": made.person}),
            gate.event("asset.exit", {"tag": asset_codes[3]})]
    writer = Writer(settings, sessions)
    replies = writer.process([Delivery(n, 1, store.topics.events(e.kiosk), e.to_bytes()) for n, e in enumerate(fast)],
                             fast=True)
    assert [json.loads(r.ack or b"")["status"] for r in replies] == ["accepted"] * len(fast), replies
    safe = [store.event("asset.move", {"tag": asset_codes[0], "to": made.room}),
            gate.event("visitor.signout", {"pass": blank})]
    replies = writer.process([Delivery(n, 1, store.topics.events(e.kiosk), e.to_bytes()) for n, e in enumerate(safe)],
                             fast=False)
    assert [json.loads(r.ack or b"")["status"] for r in replies] == ["accepted"] * len(safe), replies
    made.moved, made.kiosk_event = asset_codes[0], ("store-1", str(fast[0].id))


def whole_ledger(sessions: Any, settings: Settings, app: Any = None) -> Made:
    """Every write path once (or more); returns what the tampering tests need (``app``: a request
    context for the paths that render a document)."""
    with sessions() as session, session.begin():
        made = _office(session)
        codes = _assets(session, made)
        _procurement(session, made)
        stocktake = _storeroom(session, made, codes)
        _gate(session, made, codes)
    _kiosk_events(settings, sessions, made, codes, stocktake)
    made.registers = registers(settings, sessions, made.person, app)
    with sessions() as session, session.begin():  # the retention purge, two years on: deletions, audited
        done = retention.purge(session, SYSTEM, now=utcnow() + timedelta(days=730) - timedelta(hours=6))
        assert done.visits_deleted >= 1 and done.passes_deleted >= 1, done
    return made
