"""Corrections in a real browser (CSRF on): a GBK plan file with Chinese headers imported, then a purchase
voided through its confirmation step, the plan's remainder back and the voided mark shown."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from sqlalchemy import select

from server.models import Purchase
from tests.browser.conftest import LiveServer, sign_in
from tests.procurement_support import buy, office, plan_line


def test_a_gbk_plan_with_chinese_headers_imports(page: Any, live_server: LiveServer, tmp_path: Path) -> None:
    with live_server.sessions() as session, session.begin():
        office(session)
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows([
        ["计划编号", "预算年度", "部门", "品目", "数量", "单价上限", "金额", "采购方式", "批复文号"],
        ["2026-IT-01", "2026", "信息中心", "Laptop", "10", "6000.00", "50000.00", "协议采购", "财预〔2026〕8号"]])
    plan = tmp_path / "计划.csv"
    plan.write_bytes(text.getvalue().encode("gbk"))
    sign_in(page, live_server, live_server.user("admin"))
    page.goto(live_server.url + "/procurement/plans/import")
    page.set_input_files("#file", str(plan))
    page.click("button:has-text('检查文件')")
    assert page.locator("#rows-good").inner_text() == "1" and page.locator("#rows-bad").inner_text() == "0"
    page.click("button:has-text('导入 1 条计划明细')")
    assert "信息中心" in page.locator("#plan-lines tbody tr").nth(0).inner_text()


def test_voiding_a_purchase_through_its_confirmation(page: Any, live_server: LiveServer) -> None:
    with live_server.sessions() as session, session.begin():
        office(session)
        plan_line(session)
        purchase_id = buy(session, qty=2, price="5000.00").id
    sign_in(page, live_server, live_server.user("storekeeper"))
    page.goto(f"{live_server.url}/procurement/purchases/{purchase_id}")
    page.click("a:has-text('作废')")
    page.fill("#reason", "重复录入")
    page.fill("#approval_ref", "办发〔2026〕30号")
    page.click("button:has-text('作废采购')")
    page.click(".confirm button.danger")  # the confirmation step
    assert page.locator("#voided").is_visible() and "办发〔2026〕30号" in page.locator("#voided").inner_text()
    with live_server.sessions() as session:
        assert session.scalars(select(Purchase.voided_at).where(Purchase.id == purchase_id)).one() is not None
    page.goto(f"{live_server.url}/procurement/plans/2026-IT-01")
    assert "¥50,000.00" in page.locator("dl.facts").inner_text().split("剩余")[1]
