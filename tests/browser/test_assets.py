"""The asset pages in a real browser, in Chinese: find an asset by its serial number and move it (its
QR code on the page scans back to its code), and dispose of one with its approval through the
confirmation step."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import zxingcpp
from sqlalchemy import select

from server.models import Asset
from server.services import assets
from tests.browser.conftest import LiveServer, open_menu, sign_in
from tests.procurement_support import ACTOR, Office, office


def _office(server: LiveServer) -> tuple[Office, str]:
    with server.sessions() as session, session.begin():
        where = office(session)
        code = assets.create_asset(session, ACTOR, "联想 ThinkPad X1", "Laptop", where.store, serial="PF-3K9Q2",
                                   department="办公室").code
        assets.create_asset(session, ACTOR, "惠普打印机", "Printer", where.store)
    return where, code


def _status(server: LiveServer, code: str) -> tuple[str, str | None]:
    with server.sessions() as session:
        asset = session.scalars(select(Asset).where(Asset.code == code)).unique().one()
        return asset.status, asset.location.code if asset.location else None


def test_find_an_asset_by_its_serial_and_move_it(page: Any, live_server: LiveServer) -> None:
    where, code = _office(live_server)
    sign_in(page, live_server, live_server.user("storekeeper"))
    open_menu(page, "资产", "资产查询")
    assert page.locator("h1").inner_text() == "资产"
    page.fill("#q", "PF-3K9Q2")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/assets/{code}")
    assert "联想 ThinkPad X1" in page.locator("h1").inner_text()
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    # The QR code drawn on the page scans back to the asset's code.
    png = page.locator("figure.qr svg").screenshot()
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    big = cv2.resize(image, None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST)
    assert [r.text for r in zxingcpp.read_barcodes(big)] == [code]

    page.click(".actions >> text=变更存放地点")
    assert page.locator("h1").inner_text().startswith("变更存放地点")
    page.fill("#to", where.room)
    page.fill("#reason", "新员工入职")
    page.click("form button[type=submit].primary")
    page.wait_for_url(f"**/assets/{code}")
    assert "已完成" in page.locator(".flashes").inner_text()
    facts = page.locator("dl.facts").inner_text()
    assert "Room 101" in facts and "在用" in facts
    newest = page.locator("ol.timeline > li").first.inner_text()
    assert "变更存放地点" in newest and "原因：新员工入职" in newest and "Main storeroom → Room 101" in newest
    assert _status(live_server, code) == ("in_use", where.room)


def test_dispose_with_approval_through_the_confirmation_step(page: Any, live_server: LiveServer) -> None:
    _, code = _office(live_server)
    sign_in(page, live_server, live_server.user("storekeeper"))
    page.goto(f"{live_server.url}/assets/{code}")
    page.click(".actions >> text=报废")
    page.select_option("#reason", "sold")
    page.fill("#approval_ref", "财资〔2026〕12号")
    page.fill("#note", "已折价出售")
    page.click("form button[type=submit].danger")
    # The confirmation step: nothing has changed yet.
    assert page.locator("h1").inner_text() == "请确认"
    summary = page.locator(".confirm").inner_text()
    assert "确认报废" in summary and "出售" in summary and "财资〔2026〕12号" in summary and "报废不可撤销" in summary
    assert _status(live_server, code)[0] == "in_storage"
    page.click("text=确认执行")
    page.wait_for_url(f"**/assets/{code}")
    assert "已报废" in page.locator("dl.facts").inner_text()
    newest = page.locator("ol.timeline > li").first.inner_text()
    assert "报废原因：出售" in newest and "批复文号：财资〔2026〕12号" in newest and "原因：已折价出售" in newest
    assert page.locator(".actions a").count() == 0  # a disposed asset offers no action
    assert _status(live_server, code) == ("disposed", None)


def test_a_disposal_without_approval_is_refused_beside_the_field(page: Any, live_server: LiveServer) -> None:
    _, code = _office(live_server)
    sign_in(page, live_server, live_server.user("storekeeper"))
    page.goto(f"{live_server.url}/assets/{code}/do/dispose")
    page.click("form button[type=submit].danger")
    assert "报废须填写批复文号" in page.locator("#approval_ref-err").inner_text()
    assert page.locator("h1").inner_text().startswith("报废")  # no confirmation step for a refused disposal
    assert _status(live_server, code)[0] == "in_storage"
