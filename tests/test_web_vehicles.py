"""The vehicle pages through Flask's client, in Chinese (the default) and English: who may open what, a
booking requested, approved by the leader in charge, dispatched from the free vehicles by fit and
refused when double-booked; the trip log with a late trip and a correction; costs; the gate's log;
refusals beside their fields; the dashboard's part for the office."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from server.models import AuditEntry, OdometerCorrection, Trip, VehicleBooking, utcnow
from server.services import dispatch, trips
from tests.admin_support import PASSWORD, make_user
from tests.vehicle_support import CAR, OFFICE, VAN, Fleet, book, fleet, window


@pytest.fixture
def cars(sessions: Any) -> Fleet:
    return fleet(sessions)


def _login(client: Any, name: str, language: str = "zh") -> None:
    client.post("/logout")
    response = client.post("/login", data={"username": name, "password": PASSWORD})
    assert response.status_code == 302
    if language == "en":
        client.post("/language", data={"language": "en", "next": "/"})


def _text(response: Any) -> str:
    return response.get_data(as_text=True)


PAGES = {  # page -> roles that may open it (admin always)
    "/vehicles/": {"storekeeper", "guard", "auditor"},
    "/vehicles/new": {"storekeeper"},
    "/bookings/": {"storekeeper", "guard", "auditor"},
    "/bookings/new": {"storekeeper", "guard"},
    "/bookings/board": {"storekeeper"},
    "/trips/": {"storekeeper", "guard", "auditor"},
    "/trips/new": {"storekeeper"},
    "/trips/costs/new": {"storekeeper"},
    "/trips/gate": {"guard", "auditor"},
}


def test_who_may_open_what_and_the_menu(client: Any, sessions: Any, cars: Fleet) -> None:
    make_user(sessions, "admin", "boss")
    for role in ("storekeeper", "guard", "auditor", "admin"):
        _login(client, {"storekeeper": "u-storekeeper", "guard": "u-guard", "auditor": "leader",
                        "admin": "boss"}[role])
        for page, roles in PAGES.items():
            status = client.get(page).status_code
            assert status == (200 if role == "admin" or role in roles else 403), (role, page, status)
    menu = _text(client.get("/"))
    assert all(label in menu for label in ("公务用车", "用车申请", "出车记录", "车辆出入记录"))
    # A vehicle's asset label (/c/<code>) opens the vehicle's page, which links to its asset.
    opened = client.get(f"/c/{cars.tags[CAR]}", follow_redirects=True)
    assert opened.request.path.startswith("/vehicles/") and CAR in _text(opened)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_request_approve_and_dispatch_from_the_free_vehicles(client: Any, sessions: Any, cars: Fleet,
                                                             language: str) -> None:
    _login(client, "u-guard", language)
    tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
    form = {"department": "Finance", "purpose": "预算会", "destination": "市财政局", "passengers": "3",
            "start_day": tomorrow, "start_time": "09:00", "end_day": "", "end_time": "11:00", "urgency": "urgent"}
    refused = client.post("/bookings/new", data={**form, "end_time": "08:00"})
    text = _text(refused)
    assert refused.status_code == 422 and ("结束时间须晚于开始时间" if language == "zh" else
                                           "the end of the window must be after its start") in text
    made = client.post("/bookings/new", data=form)
    assert made.status_code == 302
    booking = int(made.headers["Location"].rsplit("/", 1)[1])
    page = _text(client.get(f"/bookings/{booking}"))
    assert ("等待分管领导审批" if language == "zh" else "Awaiting approval") in page or "分管领导" in page
    _login(client, "leader", language)
    assert f'href="/bookings/{booking}"' in _text(client.get("/bookings/"))  # waiting for me
    no_reason = client.post(f"/bookings/{booking}/decision", data={"decision": "reject", "reason": ""})
    assert no_reason.status_code == 422
    assert client.post(f"/bookings/{booking}/decision", data={"decision": "approve"}).status_code == 302
    _login(client, "u-storekeeper", language)
    board = _text(client.get("/bookings/board"))
    assert f'href="/bookings/{booking}"' in board and ("紧急" if language == "zh" else "Urgent") in board
    detail = _text(client.get(f"/bookings/{booking}"))
    free = re.findall(r"<tr><td>(京A\d+)</td>", detail.split('id="free"')[1].split("</table>")[0])
    assert free == [CAR, VAN, "京A33333"]  # by fit: 5 seats for 3 passengers first
    done = client.post(f"/bookings/{booking}/dispatch", data={"vehicle": CAR, "driver": cars.drivers[0]})
    assert done.status_code == 302
    assert CAR in _text(client.get(f"/bookings/{booking}")).split('id="dispatch"')[1]
    with sessions() as session, session.begin():
        start, end = session.get(VehicleBooking, booking).starts_at, session.get(VehicleBooking, booking).ends_at
        other = book(session, start, end)
    clash = client.post(f"/bookings/{other}/dispatch", data={"vehicle": CAR, "driver": cars.drivers[1]})
    assert clash.status_code in (409, 422)
    assert ("已有派车" if language == "zh" else "is dispatched from") in _text(clash)
    ask = client.post(f"/bookings/{booking}/cancel", data={"reason": "改期"})
    assert ask.status_code == 200 and 'name="confirmed"' in _text(ask)  # a confirmation step first
    assert client.post(f"/bookings/{booking}/cancel", data={"reason": "改期", "confirmed": "1"}).status_code == 302
    assert client.post(f"/bookings/{other}/dispatch", data={"vehicle": CAR,
                                                            "driver": cars.drivers[1]}).status_code == 302


def test_trip_log_late_trip_correction_costs_and_gate_log(client: Any, sessions: Any, cars: Fleet) -> None:
    _login(client, "u-storekeeper")
    day = (utcnow() - timedelta(days=5)).date().isoformat()
    trip_form = {"vehicle": "京a·22222", "out_day": day, "out_time": "08:00", "in_day": "", "in_time": "12:00",
                 "odometer_out": "10100", "odometer_in": "10050", "driver": "", "department": "Finance",
                 "purpose": "送文件"}
    backwards = client.post("/trips/new", data=trip_form)
    assert backwards.status_code == 422 and "低于出车时读数" in _text(backwards)
    made = client.post("/trips/new", data={**trip_form, "odometer_in": "10180"})
    assert made.status_code == 302
    trip_id = int(made.headers["Location"].rsplit("/", 1)[1])
    page = _text(client.get(f"/trips/{trip_id}"))
    assert "手工补录" in page and "10,180" in page
    down = client.post(f"/trips/{trip_id}/correct", data={"side": "in", "odometer": "9000", "reason": "笔误"})
    assert down.status_code == 422 and "只增不减" in _text(down)
    fixed = client.post(f"/trips/{trip_id}/correct", data={"side": "in", "odometer": "10170", "reason": "笔误"})
    assert fixed.status_code == 302
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Trip)) == 1
        assert session.scalars(select(OdometerCorrection.after)).all() == [10_170]
    cost = client.post("/trips/costs/new", data={"vehicle": VAN, "kind": "fuel", "amount": "320.5", "spent_on": day,
                                                 "trip": str(trip_id), "note": "加油"})
    assert cost.status_code == 302
    bad_cost = client.post("/trips/costs/new", data={"vehicle": VAN, "kind": "fuel", "amount": "0", "spent_on": day})
    assert bad_cost.status_code == 422 and "金额须大于 0" in _text(bad_cost)
    vehicle = _text(client.get(f"/vehicles/{VAN}"))
    assert "¥320.50" in vehicle and 'id="odometer">10,170' in vehicle
    no_dispatch = _text(client.get("/trips/?no_dispatch=1"))
    assert f'href="/trips/{trip_id}"' in no_dispatch
    report = _text(client.get("/reports/vehicle-cost-per-km"))
    assert "<svg" in report and "每公里费用" in report


def test_register_a_vehicle_and_refusals_beside_their_fields(client: Any, sessions: Any, cars: Fleet) -> None:
    _login(client, "u-storekeeper")
    with sessions() as session:
        before = session.scalar(select(func.count()).select_from(AuditEntry))
    laptop = client.post("/vehicles/new", data={"asset": cars.laptop, "plate": "京B12345", "seats": "5",
                                                "fuel": "diesel", "odometer": "0", "drivers": ""})
    assert laptop.status_code == 422 and 'aria-invalid="true"' in _text(laptop) and "不是车辆类别" in _text(laptop)
    plate = client.post("/vehicles/new", data={"asset": cars.laptop, "plate": "京B#", "seats": "5",
                                               "fuel": "diesel", "odometer": "0", "drivers": ""})
    assert plate.status_code == 422
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == before
    assert client.post("/vehicles/categories", data={"category-name": "Laptop"}).status_code == 302
    made = client.post("/vehicles/new", data={"asset": cars.laptop, "plate": "京B·12345", "seats": "4",
                                              "fuel": "electric", "odometer": "35", "drivers": cars.drivers[0]})
    assert made.status_code == 302 and made.headers["Location"].endswith("/vehicles/%E4%BA%ACB12345")
    page = _text(client.get("/vehicles/京B12345"))
    assert "纯电动" in page and cars.drivers[0] in page
    changed = client.post("/vehicles/京B12345/edit", data={"seats": "4", "fuel": "electric"})  # unticked: out
    assert changed.status_code == 302
    assert "已停用" in _text(client.get("/vehicles/"))


def test_the_dashboard_shows_refused_exits_and_vehicles_out_too_long(client: Any, sessions: Any, cars: Fleet) -> None:
    from server.services import vehicle_gate, visits
    from server.services.gate_alerts import GateRefusal

    try:
        with sessions() as session, session.begin():
            vehicle_gate.at_gate(session, OFFICE, vehicle_gate.AtGate("out", CAR, cars.tags[CAR]))
    except GateRefusal as refused:
        with sessions() as session, session.begin():
            refused.aftermath(session)
    start, end = window(-1, 1.5)
    with sessions() as session, session.begin():
        made = dispatch.assign(session, OFFICE, book(session, start, end), VAN, cars.drivers[0])
        vehicle_gate.at_gate(session, OFFICE, vehicle_gate.AtGate("out", VAN, cars.tags[VAN], None, 10_010),
                             origin=visits.Origin("kiosk:gate-1", None, True, kiosk=True))
        made.ends_at = utcnow() - timedelta(minutes=5)
    _login(client, "u-storekeeper")
    page = _text(client.get("/"))
    assert 'id="refused-exits">1<' in page and cars.tags[CAR] in page and VAN in page
    _login(client, "u-guard")
    assert 'id="refused-exits"' not in _text(client.get("/"))  # the office's part, not the guard's
    with sessions() as session:
        assert [t.vehicle.plate for t in dispatch.overdue(session)] == [VAN]
        assert trips.distance(session.scalars(select(Trip)).one()) is None


def test_every_vehicle_page_labels_its_inputs_and_scopes_its_headers(client: Any, sessions: Any, cars: Fleet) -> None:
    start, end = window()
    with sessions() as session, session.begin():
        waiting = book(session, start, end)
        dispatched = book(session, *window(5, 1))
        dispatch.assign(session, OFFICE, dispatched, CAR, cars.drivers[0])
        t0 = utcnow() - timedelta(days=2)
        trip = trips.record(session, OFFICE, trips.TripIn(VAN, t0, t0 + timedelta(hours=1), 10_000, 10_010)).id
    make_user(sessions, "admin", "boss")
    _login(client, "boss")
    for path in (*PAGES, f"/vehicles/{CAR}", f"/bookings/{waiting}", f"/bookings/{dispatched}", f"/trips/{trip}", "/"):
        response = client.get(path)
        assert response.status_code == 200, path
        html = _text(response)
        labelled = set(re.findall(r'<label[^>]* for="([^"]+)"', html))
        for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
            if 'type="hidden"' in tag or "aria-label=" in tag:
                continue
            ident = re.search(r'id="([^"]+)"', tag)
            assert ident and ident.group(1) in labelled, (path, tag)
        assert all('scope="' in th for th in re.findall(r"<th\b[^>]*>", html)), path
