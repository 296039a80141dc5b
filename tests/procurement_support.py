"""Shared set-up for the procurement, intake, life-cycle and report tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from server.audit import Actor
from server.services import directory, plans, purchases

ACTOR = Actor("tester", "api", "admin")


@dataclass
class Office:
    store: str
    shelf: str
    room: str
    person: str
    other_person: str


def office(session: Session) -> Office:
    for name, controlled in (("Laptop", False), ("Printer", False), ("Official seal", True)):
        directory.get_or_create_category(session, ACTOR, name, controlled)
    store = directory.create_location(session, ACTOR, "Main storeroom", "storeroom")
    shelf = directory.create_location(session, ACTOR, "Shelf A", "shelf", store.code)
    room = directory.create_location(session, ACTOR, "Room 101", "office")
    person = directory.create_person(session, ACTOR, "Li Wei", "IT")
    other = directory.create_person(session, ACTOR, "Zhang Min", "Finance")
    return Office(store.code, shelf.code, room.code, person.code, other.code)


def plan_line(session: Session, ref: str = "2026-IT-01", category: str = "Laptop", qty: int = 10,
              cap: str = "6000.00", amount: str = "50000.00", method: str = "framework_agreement",
              year: int = 2026, department: str = "IT") -> Any:
    return plans.create_line(session, ACTOR, {
        "ref": ref, "budget_year": year, "department": department, "category": category, "approved_qty": qty,
        "unit_price_cap": cap, "approved_amount": amount, "method": method, "approval_ref": f"APP-{ref}"})


def buy(session: Session, ref: str = "2026-IT-01", qty: int = 1, price: str = "5000.00", category: str = "Laptop",
        method: str = "framework_agreement", exception_ref: str | None = None,
        on: date = date(2026, 3, 15)) -> Any:
    return purchases.record(session, ACTOR, "ACME Supplies", on, method, f"INV-{qty}-{price}",
                            [purchases.LineIn(ref, category, qty, Decimal(price))], exception_ref)
