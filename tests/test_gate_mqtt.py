"""The gate end to end through the real broker: REST pre-registration, gate kiosk events, acks,
the on-site list, sign-out, automatic sign-out, purge; bad input; two offline gates; exits."""

from __future__ import annotations

import json
import queue
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import func, select

from contract import normalize
from contract.topics import Topics
from server import scheduler, settings_of
from server.audit import SYSTEM
from server.consumer import Consumer
from server.models import GateAlert, KioskEvent, RejectedMessage, Visit, utcnow
from server.services import assets, directory, retention, visitors, watchlist
from tests.gate_support import ADMIN, config_refresh, office, preregister, shift
from tests.peers import KioskPeer

pytestmark = pytest.mark.broker


@pytest.fixture
def settings_overrides(settings_overrides: dict[str, Any]) -> dict[str, Any]:
    return {**settings_overrides, "kiosk_config_refresh_s": 1.0, "auto_signout_hour": 22}


@pytest.fixture
def place(sessions: Any) -> dict[str, str]:
    return office(sessions, ("gate-1", "gate-2"))


@pytest.fixture
def consumer(app: Any, sessions: Any, broker: Any, place: dict[str, str]) -> Iterator[Consumer]:
    worker = Consumer(settings_of(app))
    worker.start()
    assert worker.connected.wait(30), "consumer did not connect"
    yield worker
    worker.stop()


@pytest.fixture
def gates(app: Any, broker: Any, consumer: Consumer) -> Iterator[tuple[KioskPeer, KioskPeer]]:
    prefix = settings_of(app).topic_prefix
    one, two = KioskPeer(broker[0], broker[1], prefix, "gate-1"), KioskPeer(broker[0], broker[1], prefix, "gate-2")
    yield one, two
    one.close()
    two.close()


def _signin(peer: KioskPeer, code: str, name: str = "张伟", host: str = "", at: datetime | None = None,
            **data: Any) -> dict[str, Any]:
    event = peer.event("visitor.signin", {"pass": code, "name": name, "host": host, **data}, at=at)
    ack = peer.roundtrip(event)
    assert ack["id"] == str(event.id)
    return ack


def test_preregister_sign_in_on_site_sign_out_auto_signout_purge(client: Any, tokens: Any, sessions: Any,
                                                                  gates: tuple[KioskPeer, KioskPeer],
                                                                  place: dict[str, str]) -> None:
    gate, _ = gates
    guard = tokens.headers("guard")
    start = utcnow() - timedelta(minutes=5)
    made = client.post("/api/v1/visitors", headers=tokens.headers("storekeeper"), json={
        "name": "王芳", "host": place["host"], "organisation": "市财政局", "purpose": "会议", "plate": "京A·12345",
        "valid_from": start.isoformat(), "valid_until": (start + timedelta(hours=4)).isoformat()})
    assert made.status_code == 201, made.get_json()
    code = made.get_json()["code"]
    assert [p["code"] for p in client.get("/api/v1/visitors/expected", headers=guard).get_json()["items"]] == [code]

    scanned = time.monotonic()
    ack = _signin(gate, code, "王芳", place["host"], organisation="市财政局")
    assert (ack["status"], ack["reason"], ack["display"]["level"]) == ("accepted", None, "ok")
    on_site = client.get("/api/v1/visitors/on-site", headers=guard).get_json()
    assert time.monotonic() - scanned < 1.0  # scan, ack, and the list already right, within a second
    assert on_site["count"] == 1
    assert on_site["items"][0] | {"since": None} == {
        "pass": code, "name": "王芳", "organisation": "市财政局", "host": {"code": place["host"], "name": "Li Hua"},
        "purpose": "会议", "plate": "京A12345", "since": None, "gate": "kiosk:gate-1", "conflict": False}

    ack = gate.roundtrip(gate.event("visitor.signout", {"pass": code}))
    assert (ack["status"], ack["reason"]) == ("accepted", None)
    assert client.get("/api/v1/visitors/on-site", headers=guard).get_json()["count"] == 0

    # the next day: a visitor signed in in the morning is still there at 22:00 -> automatic sign-out
    second = preregister(sessions, place["host"], "李四", hours=2)
    morning = datetime.now(UTC) - timedelta(days=1)
    shift(sessions, second, timedelta(days=-1))
    ack = _signin(gate, second, "李四", place["host"], at=morning)  # sent late: the gate was offline
    assert ack["status"] == "accepted"
    done = scheduler.tick(sessions, settings_of(client.application))
    assert done.signed_out == 1
    pass_json = client.get(f"/api/v1/visitors/{second}", headers=guard).get_json()
    assert pass_json["visits"][0]["out_kind"] == "automatic"

    # 100 days later the personal fields are gone, the visit records stay
    with sessions() as session, session.begin():
        report = retention.purge(session, SYSTEM, utcnow() + timedelta(days=100))
        assert (report.passes_anonymised, report.visits_anonymised) == (2, 2)
    purged = client.get(f"/api/v1/visitors/{code}", headers=guard).get_json()
    assert (purged["name"], purged["plate"], purged["purged"], len(purged["visits"])) == ("", None, True, 1)


def test_bad_input_is_refused_with_its_reason_and_nothing_is_lost(gates: tuple[KioskPeer, KioskPeer],
                                                                   sessions: Any, place: dict[str, str]) -> None:
    gate, _ = gates
    host = place["host"]
    code = preregister(sessions, host)
    expired = preregister(sessions, host, hours=1)
    shift(sessions, expired, timedelta(hours=-5))
    assert _signin(gate, code, host=host)["status"] == "accepted"
    with sessions() as session, session.begin():
        watchlist.add(session, ADMIN, "person", "陳大文")
    watched = preregister(sessions, host, "陈大文")
    cases = [
        (lambda: _signin(gate, "V-00000000", host=host), "unknown_code"),
        (lambda: _signin(gate, expired, host=host), "pass_expired"),
        (lambda: _signin(gate, code, host=host), "already_on_site"),
        (lambda: _signin(gate, code[:-1] + ("0" if code[-1] != "0" else "1"), host=host), "bad_check"),
        (lambda: _signin(gate, _blank(sessions), "   ", host), "bad_schema"),
        (lambda: _signin(gate, _blank(sessions), "", host), "bad_schema"),
        (lambda: _signin(gate, _blank(sessions), "赵六", host, plate="京A#@!45"), "bad_plate"),
        (lambda: _signin(gate, _blank(sessions), "赵" * 5000, host), "bad_schema"),  # ~15 kB of name
        (lambda: _signin(gate, _blank(sessions), "赵六", host, organisation="x" * 10_000), "bad_schema"),
        (lambda: _signin(gate, watched, "陈大文", host), "on_watchlist"),
        (lambda: gate.roundtrip(gate.event("visitor.signout", {"pass": expired})), "not_on_site"),
    ]
    for send, reason in cases:
        ack = send()
        assert (ack["status"], ack["reason"]) == ("rejected", reason), ack
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Visit)) == 1
        rejected = session.scalars(select(RejectedMessage).order_by(RejectedMessage.id)).all()
        assert [r.reason for r in rejected] == [reason for _, reason in cases]  # nothing lost
        assert all("陈大文" not in r.raw and "赵六" not in r.raw for r in rejected)  # not in the clear
        assert [a.kind for a in session.scalars(select(GateAlert))] == ["watchlist_hit"]
        stored = session.scalars(select(KioskEvent)).one()
        assert "name" not in stored.data and stored.data["pass"] == code


def _blank(sessions: Any) -> str:
    with sessions() as session, session.begin():
        return visitors.issue_blank(session, SYSTEM, 1)[0]


def test_two_offline_gates_sign_in_the_same_pass_both_stored_one_conflict(gates: tuple[KioskPeer, KioskPeer],
                                                                          sessions: Any, place: dict[str, str],
                                                                          client: Any, tokens: Any) -> None:
    one, two = gates
    code = preregister(sessions, place["host"], hours=3)
    offline_at = utcnow() - timedelta(minutes=10)  # both gates were cut off; they send when back
    first = _signin(one, code, host=place["host"], at=offline_at)
    second = _signin(two, code, host=place["host"], at=offline_at + timedelta(seconds=40))
    assert (first["status"], first["reason"]) == ("accepted", None)
    assert (second["status"], second["reason"], second["display"]["level"]) == ("accepted", "conflict", "warn")
    with sessions() as session:
        stored = session.scalars(select(KioskEvent).order_by(KioskEvent.kiosk)).all()
        assert [(e.kiosk, "conflict" in e.flags) for e in stored] == [("gate-1", False), ("gate-2", True)]
        assert session.scalar(select(func.count()).select_from(Visit)) == 2
        assert [a.kind for a in session.scalars(select(GateAlert))] == ["pass_conflict"]
    [row] = client.get("/api/v1/visitors/on-site", headers=tokens.headers("guard")).get_json()["items"]
    assert row["conflict"] is True
    assert one.roundtrip(one.event("visitor.signout", {"pass": code}))["status"] == "accepted"
    assert client.get("/api/v1/visitors/on-site", headers=tokens.headers("guard")).get_json()["count"] == 0


def test_walk_in_at_the_kiosk_on_a_blank_pass(gates: tuple[KioskPeer, KioskPeer], sessions: Any,
                                              place: dict[str, str]) -> None:
    gate, _ = gates
    blank = _blank(sessions)
    ack = _signin(gate, blank, "临时访客", place["host"], organisation="快递", plate="粤B·D12345", purpose="送件")
    assert ack["status"] == "accepted"
    with sessions() as session:
        view = visitors.view(session, visitors.pass_by_code(session, blank))
        assert (view.kind, view.name, view.plate, view.purpose) == ("walk_in", "临时访客", "粤BD12345", "送件")


def test_asset_exit_with_and_without_permit(gates: tuple[KioskPeer, KioskPeer], sessions: Any, client: Any,
                                            tokens: Any) -> None:
    gate, _ = gates
    with sessions() as session, session.begin():
        directory.get_or_create_category(session, SYSTEM, "Laptop")
        allowed = assets.create_asset(session, SYSTEM, "ThinkPad", "Laptop").code
        other = assets.create_asset(session, SYSTEM, "MacBook", "Laptop").code
    permit = client.post("/api/v1/exit-permits", headers=tokens.headers("storekeeper"), json={
        "assets": [allowed], "reason": "送修", "carrier": "张师傅",
        "valid_until": (utcnow() + timedelta(hours=2)).isoformat(), "loan": True,
        "expected_return": (utcnow() + timedelta(days=2)).date().isoformat()})
    assert permit.status_code == 201, permit.get_json()
    ack = gate.roundtrip(gate.event("asset.exit", {"tag": allowed}))
    assert (ack["status"], ack["display"]["title"]) == ("accepted", f"May leave: {allowed}")
    ack = gate.roundtrip(gate.event("asset.exit", {"tag": other}))
    assert (ack["status"], ack["reason"]) == ("rejected", "no_exit_permit")
    ack = gate.roundtrip(gate.event("asset.exit", {"tag": allowed}))  # back from the loan
    assert (ack["status"], ack["display"]["title"]) == ("accepted", f"Returned {allowed}")
    alerts = client.get("/api/v1/gate/alerts", headers=tokens.headers("guard")).get_json()["items"]
    assert [(a["kind"], a["subject"], a["source"]) for a in alerts] == [("refused_exit", other, "kiosk:gate-1")]
    state = client.get(f"/api/v1/exit-permits/{permit.get_json()['id']}", headers=tokens.headers("guard"))
    assert state.get_json()["state"] == "returned"


@pytest.fixture
def refreshed_configs(app: Any, consumer: Consumer) -> Iterator[None]:
    """The gate's scheduler republishing the configs that changed (every second here)."""
    with config_refresh(app):
        yield


def test_gate_kiosk_config_carries_passes_on_site_and_hashed_watchlist(app: Any, broker: Any, sessions: Any,
                                                                       gates: tuple[KioskPeer, KioskPeer],
                                                                       place: dict[str, str],
                                                                       refreshed_configs: None) -> None:
    gate, _ = gates
    with sessions() as session, session.begin():
        watchlist.add(session, ADMIN, "plate", "沪C88888")
    expected = preregister(sessions, place["host"], "欧阳娜娜", organisation="某公司", plate="京B12345")
    revoked = preregister(sessions, place["host"])
    with sessions() as session, session.begin():
        visitors.revoke(session, ADMIN, revoked, "cancelled")
    inside = preregister(sessions, place["host"], "钱十")
    assert _signin(gate, inside, "钱十", place["host"])["status"] == "accepted"

    topics = Topics(settings_of(app).topic_prefix)
    configs: queue.Queue[dict[str, Any]] = queue.Queue()
    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"w-{uuid.uuid4().hex[:8]}")
    watcher.on_message = lambda _c, _u, msg: msg.payload and configs.put(json.loads(msg.payload))
    watcher.connect(*broker)
    watcher.subscribe(topics.config("gate-1"), qos=1)
    watcher.loop_start()
    try:
        deadline = time.monotonic() + 10
        while True:  # the retained config first, then refreshes (every second here) as the data changes
            config = configs.get(timeout=max(0.1, deadline - time.monotonic()))
            if expected in config.get("expected_visitors", {}) and config.get("on_site"):
                break
    finally:
        watcher.loop_stop()
        watcher.disconnect()
    assert config["expected_visitors"][expected] == {"name": "欧阳娜娜", "host": place["host"],
                                                      "organisation": "某公司", "plate": "京B12345"}
    assert config["revoked_passes"] == [revoked]
    assert [row["pass"] for row in config["on_site"]] == [inside]
    assert config["watchlist"] == [normalize.watch_hash(config["watchlist_salt"], "plate", "沪C88888")]
    assert "沪C88888" not in json.dumps(config, ensure_ascii=False)
