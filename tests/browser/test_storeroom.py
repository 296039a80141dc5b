"""The storeroom in a real browser, in Chinese and in English: supplies received from a purchase line and
picked up with a scanner, a requisition approved in part and fulfilled, a reorder turned into a purchase
request, a pickup conflict settled, and the live stocktake page (counts moving as scans arrive from
elsewhere, the scanner field, the camera where the browser reads QR codes, the supply count, closing,
sign-off and the PDF)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from server.audit import SYSTEM, Actor
from server.services import approvals, assets, directory, stocktakes, supplies
from tests.browser.conftest import ARTIFACTS, LiveServer, chromium_path, open_menu, sign_in
from tests.storeroom_support import stock_up, supply_line

KEEPER = Actor("keeper", "web", "storekeeper")


def _pdf_text(data: bytes, folder: Path) -> str:
    (folder / "report.pdf").write_bytes(data)
    return subprocess.run(["pdftotext", str(folder / "report.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout


def test_supplies_received_picked_up_and_reordered_in_chinese(page: Any, live_server: LiveServer) -> None:
    keeper = live_server.user("storekeeper", "clerk")
    with live_server.sessions() as session, session.begin():
        line = supply_line(session, 12, "2.50")
        person = directory.create_person(session, SYSTEM, "王芳", "办公室").code
    sign_in(page, live_server, keeper)
    open_menu(page, "库房", "办公用品")
    page.click("text=新建物品")
    page.fill("#name", "A4 复印纸")
    page.fill("#unit", "包")
    page.fill("#category", "Office supplies")
    page.fill("#reorder_level", "5")
    page.fill("#reorder_quantity", "20")
    page.click("button.primary")
    code = page.locator("h1 small").inner_text()
    assert code.startswith("S-") and "已创建" in page.locator(".flashes").inner_text()

    page.select_option("#purchase_line", str(line))
    page.fill("#quantity", "12")
    page.click("text=登记入库")
    assert page.locator("#stock").inner_text().startswith("12")

    open_menu(page, "库房", "办公用品")
    page.click(".actions >> text=登记领用")
    assert page.evaluate("document.activeElement.id") == "item"  # a USB scanner types straight in
    page.keyboard.type(code)
    page.keyboard.press("Tab")
    page.keyboard.type(person)
    page.fill("#quantity", "8")
    page.fill("#purpose", "年终报表")
    page.click("button.primary")
    assert "已登记领用" in page.locator(".flashes").inner_text()
    assert page.locator("#stock").inner_text().startswith("4")
    assert "王芳" in page.locator("table").inner_text()

    open_menu(page, "库房", "需补货")
    page.click("text=提交申购")
    assert page.input_value("#quantity") == "20" and page.input_value("#estimated_unit_price") == "2.50"
    page.fill("#department", "办公室")
    page.click("button.primary")
    assert "等待分管领导审批" in page.locator(".flashes").inner_text()
    open_menu(page, "库房", "需补货")
    assert "待审批" in page.locator("table").inner_text()


def test_requisition_in_english_with_partial_approval(page: Any, live_server: LiveServer) -> None:
    clerk = live_server.user("storekeeper", "clerk", language="en")
    leader = live_server.user("auditor", "li", language="en")
    with live_server.sessions() as session, session.begin():
        approvals.grant(session, SYSTEM, leader, "leader", "Finance")
        tablet = supplies.create_item(session, KEEPER, supplies.ItemIn(name="Tablet", unit="piece", valuable=True,
                                                                       unit_price="3000.00")).code
        stock_up(session, tablet, 5, "3000.00")
        person = directory.create_person(session, SYSTEM, "Zhao Lei", "Finance").code
    sign_in(page, live_server, clerk)
    page.goto(f"{live_server.url}/supplies/requisitions/new?item={tablet}")
    page.fill("#quantity", "3")
    page.fill("#department", "Finance")
    page.fill("#purpose", "new staff")
    page.click("button.primary")
    assert "waits for the leader in charge" in page.locator(".flashes").inner_text()
    number = page.url.rstrip("/").rsplit("/", 1)[-1]
    page.click("text=Sign out")

    sign_in(page, live_server, leader)
    page.goto(f"{live_server.url}/supplies/requisitions/{number}")
    page.fill("#quantity", "2")
    page.click("button[value=approve]")
    assert page.locator("#approved").inner_text() == "2"
    page.click("text=Sign out")

    sign_in(page, live_server, clerk)
    page.goto(f"{live_server.url}/supplies/pickup?item={tablet}")
    page.fill("#taker", person)
    page.fill("#quantity", "3")
    page.click("button.primary")
    expect(page.locator("#requisition-err")).to_contain_text("needs an approved requisition")  # 2 approved, 3 asked
    page.fill("#quantity", "2")
    page.click("button.primary")
    assert "Pickup recorded" in page.locator(".flashes").inner_text()
    page.goto(f"{live_server.url}/supplies/requisitions/{number}")
    assert page.locator("#picked").inner_text().startswith("2")


def test_pickup_conflict_settled_in_both_languages(page: Any, live_server: LiveServer) -> None:
    keeper = live_server.user("storekeeper", "clerk")
    with live_server.sessions() as session, session.begin():
        pens = supplies.create_item(session, KEEPER, supplies.ItemIn(name="Pens", unit="box")).code
        stock_up(session, pens, 2)
        person = directory.create_person(session, SYSTEM, "Li Na", "Office").code
        moved = supplies.pickup(session, KEEPER, supplies.PickupIn(pens, 5, person), live=False).id
    sign_in(page, live_server, keeper)
    open_menu(page, "库房", "领用冲突")
    row = page.locator(f"#conflict-{moved}")
    assert "领用后库存为负" in row.inner_text()
    row.locator("select").select_option("adjust")
    row.locator("input[name$='delta']").fill("4")
    row.locator("input[name$='note']").fill("货架顶层还有一盒")
    row.locator("button").click()
    assert "已处理" in page.locator(".flashes").inner_text()
    page.select_option("#language-select", "en")
    page.click("text=切换")
    page.goto(f"{live_server.url}/supplies/conflicts?state=settled")
    assert "Adjusted" in page.locator(f"#conflict-{moved}").inner_text()
    page.goto(f"{live_server.url}/supplies/{pens}")
    assert page.locator("#stock").inner_text().startswith("1")  # 2 - 5 + 4


@pytest.fixture
def office(live_server: LiveServer) -> dict[str, str]:
    with live_server.sessions() as session, session.begin():
        directory.get_or_create_category(session, SYSTEM, "笔记本电脑")
        room = directory.create_location(session, SYSTEM, "第一会议室").code
        other = directory.create_location(session, SYSTEM, "第二会议室").code
        laptops = [assets.create_asset(session, SYSTEM, f"笔记本 {n}", "笔记本电脑", room).code for n in range(3)]
        paper = supplies.create_item(session, KEEPER, supplies.ItemIn(name="A4 复印纸", unit="包")).code
        stock_up(session, paper, 10)
    return {"room": room, "other": other, "a0": laptops[0], "a1": laptops[1], "a2": laptops[2], "paper": paper}


def test_live_stocktake_in_chinese(page: Any, live_server: LiveServer, office: dict[str, str],
                                   tmp_path: Path) -> None:
    sign_in(page, live_server, live_server.user("admin", "boss"))
    open_menu(page, "库房", "盘点")
    page.select_option("#scope", "locations")
    page.fill("#locations", office["room"])
    page.click("button:has-text('开始盘点')")
    assert page.locator("[data-class=missing]").inner_text() == "3"
    assert page.evaluate("document.activeElement.id") == "code"
    assert page.locator("#camera").is_hidden() and page.locator(".no-camera").is_visible()  # no BarcodeDetector

    page.fill("#location", office["room"])
    page.focus("#code")
    page.keyboard.type(office["a0"])
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "账实相符" in page.locator(".flashes").inner_text()
    assert page.input_value("#location") == office["room"]  # remembered for the next scan

    # Another scanner (a kiosk, a colleague's phone) records a scan: the counts move without a reload.
    number = int(page.url.split("/stocktakes/")[1].split("?")[0].split("#")[0])
    with live_server.sessions() as session, session.begin():
        stocktakes.scan(session, SYSTEM, number, office["a1"], office["other"])
    started = time.monotonic()
    page.locator("[data-class=found_elsewhere]", has_text="1").wait_for(timeout=6000)
    assert time.monotonic() - started < 5

    page.fill("#item", office["paper"])
    page.fill("#counted", "9")
    page.click("button:has-text('登记实盘数')")
    assert "-1" in page.locator("#supplies + p + table").inner_text()

    page.locator("form[action*='/resolve'] input[name=code]").fill(office["a2"])
    page.locator("form[action*='/resolve'] select").select_option("ignore")
    page.locator("form[action*='/resolve'] input[name=reason]").fill("借给财政局")
    page.locator("form[action*='/resolve'] button").click()
    page.locator("form[action*='/resolve'] input[name=code]").fill(office["a1"])
    page.locator("form[action*='/resolve'] select").select_option("move")
    page.locator("form[action*='/resolve'] button").click()
    page.check("#force")
    page.click("button:has-text('结束盘点')")
    page.click(".confirm button.danger")
    assert "已结束" in page.locator("h1").inner_text()
    page.fill("#note", "与库管员共同清点")
    page.click("button:has-text('签字确认报告')")
    assert "boss" in page.locator("#signed-off").inner_text()
    with page.expect_download() as got:
        page.click("text=报告（PDF）")
    text = _pdf_text(Path(got.value.path()).read_bytes(), tmp_path)
    assert "第" in text and "盘点报告" in text and "boss" in text and "A4 复印纸" in text


FAKE_DETECTOR = """
window.__codes = [];
window.BarcodeDetector = class {
  constructor(options) { this.options = options; }
  static getSupportedFormats() { return Promise.resolve(['qr_code']); }
  detect(source) {
    return Promise.resolve(window.__codes.length ? [{rawValue: window.__codes.shift()}] : []);
  }
};
"""


@pytest.fixture
def camera_page(browser: Any, live_server: LiveServer, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A Chromium with a fake camera (its test pattern) and, injected, a BarcodeDetector that reads
    whatever the test puts in ``window.__codes``: the page's camera path, where Linux has no detector."""
    camera = browser.browser_type.launch(
        executable_path=chromium_path(), headless=True,
        args=["--no-sandbox", "--disable-gpu", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
    context = camera.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    context.grant_permissions(["camera"], origin=live_server.url)
    context.add_init_script(FAKE_DETECTOR)
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    if getattr(request.node, "browser_failed", False):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    camera.close()


def test_camera_scanning_in_english(camera_page: Any, live_server: LiveServer, office: dict[str, str]) -> None:
    page = camera_page
    with live_server.sessions() as session, session.begin():
        number = stocktakes.open_stocktake(session, Actor("boss", "web", "admin"), "office").id
    sign_in(page, live_server, live_server.user("storekeeper", "clerk", language="en"))
    page.goto(f"{live_server.url}/stocktakes/{number}")
    assert page.locator("#camera").is_visible() and page.locator(".no-camera").is_hidden()
    page.click("text=Scan with the camera")
    page.locator("#camera video").wait_for(state="visible")
    page.evaluate(f"window.__codes.push('{office['other']}', 'https://assets.example/c/{office['a0']}')")
    page.locator("#camera .status", has_text="Found elsewhere").wait_for(timeout=6000)
    assert page.input_value("#location") == office["other"]
    page.evaluate(f"window.__codes.push('{office['paper']}')")
    expect(page.locator("#item")).to_have_value(office["paper"])  # a supply label goes to the supply count
    page.evaluate("window.__codes.push('A-0000000')")
    page.locator("#camera .status", has_text="Unknown code").wait_for(timeout=6000)
    page.locator("[data-class=unknown]", has_text="1").wait_for(timeout=6000)  # the counts follow
    page.click("text=Stop the camera")
    assert page.locator("#camera video").is_hidden()
