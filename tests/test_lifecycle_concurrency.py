"""Two changes to one asset at the same time: the second decides on the state the first left,
never on what it read before the first committed. (PostgreSQL's READ COMMITTED would let it;
SQLite's IMMEDIATE transactions serialise the whole transaction anyway.)"""

from __future__ import annotations

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
from server.errors import IllegalTransition
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
        assert session.get(KioskEvent, str(event.id)) is not None
    _applied_chain_holds(engine_sessions, code)
