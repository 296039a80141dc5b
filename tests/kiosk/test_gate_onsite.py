"""The gate kiosk on its own: its on-site snapshot for an offline roll call, the plate checked and
normalised on the spot, the hashed watchlist, and the roll call on the screen's step."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from contract import normalize
from contract.codes import Kind, new_code
from contract.messages import KioskConfig
from kiosk.onsite import OnSiteSnapshot
from kiosk.outbox import Outbox
from kiosk.workflows import GateWorkflow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _row(code: str, name: str) -> dict[str, Any]:
    return {"pass": code, "name": name, "organisation": "", "host": "P-1", "plate": "", "since": "2026-03-02T01:00"}


def test_snapshot_is_the_servers_list_with_this_gates_own_scans_on_top(tmp_path: Path) -> None:
    clock, path = Clock(), tmp_path / "outbox.db.onsite.json"
    snap = OnSiteSnapshot(path, clock)
    a, b, c = (str(new_code(Kind.VISITOR)) for _ in range(3))
    snap.server([_row(a, "甲"), _row(b, "乙")])
    snap.signed_in("e1", {"pass": c, "name": "丙", "host": "P-2"}, "2026-03-02T02:00")
    snap.signed_out("e2", a)
    assert [r["name"] for r in snap.rows()] == ["乙", "丙"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it names people

    again = OnSiteSnapshot(path, clock)  # a reboot while the network is down
    assert [r["name"] for r in again.rows()] == ["乙", "丙"]

    again.acked("e1", "accepted")
    again.acked("e2", "accepted")
    clock.now += 5
    again.server([_row(b, "乙"), _row(c, "丙")])  # the server's list now includes both scans
    assert [r["name"] for r in again.rows()] == ["乙", "丙"]
    again.server([_row(b, "乙")])  # and a later one without 丙 (signed out at another gate) wins
    assert [r["name"] for r in again.rows()] == ["乙"]


def test_a_refused_signin_leaves_the_snapshot_and_an_unacked_one_stays(tmp_path: Path) -> None:
    snap = OnSiteSnapshot(None, Clock())
    code, other = str(new_code(Kind.VISITOR)), str(new_code(Kind.VISITOR))
    snap.signed_in("e1", {"pass": code, "name": "甲"}, "2026-03-02T02:00")
    snap.signed_in("e2", {"pass": other, "name": "乙"}, "2026-03-02T02:01")
    snap.acked("e1", "rejected")
    snap.server([])  # a config built before e2 reached the server
    assert [r["name"] for r in snap.rows()] == ["乙"]


def test_unreadable_snapshot_file_starts_empty(tmp_path: Path) -> None:
    path = tmp_path / "onsite.json"
    path.write_text("{not json")
    assert OnSiteSnapshot(path).rows() == []


def _gate(tmp_path: Path, config: KioskConfig | None = None) -> tuple[GateWorkflow, Outbox]:
    box = Outbox(tmp_path / "outbox.db", "gate-1")
    workflow = GateWorkflow(box.add, language="en")
    workflow.server_config = config
    return workflow, box


def test_plate_is_normalised_on_the_spot_and_odd_characters_refused(tmp_path: Path) -> None:
    gate, box = _gate(tmp_path)
    host, visitor_pass = str(new_code(Kind.PERSON)), str(new_code(Kind.VISITOR))
    gate.input("signin")
    refused = gate.input("visitor", {"pass": visitor_pass, "host": host, "name": "Ada", "plate": "京A#12"})
    assert (refused.level, refused.detail) == ("error", "Plate: not a plate")
    assert box.depth() == 0
    blank = gate.input("visitor", {"pass": visitor_pass, "host": host, "name": "   "})
    assert (blank.level, blank.detail) == ("error", "Name: required")
    done = gate.input("visitor", {"pass": visitor_pass, "host": host, "name": "Ada", "plate": "京ａ·12345"})
    assert done.level == "pending"
    [queued] = box.pending()
    assert queued.event().data["plate"] == "京A12345"
    box.close()


def test_watchlist_hit_alerts_the_guard_and_is_still_sent(tmp_path: Path) -> None:
    salt = "0123456789abcdef"
    config = KioskConfig(kiosk="gate-1", mode="gate", watchlist_salt=salt,
                         watchlist=[normalize.watch_hash(salt, "name", normalize.person_name("陈大文"))])
    gate, box = _gate(tmp_path, config)
    host = str(new_code(Kind.PERSON))
    gate.input("signin")
    outcome = gate.input("visitor", {"pass": str(new_code(Kind.VISITOR)), "host": host, "name": "陳 大文"})
    assert outcome.level == "error" and outcome.title == "On the watchlist: do not let the visitor in yet"
    assert box.depth() == 1  # the server refuses it and tells the office
    fine = gate.input("visitor", {"pass": str(new_code(Kind.VISITOR)), "host": host, "name": "陈小文"}) \
        if gate.input("signin") else None
    assert fine is not None and fine.level == "pending"
    box.close()


def test_roll_call_step_shows_who_is_on_site(tmp_path: Path) -> None:
    gate, box = _gate(tmp_path)
    snap = OnSiteSnapshot(None)
    snap.server([_row(str(new_code(Kind.VISITOR)), "甲"), _row(str(new_code(Kind.VISITOR)), "乙")])
    gate.on_site = snap.rows
    assert "rollcall" in [b["action"] for b in gate.view()["buttons"]]
    outcome = gate.input("rollcall")
    assert outcome.title == "2 people on site" and gate.view()["step"] == "rollcall"
    gate.input("cancel")
    assert gate.view()["step"] == "gate_idle"
    box.close()
