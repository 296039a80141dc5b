"""Official vehicles in the browser, in Chinese: a clerk asks for a vehicle, the leader in charge approves,
the office dispatches the best-fitting free vehicle, a second request for the same hours is refused that
vehicle beside the field, and a cancellation (after its confirmation) frees it again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from server.audit import SYSTEM
from server.models import utcnow
from server.services import approvals
from tests.browser.conftest import LiveServer, sign_in
from tests.vehicle_support import CAR, setup


def _request(page: Any, server: LiveServer, day: str, passengers: str) -> None:
    page.goto(f"{server.url}/bookings/")
    page.click("text=申请用车")
    page.fill("#department", "Finance")
    page.fill("#purpose", "预算评审会")
    page.fill("#destination", "市财政局")
    page.fill("#passengers", passengers)
    page.fill("#start_day", day)
    page.fill("#start_time", "09:00")
    page.fill("#end_time", "11:30")
    page.select_option("#urgency", "urgent")
    page.click("button.primary")
    assert "等待分管领导审批" in page.locator(".flash").inner_text()


def test_request_approve_dispatch_double_booking_and_cancel(page: Any, live_server: LiveServer) -> None:
    clerk, leader = live_server.user("guard", "clerk"), live_server.user("auditor", "li")
    office = live_server.user("storekeeper", "office")
    with live_server.sessions() as session, session.begin():
        approvals.grant(session, SYSTEM, leader, "leader", "Finance")
        cars = setup(session)
    day = (utcnow() + timedelta(days=1)).date().isoformat()
    sign_in(page, live_server, clerk)
    _request(page, live_server, day, "3")
    first = page.url.rsplit("/", 1)[1]
    _request(page, live_server, day, "2")
    second = page.url.rsplit("/", 1)[1]
    page.click("text=退出登录")

    sign_in(page, live_server, leader)
    for booking in (first, second):
        page.goto(f"{live_server.url}/bookings/{booking}")
        page.click("button[value=approve]")
        assert "审批意见已记录" in page.locator(".flash").inner_text()
    page.click("text=退出登录")

    sign_in(page, live_server, office)
    page.goto(f"{live_server.url}/bookings/board")
    assert page.locator("#queue tbody tr").count() == 2
    page.click(f"#queue >> text={first}")
    assert page.locator("#free tbody tr").first.inner_text().startswith(CAR)  # 5 seats for 3: the best fit
    page.select_option("#driver", cars.drivers[0])
    page.click("button:has-text('派车')")
    assert CAR in page.locator(".flash").inner_text() and CAR in page.locator("#dispatch").inner_text()

    page.goto(f"{live_server.url}/bookings/{second}")
    assert CAR not in page.locator("#free").inner_text()  # taken for those hours
    page.evaluate(f"""() => {{ const o = document.createElement('option'); o.value = '{CAR}';
                              document.querySelector('#vehicle').appendChild(o); }}""")
    page.select_option("#vehicle", CAR)  # a stale form still offering it: the server refuses
    page.select_option("#driver", cars.drivers[1])
    page.click("button:has-text('派车')")
    assert "已有派车" in page.locator("#vehicle-err").inner_text()

    page.goto(f"{live_server.url}/bookings/{first}")
    page.fill("#c-reason", "会议改期")
    page.click("button:has-text('取消用车申请')")
    assert "其车辆和驾驶员在该时段恢复空闲" in page.locator(".confirm").inner_text()  # the confirmation step
    page.click("text=确认执行")
    assert "已取消" in page.locator(".flash").inner_text()
    page.goto(f"{live_server.url}/bookings/{second}")
    assert CAR in page.locator("#free").inner_text()  # free again
