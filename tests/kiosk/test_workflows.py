"""Workflows: every path per mode records the right events; wrong input is refused on the spot."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.codes import Kind, new_code
from contract.messages import KioskConfig
from kiosk.outbox import Outbox
from kiosk.workflows import PROMPTS, GateWorkflow, StoreroomWorkflow, Workflow

HERE = str(new_code(Kind.LOCATION))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def code(kind: Kind) -> str:
    return str(new_code(kind))


def bad_check(text: str) -> str:
    return text[:-1] + ("0" if text[-1] != "0" else "1")


@pytest.fixture
def box(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "outbox.db", "k-test")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(box: Outbox, clock: Clock) -> StoreroomWorkflow:
    return StoreroomWorkflow(box.add, location=HERE, timeout=30, clock=clock)


@pytest.fixture
def gate(box: Outbox, clock: Clock) -> GateWorkflow:
    return GateWorkflow(box.add, location=HERE, timeout=30, clock=clock)


def events(box: Outbox) -> list[tuple[str, str | None, dict]]:
    return [(e.type, e.actor, e.data) for e in (q.event() for q in box.pending())]


def test_checkout_several_assets_to_a_person(store: StoreroomWorkflow, box: Outbox) -> None:
    person, a1, a2 = code(Kind.PERSON), code(Kind.ASSET), code(Kind.ASSET)
    assert store.scan(person.lower()).level == "info"
    store.scan(a1)
    assert store.scan(a1).level == "warn"  # the same asset twice is listed once
    store.scan(f"https://assets.example/c/{a2}")  # a label URL works like the bare code
    assert box.depth() == 0, "nothing is sent before Finish"
    outcome = store.input("finish")
    assert outcome.level == "pending" and len(outcome.events) == 2
    assert events(box) == [("asset.checkout", None, {"tag": a1, "to": person}),
                           ("asset.checkout", None, {"tag": a2, "to": person})]
    assert store.step == "idle"


def test_scan_asset_when_idle_checks_it_in_here(store: StoreroomWorkflow, box: Outbox) -> None:
    asset = code(Kind.ASSET)
    assert store.scan(asset).level == "pending"
    assert events(box) == [("asset.checkin", None, {"tag": asset, "location": HERE})]
    assert store.step == "idle"


def test_location_then_assets_moves_them(store: StoreroomWorkflow, box: Outbox) -> None:
    there, other, a1, a2 = code(Kind.LOCATION), code(Kind.LOCATION), code(Kind.ASSET), code(Kind.ASSET)
    store.scan(there)
    store.scan(a1)
    store.scan(other)  # another location switches the target
    store.scan(a2)
    store.input("finish")
    assert events(box) == [("asset.move", None, {"tag": a1, "to": there}),
                           ("asset.move", None, {"tag": a2, "to": other})]
    assert store.step == "idle"


def test_supply_pickup_with_quantity(store: StoreroomWorkflow, box: Outbox) -> None:
    person, item = code(Kind.PERSON), code(Kind.SUPPLY)
    store.scan(person)
    store.scan(item)
    assert store.step == "quantity"
    assert store.input("quantity", {"qty": "0"}).level == "error"
    assert store.input("quantity", {"qty": "lots"}).level == "error"
    assert box.depth() == 0
    store.input("quantity", {"qty": "3", "purpose": "printer"})
    assert events(box) == [("supply.pickup", None, {"item": item, "qty": 3, "taker": person, "purpose": "printer"})]


def test_operator_login_sets_the_actor(store: StoreroomWorkflow, box: Outbox) -> None:
    operator = code(Kind.PERSON)
    store.input("login")
    assert store.view()["expects"] == ["person"]
    store.scan(operator)
    assert store.actor == operator
    store.scan(code(Kind.ASSET))
    assert events(box)[0][1] == operator
    store.input("logout")
    assert store.actor is None


@pytest.mark.parametrize(
    ("steps", "wrong"),
    [
        ([], Kind.SUPPLY),  # idle: a supply item needs a person first
        ([], Kind.VISITOR),
        ([Kind.PERSON, Kind.ASSET], Kind.SUPPLY),  # checkout list: only assets
        ([Kind.LOCATION], Kind.PERSON),  # moving: assets or another location
        ([Kind.PERSON, Kind.SUPPLY], Kind.ASSET),  # waiting for a quantity
    ],
)
def test_wrong_kind_is_refused_on_the_spot(store: StoreroomWorkflow, box: Outbox, steps: list[Kind],
                                           wrong: Kind) -> None:
    for kind in steps:
        store.scan(code(kind))
    step = store.step
    outcome = store.scan(code(wrong))
    assert outcome.level == "error" and outcome.title.startswith("此处不能扫描")  # the default language: zh
    assert store.step == step, "a refused scan does not change the step"
    assert box.depth() == 0


def test_bad_check_symbol_refused_before_anything_is_sent(store: StoreroomWorkflow, box: Outbox) -> None:
    outcome = store.scan(bad_check(code(Kind.ASSET)))
    assert outcome.level == "error" and outcome.title == "校验位错误，请重新扫描"
    assert store.scan("hello").title == "不是本系统的编号"
    assert box.depth() == 0


def test_timeout_returns_to_idle_and_drops_half_done_work(store: StoreroomWorkflow, box: Outbox,
                                                          clock: Clock) -> None:
    store.scan(code(Kind.PERSON))
    store.scan(code(Kind.ASSET))
    clock.now += 29
    assert not store.tick() and store.step == "checkout"
    clock.now += 31
    assert store.tick() and store.step == "idle"
    assert store.input("finish").level == "error"  # nothing left to finish
    assert box.depth() == 0
    # A scan after the timeout starts fresh: an asset is a check-in again.
    store.scan(code(Kind.PERSON))
    clock.now += 100
    store.scan(code(Kind.ASSET))
    assert events(box)[0][0] == "asset.checkin"


def test_cancel(store: StoreroomWorkflow) -> None:
    store.scan(code(Kind.PERSON))
    assert "cancel" in store.actions()
    store.input("cancel")
    assert store.step == "idle"


def test_gate_signout_and_asset_exit(gate: GateWorkflow, box: Outbox) -> None:
    visitor_pass, asset = code(Kind.VISITOR), code(Kind.ASSET)
    gate.scan(visitor_pass)
    gate.scan(asset)
    assert events(box) == [("visitor.signout", None, {"pass": visitor_pass}), ("asset.exit", None, {"tag": asset})]
    assert gate.scan(code(Kind.SUPPLY)).level == "error"


def test_gate_signin_by_form(gate: GateWorkflow, box: Outbox) -> None:
    visitor_pass, host = code(Kind.VISITOR), code(Kind.PERSON)
    gate.input("signin")
    gate.scan(visitor_pass)
    incomplete = gate.input("visitor", {"name": "Ada"})  # no host
    assert (incomplete.title, incomplete.detail) == ("来访人员信息不完整", "被访人：必填")
    assert gate.input("visitor", {"name": "Ada", "host": bad_check(host)}).level == "error"
    assert box.depth() == 0
    outcome = gate.input("visitor", {"name": "Ada", "organisation": "ACME", "host": host.lower(),
                                     "purpose": "audit", "id_last4": "1234", "plate": ""})
    assert outcome.level == "pending"
    assert events(box) == [("visitor.signin", None, {"pass": visitor_pass, "name": "Ada", "organisation": "ACME",
                                                     "host": host, "purpose": "audit", "id_last4": "1234"})]
    assert gate.step == "gate_idle"


def test_gate_pre_registered_pass_signs_in_with_one_scan(gate: GateWorkflow, box: Outbox) -> None:
    visitor_pass, host, revoked = code(Kind.VISITOR), code(Kind.PERSON), code(Kind.VISITOR)
    gate.server_config = KioskConfig.model_validate({
        "kiosk": "k-test", "mode": "gate", "revoked_passes": [revoked],
        "expected_visitors": {visitor_pass: {"name": "Bo", "host": host}},
    })
    gate.input("signin")
    assert gate.scan(revoked).title.endswith("已作废")
    assert gate.scan(visitor_pass).level == "pending"
    assert events(box) == [("visitor.signin", None, {"pass": visitor_pass, "name": "Bo", "host": host,
                                                     "organisation": "", "purpose": ""})]


@pytest.mark.parametrize("workflow", [StoreroomWorkflow, GateWorkflow])
def test_every_step_has_handlers_in_tables(workflow: type[Workflow], box: Outbox) -> None:
    flow = workflow(box.add)
    steps = {step for step, _ in flow.scans} | {step for step, _ in flow.inputs}
    assert flow.idle_step in steps
    assert steps <= set(PROMPTS), "every step needs a prompt for the screen"


def test_stocktake_step_sends_scans_for_the_number_given(store: StoreroomWorkflow, box: Outbox) -> None:
    shelf, a1, a2 = code(Kind.LOCATION), code(Kind.ASSET), code(Kind.ASSET)
    store.input("stocktake")
    assert store.step == "stocktake_number" and store.view()["prompt"] == "请输入盘点编号"
    for bad in ("", "x", "-3", "0", "1234567890", "１２"):
        assert store.input("stocktake_number", {"qty": bad}).level == "error"
    assert store.input("stocktake_number", {"qty": "12"}).level == "info"
    assert sorted(store.view()["expects"]) == ["asset", "location"]
    store.scan(a1)  # counted where this kiosk stands until a location is scanned
    store.scan(shelf)
    store.scan(f"https://assets.example/c/{a2}")
    assert store.scan(code(Kind.SUPPLY)).level == "error"
    store.input("finish")
    assert store.step == "idle"
    assert events(box) == [("stocktake.scan", None, {"session": "12", "tag": a1, "location": HERE}),
                           ("stocktake.scan", None, {"session": "12", "tag": a2, "location": shelf})]


def test_stocktake_without_a_kiosk_location_needs_one_scanned(box: Outbox, clock: Clock) -> None:
    nowhere = StoreroomWorkflow(box.add, location=None, timeout=30, clock=clock)
    nowhere.input("stocktake")
    nowhere.input("stocktake_number", {"qty": "3"})
    assert nowhere.scan(code(Kind.ASSET)).level == "error"
    assert box.depth() == 0
