"""supply.pickup from a storeroom kiosk through the real broker and consumer: a live pickup below
zero is refused with insufficient_stock; one made off line is stored and flagged as a conflict."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from server import settings_of
from server.audit import SYSTEM
from server.consumer import Consumer
from server.models import KioskEvent, SupplyMovement
from server.services import directory, kiosks, supplies
from tests.peers import KioskPeer
from tests.storeroom_support import stock_up

pytestmark = pytest.mark.broker


@pytest.fixture
def store(sessions: Any) -> dict[str, str]:
    with sessions() as session, session.begin():
        room = directory.create_location(session, SYSTEM, "Storeroom", "storeroom")
        person = directory.create_person(session, SYSTEM, "Li Na", "Office")
        item = supplies.create_item(session, SYSTEM, supplies.ItemIn(name="Pens", unit="box")).code
        stock_up(session, item, 5)
        kiosks.enroll(session, SYSTEM, "store-1", "storeroom", room.code)
        return {"item": item, "person": person.code}


@pytest.fixture
def consumer(app: Any, sessions: Any, broker: Any) -> Iterator[Consumer]:
    worker = Consumer(settings_of(app))
    worker.start()
    assert worker.connected.wait(30), "consumer did not connect"
    yield worker
    worker.stop()


@pytest.fixture
def peer(app: Any, broker: Any) -> Iterator[KioskPeer]:
    kiosk = KioskPeer(broker[0], broker[1], settings_of(app).topic_prefix, "store-1")
    yield kiosk
    kiosk.close()


def _ledger(sessions: Any) -> list[tuple[int, bool, str]]:
    with sessions() as session:
        return [(m.quantity, m.conflict, m.purpose) for m in
                session.scalars(select(SupplyMovement).order_by(SupplyMovement.id))]


def test_live_pickup_is_stored_once_and_below_zero_refused(consumer: Consumer, peer: KioskPeer,
                                                           store: dict[str, str], sessions: Any) -> None:
    event = peer.event("supply.pickup", {"item": store["item"], "qty": 2, "taker": store["person"],
                                         "purpose": "exam week"})
    ack = peer.roundtrip(event)
    assert (ack["status"], ack["display"]["level"], ack["display"]["detail"]) == ("accepted", "ok", "3 box left")
    assert peer.roundtrip(event)["status"] == "duplicate"
    refused = peer.roundtrip(peer.event("supply.pickup", {"item": store["item"], "qty": 4, "taker": store["person"]}))
    assert (refused["status"], refused["reason"]) == ("rejected", "insufficient_stock")
    assert _ledger(sessions) == [(5, False, ""), (-2, False, "exam week")]
    with sessions() as session:
        moved = session.scalars(select(SupplyMovement).where(SupplyMovement.quantity == -2)).one()
        assert moved.person is not None and moved.person.name == "Li Na" and moved.department == "Office"
        assert moved.source == "kiosk:store-1" and moved.kiosk_event_id == str(event.id)
    assert consumer.counts["batches:safe"] == 0  # the handler works on the consumer's fast path


@pytest.mark.parametrize("offline", ["unsynced", "old"])
def test_offline_pickup_below_zero_is_kept_as_a_conflict(consumer: Consumer, peer: KioskPeer, store: dict[str, str],
                                                         sessions: Any, offline: str) -> None:
    extra: dict[str, Any] = ({"synced": False} if offline == "unsynced"
                             else {"at": datetime.now(UTC) - timedelta(hours=3)})
    event = peer.event("supply.pickup", {"item": store["item"], "qty": 7, "taker": store["person"]}, **extra)
    ack = peer.roundtrip(event)
    assert (ack["status"], ack["reason"], ack["display"]["level"]) == ("accepted", "conflict", "warn")
    assert _ledger(sessions) == [(5, False, ""), (-7, True, "")]
    with sessions() as session:
        assert "conflict" in session.get(KioskEvent, ("store-1", str(event.id))).flags
        assert supplies.stock(session, supplies.item_by_code(session, store["item"]).id) == -2


def test_stocktake_scan_from_a_kiosk(consumer: Consumer, peer: KioskPeer, sessions: Any) -> None:
    """stocktake.scan through the broker: counted once (resends are duplicates), refused once closed."""
    from server.models import Stocktake
    from server.services import assets, stocktakes

    with sessions() as session, session.begin():
        directory.get_or_create_category(session, SYSTEM, "Laptop")
        room = directory.create_location(session, SYSTEM, "Room 9")
        kiosks.enroll(session, SYSTEM, "store-1", "storeroom", room.code)
        tag = assets.create_asset(session, SYSTEM, "ThinkPad", "Laptop", room.code).code
        st = stocktakes.open_stocktake(session, SYSTEM, "office").id
    event = peer.event("stocktake.scan", {"session": str(st), "tag": tag, "location": room.code})
    ack = peer.roundtrip(event)
    assert (ack["status"], ack["display"]["detail"]) == ("accepted", "found in place")
    assert peer.roundtrip(event)["status"] == "duplicate"
    with sessions() as session, session.begin():
        assert stocktakes.counts(session, session.get(Stocktake, st))["found_in_place"] == 1
        stocktakes.close(session, SYSTEM, st)
    late = peer.roundtrip(peer.event("stocktake.scan", {"session": str(st), "tag": tag, "location": room.code}))
    assert (late["status"], late["reason"]) == ("rejected", "stocktake_closed")
    unknown = peer.roundtrip(peer.event("stocktake.scan", {"session": "999", "tag": tag, "location": room.code}))
    assert (unknown["status"], unknown["reason"]) == ("rejected", "unknown_code")
    huge = peer.roundtrip(peer.event("stocktake.scan", {"session": "9" * 30, "tag": tag, "location": room.code}))
    assert (huge["status"], huge["reason"]) == ("rejected", "unknown_code")  # not an internal error
