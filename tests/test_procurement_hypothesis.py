"""Random sequences of requests, approvals, purchases, voids, amendments, intakes and their reversals:
every plan line's used plus remaining equals what is approved now (used recomputed here from the rows, voided
purchases left out), nothing is over its limits, the amendments chain up to the line's values, and a refused
step changes nothing."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from server import auth
from server.audit import SYSTEM, Actor
from server.errors import DomainError
from server.models import Approval, Asset, Intake, PlanLine, PlanLineAmendment, Purchase, PurchaseLine
from server.services import approvals, assets, corrections, intake, plans, purchase_requests, purchases
from tests.procurement_support import ACTOR, office, plan_line

ACTIONS = ("request", "approve", "reject", "buy", "buy", "void", "amend", "intake", "intake", "reverse", "use")
step = st.tuples(st.sampled_from(ACTIONS), st.integers(0, 50), st.integers(1, 4), st.integers(0, 2600))
CLERK = Actor("clerk", "web", "storekeeper")
DAY = date(2026, 5, 1)


def _pick(db: Any, query: Any, pick: int) -> Any:
    rows = db.scalars(query).unique().all()
    return rows[pick % len(rows)] if rows else None


def _act(db: Any, where: Any, action: str, pick: int, qty: int, cents: int, n: int) -> None:
    if action == "request":
        data = purchase_requests.RequestIn("IT", "ThinkPad", "Laptop", qty, Decimal(cents + 1) * 5, "needed")
        purchase_requests.submit(db, CLERK, data, Decimal("10000.00"))
    elif action in ("approve", "reject"):
        chain = _pick(db, select(Approval).where(Approval.state == "pending").order_by(Approval.id), pick)
        if chain is not None:
            who = "li" if chain.current_level == "leader" else "wang"
            approvals.decide(db, Actor(who, "web", "auditor"), chain.id, action,
                             quantity=max(1, qty - 1) if action == "approve" else None, reason="r")
    elif action == "buy":
        ref = ("P-1", "P-2")[pick % 2]
        purchases.record(db, ACTOR, "S", DAY, "other", f"I-{n}",
                         [purchases.LineIn(ref, "Laptop", qty, Decimal(cents) / 10)])
    elif action == "void":
        purchase = _pick(db, select(Purchase.id).order_by(Purchase.id), pick)
        if purchase is not None:
            corrections.void_purchase(db, ACTOR, purchase, "wrong", f"CHG-{n}")
    elif action == "amend":
        corrections.amend_plan_line(db, ACTOR, ("P-1", "P-2")[pick % 2], f"CHG-{n}", approved_qty=qty + pick % 3,
                                    approved_amount=Decimal(cents) / 4)
    elif action == "intake":
        line = _pick(db, select(PurchaseLine.id).order_by(PurchaseLine.id), pick)
        if line is not None:
            intake.receive(db, ACTOR, line, f"key-{n}", where.store, quantity=qty)
    elif action == "reverse":
        row = _pick(db, select(Intake.id).order_by(Intake.id), pick)
        if row is not None:
            corrections.reverse_intake(db, ACTOR, row, "mistake")
    elif action == "use":
        code = _pick(db, select(Asset.code).where(Asset.status == "in_storage").order_by(Asset.id), pick)
        if code is not None:
            assets.move(db, ACTOR, code, where.room)


def _check(db: Any, originals: dict[str, tuple[int, Decimal]]) -> None:
    used: dict[int, list[Any]] = defaultdict(lambda: [0, Decimal("0.00")])
    for line in db.scalars(select(PurchaseLine).order_by(PurchaseLine.id)).unique():
        assert line.unit_price <= line.plan_line.unit_price_cap and line.unit_price > 0
        assert line.amount == line.unit_price * line.quantity
        if line.purchase.voided_at is None:
            used[line.plan_line_id][0] += line.quantity
            used[line.plan_line_id][1] += line.amount
        else:  # a voided purchase has nothing received that stands
            assert intake.received_count(db, line.id) == 0
        assert intake.received_count(db, line.id) <= line.quantity
    for row in plans.execution(db):
        line = row.line
        assert [row.used_qty, row.used_amount] == used[line.id]  # voided ones left out, as recomputed here
        assert row.used_qty + row.remaining_qty == line.approved_qty
        assert row.used_amount + row.remaining_amount == line.approved_amount
        assert row.remaining_qty >= 0 and row.remaining_amount >= 0, line.ref
        assert line.approved_amount <= line.approved_qty * line.unit_price_cap
        values = originals[line.ref]
        for amendment in db.scalars(select(PlanLineAmendment).where(PlanLineAmendment.plan_line_id == line.id)
                                    .order_by(PlanLineAmendment.id)):
            assert (amendment.old_qty, amendment.old_amount) == values
            values = (amendment.new_qty, amendment.new_amount)
        assert values == (line.approved_qty, line.approved_amount)
    for row in db.scalars(select(Intake)):
        statuses = set(db.scalars(select(Asset.status).where(Asset.intake_id == row.id)))
        assert (statuses == {"retired"}) == (row.reversed_at is not None)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=25))
def test_random_sequences_keep_the_plan_true(engine_sessions: Any, steps: list[Any]) -> None:
    with engine_sessions() as setup:  # once for all examples (users are slow to make); each example rolls back
        if setup.scalars(select(PlanLine.id)).first() is None:
            for name in ("clerk", "li", "wang"):
                auth.create_user(setup, SYSTEM, name, "correct horse battery", "auditor")
            approvals.grant(setup, SYSTEM, "li", "leader", "IT")
            approvals.grant(setup, SYSTEM, "wang", "principal", "")
            office(setup)
            plan_line(setup, "P-1", qty=4, cap="200.00", amount="500.00", method="other")
            plan_line(setup, "P-2", qty=3, cap="260.00", amount="500.00", method="other")
            setup.commit()
    with engine_sessions() as db:
        where = _where(db)
        originals = {line.ref: (line.approved_qty, line.approved_amount) for line in db.scalars(select(PlanLine))}
        for n, (action, pick, qty, cents) in enumerate(steps):
            try:
                with db.begin_nested():
                    _act(db, where, action, pick, qty, cents, n)
            except DomainError:
                pass  # refused: the savepoint is gone, and so is anything it wrote
            _check(db, originals)
        db.rollback()


def _where(db: Any) -> Any:
    from server.models import Location

    class Where:
        store = db.scalars(select(Location.code).where(Location.kind == "storeroom")).first()
        room = db.scalars(select(Location.code).where(Location.kind == "office")).first()

    return Where
