"""The asset pages through the Flask client: search, the asset page (every field, QR code, history),
every life-cycle action with its role check, the disposal's confirmation step, refusals beside
their fields in Chinese, and the location and person pages that /c/ codes open."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from server import auth
from server.audit import SYSTEM
from server.models import Asset, AssetEvent
from server.services import asset_facts, assets, intake, lifecycle
from server.services.assets import KioskOrigin
from server.web import assets as web_assets
from tests.procurement_support import ACTOR, Office, buy, office, plan_line

PASSWORD = "correct horse battery"


@dataclass
class Setup:
    where: Office
    laptop: str  # bought on plan line 2026-IT-01, serial SN-A1, two maintenance records
    spare: str
    seal: str  # a controlled item


@pytest.fixture
def setup(sessions: Any) -> Setup:
    with sessions() as session, session.begin():
        where = office(session)
        plan_line(session)
        line_id = buy(session, qty=2, price="5999.00").lines[0].id
        got = intake.receive(session, ACTOR, line_id, "key-1", where.store, serials=["SN-A1", "SN-A2"],
                             received_on=date(2026, 3, 20), name="Dell Latitude 7450")
        seal = assets.create_asset(session, ACTOR, "Round seal", "Official seal", where.store).code
        for on, cost in ((date(2026, 5, 2), "350.50"), (date(2026, 6, 2), "100.25")):
            lifecycle.record_maintenance(session, ACTOR, got.codes[0], on, "Dell service", cost, "battery")
    return Setup(where, got.codes[0], got.codes[1], seal)


def _login(client: Any, sessions: Any, role: str, language: str | None = None) -> None:
    with sessions() as session, session.begin():
        user = auth.create_user(session, SYSTEM, f"web-{role}", PASSWORD, role)
        user.language = language
    assert client.post("/login", data={"username": f"web-{role}", "password": PASSWORD}).status_code == 302


def _html(response: Any) -> str:
    return str(response.get_data(as_text=True))


def _field_error(html: str, field: str) -> str:
    found = re.search(rf'<p class="error" id="{field}-err">([^<]*)</p>', html)
    return found.group(1) if found else ""


def _asset(sessions: Any, code: str) -> Asset:
    with sessions() as session:
        return session.scalars(select(Asset).where(Asset.code == code)).unique().one()


def _events(sessions: Any, code: str) -> list[str]:
    with sessions() as session:
        return [e.type for e in assets.history(session, code)]


# --- search ---

def test_the_menu_leads_to_the_search_which_finds_by_code_serial_and_name(client: Any, sessions: Any,
                                                                          setup: Setup) -> None:
    _login(client, sessions, "auditor")
    assert '<a href="/assets">资产查询</a>' in _html(client.get("/"))
    listing = _html(client.get("/assets"))
    assert all(code in listing for code in (setup.laptop, setup.spare, setup.seal)) and "资产编号" in listing
    for text in ("SN-A1", setup.laptop, setup.laptop.lower(), f"https://x.example/c/{setup.laptop}"):
        r = client.get("/assets", query_string={"q": text})
        assert r.status_code == 302 and r.headers["Location"] == f"/assets/{setup.laptop}", text
    named = _html(client.get("/assets?q=Latitude"))
    assert setup.laptop in named and setup.spare in named and setup.seal not in named
    r = client.get("/assets", query_string={"q": setup.where.room})
    assert r.headers["Location"] == f"/locations/{setup.where.room}/assets"
    r = client.get("/assets", query_string={"q": setup.where.person})
    assert r.headers["Location"] == f"/people/{setup.where.person}/assets"


def test_search_filters_sorts_and_pages(client: Any, sessions: Any, setup: Setup) -> None:
    _login(client, sessions, "guard")
    seals = _html(client.get("/assets?category=Official+seal"))
    assert setup.seal in seals and setup.laptop not in seals
    with sessions() as session, session.begin():
        assets.checkout(session, ACTOR, setup.spare, setup.where.person)
    in_use = _html(client.get("/assets?status=in_use"))
    assert setup.spare in in_use and setup.laptop not in in_use
    custody = _html(client.get(f"/assets?custodian={setup.where.person}"))
    assert setup.spare in custody and setup.seal not in custody
    at_store = _html(client.get(f"/assets?location={setup.where.store}&sort=price&dir=desc"))
    assert at_store.index(setup.laptop) < at_store.index(setup.seal)  # priced first, unpriced last
    assert 'aria-sort="descending"' in at_store
    first = _html(client.get("/assets?sort=name"))
    assert 'rel="next"' not in first  # three assets, one page
    size = web_assets.PAGE_SIZE
    with sessions() as session, session.begin():
        for i in range(size + 5):
            assets.create_asset(session, ACTOR, f"Chair {i:02d}", "Printer")
    page_one = _html(client.get("/assets?sort=name"))
    next_link = re.search(r'<a rel="next" href="([^"]+)"', page_one)
    assert next_link and page_one.count("<tr>") == size + 1  # a header row and a page of assets
    page_two = _html(client.get(next_link.group(1).replace("&amp;", "&")))
    assert 'rel="next"' not in page_two
    codes_one = set(re.findall(r"<code>(A-[^<]+)</code>", page_one))
    codes_two = set(re.findall(r"<code>(A-[^<]+)</code>", page_two))
    assert len(codes_one) == size and len(codes_two) == 8 and not codes_one & codes_two


@pytest.mark.parametrize("query,text", [
    ("sort=colour", "不能按 colour 排序"),
    ("dir=sideways", "排序方向只能是升序或降序"),
    ("status=broken", "没有状态 broken"),
    ("location=garbage", "garbage 不是存放地点编号"),
    ("q=A-000010A", "校验位不符"),
    ("q=A-000010*", "没有编号为 A-000010* 的条目"),
    ("after=!!junk", "翻页参数无效"),
])
def test_search_refusals_are_clear_and_chinese(client: Any, sessions: Any, setup: Setup, query: str,
                                               text: str) -> None:
    _login(client, sessions, "auditor")
    r = client.get(f"/assets?{query}")
    assert r.status_code == 422 and text in _html(r)


# --- the asset page ---

def test_the_asset_page_shows_every_field_and_a_chinese_history(client: Any, sessions: Any, setup: Setup) -> None:
    with sessions() as session, session.begin():
        assets.checkout(session, ACTOR, setup.laptop, setup.where.person, date(2026, 12, 31), reason="field trip")
    _login(client, sessions, "auditor")
    html = _html(client.get(f"/assets/{setup.laptop}"))
    for text in ("Dell Latitude 7450", "SN-A1", "¥5,999.00", "2026年3月20日", "IT", "ACME Supplies", "2026-IT-01",
                 "APP-2026-IT-01", "预算年度", "Li Wei", f"/people/{setup.where.person}/assets", "¥450.75",
                 "累计维修费用", "在用", "Main storeroom", "应归还时间"):
        assert text in html, text
    assert re.search(r'<svg[^>]*class="qr"', html) and "<path" in html
    history = html[html.index('class="timeline"'):]
    assert history.index("领用") < history.index("保养") < history.index("登记入账")  # newest first
    assert "经办人 tester，来源：接口" in history and "原因：field trip" in history


def test_a_long_history_pages_and_the_cost_still_counts_every_record(client: Any, sessions: Any, setup: Setup,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(asset_facts, "HISTORY_PAGE", 2)
    _login(client, sessions, "auditor")
    first = _html(client.get(f"/assets/{setup.laptop}"))
    timeline = first[first.index('class="timeline"'):]
    assert timeline.count('<li class="">') == 2 and "¥450.75" in first and "登记入账" not in timeline
    older = re.search(r'<a rel="next" href="([^"]+)"', first)
    assert older
    second = _html(client.get(older.group(1).replace("&amp;", "&")))
    assert "登记入账" in second and 'rel="next"' not in second and "¥450.75" in second


def test_late_and_conflicting_events_are_marked(client: Any, sessions: Any, setup: Setup) -> None:
    now = datetime.now(UTC)
    with sessions() as session, session.begin():
        assets.move(session, ACTOR, setup.spare, setup.where.room, at=now)
        assets.move(session, ACTOR, setup.spare, setup.where.shelf, at=now - timedelta(hours=2),
                    origin=KioskOrigin("k1", 1, "e-1"))  # offline, older than the move above
        lifecycle.dispose(session, ACTOR, setup.seal, "lost", "D-9")
        assets.move(session, ACTOR, setup.seal, setup.where.room, at=now - timedelta(days=1),
                    origin=KioskOrigin("k1", 2, "e-2"))  # done offline before the disposal
    _login(client, sessions, "auditor")
    spare = _html(client.get(f"/assets/{setup.spare}"))
    assert '<li class="late">' in spare and "迟到记录" in spare and "Room 101" in spare
    seal = _html(client.get(f"/assets/{setup.seal}"))
    assert '<li class="conflict">' in seal and "冲突" in seal and "已报废" in seal


def test_unknown_asset_and_junk_history_cursor(client: Any, sessions: Any, setup: Setup) -> None:
    _login(client, sessions, "auditor")
    r = client.get("/assets/A-000010*")
    assert r.status_code == 404 and "没有编号为 A-000010* 的资产" in _html(r)
    assert client.get(f"/assets/{setup.laptop}?after=!!junk").status_code == 422


# --- the actions ---

def _act(client: Any, code: str, action: str, **data: str) -> Any:
    return client.post(f"/assets/{code}/do/{action}", data=data)


def test_every_action_through_the_web(client: Any, sessions: Any, setup: Setup) -> None:
    where, code = setup.where, setup.laptop
    _login(client, sessions, "storekeeper")
    steps: list[tuple[str, dict[str, str], dict[str, Any]]] = [
        ("move", {"to": where.room.lower(), "reason": "desk"}, {"status": "in_use", "location": where.room}),
        ("checkout", {"to": where.person, "due": "2026-12-31T18:00", "purpose": "audit"},
         {"custodian": where.person, "due_at": datetime(2026, 12, 31, 10, 0, tzinfo=UTC)}),  # 18:00 Shanghai
        ("checkin", {"location": where.store}, {"status": "in_storage", "custodian": None, "due_at": None}),
        ("repair", {"vendor": "Dell service"}, {"status": "under_repair"}),
        ("repaired", {"location": where.shelf}, {"status": "in_storage", "location": where.shelf}),
        ("maintenance", {"on": "2026-07-01", "vendor": "Dell", "cost": "20.00", "description": "clean"}, {}),
        ("transfer", {"department": "Finance", "approval_ref": "TR-1", "custodian": where.other_person},
         {"department": "Finance", "custodian": where.other_person}),
        ("custodian", {"person": where.person}, {"custodian": where.person}),
        ("dispose", {"reason": "sold", "approval_ref": "D-7", "confirmed": "1"},
         {"status": "disposed", "location": None}),
    ]
    for action, data, wanted in steps:
        page = client.get(f"/assets/{code}")
        assert f"/assets/{code}/do/{action}" in _html(page), f"{action} is offered"
        assert client.get(f"/assets/{code}/do/{action}").status_code == 200
        r = _act(client, code, action, **data)
        assert r.status_code == 302 and r.headers["Location"] == f"/assets/{code}", (action, _html(r)[-600:])
        asset = _asset(sessions, code)
        got = {"status": asset.status, "location": asset.location.code if asset.location else None,
               "custodian": asset.custodian.code if asset.custodian else None, "due_at": asset.due_at,
               "department": asset.department}
        assert {k: got[k] for k in wanted} == wanted, action
        assert _events(sessions, code)[-1] == f"asset.{action}"
    assert "已完成" in _html(client.get(f"/assets/{code}"))
    assert "/do/" not in _html(client.get(f"/assets/{code}"))  # a disposed asset offers nothing


def test_only_the_actions_its_status_allows_are_offered(client: Any, sessions: Any, setup: Setup) -> None:
    _login(client, sessions, "storekeeper")
    html = _html(client.get(f"/assets/{setup.spare}"))
    offered = set(re.findall(rf"/assets/{re.escape(setup.spare)}/do/(\w+)", html))
    assert offered == {"move", "checkout", "repair", "maintenance", "transfer", "custodian", "dispose"}
    r = client.get(f"/assets/{setup.spare}/do/checkin")
    assert r.status_code == 409 and "不能执行“归还”" in _html(r)
    r = _act(client, setup.spare, "checkin")
    assert r.status_code == 409 and _events(sessions, setup.spare) == ["asset.create"]
    assert client.get(f"/assets/{setup.spare}/do/fly").status_code == 404


@pytest.mark.parametrize("role", ["auditor", "guard"])
def test_roles_that_may_not_act_are_refused(client: Any, sessions: Any, setup: Setup, role: str) -> None:
    _login(client, sessions, role)
    html = _html(client.get(f"/assets/{setup.laptop}"))
    assert "/do/" not in html and "操作" not in html
    for action in web_assets.ACTIONS:
        assert client.get(f"/assets/{setup.laptop}/do/{action}").status_code == 403
        assert _act(client, setup.laptop, action).status_code == 403
    r = _act(client, setup.laptop, "dispose", reason="lost", approval_ref="D-1", confirmed="1")
    assert r.status_code == 403 and _asset(sessions, setup.laptop).status == "in_storage"


def test_the_admin_may_act(client: Any, sessions: Any, setup: Setup) -> None:
    _login(client, sessions, "admin")
    assert _act(client, setup.spare, "move", to=setup.where.room).status_code == 302


def test_a_disposal_asks_for_confirmation_first(client: Any, sessions: Any, setup: Setup) -> None:
    _login(client, sessions, "storekeeper")
    with sessions() as session:
        before = session.scalar(select(func.count()).select_from(AssetEvent))
    r = _act(client, setup.spare, "dispose", reason="scrapped", approval_ref="BF-2026-3", note="broken")
    html = _html(r)
    assert r.status_code == 200 and "请确认" in html and "确认报废" in html and "BF-2026-3" in html
    assert "报废不可撤销" in html and 'name="confirmed" value="1"' in html and f'href="/assets/{setup.spare}"' in html
    with sessions() as session:  # the trial left nothing behind
        assert session.scalar(select(func.count()).select_from(AssetEvent)) == before
    assert _asset(sessions, setup.spare).status == "in_storage"
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', html))
    r = client.post(f"/assets/{setup.spare}/do/dispose", data=fields)
    assert r.status_code == 302 and _asset(sessions, setup.spare).status == "disposed"
    with sessions() as session:
        last = assets.history(session, setup.spare)[-1]
    assert last.data == {"disposal_reason": "scrapped", "approval_ref": "BF-2026-3"} and last.reason == "broken"


@pytest.mark.parametrize("which,action,data,field,text", [
    ("seal", "checkout", {"to": "PERSON", "purpose": "sign contracts"}, "approval_ref", "重点管控物品"),
    ("spare", "dispose", {"reason": "lost", "approval_ref": " "}, "approval_ref", "报废须填写批复文号"),
    ("spare", "transfer", {"department": "IT"}, "department", "已属于IT"),
    ("spare", "transfer", {"department": ""}, "department", "须填写调入部门"),
    ("spare", "maintenance", {"on": "2026-07-01", "cost": "1", "description": ""}, "description", "须填写保养内容"),
    ("spare", "maintenance", {"on": "2026-07-01", "cost": "-1", "description": "x"}, "cost", "费用不能为负数"),
    ("spare", "move", {"to": "L-000010*"}, "to", "没有编号为 L-000010* 的条目"),
    ("spare", "move", {"to": "PERSON"}, "to", "不是存放地点编号"),
    ("spare", "move", {"to": ""}, "to", "此项必填"),
    ("spare", "checkout", {"to": "P-000010A"}, "to", "校验位不符"),
])
def test_refusals_show_beside_their_field_in_chinese(client: Any, sessions: Any, setup: Setup, which: str,
                                                      action: str, data: dict[str, str], field: str,
                                                      text: str) -> None:
    code = getattr(setup, which)
    data = {k: setup.where.person if v == "PERSON" else v for k, v in data.items()}
    _login(client, sessions, "storekeeper")
    before = _events(sessions, code)
    r = _act(client, code, action, **data)
    assert r.status_code == 422 and text in _field_error(_html(r), field), _html(r)[-1500:]
    assert 'aria-invalid="true"' in _html(r)
    assert _events(sessions, code) == before


def test_back_from_repair_to_an_office_is_refused_beside_the_location(client: Any, sessions: Any,
                                                                      setup: Setup) -> None:
    with sessions() as session, session.begin():
        lifecycle.send_to_repair(session, ACTOR, setup.spare, "x")
    _login(client, sessions, "storekeeper")
    r = _act(client, setup.spare, "repaired", location=setup.where.room)
    assert r.status_code == 422 and "须放回库房、货架或货位" in _field_error(_html(r), "location")
    assert _asset(sessions, setup.spare).status == "under_repair"


def test_an_action_refused_by_status_meanwhile_is_said_above_the_form(client: Any, sessions: Any,
                                                                      setup: Setup) -> None:
    _login(client, sessions, "storekeeper")
    form = client.get(f"/assets/{setup.spare}/do/move")
    assert form.status_code == 200
    with sessions() as session, session.begin():  # someone else disposes of it meanwhile
        lifecycle.dispose(session, ACTOR, setup.spare, "lost", "D-1")
    r = _act(client, setup.spare, "move", to=setup.where.room)
    assert r.status_code == 409 and "不能执行“变更存放地点”" in _html(r)


def test_english_when_the_user_chose_it(client: Any, sessions: Any, setup: Setup) -> None:
    _login(client, sessions, "storekeeper", language="en")
    r = _act(client, setup.seal, "checkout", to=setup.where.person)
    assert "is a controlled item (Official seal): its check-out needs a purpose, an approval reference, a due time" \
        in _field_error(_html(r), "approval_ref")
    assert "Maintenance cost so far" in _html(client.get(f"/assets/{setup.laptop}"))


# --- location and person pages ---

def test_location_and_person_codes_open_their_pages(client: Any, sessions: Any, setup: Setup) -> None:
    with sessions() as session, session.begin():
        assets.checkout(session, ACTOR, setup.spare, setup.where.person)
        assets.move(session, ACTOR, setup.laptop, setup.where.room)
    _login(client, sessions, "guard")
    r = client.get(f"/c/{setup.where.room}")
    assert r.status_code == 302 and r.headers["Location"] == f"/locations/{setup.where.room}/assets"
    room = _html(client.get(r.headers["Location"]))
    assert "Room 101" in room and setup.laptop in room and setup.seal not in room and "办公室" in room
    store = _html(client.get(f"/locations/{setup.where.shelf}/assets"))
    assert "上级存放地点" in store and "Main storeroom" in store and "没有符合条件的资产" in store
    r = client.get(f"/c/{setup.where.person}")
    assert r.headers["Location"] == f"/people/{setup.where.person}/assets"
    person = _html(client.get(r.headers["Location"]))
    assert "Li Wei" in person and setup.spare in person and setup.laptop not in person and "由其保管的资产" in person
    assert "没有编号为 L-000010* 的存放地点" in _html(client.get("/locations/L-000010*/assets"))
    assert client.get("/people/garbage/assets").status_code == 404
    assert client.get(f"/locations/{setup.where.room}/assets?sort=colour").status_code == 422


def test_every_input_on_the_asset_pages_has_a_label(client: Any, sessions: Any, setup: Setup) -> None:
    _login(client, sessions, "storekeeper")
    paths = ["/assets", f"/assets/{setup.laptop}", *[f"/assets/{setup.laptop}/do/{a}" for a in (
        "move", "checkout", "repair", "maintenance", "transfer", "custodian", "dispose")]]
    for path in paths:
        html = _html(client.get(path))
        labelled = set(re.findall(r'<label[^>]* for="([^"]+)"', html))
        for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
            if 'type="hidden"' in tag:
                continue
            ident = re.search(r'id="([^"]+)"', tag)
            assert ident and ident.group(1) in labelled, (path, tag)


def test_service_refusals_are_in_the_readers_language_on_the_api_too(client: Any, tokens: Any, sessions: Any,
                                                                     setup: Setup) -> None:
    with sessions() as session, session.begin():
        lifecycle.dispose(session, ACTOR, setup.spare, "lost", "D-1")
    h = tokens.headers("storekeeper")
    r = client.post(f"/api/v1/assets/{setup.spare}/move", json={"to": setup.where.room},
                    headers={**h, "Accept-Language": "zh-CN"})
    assert r.status_code == 409
    assert r.get_json()["error"]["message"] == f"{setup.spare} 当前状态为“已报废”，不能执行“变更存放地点”"
    r = client.post(f"/api/v1/assets/{setup.spare}/move", json={"to": setup.where.room},
                    headers={**h, "Accept-Language": "en"})
    assert r.get_json()["error"]["message"] == f"{setup.spare} is Disposed: cannot Move"  # names, not codes
    r = client.post(f"/api/v1/assets/{setup.seal}/checkout", json={"to": setup.where.person, "purpose": "sign"},
                    headers={**h, "Accept-Language": "zh-CN"})
    assert r.get_json()["error"]["message"].endswith("领用还须填写：批复文号、应归还时间")
