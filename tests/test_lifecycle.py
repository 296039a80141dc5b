"""The life cycle: every transition of the status machine, legal and illegal, controlled items,
overdue list, usage log, transfers, custodians, maintenance, and nothing ever deleted."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from server.errors import IllegalTransition, Invalid, RuleViolation
from server.models import Asset, AssetEvent, AuditEntry, IssuedCode
from server.services import assets, lifecycle
from tests.procurement_support import ACTOR, office


@pytest.fixture
def db(engine_sessions: Any) -> Any:
    with engine_sessions() as session, session.begin():
        where = office(session)
        laptop = assets.create_asset(session, ACTOR, "Dell", "Laptop", where.store, department="IT").code
        seal = assets.create_asset(session, ACTOR, "Round seal", "Official seal", where.store).code
    with engine_sessions() as session:
        yield session, where, laptop, seal


def _status(db: Any, code: str) -> str:
    return assets.asset_by_code(db, code).status


def test_repair_and_back(db: Any) -> None:
    db, where, laptop, _ = db
    assets.checkout(db, ACTOR, laptop, where.person)
    out = lifecycle.send_to_repair(db, ACTOR, laptop, vendor="Dell service")
    assert out.asset.status == "under_repair" and out.asset.custodian is None
    with pytest.raises(IllegalTransition, match="under_repair: cannot checkout"):
        assets.checkout(db, ACTOR, laptop, where.person)
    with pytest.raises(IllegalTransition):
        assets.move(db, ACTOR, laptop, where.room)
    with pytest.raises(Invalid, match="storeroom"):
        lifecycle.back_from_repair(db, ACTOR, laptop, where.room)
    back = lifecycle.back_from_repair(db, ACTOR, laptop, where.shelf)
    assert back.asset.status == "in_storage" and back.asset.location.code == where.shelf
    with pytest.raises(IllegalTransition, match="in_storage: cannot repaired"):
        lifecycle.back_from_repair(db, ACTOR, laptop)


@pytest.mark.parametrize("reason", lifecycle.DISPOSAL_REASONS)
def test_disposal_is_final_and_kept(db: Any, reason: str) -> None:
    db, where, laptop, _ = db
    out = lifecycle.dispose(db, ACTOR, laptop, reason, "DISP-2026-3", note="broken screen")
    db.commit()
    assert out.asset.status == "disposed" and out.asset.location is None
    for action in (lambda: assets.move(db, ACTOR, laptop, where.store),
                   lambda: assets.checkout(db, ACTOR, laptop, where.person),
                   lambda: lifecycle.send_to_repair(db, ACTOR, laptop),
                   lambda: lifecycle.dispose(db, ACTOR, laptop, "sold", "X"),
                   lambda: lifecycle.transfer(db, ACTOR, laptop, "Finance", "TR-8"),
                   lambda: lifecycle.change_custodian(db, ACTOR, laptop, where.person),
                   lambda: lifecycle.record_maintenance(db, ACTOR, laptop, date(2026, 1, 1), "v", "1", "x")):
        with pytest.raises(IllegalTransition):
            action()
    assert db.scalar(select(func.count()).select_from(Asset).where(Asset.code == laptop)) == 1
    assert db.get(IssuedCode, laptop) is not None  # never reissued: the code stays issued
    last = assets.history(db, laptop)[-1]
    assert last.data == {"disposal_reason": reason, "approval_ref": "DISP-2026-3"} and last.reason == "broken screen"


def test_disposal_needs_a_known_reason_and_approval(db: Any) -> None:
    db, _, laptop, _ = db
    with pytest.raises(Invalid, match="disposal reason"):
        lifecycle.dispose(db, ACTOR, laptop, "burnt", "A-1")
    with pytest.raises(Invalid, match="approval reference"):
        lifecycle.dispose(db, ACTOR, laptop, "scrapped", "  ")
    assert _status(db, laptop) == "in_storage"


def test_transfer_custodian_and_maintenance_keep_status(db: Any) -> None:
    db, where, laptop, _ = db
    out = lifecycle.transfer(db, ACTOR, laptop, "Finance", "TR-7", custodian_code=where.other_person)
    assert (out.asset.department, out.asset.custodian.code, out.asset.status) == ("Finance", where.other_person,
                                                                                  "in_storage")
    with pytest.raises(Invalid, match="belongs to Finance already"):
        lifecycle.transfer(db, ACTOR, laptop, "Finance", "TR-8")
    lifecycle.change_custodian(db, ACTOR, laptop, where.person, "handover")
    lifecycle.record_maintenance(db, ACTOR, laptop, date(2026, 5, 2), "Dell service", "350.50", "new battery")
    with pytest.raises(Invalid, match="more than two decimals"):
        lifecycle.record_maintenance(db, ACTOR, laptop, date(2026, 5, 2), "x", "1.001", "y")
    types = [e.type for e in assets.history(db, laptop)]
    assert types == ["asset.create", "asset.transfer", "asset.custodian", "asset.maintenance"]
    last = assets.history(db, laptop)[-1]
    assert last.data["cost"] == "350.50" and last.data["vendor"] == "Dell service"
    audit = db.scalars(select(AuditEntry.action).where(AuditEntry.entity_id == laptop)).all()
    assert audit[-3:] == ["asset.transfer", "asset.custodian", "asset.maintenance"]


def test_controlled_checkout_needs_purpose_approval_and_due(db: Any) -> None:
    db, where, _, seal = db
    events_before = db.scalar(select(func.count()).select_from(AssetEvent))
    with pytest.raises(RuleViolation) as err:
        assets.checkout(db, ACTOR, seal, where.person, purpose="contract signing")
    assert err.value.code == "approval_required"
    assert err.value.message.endswith("needs an approval reference, a due time")
    assert db.scalar(select(func.count()).select_from(AssetEvent)) == events_before  # checked before writing
    due = datetime.now(UTC) + timedelta(hours=2)
    out = assets.checkout(db, ACTOR, seal, where.person, due, purpose="contract signing", approval_ref="SEAL-11")
    assert out.asset.due_at == due


def test_overdue_list_and_usage_log(db: Any) -> None:
    db, where, laptop, seal = db
    now = datetime.now(UTC)
    assets.checkout(db, ACTOR, seal, where.person, now - timedelta(hours=3),
                    purpose="stamp contracts", approval_ref="SEAL-1")
    assets.checkout(db, ACTOR, laptop, where.person, date.today() - timedelta(days=2))
    assert [o.asset.code for o in lifecycle.overdue(db)] == [laptop, seal]
    assert [o.asset.code for o in lifecycle.overdue(db, controlled_only=True)] == [seal]
    assert lifecycle.overdue(db, controlled_only=True)[0].late_by_hours >= 3
    assets.checkin(db, ACTOR, seal, where.store)
    assert [o.asset.code for o in lifecycle.overdue(db)] == [laptop]
    assets.checkout(db, ACTOR, seal, where.other_person, now + timedelta(days=1), purpose="audit",
                    approval_ref="SEAL-2")
    log = lifecycle.usage_log(db)
    assert [(r["person"], r["purpose"], r["approval_ref"], r["late"]) for r in log] == [
        (where.person, "stamp contracts", "SEAL-1", True), (where.other_person, "audit", "SEAL-2", False)]
    assert log[0]["returned_at"] is not None and log[1]["returned_at"] is None
    assert all(r["category"] == "Official seal" for r in log)


def test_rest_life_cycle(client: Any, tokens: Any, sessions: Any) -> None:
    with sessions() as session, session.begin():
        where = office(session)
        code = assets.create_asset(session, ACTOR, "Seal", "Official seal", where.store).code
    h = tokens.headers("storekeeper")
    r = client.post(f"/api/v1/assets/{code}/checkout", json={"to": where.person}, headers=h)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "approval_required"
    r = client.post(f"/api/v1/assets/{code}/checkout", json={"to": where.person, "due": "2026-12-31",
                                                            "purpose": "sign", "approval_ref": "S-1"}, headers=h)
    assert r.status_code == 200 and r.get_json()["due_at"] == "2027-01-01T00:00:00+00:00"
    assert client.post(f"/api/v1/assets/{code}/repair", json={"vendor": "x"}, headers=h).get_json()["status"] == \
        "under_repair"
    assert client.post(f"/api/v1/assets/{code}/repaired", json={}, headers=h).get_json()["status"] == "in_storage"
    r = client.post(f"/api/v1/assets/{code}/maintenance", json={"date": "2026-05-01", "cost": "10.00",
                                                               "description": "oiled"}, headers=h)
    assert r.status_code == 200
    r = client.post(f"/api/v1/assets/{code}/transfer", json={"department": "Finance"}, headers=h)
    assert r.status_code == 422  # a transfer needs its approval reference
    r = client.post(f"/api/v1/assets/{code}/transfer", json={"department": "Finance", "approval_ref": "TR-2"},
                    headers=h)
    assert r.get_json()["department"] == "Finance"
    r = client.post(f"/api/v1/assets/{code}/custodian", json={"person": where.other_person}, headers=h)
    assert r.get_json()["custodian"]["code"] == where.other_person
    r = client.post(f"/api/v1/assets/{code}/dispose", json={"reason": "melted", "approval_ref": "D"}, headers=h)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "bad_schema"
    r = client.post(f"/api/v1/assets/{code}/dispose", json={"reason": "lost", "approval_ref": "D-1"}, headers=h)
    assert r.get_json()["status"] == "disposed"
    r = client.post(f"/api/v1/assets/{code}/repair", json={}, headers=h)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "illegal_transition"
    assert client.post(f"/api/v1/assets/{code}/dispose", json={}, headers=tokens.headers("guard")).status_code == 403


def test_moving_a_checked_out_asset_into_stock_ends_its_custody(engine_sessions: Any) -> None:
    """Found by the random sequences: checked out, then moved onto a shelf, it stayed 'with' the person."""
    from datetime import date as day

    from server.services import assets as asset_service
    from tests.procurement_support import ACTOR, office

    with engine_sessions() as session, session.begin():
        where = office(session)
        code = asset_service.create_asset(session, ACTOR, "Laptop 1", "Laptop", where.store).code
        asset_service.checkout(session, ACTOR, code, where.person, due=day(2030, 1, 1))
        asset_service.move(session, ACTOR, code, where.shelf)
        asset = asset_service.asset_by_code(session, code)
        assert (asset.status, asset.custodian_id, asset.due_at) == ("in_storage", None, None)
        asset_service.checkout(session, ACTOR, code, where.person)
        asset_service.move(session, ACTOR, code, where.room)  # to an office: still with the person
        assert asset_service.asset_by_code(session, code).custodian is not None
