"""Shared set-up for the storeroom tests: stock comes in only from purchase lines of a supply category,
so ``stock_up`` plans, buys and receives, as the office would."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from server.audit import Actor
from server.models import SupplyMovement
from server.services import directory, plans, purchases, supply_receipts

BUYER = Actor("buyer", "web", "storekeeper")
SUPPLIES = "Office supplies"
_refs = itertools.count(1)


def supply_line(session: Session, qty: int, price: str = "5.00", on: date = date(2026, 3, 15)) -> int:
    """A purchase line of office supplies (a plan line of its own, bought at ``price``); its id."""
    directory.get_or_create_category(session, BUYER, SUPPLIES, supplies=True)
    ref = f"SUP-{next(_refs)}-{id(session) % 100000}"
    total = (Decimal(price) * qty).quantize(Decimal("0.01"))
    plans.create_line(session, BUYER, {
        "ref": ref, "budget_year": 2026, "department": "Office", "category": SUPPLIES, "approved_qty": qty,
        "unit_price_cap": price, "approved_amount": str(max(total, Decimal("0.01"))), "method": "self_purchase",
        "approval_ref": f"APP-{ref}"})
    bought = purchases.record(session, BUYER, "Stationer", on, "self_purchase", f"INV-{ref}",
                              [purchases.LineIn(ref, SUPPLIES, qty, Decimal(price))], None)
    return int(bought.lines[0].id)


def stock_up(session: Session, code: str, qty: int, price: str = "5.00", actor: Actor = BUYER,
             **more: Any) -> SupplyMovement:
    """Buy ``qty`` of item ``code`` at ``price`` and receive them: a receipt with its cost."""
    return supply_receipts.receive(session, actor, code, supply_line(session, qty, price), qty, **more)
