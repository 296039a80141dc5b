"""Intake: one asset per unit, all or nothing, idempotent per request key, labels for the batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from server.cli import main
from server.errors import AlreadyExists, Invalid, RuleViolation
from server.models import Asset, AssetEvent, AuditEntry, IssuedCode
from server.services import intake
from tests.procurement_support import ACTOR, buy, office, plan_line


@pytest.fixture
def setup(engine_sessions: Any) -> Any:
    with engine_sessions() as session, session.begin():
        where = office(session)
        plan_line(session, qty=10)
        line_id = buy(session, qty=5, price="4999.99").lines[0].id
    with engine_sessions() as session:
        yield session, where, line_id


def _count(db: Any, model: Any) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def test_intake_makes_one_asset_per_unit(setup: Any) -> None:
    db, where, line_id = setup
    got = intake.receive(db, ACTOR, line_id, "key-1", where.shelf, serials=["S1", "", "S3", None, "S5"])
    db.commit()
    assert not got.replay and len(got.codes) == 5 and len(set(got.codes)) == 5
    assets = db.scalars(select(Asset).order_by(Asset.id)).unique().all()
    assert [a.code for a in assets] == got.codes
    first = assets[0]
    assert (first.status, first.location.code, str(first.price), first.department, first.purchase_line_id,
            first.serial, assets[1].serial) == ("in_storage", where.shelf, "4999.99", "IT", line_id, "S1", None)
    assert _count(db, AssetEvent) == 5
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "intake.receive")).one()
    assert entry.after["codes"] == got.codes


def test_same_request_key_returns_the_same_codes(setup: Any) -> None:
    db, where, line_id = setup
    first = intake.receive(db, ACTOR, line_id, "key-1", where.store, quantity=2)
    db.commit()
    again = intake.receive(db, ACTOR, line_id, "key-1", where.store, quantity=2)
    assert again.replay and again.codes == first.codes and _count(db, Asset) == 2
    with pytest.raises(AlreadyExists, match="was used for purchase line"):
        other = buy(db, qty=1, price="1.00").lines[0].id
        intake.receive(db, ACTOR, other, "key-1", where.store)


def test_partial_intakes_never_exceed_the_line(setup: Any) -> None:
    db, where, line_id = setup
    intake.receive(db, ACTOR, line_id, "k1", where.store, quantity=3)
    with pytest.raises(RuleViolation) as err:
        intake.receive(db, ACTOR, line_id, "k2", where.store, quantity=3)
    assert err.value.code == "intake_exceeded"
    assert err.value.message == f"purchase line {line_id} has 2 of 5 units left to receive; 3 asked, over by 1"
    assert len(intake.receive(db, ACTOR, line_id, "k3", where.store).codes) == 2  # the rest, exactly
    with pytest.raises(RuleViolation, match="0 of 5 units left"):
        intake.receive(db, ACTOR, line_id, "k4", where.store)


@pytest.mark.parametrize("kwargs,error,match", [
    ({"serials": ["A", "B"]}, Invalid, "2 serials given for 5 units"),
    ({"serials": ["A", "B", "C", "D", "A"]}, AlreadyExists, "serials given twice: A"),
    ({"location": "room"}, RuleViolation, "goes to a storeroom"),
    ({"quantity": 0}, RuleViolation, "0 asked"),
])
def test_bad_intake_writes_nothing(setup: Any, kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    db, where, line_id = setup
    location = getattr(where, kwargs.pop("location", "store"))
    codes_before = _count(db, IssuedCode)
    with pytest.raises(error, match=match):
        intake.receive(db, ACTOR, line_id, "key", location, **kwargs)
    db.rollback()
    assert _count(db, Asset) == 0 and _count(db, IssuedCode) == codes_before


def test_serial_taken_by_an_existing_asset(setup: Any) -> None:
    db, where, line_id = setup
    intake.receive(db, ACTOR, line_id, "k1", where.store, quantity=1, serials=["SN-1"])
    with pytest.raises(AlreadyExists, match="SN-1"):
        intake.receive(db, ACTOR, line_id, "k2", where.store, quantity=1, serials=["SN-1"])


def test_rest_intake_and_labels(client: Any, tokens: Any, sessions: Any) -> None:
    with sessions() as session, session.begin():
        where = office(session)
        plan_line(session)
        line_id = buy(session, qty=3).lines[0].id
    h = tokens.headers("storekeeper")
    body = {"purchase_line": line_id, "request_key": "r-1", "location": where.store}
    r = client.post("/api/v1/intakes", json=body, headers=h)
    assert r.status_code == 201 and len(r.get_json()["codes"]) == 3
    again = client.post("/api/v1/intakes", json=body, headers=h)
    assert again.status_code == 200 and again.get_json()["replay"]
    assert again.get_json()["codes"] == r.get_json()["codes"]
    pdf = client.get(r.get_json()["labels"], headers=h)
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert client.get("/api/v1/intakes/999/labels.pdf", headers=h).get_json()["error"]["code"] == "unknown_intake"
    bad = client.post("/api/v1/intakes", json={**body, "request_key": "r-2", "purchase_line": 999}, headers=h)
    assert bad.status_code == 404 and bad.get_json()["error"]["code"] == "unknown_purchase_line"


def test_cli_labels_for_an_intake(tmp_path: Path, database_url: str, setup: Any) -> None:
    db, where, line_id = setup
    got = intake.receive(db, ACTOR, line_id, "k1", where.store)
    db.commit()
    env = {"ASSETGATE_INSTANCE_PATH": str(tmp_path / "inst"), "ASSETGATE_DATABASE_URL": database_url}
    out = tmp_path / "labels.pdf"
    result = CliRunner().invoke(main, ["labels", "--intake", str(got.intake.id), "-o", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert "5 labels written" in result.output and out.read_bytes().startswith(b"%PDF")
