"""Vehicles at the gate through the real broker and a real consumer: an official vehicle leaving without a
dispatch is refused (no_dispatch) and the admin sees it; with its dispatch it leaves and comes back; events
made offline are stored as conflicts; duplicates are stored once; visitors' and unknown plates are logged
sealed; and the real kiosk agent's vehicle step shows the server's refusal in red."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from kiosk.agent import Agent
from kiosk.config import parse_config
from server import settings_of
from server.audit import SYSTEM
from server.consumer import Consumer
from server.models import GateAlert, KioskEvent, RejectedMessage, Trip, VehiclePassage
from server.services import dispatch, kiosks
from tests.conftest import BROKER_HOST, BROKER_PORT
from tests.gate_support import config_refresh
from tests.peers import KioskPeer
from tests.vehicle_support import BUS, CAR, OFFICE, VAN, Fleet, book, fleet, window

pytestmark = pytest.mark.broker


@pytest.fixture
def settings_overrides(settings_overrides: dict[str, Any]) -> dict[str, Any]:
    return {**settings_overrides, "kiosk_config_refresh_s": 1.0}


@pytest.fixture
def cars(sessions: Any) -> Fleet:
    made = fleet(sessions)
    with sessions() as session, session.begin():
        kiosks.enroll(session, SYSTEM, "gate-1", "gate")
    return made


@pytest.fixture
def consumer(app: Any, broker: Any, cars: Fleet) -> Iterator[Consumer]:
    worker = Consumer(settings_of(app))
    worker.start()
    assert worker.connected.wait(30), "consumer did not connect"
    yield worker
    worker.stop()


@pytest.fixture
def gate(app: Any, broker: Any, consumer: Consumer) -> Iterator[KioskPeer]:
    peer = KioskPeer(broker[0], broker[1], settings_of(app).topic_prefix, "gate-1")
    peer.wait_for_server()
    yield peer
    peer.close()


def _out(gate: KioskPeer, plate: str, tag: str | None = None, km: int | None = None, **extra: Any) -> Any:
    data: dict[str, Any] = {"plate": plate, **({"tag": tag} if tag else {}), **({"odometer": km} if km else {})}
    return gate.event("vehicle.out", data, **extra)


def test_an_official_vehicle_without_a_dispatch_is_refused_and_the_admin_sees_it(gate: KioskPeer, cars: Fleet,
                                                                                  sessions: Any, client: Any,
                                                                                  tokens: Any) -> None:
    event = _out(gate, "京A·12345", cars.tags[CAR], 10_010)
    ack = gate.roundtrip(event, timeout=60)
    assert (ack["status"], ack["reason"], ack["display"]["level"]) == ("rejected", "no_dispatch", "error")
    assert gate.roundtrip(event)["reason"] == "no_dispatch"  # a resend gets the same answer, no second row
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Trip)) == 0
        alert = session.scalars(select(GateAlert)).one()
        assert (alert.kind, alert.subject, alert.source) == ("no_dispatch", cars.tags[CAR], "kiosk:gate-1")
        refused = session.scalars(select(RejectedMessage)).one()
        assert refused.reason == "no_dispatch" and "京A" not in refused.raw  # the plate is kept out of the log
    admin = tokens.headers("admin")
    assert client.get("/api/v1/gate/alerts", headers=admin).status_code in (200, 404)
    from tests.admin_support import login

    login(client, sessions, "admin", "boss")
    page = client.get("/").get_data(as_text=True)
    assert 'id="refused-exits">1<' in page and cars.tags[CAR] in page


def test_with_its_dispatch_it_leaves_and_comes_back_and_duplicates_are_stored_once(gate: KioskPeer, cars: Fleet,
                                                                                    sessions: Any,
                                                                                    consumer: Consumer) -> None:
    start, end = window(-0.5, 3)
    with sessions() as session, session.begin():
        made = dispatch.assign(session, OFFICE, book(session, start, end), VAN, cars.drivers[0])
    out = _out(gate, VAN, cars.tags[VAN], 10_040)
    ack = gate.roundtrip(out, timeout=60)
    assert (ack["status"], ack["reason"], ack["display"]["level"]) == ("accepted", None, "ok")
    assert ack["display"]["title"] == f"May leave: {VAN}" and f"dispatch {made.id}" in ack["display"]["detail"]
    assert gate.roundtrip(out)["status"] == "duplicate"
    back = gate.roundtrip(gate.event("vehicle.in", {"plate": VAN, "odometer": 10_112}))
    assert (back["status"], back["display"]["title"]) == ("accepted", f"Back: {VAN}")
    bad = gate.roundtrip(gate.event("vehicle.in", {"plate": VAN, "odometer": 10_100}))
    assert (bad["status"], bad["reason"]) == ("rejected", "bad_odometer")  # lower than the 10,112 just read
    with sessions() as session:
        trip = session.scalars(select(Trip)).one()
        assert (trip.dispatch_id, trip.odometer_out, trip.odometer_in, trip.department) == (made.id, 10_040, 10_112,
                                                                                            "Finance")
        assert session.scalar(select(func.count()).select_from(VehiclePassage)) == 2
        stored = session.scalars(select(KioskEvent).order_by(KioskEvent.seq)).all()
        assert [e.type for e in stored] == ["vehicle.out", "vehicle.in"] and "plate" not in stored[0].data
    assert consumer.counts["batches:safe"] == 0  # the handler works on the consumer's fast path


def test_an_exit_made_offline_without_a_dispatch_is_kept_as_a_conflict(gate: KioskPeer, cars: Fleet,
                                                                        sessions: Any) -> None:
    unsynced = gate.roundtrip(_out(gate, BUS, cars.tags[BUS], 10_020, synced=False), timeout=60)
    assert (unsynced["status"], unsynced["reason"]) == ("rejected", "no_dispatch")  # no proof it was offline
    made_offline = _out(gate, BUS, cars.tags[BUS], 10_020, at=datetime.now(UTC) - timedelta(hours=2))
    ack = gate.roundtrip(made_offline)
    assert (ack["status"], ack["reason"], ack["display"]["level"]) == ("accepted", "conflict", "warn")
    with sessions() as session:
        trip = session.scalars(select(Trip)).one()
        assert trip.dispatch_id is None and trip.conflict
        assert [a.kind for a in session.scalars(select(GateAlert).order_by(GateAlert.id))] == [
            "no_dispatch", "vehicle_conflict"]
        event = session.scalars(select(KioskEvent)).one()
        assert "conflict" in event.flags


def test_visitors_and_unknown_plates_and_bad_input(gate: KioskPeer, cars: Fleet, sessions: Any) -> None:
    cases = [
        (gate.event("vehicle.in", {"plate": "沪C·88888"}), ("accepted", None)),
        (gate.event("vehicle.out", {"plate": "沪C88888", "pass": "V-0000001"}), ("rejected", "bad_check")),
        (gate.event("vehicle.out", {"plate": "京A#1"}), ("rejected", "bad_plate")),
        (gate.event("vehicle.out", {"plate": "京A12345", "odometer": -3}), ("rejected", "bad_schema")),
        (gate.event("vehicle.out", {"plate": "京B55555", "tag": cars.tags[CAR], "odometer": 10_001}),
         ("rejected", "plate_mismatch")),
        (gate.event("vehicle.out", {"plate": "京B55555", "tag": cars.laptop}), ("rejected", "unknown_code")),
    ]
    for event, want in cases:
        ack = gate.roundtrip(event, timeout=60)
        assert (ack["status"], ack["reason"]) == want, (event.data, ack)
    with sessions() as session:
        passage = session.scalars(select(VehiclePassage)).one()
        assert (passage.kind, passage.plate, passage.direction) == ("unknown", None, "in")
        assert passage.plate_enc and "沪C" not in passage.plate_enc
        assert all("沪C" not in r.raw and "京B" not in r.raw for r in session.scalars(select(RejectedMessage)))


def _wait(predicate: Callable[[], Any], timeout: float = 15) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_the_kiosk_agents_vehicle_step_shows_the_refusal_in_red(app: Any, consumer: Consumer, cars: Fleet,
                                                                 sessions: Any, tmp_path: Path) -> None:
    config = parse_config({
        "kiosk": "gate-1", "mode": "gate", "prefix": settings_of(app).topic_prefix,
        "outbox": str(tmp_path / "gate-1.db"), "language": "zh",
        "broker": {"host": BROKER_HOST, "port": BROKER_PORT, "reconnect_min": 1, "reconnect_max": 2},
        "screen": {"enabled": False, "port": 0}})
    with config_refresh(app):
        agent = Agent(config, scanners=False)
        agent.start()
        try:
            _wait(lambda: agent.server_config and cars.tags[CAR] in agent.server_config.vehicles)
            assert agent.server_config.vehicles[cars.tags[CAR]] == CAR
            agent.handle_input("vehicle_out")
            agent.handle_scan(cars.tags[CAR])
            outcome = agent.handle_input("vehicle", {"odometer": "10005"})
            [event_id] = outcome.events
            ack = _wait(lambda: agent.wait_ack(event_id, timeout=1))
            assert (ack.status, ack.reason) == ("rejected", "no_dispatch")
            shown = agent.screen_state()["last"]
            assert shown["level"] == "error" and shown["title"] == "已拒绝：无派车记录"
        finally:
            agent.stop()
