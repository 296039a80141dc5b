"""Stocktakes: the expected set frozen at opening, scans from the web/CSV/kiosk, every class, movement
during the count, concurrent scanners with duplicates, resolution and closing as asset events, report."""

from __future__ import annotations

import csv
import io
import threading
from typing import Any

import pytest
from sqlalchemy import select

from server.audit import SYSTEM, Actor
from server.errors import AlreadyExists, IllegalTransition, Invalid, RuleViolation
from server.models import Asset, AssetEvent
from server.services import assets, directory, lifecycle, stocktake_report, stocktakes
from tests.admin_support import login

ADMIN = Actor("u-admin", "web", "admin")


@pytest.fixture
def office(sessions: Any) -> dict[str, str]:
    """Room A (2 laptops), room B (1 laptop), a disposed laptop, and room C out of scope (1 laptop)."""
    with sessions() as session, session.begin():
        directory.get_or_create_category(session, SYSTEM, "Laptop")
        a = directory.create_location(session, SYSTEM, "Room A").code
        b = directory.create_location(session, SYSTEM, "Room B").code
        c = directory.create_location(session, SYSTEM, "Room C").code
        made = {name: assets.create_asset(session, SYSTEM, name, "Laptop", where).code
                for name, where in [("a1", a), ("a2", a), ("b1", b), ("gone", a), ("c1", c)]}
        lifecycle.dispose(session, SYSTEM, made["gone"], "scrapped", "GOV-1")
    return {"A": a, "B": b, "C": c, **made}


def _open(sessions: Any, office: dict[str, str]) -> int:
    with sessions() as session, session.begin():
        return stocktakes.open_stocktake(session, ADMIN, "locations", location_codes=[office["A"], office["B"]]).id


def _counts(sessions: Any, st: int) -> dict[str, int]:
    with sessions() as session:
        return stocktakes.counts(session, stocktakes.by_id(session, st))


def _scan(sessions: Any, st: int, code: str, where: str) -> str:
    with sessions() as session, session.begin():
        return stocktakes.scan(session, ADMIN, st, code, where)[1]


def test_every_class(sessions: Any, office: dict[str, str]) -> None:
    st = _open(sessions, office)
    assert _counts(sessions, st) == {"found_in_place": 0, "found_elsewhere": 0, "missing": 3, "unexpected": 0,
                                     "unknown": 0, "disposed_seen": 0}
    assert _scan(sessions, st, office["a1"], office["A"]) == "found_in_place"
    assert _scan(sessions, st, office["a1"], office["A"]) == "found_in_place"  # a duplicate is harmless
    assert _scan(sessions, st, office["b1"], office["A"]) == "found_elsewhere"
    assert _scan(sessions, st, office["c1"], office["A"]) == "unexpected"
    assert _scan(sessions, st, office["gone"], office["B"]) == "disposed_seen"
    assert _scan(sessions, st, "A-0000000", office["B"]) == "unknown"
    assert _counts(sessions, st) == {"found_in_place": 1, "found_elsewhere": 1, "missing": 1, "unexpected": 1,
                                     "unknown": 1, "disposed_seen": 1}
    with sessions() as session:
        missing = stocktakes.lines(session, stocktakes.by_id(session, st), "missing")
        assert [m.code for m in missing] == [office["a2"]]
    with sessions() as session, session.begin(), pytest.raises(Invalid):
        stocktakes.scan(session, ADMIN, st, "not a code", office["A"])


def test_asset_moved_during_the_count_is_judged_by_where_last_seen(sessions: Any, office: dict[str, str]) -> None:
    st = _open(sessions, office)
    with sessions() as session, session.begin():
        assets.move(session, SYSTEM, office["a2"], office["B"])  # a normal event during the count
        assets.move(session, SYSTEM, office["c1"], office["B"])  # moved into the scope
    assert _scan(sessions, st, office["a2"], office["B"]) == "found_in_place"  # not "elsewhere" vs the snapshot
    assert _scan(sessions, st, office["c1"], office["B"]) == "found_in_place"
    assert _scan(sessions, st, office["a1"], office["B"]) == "found_elsewhere"
    with sessions() as session, session.begin():
        assets.move(session, SYSTEM, office["a1"], office["B"])  # its record now agrees with the sighting
    assert _counts(sessions, st)["found_elsewhere"] == 0


def test_concurrent_scanners(sessions: Any, office: dict[str, str]) -> None:
    st = _open(sessions, office)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def scanner() -> None:
        barrier.wait()
        for code in (office["a1"], office["a2"], office["b1"]) * 3:
            for _attempt in range(50):
                try:
                    where = office["A"] if code != office["b1"] else office["B"]
                    _scan(sessions, st, code, where)
                    break
                except Exception as exc:  # noqa: BLE001  SQLite: busy writer, try again
                    if "locked" not in str(exc):
                        errors.append(exc)
                        return

    threads = [threading.Thread(target=scanner) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert _counts(sessions, st)["found_in_place"] == 3 and _counts(sessions, st)["missing"] == 0


def test_resolution_close_and_report(sessions: Any, office: dict[str, str]) -> None:
    st = _open(sessions, office)
    _scan(sessions, st, office["b1"], office["A"])
    _scan(sessions, st, office["a1"], office["A"])
    _scan(sessions, st, "A-0000000", office["A"])
    with sessions() as session, session.begin(), pytest.raises(RuleViolation) as refused:
        stocktakes.close(session, ADMIN, st)
    assert refused.value.code == "unresolved_lines"
    with sessions() as session, session.begin():
        with pytest.raises(Invalid):
            stocktakes.resolve(session, ADMIN, st, office["a2"], "lost")  # needs the approval reference
        with pytest.raises(RuleViolation):
            stocktakes.resolve(session, ADMIN, st, office["a1"], "move")  # not a discrepancy
        stocktakes.resolve(session, ADMIN, st, office["b1"], "move")
        stocktakes.resolve(session, ADMIN, st, office["a2"], "lost", approval_ref="GOV-7")
        stocktakes.resolve(session, ADMIN, st, "A-0000000", "ignore", reason="a label from the old system")
    with sessions() as session, session.begin():
        stocktakes.close(session, ADMIN, st)
    with sessions() as session:
        b1 = session.scalars(select(Asset).where(Asset.code == office["b1"])).one()
        a2 = session.scalars(select(Asset).where(Asset.code == office["a2"])).one()
        assert b1.location is not None and b1.location.code == office["A"] and a2.status == "disposed"
        reasons = [e.reason for e in session.scalars(select(AssetEvent).where(AssetEvent.reason.like("stocktake%")))]
        assert sorted(reasons) == [f"stocktake {st}", f"stocktake {st}: move"]  # the loss, the move
        report = stocktake_report.report_csv(session, stocktakes.by_id(session, st)).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(report)))
    assert ["found_elsewhere", "1"] in rows and ["missing", "1"] in rows and ["unknown", "1"] in rows
    assert any(r[:3] == [office["a2"], "a2", "missing"] and r[6] == "lost" for r in rows)
    with sessions() as session, session.begin(), pytest.raises(IllegalTransition):
        stocktakes.scan(session, ADMIN, st, office["a1"], office["A"])  # the report is locked
    assert _counts(sessions, st)["missing"] == 1  # the summary as it was at closing


def test_reopening_freezes_a_new_set(sessions: Any, office: dict[str, str]) -> None:
    st = _open(sessions, office)
    with pytest.raises(AlreadyExists):
        _open(sessions, office)
    with sessions() as session, session.begin():
        stocktakes.close(session, ADMIN, st, force=True)
        assert stocktakes.by_id(session, st).forced
        assets.move(session, SYSTEM, office["c1"], office["A"])
    again = _open(sessions, office)
    assert _counts(sessions, again)["missing"] == 4  # c1 is expected now


def test_csv_scans_all_or_nothing(sessions: Any, office: dict[str, str]) -> None:
    st = _open(sessions, office)
    with sessions() as session, session.begin(), pytest.raises(Invalid) as bad:
        text = f"code,location\n{office['a1']},{office['A']}\nnonsense,{office['A']}\n"
        stocktakes.scan_csv(session, ADMIN, st, text)
    assert "line 3" in bad.value.message
    with sessions() as session, session.begin():
        text = f"{office['a1']},{office['A']}\n{office['b1']},{office['B']}\n"
        assert stocktakes.scan_csv(session, ADMIN, st, text) == 2
    assert _counts(sessions, st)["found_in_place"] == 2


def test_rest_and_live_page(client: Any, sessions: Any, tokens: Any, office: dict[str, str]) -> None:
    admin = tokens.headers("admin")
    made = client.post("/api/v1/stocktakes", headers=admin, json={"scope": "locations",
                                                                  "locations": [office["A"], office["B"]]})
    assert made.status_code == 201 and made.json["counts"]["missing"] == 3
    st = made.json["id"]
    scanned = client.post(f"/api/v1/stocktakes/{st}/scans", headers=admin,
                          json={"code": office["a1"], "location": office["A"]})
    assert scanned.status_code == 201 and scanned.json["class"] == "found_in_place"
    login(client, sessions, "admin")
    page = client.get(f"/stocktakes/{st}").get_data(as_text=True)
    assert "盘点" in page and "autofocus" in page
    posted = client.post(f"/stocktakes/{st}/scan", data={"code": office["b1"], "location": office["A"]})
    assert posted.status_code == 302
    counts = client.get(f"/api/v1/stocktakes/{st}", headers=admin).json["counts"]
    assert counts["found_elsewhere"] == 1 and counts["found_in_place"] == 1
    report = client.get(f"/api/v1/stocktakes/{st}/report", headers=admin)
    assert report.status_code == 200 and report.mimetype == "text/csv" and b"found_elsewhere,1" in report.data
    assert client.post(f"/api/v1/stocktakes/{st}/close", headers=admin, json={}).status_code == 422
    assert client.post(f"/api/v1/stocktakes/{st}/close", headers=admin, json={"force": True}).status_code == 200


def test_web_resolve_close_and_english(client: Any, sessions: Any, office: dict[str, str]) -> None:
    st = _open(sessions, office)
    _scan(sessions, st, office["b1"], office["A"])
    login(client, sessions, "admin")
    fragment = client.get(f"/stocktakes/{st}/counts").get_data(as_text=True)
    assert 'data-class="missing">2<' in fragment and "hx-trigger" in fragment
    asked = client.post(f"/stocktakes/{st}/resolve", data={"code": office["a2"], "action": "lost"})
    assert asked.status_code == 302  # no approval reference: the loss asks the approval chain
    assert 'id="losses"' in client.get(f"/stocktakes/{st}").get_data(as_text=True)
    refused = client.post(f"/stocktakes/{st}/resolve", data={"code": office["a2"], "action": "ignore"})
    assert refused.status_code == 422 and "原因" in refused.get_data(as_text=True)
    for code, action, extra in [(office["b1"], "move", {}), (office["a1"], "ignore", {"reason": "on loan"}),
                                (office["a2"], "correct", {"location": office["B"]})]:
        answer = client.post(f"/stocktakes/{st}/resolve", data={"code": code, "action": action, **extra})
        assert answer.status_code == 302
    asked = client.post(f"/stocktakes/{st}/close", data={})
    assert asked.status_code == 200 and "confirmed" in asked.get_data(as_text=True)
    assert client.post(f"/stocktakes/{st}/close", data={"confirmed": "1"}).status_code == 302
    with sessions() as session:
        assert stocktakes.by_id(session, st).state == "closed"
        a2 = session.scalars(select(Asset).where(Asset.code == office["a2"])).one()
        assert a2.location is not None and a2.location.code == office["B"]
    client.post("/language", data={"language": "en"})
    english = client.get(f"/stocktakes/{st}?class=found_elsewhere").get_data(as_text=True)
    assert "Found elsewhere" in english and "Closed" in english
