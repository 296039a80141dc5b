"""Corrections that keep history: void a purchase, amend a plan line, reverse an intake."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from server.errors import Invalid, RuleViolation
from server.models import Asset, AssetEvent, AuditEntry, IssuedCode, PlanLine, PlanLineAmendment, Purchase
from server.services import corrections, intake, lifecycle, plans, reports
from tests.procurement_support import ACTOR, buy, office, plan_line


@pytest.fixture
def db(engine_sessions: Any) -> Any:
    with engine_sessions() as session, session.begin():
        office(session)
        plan_line(session)  # 10 laptops, cap 6000.00, 50000.00
    with engine_sessions() as session:
        yield session


def _audits(db: Any, action: str) -> list[AuditEntry]:
    return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _row(db: Any) -> plans.Execution:
    [row] = plans.execution(db)
    return row


def test_void_restores_the_plan_and_keeps_the_purchase(db: Any) -> None:
    kept = buy(db, qty=2, price="5000.00")
    gone = buy(db, qty=3, price="4000.00")
    db.commit()
    assert (_row(db).used_qty, _row(db).used_amount) == (5, Decimal("22000.00"))
    corrections.void_purchase(db, ACTOR, gone.id, "wrong supplier", "CHG-2026-7")
    db.commit()
    row = _row(db)
    assert (row.used_qty, row.used_amount, row.remaining_amount) == (2, Decimal("10000.00"), Decimal("40000.00"))
    stored = db.get(Purchase, gone.id)
    assert stored is not None and stored.voided_at is not None
    assert (stored.void_reason, stored.void_approval_ref, stored.voided_by) == ("wrong supplier", "CHG-2026-7",
                                                                                ACTOR.name)
    assert db.scalar(select(func.count()).select_from(Purchase)) == 2  # nothing deleted
    [entry] = _audits(db, "purchase.void")
    assert entry.entity_id == str(gone.id) and entry.after is not None and entry.after["total"] == "12000.00"
    # reports count what stands now
    spend = reports.spend(db, "year").rows
    assert [r["amount"] for r in spend] == [Decimal("10000.00")]
    [by_method] = reports.spend_by_method(db).rows
    assert by_method["purchases"] == 1 and by_method["amount"] == Decimal("10000.00")
    assert kept.voided_at is None
    # the freed amount can be bought again: 8 more units up to the full amount
    buy(db, qty=8, price="5000.00")
    assert _row(db).remaining_amount == Decimal("0.00")


def test_void_needs_reason_and_approval_and_is_once(db: Any) -> None:
    p = buy(db, qty=1)
    db.commit()
    with pytest.raises(Invalid) as err:
        corrections.void_purchase(db, ACTOR, p.id, "typo", " ")
    assert err.value.params["field"] == "approval_ref"
    with pytest.raises(Invalid):
        corrections.void_purchase(db, ACTOR, p.id, "", "CHG-1")
    corrections.void_purchase(db, ACTOR, p.id, "typo", "CHG-1")
    db.commit()
    with pytest.raises(RuleViolation) as again:
        corrections.void_purchase(db, ACTOR, p.id, "typo", "CHG-1")
    assert again.value.code == "already_voided"
    assert len(_audits(db, "purchase.void")) == 1


def test_void_refused_while_intakes_stand_then_allowed_after_reversal(db: Any) -> None:
    where = office_codes(db)
    p = buy(db, qty=2)
    received = intake.receive(db, ACTOR, p.lines[0].id, "k1", where, 2)
    db.commit()
    with pytest.raises(RuleViolation) as err:
        corrections.void_purchase(db, ACTOR, p.id, "duplicate", "CHG-2")
    assert err.value.code == "has_intakes" and str(received.intake.id) in err.value.message
    db.rollback()
    corrections.reverse_intake(db, ACTOR, received.intake.id, "entered twice")
    corrections.void_purchase(db, ACTOR, p.id, "duplicate", "CHG-2")
    db.commit()
    assert _row(db).used_qty == 0
    with pytest.raises(RuleViolation) as voided:
        intake.receive(db, ACTOR, p.lines[0].id, "k2", where, 1)
    assert voided.value.code == "purchase_voided"
    assert all(line.id != p.lines[0].id for line, _left in intake.open_lines(db))


def office_codes(db: Any) -> str:
    from server.models import Location

    code = db.scalars(select(Location.code).where(Location.kind == "storeroom")).first()
    assert code is not None
    return str(code)


def test_amend_keeps_the_old_values_and_moves_the_limits(db: Any) -> None:
    buy(db, qty=4, price="5000.00")
    db.commit()
    row = corrections.amend_plan_line(db, ACTOR, "2026-IT-01", "CHG-9", approved_qty=6,
                                      approved_amount="30000.00", reason="budget cut")
    db.commit()
    line = db.scalars(select(PlanLine)).one()
    assert (line.approved_qty, line.approved_amount) == (6, Decimal("30000.00"))
    assert (row.old_qty, row.old_amount, row.new_qty, row.new_amount) == (10, Decimal("50000.00"), 6,
                                                                          Decimal("30000.00"))
    [entry] = _audits(db, "plan_line.amend")
    assert (entry.before["approved_qty"], entry.before["approved_amount"]) == (10, "50000.00")  # the whole line
    assert (entry.after["approved_qty"], entry.after["approved_amount"]) == (6, "30000.00")
    assert _row(db).remaining_amount == Decimal("10000.00")
    with pytest.raises(RuleViolation) as over:  # the new limit holds
        buy(db, qty=3, price="1000.00")
    assert over.value.code == "quantity_exceeded"
    db.rollback()
    corrections.amend_plan_line(db, ACTOR, "2026-IT-01", "CHG-10", approved_amount="36000.00")
    db.commit()
    assert [(a.new_qty, a.new_amount) for a in corrections.amendments(db, line.id)] == [
        (6, Decimal("30000.00")), (6, Decimal("36000.00"))]


@pytest.mark.parametrize(("qty", "amount", "code", "field"), [
    (3, None, "below_used", "approved_qty"),  # 4 bought
    (None, "19999.99", "below_used", "approved_amount"),  # 20000.00 used
    (4, "24000.01", "amount_above_cap", "approved_amount"),  # 4 x 6000.00 = 24000.00
])
def test_amend_never_below_used_nor_above_the_cap(db: Any, qty: Any, amount: Any, code: str, field: str) -> None:
    buy(db, qty=4, price="5000.00")
    db.commit()
    with pytest.raises((RuleViolation, Invalid)) as err:
        corrections.amend_plan_line(db, ACTOR, "2026-IT-01", "CHG-1", approved_qty=qty, approved_amount=amount)
    assert err.value.code == code and err.value.params["field"] == field
    db.rollback()
    assert db.scalar(select(func.count()).select_from(PlanLineAmendment)) == 0
    corrections.amend_plan_line(db, ACTOR, "2026-IT-01", "CHG-1", approved_qty=4, approved_amount="20000.00")


def test_amend_needs_an_approval_reference_and_a_change(db: Any) -> None:
    with pytest.raises(Invalid):
        corrections.amend_plan_line(db, ACTOR, "2026-IT-01", "", approved_qty=5)
    with pytest.raises(Invalid):
        corrections.amend_plan_line(db, ACTOR, "2026-IT-01", "CHG-1")
    with pytest.raises(Invalid):
        corrections.amend_plan_line(db, ACTOR, "2026-IT-01", "CHG-1", approved_qty=10, approved_amount="50000.00")


def test_reverse_intake_retires_codes_for_good(db: Any) -> None:
    where = office_codes(db)
    p = buy(db, qty=3)
    first = intake.receive(db, ACTOR, p.lines[0].id, "k1", where, 3)
    db.commit()
    done = corrections.reverse_intake(db, ACTOR, first.intake.id, "wrong line")
    db.commit()
    assert done.codes == first.codes
    statuses = set(db.scalars(select(Asset.status).where(Asset.code.in_(first.codes))))
    assert statuses == {"retired"}
    assert db.scalar(select(func.count()).select_from(AssetEvent).where(AssetEvent.type == "asset.retire")) == 3
    [entry] = _audits(db, "intake.reverse")
    assert entry.after is not None and entry.after["codes"] == first.codes
    # the line can be received again, with new codes; the retired ones are never issued again
    again = intake.receive(db, ACTOR, p.lines[0].id, "k2", where, 3)
    db.commit()
    assert not set(again.codes) & set(first.codes)
    assert db.scalar(select(func.count()).select_from(IssuedCode).where(IssuedCode.code.in_(first.codes))) == 3
    [report_row] = reports.plan_execution(db).rows
    assert report_row["received_qty"] == 3
    with pytest.raises(RuleViolation) as twice:
        corrections.reverse_intake(db, ACTOR, first.intake.id, "again")
    assert twice.value.code == "already_reversed"
    # a retired asset cannot be moved or disposed
    with pytest.raises(Exception) as moved:
        lifecycle.dispose(db, ACTOR, first.codes[0], "scrapped", "X-1")
    assert getattr(moved.value, "code", "") == "illegal_transition"


def test_reverse_refused_once_an_asset_is_used(db: Any) -> None:
    where = office_codes(db)
    p = buy(db, qty=2)
    got = intake.receive(db, ACTOR, p.lines[0].id, "k1", where, 2)
    lifecycle.record_maintenance(db, ACTOR, got.codes[1], p.purchased_on, "Fix Co", "10.00", "dust")
    db.commit()
    with pytest.raises(RuleViolation) as err:
        corrections.reverse_intake(db, ACTOR, got.intake.id, "mistake")
    assert err.value.code == "assets_used" and got.codes[1] in err.value.message
    db.rollback()
    assert set(db.scalars(select(Asset.status).where(Asset.intake_id == got.intake.id))) == {"in_storage"}
    assert not _audits(db, "intake.reverse")
