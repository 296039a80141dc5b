"""The real gate kiosk agent against the real server through the real broker: a pre-registered
visitor signed in with one scan (the server sent the pass in the kiosk's config), a walk-in on a
blank pass, and the kiosk's roll call still right after a restart with the broker out of reach."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk.agent import Agent
from kiosk.config import parse_config
from server import settings_of
from server.audit import SYSTEM
from server.consumer import Consumer
from server.services import visitors, visits
from tests.brokers import free_port
from tests.conftest import BROKER_HOST, BROKER_PORT
from tests.gate_support import config_refresh, office, preregister

pytestmark = pytest.mark.broker


@pytest.fixture
def settings_overrides(settings_overrides: dict[str, Any]) -> dict[str, Any]:
    return {**settings_overrides, "kiosk_config_refresh_s": 1.0}


@pytest.fixture
def consumer(app: Any, broker: Any) -> Iterator[Consumer]:
    worker = Consumer(settings_of(app))
    worker.start()
    assert worker.connected.wait(30)
    with config_refresh(app):  # the gate's scheduler republishes the configs that change
        yield worker
    worker.stop()


def _agent(app: Any, tmp_path: Path, port: int = BROKER_PORT) -> Agent:
    config = parse_config({
        "kiosk": "gate-1", "mode": "gate", "prefix": settings_of(app).topic_prefix,
        "outbox": str(tmp_path / "gate-1.db"), "language": "en",
        "broker": {"host": BROKER_HOST, "port": port, "reconnect_min": 1, "reconnect_max": 2},
        "screen": {"enabled": False, "port": 0}})
    agent = Agent(config, scanners=False)
    agent.start()
    return agent


def _wait(predicate: Callable[[], Any], timeout: float = 10) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_gate_kiosk_signs_in_by_one_scan_and_keeps_its_roll_call_offline(app: Any, sessions: Any,
                                                                          consumer: Consumer,
                                                                          tmp_path: Path) -> None:
    place = office(sessions)
    code = preregister(sessions, place["host"], "王芳", organisation="市财政局", plate="京A12345")
    with sessions() as session, session.begin():
        [blank] = visitors.issue_blank(session, SYSTEM, 1)
    agent = _agent(app, tmp_path)
    try:
        _wait(lambda: agent.server_config and code in agent.server_config.expected_visitors)
        agent.handle_input("signin")
        outcome = agent.handle_scan(code)  # one scan: the server sent the pass's details
        [event_id] = outcome.events
        ack = agent.wait_ack(event_id, timeout=10)
        assert ack is not None and (ack.status, ack.reason) == ("accepted", None)
        with sessions() as session:
            assert [(v.code, v.name, v.plate) for v in visits.on_site(session)] == [(code, "王芳", "京A12345")]

        agent.handle_input("signin")
        agent.handle_scan(blank)
        walk_in = agent.handle_input("visitor", {"name": "临时访客", "host": place["host"], "plate": "粤B·D12345"})
        ack = agent.wait_ack(walk_in.events[0], timeout=10)
        assert ack is not None and ack.status == "accepted"
        _wait(lambda: len(agent.server_config.on_site) == 2 if agent.server_config else False)
        agent.handle_input("rollcall")
        rows = agent.screen_state()["roll_call"]
        assert [(r["pass"], r["name"]) for r in rows] == [(code, "王芳"), (blank, "临时访客")]
    finally:
        agent.stop()

    offline = _agent(app, tmp_path, port=free_port())  # nothing listens there: the broker is out of reach
    try:
        time.sleep(0.5)
        assert not offline.link.connected
        roll = offline.handle_input("rollcall")
        assert roll.title == "2 people on site"
        assert [r["name"] for r in offline.screen_state()["roll_call"]] == ["王芳", "临时访客"]
    finally:
        offline.stop()
