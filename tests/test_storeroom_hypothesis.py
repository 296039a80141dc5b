"""Hypothesis: whatever is scanned, moved or disposed during a stocktake, every expected asset ends in
exactly one class (and every scanned code in one line); whatever is received, picked up (live or
off line), returned, adjusted, counted or reversed, an item's stock is the sum of its ledger, everywhere it is
read, and goes below zero only through an offline conflict."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from server.audit import SYSTEM, Actor
from server.errors import DomainError
from server.models import Asset, AssetStatus, StocktakeExpected, StocktakeScan, SupplyItem, SupplyMovement
from server.services import (
    assets,
    directory,
    lifecycle,
    stocktake_supplies,
    stocktakes,
    supplies,
    supply_conflicts,
    supply_costs,
    supply_receipts,
)
from tests.storeroom_support import stock_up

ADMIN = Actor("admin", "web", "admin")
SCOPES = ("office", "department", "locations")
asset_spec = st.tuples(st.integers(0, 2), st.booleans(), st.booleans())  # room, department X?, disposed?
count_step = st.tuples(st.sampled_from(("scan", "scan", "scan_unknown", "move", "dispose")),
                       st.integers(0, 20), st.integers(0, 2))


def _office(db: Any, specs: list[tuple[int, bool, bool]]) -> tuple[list[str], list[str]]:
    directory.get_or_create_category(db, SYSTEM, "Laptop")
    rooms = [directory.create_location(db, SYSTEM, f"Room {n}").code for n in range(3)]
    codes = []
    for n, (room, in_x, disposed) in enumerate(specs):
        code = assets.create_asset(db, SYSTEM, f"a{n}", "Laptop", rooms[room]).code
        lifecycle.transfer(db, SYSTEM, code, "X" if in_x else "Y", "TR-1")
        if disposed:
            lifecycle.dispose(db, SYSTEM, code, "scrapped", "GOV-1")
        codes.append(code)
    return rooms, codes


def _count_step(db: Any, st_id: int, rooms: list[str], codes: list[str], step: tuple[str, int, int]) -> None:
    action, pick, room = step
    code = codes[pick % len(codes)]
    if action == "scan":
        stocktakes.scan(db, ADMIN, st_id, code, rooms[room])
    elif action == "scan_unknown":
        stocktakes.scan(db, ADMIN, st_id, "A-0000000", rooms[room])
    elif action == "move":
        assets.move(db, SYSTEM, code, rooms[room])
    else:
        lifecycle.dispose(db, SYSTEM, code, "lost", "GOV-2")


def _check_classes(db: Any, stocktake: Any) -> None:
    lines = stocktakes.lines(db, stocktake, limit=10_000)
    line_codes = [line.code for line in lines]
    assert len(line_codes) == len(set(line_codes)), "a code in two lines"
    assert {line.cls for line in lines} <= set(stocktakes.CLASSES)
    counts = stocktakes.counts(db, stocktake)
    assert sum(counts.values()) == len(lines)
    expected = db.execute(select(Asset.code, Asset.status)
                          .join(StocktakeExpected, StocktakeExpected.asset_id == Asset.id)
                          .where(StocktakeExpected.stocktake_id == stocktake.id)).all()
    scanned = set(db.scalars(select(StocktakeScan.code).where(
        StocktakeScan.stocktake_id == stocktake.id)))
    for code, status in expected:
        gone_unseen = status == AssetStatus.DISPOSED.value and code not in scanned
        assert line_codes.count(code) == (0 if gone_unseen else 1), code
    assert scanned <= set(line_codes), "a scanned code without a line"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=st.lists(asset_spec, min_size=1, max_size=7), scope=st.sampled_from(SCOPES),
       steps=st.lists(count_step, max_size=20))
def test_every_expected_asset_ends_in_exactly_one_class(engine_sessions: Any, specs: list[Any], scope: str,
                                                        steps: list[Any]) -> None:
    with engine_sessions() as db:
        rooms, codes = _office(db, specs)
        stocktake = stocktakes.open_stocktake(db, ADMIN, scope, "X", rooms[:2] if scope == "locations" else ())
        _check_classes(db, stocktake)
        for step in steps:
            try:
                with db.begin_nested():
                    _count_step(db, stocktake.id, rooms, codes, step)
            except DomainError:
                pass  # refused (e.g. disposing twice): the savepoint took back what it wrote
            _check_classes(db, stocktake)
        db.rollback()


SUPPLY_ACTIONS = ("receive", "pickup", "pickup", "offline", "return", "adjust", "count", "settle", "reverse")
supply_step = st.tuples(st.sampled_from(SUPPLY_ACTIONS), st.integers(0, 1), st.integers(-6, 12))


def _supply_step(db: Any, items: list[str], person: str, step: tuple[str, int, int], n: int) -> None:
    action, pick, qty = step
    code = items[pick]
    if action == "receive":
        stock_up(db, code, max(qty, 1), f"{n % 7 + 1}.50")
    elif action in ("pickup", "offline"):
        supplies.pickup(db, SYSTEM, supplies.PickupIn(code, qty, person), live=action == "pickup")
    elif action == "return":
        supplies.give_back(db, SYSTEM, code, qty, person)
    elif action == "adjust":
        supplies.adjust(db, SYSTEM, code, qty, "recount")
    elif action == "reverse":  # one of the item's receipts, by qty: reversed already or used up is refused
        receipts = db.scalars(select(SupplyMovement.id).where(
            SupplyMovement.item_id == supplies.item_by_code(db, code).id, SupplyMovement.kind == "receipt")
            .order_by(SupplyMovement.id)).all()
        if receipts:
            supply_receipts.reverse(db, SYSTEM, code, receipts[qty % len(receipts)], "entered by mistake")
    elif action == "count":
        stocktake = stocktakes.open_stocktake(db, ADMIN, "office")
        stocktake_supplies.count(db, SYSTEM, stocktake, code, qty)
        stocktakes.close(db, ADMIN, stocktake.id, force=True)
    else:
        for conflict in supply_conflicts.listing(db)[:1]:
            supply_conflicts.settle(db, SYSTEM, conflict.movement.id, "adjust" if qty else "accept", "checked", qty)


def _check_stock(db: Any) -> None:
    valuation = supply_costs.value(db)
    listed = dict(db.execute(select(SupplyItem.id, supplies.stock_column())).all())
    for item in db.scalars(select(SupplyItem)):
        rows = db.scalars(select(SupplyMovement).where(SupplyMovement.item_id == item.id)).all()
        stock = supplies.stock(db, item.id)
        assert stock == sum(m.quantity for m in rows) == listed[item.id] == supplies.stocks_of(db, [item.id])[item.id]
        if stock < 0:
            assert any(m.conflict for m in rows), "below zero without an offline conflict"
        on_hand = valuation.on_hand(item.id)
        assert on_hand >= 0 and (stock > 0 or on_hand == 0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(supply_step, min_size=1, max_size=25))
def test_stock_is_always_the_sum_of_its_ledger(engine_sessions: Any, steps: list[Any]) -> None:
    with engine_sessions() as db:
        items = [supplies.create_item(db, SYSTEM, supplies.ItemIn(name=name, unit="box", reorder_level=3)).code
                 for name in ("Pens", "Paper")]
        person = directory.create_person(db, SYSTEM, "Li Na", "Office").code
        for n, step in enumerate(steps):
            try:
                with db.begin_nested():
                    _supply_step(db, items, person, step, n)
            except DomainError:
                pass  # refused: nothing of it stays
            _check_stock(db)
        db.rollback()
