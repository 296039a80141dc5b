"""Random sequences of purchases, intakes and life-cycle actions never leave a plan line with a
negative remainder, a purchase line over-received, or an asset whose state disagrees with its
own history (in two places at once); a refused action changes nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from server.errors import DomainError
from server.models import Asset, AssetEvent, IssuedCode, PurchaseLine
from server.services import assets, intake, lifecycle, plans, purchases
from tests.procurement_support import ACTOR, office, plan_line

ACTIONS = ("buy", "intake", "move_room", "move_store", "checkout", "checkin", "repair", "repaired", "dispose",
           "transfer")
step = st.tuples(st.sampled_from(ACTIONS), st.integers(0, 50), st.integers(1, 4), st.integers(1, 2600))


def _act(db: Any, where: Any, action: str, pick: int, qty: int, cents: int, n: int) -> None:
    codes = db.scalars(select(Asset.code).order_by(Asset.id)).all()
    lines = db.scalars(select(PurchaseLine.id).order_by(PurchaseLine.id)).all()
    code = codes[pick % len(codes)] if codes else "A-000010*"
    if action == "buy":
        ref = ("P-1", "P-2")[pick % 2]
        purchases.record(db, ACTOR, "S", date(2026, 5, 1), "other", f"I-{n}",
                         [purchases.LineIn(ref, "Laptop", qty, Decimal(cents) * 10 / 100)])
    elif action == "intake":
        if lines:
            intake.receive(db, ACTOR, lines[pick % len(lines)], f"key-{n}", where.store, quantity=qty)
    elif action in ("move_room", "move_store"):
        assets.move(db, ACTOR, code, where.room if action == "move_room" else where.shelf)
    elif action == "checkout":
        assets.checkout(db, ACTOR, code, (where.person, where.other_person)[pick % 2])
    elif action == "checkin":
        assets.checkin(db, ACTOR, code, where.store)
    elif action == "repair":
        lifecycle.send_to_repair(db, ACTOR, code)
    elif action == "repaired":
        lifecycle.back_from_repair(db, ACTOR, code)
    elif action == "dispose":
        lifecycle.dispose(db, ACTOR, code, lifecycle.DISPOSAL_REASONS[pick % 4], "OK-1")
    elif action == "transfer":
        lifecycle.transfer(db, ACTOR, code, ("IT", "Finance")[pick % 2], "TR-1")


def _check(db: Any) -> None:
    for row in plans.execution(db):
        assert row.remaining_qty >= 0 and row.remaining_amount >= 0, row.line.ref
    for line in db.scalars(select(PurchaseLine)).unique():
        assert intake.received_count(db, line.id) <= line.quantity
    codes = db.scalars(select(Asset.code)).all()
    assert len(codes) == len(set(codes))
    assert db.scalar(select(func.count()).select_from(IssuedCode).where(IssuedCode.code.in_(codes))) == len(codes)
    for asset in db.scalars(select(Asset)).unique():
        applied = db.scalars(select(AssetEvent).where(AssetEvent.asset_id == asset.id, AssetEvent.applied)
                             .order_by(AssetEvent.at, AssetEvent.id)).unique().all()
        status_events = [e for e in applied if e.to_status]
        assert status_events[-1].to_status == asset.status
        assert applied[-1].to_location_id == asset.location_id, "the asset is not where its history says"
        if asset.status == "disposed":
            assert asset.location_id is None and asset.custodian_id is None
        if asset.status in ("in_storage", "under_repair"):
            assert asset.custodian_id is None


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=25))
def test_random_sequences_keep_the_ledger_true(engine_sessions: Any, steps: list[Any]) -> None:
    with engine_sessions() as db:
        where = office(db)
        plan_line(db, "P-1", qty=4, cap="200.00", amount="500.00", method="other")
        plan_line(db, "P-2", qty=3, cap="260.00", amount="500.00", method="other")
        for n, (action, pick, qty, cents) in enumerate(steps):
            try:
                with db.begin_nested():
                    _act(db, where, action, pick, qty, cents, n)
            except DomainError:
                pass  # refused: the savepoint is gone, and so is anything it wrote
            _check(db)
        db.rollback()
