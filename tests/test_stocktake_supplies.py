"""The stocktake's supply count (differences become ledger movements at closing, judged at the count),
the report as CSV and PDF, and the admin's sign-off; REST and the live page in both languages."""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from server.audit import SYSTEM, Actor
from server.errors import AlreadyExists, IllegalTransition, Invalid
from server.models import AuditEntry, SupplyMovement
from server.services import directory, stocktake_report, stocktake_supplies, stocktakes, supplies
from tests.admin_support import login
from tests.storeroom_support import stock_up

ADMIN = Actor("u-admin", "web", "admin")
KEEPER = Actor("keeper", "web", "storekeeper")


@pytest.fixture
def room(sessions: Any) -> dict[str, str]:
    """Paper (10 in stock), pens (5), a person, and an open office stocktake."""
    with sessions() as session, session.begin():
        paper = supplies.create_item(session, KEEPER, supplies.ItemIn(name="A4 paper", unit="ream")).code
        pens = supplies.create_item(session, KEEPER, supplies.ItemIn(name="Pens", unit="box")).code
        stock_up(session, paper, 10)
        stock_up(session, pens, 5)
        person = directory.create_person(session, SYSTEM, "Wang Fang", "Finance").code
        st = stocktakes.open_stocktake(session, ADMIN, "office").id
    return {"paper": paper, "pens": pens, "person": person, "st": str(st)}


def _st(session: Any, room: dict[str, str]) -> Any:
    return stocktakes.by_id(session, int(room["st"]))


def _stock(sessions: Any, code: str) -> int:
    with sessions() as session:
        return supplies.stock(session, supplies.item_by_code(session, code).id)


def _ledger_sum(sessions: Any, code: str) -> int:
    with sessions() as session:
        item = supplies.item_by_code(session, code)
        return sum(session.scalars(select(SupplyMovement.quantity).where(SupplyMovement.item_id == item.id)))


def test_differences_become_movements_judged_at_the_count(sessions: Any, room: dict[str, str]) -> None:
    with sessions() as session, session.begin():
        stocktake_supplies.count(session, KEEPER, _st(session, room), room["paper"], 9)
        stocktake_supplies.count(session, KEEPER, _st(session, room), room["paper"], 8)  # a recount: the newest counts
        stocktake_supplies.count(session, KEEPER, _st(session, room), room["pens"], 5)
    with sessions() as session, session.begin():  # a pickup after the count is real and stays
        supplies.pickup(session, KEEPER, supplies.PickupIn(room["paper"], 1, room["person"], "meeting"))
    with sessions() as session:
        found = stocktake_supplies.lines(session, _st(session, room))
        got = [(x.code, x.counted, x.expected, x.difference) for x in found]
    assert sorted(got) == sorted([(room["paper"], 8, 10, -2), (room["pens"], 5, 5, 0)])
    with sessions() as session, session.begin():
        stocktakes.close(session, ADMIN, int(room["st"]), force=True)
    assert _stock(sessions, room["paper"]) == 7 == _ledger_sum(sessions, room["paper"])  # 10 - 1 - 2
    assert _stock(sessions, room["pens"]) == 5
    with sessions() as session:
        made = stocktake_supplies.differences(session, int(room["st"]))
        assert [(m.kind, m.quantity, m.purpose, m.stocktake_id) for m in made] == [
            ("stocktake", -2, f"stocktake {room['st']}", int(room["st"]))]
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "supply.stocktake")) == 1
        kept = stocktake_supplies.lines(session, _st(session, room))  # the report keeps the count as it was
        assert sorted((x.code, x.difference) for x in kept) == sorted([(room["paper"], -2), (room["pens"], 0)])
    with sessions() as session, session.begin(), pytest.raises(IllegalTransition):
        stocktake_supplies.count(session, KEEPER, _st(session, room), room["paper"], 7)


def test_bad_counts_change_nothing(sessions: Any, room: dict[str, str]) -> None:
    with sessions() as session, session.begin():
        other = stocktakes.open_stocktake(session, ADMIN, "department", "Finance")
        stocktake_supplies.count(session, KEEPER, other, room["paper"], 10)
    with sessions() as session:
        before = session.scalar(select(func.count()).select_from(AuditEntry))
    with sessions() as session, session.begin():
        with pytest.raises(AlreadyExists) as twice:  # one open stocktake per item: no shortfall corrected twice
            stocktake_supplies.count(session, KEEPER, _st(session, room), room["paper"], 9)
        assert twice.value.code == "counted_elsewhere"
        with pytest.raises(Invalid):
            stocktake_supplies.count(session, KEEPER, _st(session, room), room["pens"], -1)
        with pytest.raises(Invalid):
            stocktake_supplies.count(session, KEEPER, _st(session, room), "A-0000000", 1)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == before


def test_sign_off_once_and_only_when_closed(sessions: Any, room: dict[str, str]) -> None:
    with sessions() as session, session.begin(), pytest.raises(IllegalTransition) as still_open:
        stocktake_report.sign_off(session, ADMIN, int(room["st"]))
    assert still_open.value.code == "stocktake_open"
    with sessions() as session, session.begin():
        stocktakes.close(session, ADMIN, int(room["st"]), force=True)
        signed = stocktake_report.sign_off(session, ADMIN, int(room["st"]), "counted with Li")
        assert (signed.signed_off_by, signed.sign_off_note) == ("u-admin", "counted with Li")
    with sessions() as session, session.begin(), pytest.raises(AlreadyExists):
        stocktake_report.sign_off(session, ADMIN, int(room["st"]))


def _pdf_text(data: bytes, tmp_path: Path) -> str:
    assert data.startswith(b"%PDF")
    (tmp_path / "report.pdf").write_bytes(data)
    return subprocess.run(["pdftotext", str(tmp_path / "report.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout


def test_rest_counts_report_and_sign_off(client: Any, tokens: Any, room: dict[str, str], tmp_path: Path) -> None:
    admin, keeper, auditor = tokens.headers("admin"), tokens.headers("storekeeper"), tokens.headers("auditor")
    st = room["st"]
    got = client.post(f"/api/v1/stocktakes/{st}/supply-counts", headers=keeper, json={"item": room["paper"],
                                                                                     "counted": 12})
    assert got.status_code == 201 and got.json["difference"] == 2 and got.json["ledger_at_count"] == 10
    for body in ({"item": room["paper"], "counted": -1}, {"item": "nonsense", "counted": 1}, {"item": room["paper"]}):
        assert client.post(f"/api/v1/stocktakes/{st}/supply-counts", headers=keeper, json=body).status_code in (404,
                                                                                                               422)
    assert client.post(f"/api/v1/stocktakes/{st}/supply-counts", headers=auditor,
                       json={"item": room["paper"], "counted": 1}).status_code == 403
    assert client.get(f"/api/v1/stocktakes/{st}", headers=auditor).json["supplies"][0]["counted"] == 12
    assert client.post(f"/api/v1/stocktakes/{st}/sign-off", headers=admin, json={}).status_code == 409
    assert client.post(f"/api/v1/stocktakes/{st}/close", headers=admin, json={"force": True}).status_code == 200
    assert _stock_via(client, keeper, room["paper"]) == 12
    assert client.post(f"/api/v1/stocktakes/{st}/sign-off", headers=keeper, json={}).status_code == 403
    signed = client.post(f"/api/v1/stocktakes/{st}/sign-off", headers=admin, json={"note": "ok"})
    assert signed.status_code == 200 and signed.json["signed_off_by"] == "token:test-admin"
    report = client.get(f"/api/v1/stocktakes/{st}/report", headers=auditor)
    rows = list(csv.reader(io.StringIO(report.data.decode("utf-8-sig"))))
    assert rows[0][0] == "stocktake" and rows[0][-2] == "token:test-admin"
    assert [room["paper"], "A4 paper", "ream", "12", "10", "2"] in rows
    assert client.get(f"/api/v1/stocktakes/{st}/report?format=xlsx", headers=auditor).status_code == 422
    pdf = client.get(f"/api/v1/stocktakes/{st}/report?format=pdf", headers={**auditor, "Accept-Language": "zh"})
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = _pdf_text(pdf.data, tmp_path)
    assert "盘点报告" in text and "A4 paper" in text and "test-admin" in text and "+2" in text


def _stock_via(client: Any, headers: dict[str, str], code: str) -> int:
    return int(client.get(f"/api/v1/supplies/{code}", headers=headers).json["item"]["stock"])


def test_live_page_supply_count_pdf_and_sign_off(client: Any, sessions: Any, room: dict[str, str],
                                                 tmp_path: Path) -> None:
    st = room["st"]
    login(client, sessions, "admin")
    page = client.get(f"/stocktakes/{st}").get_data(as_text=True)
    assert "物品盘点" in page and "stocktake-camera.js" in page and 'id="camera"' in page
    bad = client.post(f"/stocktakes/{st}/supply-count", data={"item": room["paper"], "counted": -3})
    assert bad.status_code == 422
    wrong = client.post(f"/stocktakes/{st}/supply-count", data={"item": "A-0000000", "counted": 3})
    assert wrong.status_code == 422
    done = client.post(f"/stocktakes/{st}/supply-count", data={"item": room["pens"], "counted": 4})
    assert done.status_code == 302
    page = client.get(f"/stocktakes/{st}").get_data(as_text=True)
    assert "-1" in page
    quiet = client.post(f"/stocktakes/{st}/scan", data={"code": "A-0000000", "location": "nonsense"},
                        headers={"HX-Request": "true"})
    assert quiet.status_code == 422 and "<p class=\"flash error\"" in quiet.get_data(as_text=True)
    client.post(f"/stocktakes/{st}/close", data={"confirmed": "1", "force": "y"})
    assert _stock(sessions, room["pens"]) == 4
    assert client.post(f"/stocktakes/{st}/sign-off", data={"note": "x" * 2001}).status_code == 422
    assert client.post(f"/stocktakes/{st}/sign-off", data={"note": "all good"}).status_code == 302
    assert "u-admin" in client.get(f"/stocktakes/{st}").get_data(as_text=True)
    text = _pdf_text(client.get(f"/stocktakes/{st}/report.pdf").data, tmp_path)
    assert "盘点报告" in text and "Pens" in text
    assert client.get(f"/stocktakes/{st}/report.xml").status_code == 404
    csv_file = client.get(f"/stocktakes/{st}/report.csv")
    assert csv_file.status_code == 200 and csv_file.data.startswith(b"\xef\xbb\xbf")
    client.post("/language", data={"language": "en"})
    english = client.get(f"/stocktakes/{st}").get_data(as_text=True)
    assert "Supply count" in english and "Signed off by" in english
    assert "Stocktake report" in _pdf_text(client.get(f"/stocktakes/{st}/report.pdf").data, tmp_path)
