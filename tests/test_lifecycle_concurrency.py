"""Two changes to one asset at the same time: the second decides on the state the first left,
never on what it read before the first committed. (PostgreSQL's READ COMMITTED would let it;
SQLite's IMMEDIATE transactions serialise the whole transaction anyway.)"""

from __future__ import annotations

import random
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from contract.messages import Event
from contract.topics import Topics
from server.config import load_settings
from server.errors import DomainError, IllegalTransition
from server.models import Asset, AssetEvent, KioskEvent
from server.services import assets, kiosks, lifecycle
from server.writer import Delivery, Writer
from tests.procurement_support import ACTOR, office

HOLD_S = 0.5  # how long the first transaction keeps its change uncommitted


def _setup(engine_sessions: Any) -> tuple[Any, str]:
    with engine_sessions() as session, session.begin():
        where = office(session)
        code = assets.create_asset(session, ACTOR, "Dell", "Laptop", where.store).code
    return where, code


def _dispose_and_hold(engine_sessions: Any, code: str, done: threading.Event,
                      committed: list[float]) -> threading.Thread:
    """Dispose of the asset in a transaction that stays open for HOLD_S after the change."""
    def run() -> None:
        with engine_sessions() as session, session.begin():
            lifecycle.dispose(session, ACTOR, code, "scrapped", "APP-1")
            done.set()
            time.sleep(HOLD_S)
        committed.append(time.monotonic())

    thread = threading.Thread(target=run)
    thread.start()
    assert done.wait(10)
    return thread


def _applied_chain_holds(engine_sessions: Any, code: str) -> None:
    """Every applied change starts from the status the one before it left; the asset ends in the last."""
    with engine_sessions() as session:
        asset = session.scalars(select(Asset).where(Asset.code == code)).one()
        history = session.scalars(select(AssetEvent).where(AssetEvent.asset_id == asset.id, AssetEvent.applied)
                                  .order_by(AssetEvent.id)).all()
        for before, after in zip(history, history[1:], strict=False):
            assert after.from_status == before.to_status, f"{after.type} decided on a stale {after.from_status}"
            assert after.from_location_id == before.to_location_id, f"{after.type} decided on a stale place"
        assert asset.status == history[-1].to_status


def test_a_checkout_waits_for_a_disposal_in_progress_and_is_refused(engine_sessions: Any) -> None:
    where, code = _setup(engine_sessions)
    disposed, committed = threading.Event(), []
    thread = _dispose_and_hold(engine_sessions, code, disposed, committed)
    try:
        with engine_sessions() as session, session.begin():
            assets.checkout(session, ACTOR, code, where.person)
        raise AssertionError("a disposed asset was checked out")
    except IllegalTransition as exc:
        assert "disposed" in str(exc)
    finally:
        thread.join(10)
    with engine_sessions() as session:
        assert session.scalars(select(Asset.status).where(Asset.code == code)).one() == "disposed"
    _applied_chain_holds(engine_sessions, code)


@pytest.mark.parametrize("form", ["code", "url"])
def test_a_kiosk_batch_waits_for_a_disposal_in_progress(engine_sessions: Any, tmp_path: Any, database_url: str,
                                                        form: str) -> None:
    """The consumer's fast path reads every asset of a batch up front: that read must wait too,
    whichever form of the code the kiosk sent."""
    where, code = _setup(engine_sessions)
    with engine_sessions() as session, session.begin():
        kiosks.enroll(session, ACTOR, "store-1", "storeroom")
    settings = load_settings({"instance_path": tmp_path, "database_url": database_url}, environ={})
    made_at = datetime.now(UTC)  # scanned after the asset was made, just before the disposal; sent after it
    event = Event(id=uuid.uuid4(), kiosk="store-1", seq=1, boot="b", at=made_at, synced=True,
                  type="asset.move", data={"tag": code if form == "code" else f"https://a.example/c/{code.lower()}",
                                            "to": where.room})
    delivery = Delivery(1, 1, Topics(settings.topic_prefix).events("store-1"), event.to_bytes())

    disposed, committed = threading.Event(), []
    thread = _dispose_and_hold(engine_sessions, code, disposed, committed)
    try:
        [reply] = Writer(settings, engine_sessions).process([delivery], fast=True)
        stored_at = time.monotonic()
    finally:
        thread.join(10)
    assert committed and stored_at >= committed[0], "the batch was stored before the disposal committed"
    assert reply.ack is not None and b'"conflict"' in reply.ack  # made offline before the disposal: flagged
    with engine_sessions() as session:
        assert session.scalars(select(Asset.status).where(Asset.code == code)).one() == "disposed"
        assert session.get(KioskEvent, ("store-1", str(event.id))) is not None
    _applied_chain_holds(engine_sessions, code)


def test_many_changes_at_once_leave_an_unbroken_history(engine_sessions: Any) -> None:
    """Four clerks at once, each doing random life-cycle actions on the same two assets, each in
    its own transaction: whatever order the database ran them in, every applied change starts
    from the state the one before it left (status and place), and the assets end in the last."""
    with engine_sessions() as session, session.begin():
        where = office(session)
        codes = [assets.create_asset(session, ACTOR, f"Dell {n}", "Laptop", where.store).code for n in range(2)]

    def act(rng: random.Random, session: Any, code: str) -> None:
        action = rng.choice(["move", "move", "checkout", "checkin", "repair", "repaired", "custodian", "transfer"])
        if action == "move":
            assets.move(session, ACTOR, code, rng.choice([where.room, where.store, where.shelf]))
        elif action == "checkout":
            assets.checkout(session, ACTOR, code, rng.choice([where.person, where.other_person]))
        elif action == "checkin":
            assets.checkin(session, ACTOR, code, where.store)
        elif action == "repair":
            lifecycle.send_to_repair(session, ACTOR, code, vendor="Dell")
        elif action == "repaired":
            lifecycle.back_from_repair(session, ACTOR, code, where.store)
        elif action == "custodian":
            lifecycle.change_custodian(session, ACTOR, code, rng.choice([where.person, where.other_person]))
        else:
            lifecycle.transfer(session, ACTOR, code, rng.choice(["IT", "Finance", "Admin"]), "TR-1")

    failures: list[BaseException] = []
    start = threading.Barrier(4)

    def clerk(seed: int) -> None:
        rng = random.Random(seed)
        start.wait()
        for _ in range(25):
            try:
                with engine_sessions() as session, session.begin():
                    act(rng, session, rng.choice(codes))
            except DomainError:
                pass  # refused by the rules (illegal now, or no change): nothing was written
            except BaseException as exc:  # noqa: BLE001 - reported below, with the thread's seed
                failures.append(exc)

    threads = [threading.Thread(target=clerk, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures, failures
    for code in codes:
        _applied_chain_holds(engine_sessions, code)
        with engine_sessions() as session:
            asset = session.scalars(select(Asset).where(Asset.code == code)).one()
            last = session.scalars(select(AssetEvent).where(AssetEvent.asset_id == asset.id, AssetEvent.applied)
                                   .order_by(AssetEvent.id.desc()).limit(1)).one()
            assert asset.location_id == last.to_location_id
