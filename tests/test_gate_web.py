"""The gate's pages without a browser: the desk's scan field, walk-ins and pre-registration with
their errors beside the fields, pass pages (also from /c/V-…), the watchlist and exit permits, roles."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from server import auth
from server.audit import SYSTEM
from server.models import AuditEntry, GateAlert, utcnow
from server.services import assets, directory, watchlist
from tests.gate_support import ADMIN, office, preregister

PASSWORD = "correct horse battery"


@pytest.fixture
def place(sessions: Any) -> dict[str, str]:
    return office(sessions)


def _login(client: Any, sessions: Any, role: str) -> None:
    with sessions() as session, session.begin():
        auth.create_user(session, SYSTEM, f"u-{role}", PASSWORD, role)
    client.post("/login", data={"username": f"u-{role}", "password": PASSWORD})


def _text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def test_desk_scan_signs_in_then_out_and_the_rows_follow(client: Any, sessions: Any, place: dict[str, str]) -> None:
    _login(client, sessions, "guard")
    code = preregister(sessions, place["host"], "王芳", organisation="市财政局", plate="京A12345")
    page = _text(client.get("/gate/"))
    assert "门岗值班台" in page and 'autofocus' in page and "今日预约 (1)" in page and "王芳" in page
    done = _text(client.post("/gate/scan", data={"code": code.lower()}, follow_redirects=True))
    assert f"已登记入场：王芳（{code}），被访人 Li Hua" in done
    rows = _text(client.get("/gate/on-site/rows"))
    assert "<strong>1</strong> 在场" in rows and "京A12345" in rows and "王芳" in rows
    done = _text(client.post("/gate/scan", data={"code": f"https://x.example/c/{code}"}, follow_redirects=True))
    assert f"已离场：王芳（{code}）" in done
    assert "目前无人在场" in _text(client.get("/gate/on-site/rows"))
    assert "不是 AssetGate 编号" in _text(client.post("/gate/scan", data={"code": "hello"}, follow_redirects=True))


def test_desk_refusals_say_why_and_a_watchlist_hit_leaves_an_alert(client: Any, sessions: Any,
                                                                   place: dict[str, str]) -> None:
    with sessions() as session, session.begin():
        watchlist.add(session, ADMIN, "person", "陳大文")
    _login(client, sessions, "guard")
    code = preregister(sessions, place["host"], "陈大文")
    page = _text(client.post("/gate/scan", data={"code": code}, follow_redirects=True))
    assert "在重点关注名单上" in page and "虽在重点关注名单上" not in page  # a guard gets no "admit" button
    unknown = _text(client.post("/gate/scan", data={"code": "V-00000000"}, follow_redirects=True))
    assert "未知编号" in unknown or "未知的访客通行证" in unknown
    with sessions() as session:
        assert [a.kind for a in session.scalars(select(GateAlert))] == ["watchlist_hit"]


def test_admin_may_admit_a_watchlisted_visitor_from_the_desk(client: Any, sessions: Any,
                                                             place: dict[str, str]) -> None:
    with sessions() as session, session.begin():
        watchlist.add(session, ADMIN, "plate", "沪C88888")
    _login(client, sessions, "admin")
    code = preregister(sessions, place["host"], "路人", plate="沪C 88888")
    refused = client.post("/gate/scan", data={"code": code})
    assert f"admit={code}" in refused.headers["Location"]
    page = _text(client.get(refused.headers["Location"]))
    assert f"放行 {code}（虽在重点关注名单上）" in page
    admitted = _text(client.post("/gate/scan", data={"code": code, "admit": "y"}, follow_redirects=True))
    assert f"已登记入场：路人（{code}）" in admitted


def test_walk_in_form_puts_errors_beside_their_fields(client: Any, sessions: Any, place: dict[str, str]) -> None:
    _login(client, sessions, "guard")
    bad = client.post("/gate/walk-in", data={"name": "赵六", "host": place["host"], "plate": "京A#1"})
    assert bad.status_code == 422 and 'id="plate-err"' in bad.get_data(as_text=True)
    bad = client.post("/gate/walk-in", data={"name": "赵六", "host": "P-00000000"})
    assert bad.status_code == 422 and 'id="host-err"' in bad.get_data(as_text=True)
    bad = client.post("/gate/walk-in", data={"name": "x" * 201, "host": place["host"]})
    assert bad.status_code == 422 and 'id="name-err"' in bad.get_data(as_text=True)
    made = client.post("/gate/walk-in", data={"name": "赵六", "host": place["host"], "plate": "京a 12345"})
    assert made.status_code == 302
    page = _text(client.get(made.headers["Location"]))
    assert "赵六" in page and "京A12345" in page and "临时来访" in page and "在场" in page


def test_preregistration_makes_a_pass_with_qr_and_pdf_reachable_from_its_label(client: Any, sessions: Any,
                                                                             place: dict[str, str]) -> None:
    _login(client, sessions, "storekeeper")
    day = (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)).isoformat()
    made = client.post("/gate/passes/new", data={"name": "欧阳娜娜", "host": place["host"], "organisation": "某公司",
                                                 "day": day, "start": "09:00", "end": "11:30"})
    assert made.status_code == 302, made.get_data(as_text=True)
    code = made.headers["Location"].rsplit("/", 1)[1]
    page = _text(client.get(made.headers["Location"]))
    assert "欧阳娜娜" in page and "预约登记" in page and "09:00" in page
    assert client.get(f"/gate/passes/{code}/qr.png").mimetype == "image/png"
    assert client.get(f"/gate/passes/{code}/pass.pdf").data.startswith(b"%PDF")
    assert client.get(f"/c/{code}").headers["Location"].endswith(f"/gate/passes/{code}")
    wrong = client.post("/gate/passes/new", data={"name": "甲", "host": place["host"], "day": day,
                                                  "start": "11:00", "end": "10:00"})
    assert wrong.status_code == 422 and 'id="day-err"' in wrong.get_data(as_text=True)


def test_revoking_a_pass_asks_first(client: Any, sessions: Any, place: dict[str, str]) -> None:
    _login(client, sessions, "guard")
    code = preregister(sessions, place["host"])
    asked = client.post(f"/gate/passes/{code}/revoke", data={"reason": "取消"})
    assert asked.status_code == 200 and "confirmed" in asked.get_data(as_text=True)
    client.post(f"/gate/passes/{code}/revoke", data={"reason": "取消", "confirmed": "1"})
    assert "已作废" in _text(client.get(f"/gate/passes/{code}"))
    refused = _text(client.post("/gate/scan", data={"code": code}, follow_redirects=True))
    assert "通行证已作废" in refused


def test_roles_and_menu(client: Any, sessions: Any, place: dict[str, str]) -> None:
    _login(client, sessions, "auditor")
    assert client.get("/gate/").status_code == 403
    assert client.get("/gate/watchlist").status_code == 403
    assert client.get("/gate/permits").status_code == 200
    menu = _text(client.get("/"))
    assert "物品放行条" in menu and "门岗值班台" not in menu and "重点关注名单" not in menu
    client.post("/logout")
    _login(client, sessions, "guard")
    menu = _text(client.get("/"))
    assert "门岗值班台" in menu and "重点关注名单" not in menu
    assert client.get("/gate/export.csv?from=2026-01-01&to=2026-01-02").status_code == 403


def test_exit_permit_pages_and_the_desk_scan_of_an_asset(client: Any, sessions: Any) -> None:
    with sessions() as session, session.begin():
        directory.get_or_create_category(session, SYSTEM, "Laptop")
        tag = assets.create_asset(session, SYSTEM, "ThinkPad X1", "Laptop").code
        other = assets.create_asset(session, SYSTEM, "MacBook", "Laptop").code
        auth.create_user(session, SYSTEM, "guard2", PASSWORD, "guard")
    _login(client, sessions, "storekeeper")
    tomorrow = (utcnow() + timedelta(days=1)).date()
    bad = client.post("/gate/permits/new", data={"assets": "A-00000000", "reason": "r", "carrier": "c",
                                                 "valid_day": tomorrow.isoformat(), "valid_time": "18:00"})
    assert bad.status_code == 422 and 'id="assets-err"' in bad.get_data(as_text=True)
    made = client.post("/gate/permits/new", data={
        "assets": f"{tag}\n", "reason": "送修", "carrier": "张师傅", "valid_day": tomorrow.isoformat(),
        "valid_time": "18:00", "loan": "y", "expected_return": (tomorrow + timedelta(days=2)).isoformat()})
    assert made.status_code == 302, made.get_data(as_text=True)
    assert "张师傅" in _text(client.get(made.headers["Location"]))
    client.post("/logout")
    client.post("/login", data={"username": "guard2", "password": PASSWORD})
    out = _text(client.post("/gate/scan", data={"code": tag}, follow_redirects=True))
    assert f"准予放行：{tag} ThinkPad X1" in out
    refused = _text(client.post("/gate/scan", data={"code": other}, follow_redirects=True))
    assert "无物品放行条" in refused
    back = _text(client.post("/gate/scan", data={"code": tag}, follow_redirects=True))
    assert f"外借归还：{tag}" in back


def test_watchlist_page_and_logged_export_are_admin_only(client: Any, sessions: Any, place: dict[str, str]) -> None:
    _login(client, sessions, "admin")
    added = client.post("/gate/watchlist", data={"kind": "person", "label": "张 三", "aliases": "張三丰\n"})
    assert added.status_code == 302
    page = _text(client.get("/gate/watchlist"))
    assert "张 三" in page and "張三丰" in page
    bad = client.post("/gate/watchlist", data={"kind": "plate", "label": "京A@@"})
    assert bad.status_code == 422 and 'id="label-err"' in bad.get_data(as_text=True)
    today = date.today().isoformat()
    export = client.get(f"/gate/export.csv?from={today}&to={today}")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    with sessions() as session:
        assert session.scalars(select(AuditEntry.actor).where(AuditEntry.action == "visitors.export")).all() == [
            "u-admin"]


def test_leader_approves_a_visit_from_the_to_do(client: Any, settings_overrides: dict[str, Any]) -> None:
    from server import create_app
    from server.services import approvals

    app = create_app({**settings_overrides, "visit_approval_purposes": "公务接待"})
    sessions = app.extensions["assetgate.sessions"]
    web = app.test_client()
    try:
        place = office(sessions)
        with sessions() as session, session.begin():
            auth.create_user(session, SYSTEM, "leader", PASSWORD, "auditor")
            approvals.grant(session, SYSTEM, "leader", "leader", "")
        code = preregister(sessions, place["host"], "钱十", purpose="公务接待")
        web.post("/login", data={"username": "leader", "password": PASSWORD})
        todo = _text(web.get("/gate/approvals"))
        assert code in todo and "钱十" in todo
        assert "待审批" in _text(web.get(f"/gate/passes/{code}"))
        web.post(f"/gate/passes/{code}/decision", data={"decision": "approve"})
        assert "没有待您审批的来访" in _text(web.get("/gate/approvals"))
        with sessions() as session:
            from server.services import visitors as passes

            assert passes.pass_by_code(session, code).status == "valid"
    finally:
        app.extensions["assetgate.engine"].dispose()
