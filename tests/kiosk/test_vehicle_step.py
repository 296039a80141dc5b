"""The gate kiosk's vehicle step: tag or plate, odometer, the events it records, what it refuses on the
spot, and what it knows of dispatches while the server cannot be reached."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contract.codes import Kind, new_code
from contract.messages import KioskConfig
from kiosk.outbox import Outbox
from kiosk.workflows import GateWorkflow

CAR = str(new_code(Kind.ASSET))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def box(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "outbox.db", "gate-1")


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _config(windows: list[list[str]] | None = None) -> KioskConfig:
    return KioskConfig(kiosk="gate-1", mode="gate", vehicles={CAR: "京A12345"},
                       dispatches={CAR: windows} if windows else {})


@pytest.fixture
def gate(box: Outbox, clock: Clock) -> GateWorkflow:
    flow = GateWorkflow(box.add, timeout=30, clock=clock)
    flow.server_config = _config()
    return flow


def events(box: Outbox) -> list[tuple[str, dict[str, Any]]]:
    return [(e.type, e.data) for e in (q.event() for q in box.pending())]


def test_a_scanned_key_tag_fills_in_the_plate_and_the_odometer_is_required(gate: GateWorkflow, box: Outbox) -> None:
    assert "vehicle_out" in gate.actions() and "vehicle_in" in gate.actions()
    assert gate.input("vehicle_out").level == "info" and gate.step == "vehicle"
    shown = gate.scan(CAR.lower())
    assert (shown.title, shown.detail) == ("公务用车 京A12345", "请输入里程表读数")
    missing = gate.input("vehicle", {})
    assert (missing.level, missing.detail) == ("error", "里程表读数（公里）：必填")
    assert gate.input("vehicle", {"odometer": "12.5"}).detail == "里程表读数（公里）：须为整数公里，最多 7 位"
    assert gate.input("vehicle", {"odometer": "12345678"}).level == "error"
    assert box.depth() == 0  # nothing recorded for a refusal on the spot
    done = gate.input("vehicle", {"odometer": "15230"})
    assert (done.level, done.title) == ("pending", "车辆 京A12345 出场")
    assert events(box) == [("vehicle.out", {"plate": "京A12345", "tag": CAR, "odometer": 15230})]
    assert gate.step == "gate_idle"


def test_a_typed_plate_of_an_official_vehicle_is_sent_with_its_tag(gate: GateWorkflow, box: Outbox) -> None:
    gate.input("vehicle_in")
    gate.input("vehicle", {"plate": "京a·12345", "odometer": "15300"})
    assert events(box) == [("vehicle.in", {"plate": "京A12345", "tag": CAR, "odometer": 15300})]


def test_the_wrong_key_tag_is_refused_on_the_spot(gate: GateWorkflow, box: Outbox) -> None:
    gate.input("vehicle_out")
    gate.scan(CAR)
    wrong = gate.input("vehicle", {"plate": "京B55555", "odometer": "100"})
    assert (wrong.level, wrong.title, wrong.detail) == ("error", "车牌号与所扫描的车钥匙标签不符",
                                                          "该标签是 京A12345 的车钥匙标签")
    assert box.depth() == 0


def test_visitors_and_unknown_plates_need_no_odometer(gate: GateWorkflow, box: Outbox) -> None:
    pass_code = str(new_code(Kind.VISITOR))
    gate.input("vehicle_in")
    assert gate.scan(pass_code).title == f"来访车辆，通行证 {pass_code}"
    gate.input("vehicle", {"plate": "粤B·D12345"})
    gate.input("vehicle_out")
    assert gate.input("vehicle", {"plate": "京A#45"}).detail == "车牌号：不是有效的车牌号"
    gate.input("vehicle", {"plate": "沪C 88888", "odometer": ""})
    assert events(box) == [("vehicle.in", {"plate": "粤BD12345", "pass": pass_code}),
                           ("vehicle.out", {"plate": "沪C88888"})]


def test_offline_an_official_vehicle_leaves_only_with_a_dispatch_the_gate_knows(gate: GateWorkflow,
                                                                                 box: Outbox) -> None:
    gate.online = lambda: False
    gate.input("vehicle_out")
    gate.scan(CAR)
    refused = gate.input("vehicle", {"odometer": "15230"})
    assert (refused.level, refused.title) == ("error", "京A12345 当前无派车：不得放行出场")
    assert box.depth() == 0
    now = datetime.now(UTC)
    gate.server_config = _config([[(now - timedelta(hours=1)).isoformat(), (now + timedelta(hours=2)).isoformat()]])
    allowed = gate.input("vehicle", {"odometer": "15230"})
    assert allowed.level == "pending" and allowed.detail.startswith("派车至 ")
    assert [t for t, _ in events(box)] == ["vehicle.out"]
    gate.input("vehicle_in")  # coming back needs no dispatch
    gate.scan(CAR)
    assert gate.input("vehicle", {"odometer": "15300"}).level == "pending"


def test_online_the_server_decides(gate: GateWorkflow, box: Outbox) -> None:
    gate.online = lambda: True  # the config knows no dispatch, but it may be a minute old
    gate.input("vehicle_out")
    gate.scan(CAR)
    assert gate.input("vehicle", {"odometer": "15230"}).level == "pending"
    assert box.depth() == 1


def test_a_half_done_vehicle_step_times_out(gate: GateWorkflow, box: Outbox, clock: Clock) -> None:
    gate.input("vehicle_out")
    gate.scan(CAR)
    clock.now += 31
    assert gate.input("vehicle", {"odometer": "1"}).level == "error"  # back at idle: not possible now
    assert gate.step == "gate_idle" and box.depth() == 0
