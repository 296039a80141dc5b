"""Procurement in a real browser: a plan imported after its preview, a purchase refused over its cap
with the message in Chinese beside the field (as it is typed, and on saving), an intake that ends in a
labels PDF whose QR codes scan, and a long job's page following its progress (with and without JS)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from contract.codes import Kind
from server.models import Asset, PlanLine, Purchase
from server.services import codes as code_service
from server.services import jobs
from tests.browser.conftest import LiveServer, open_menu, sign_in
from tests.labels.labels_support import decode, rasterise
from tests.procurement_support import buy, office, plan_line

HEADER = "ref,budget_year,department,category,approved_qty,unit_price_cap,approved_amount,method,approval_ref\n"
PLAN = (HEADER
        + "2026-IT-01,2026,IT,Laptop,10,6000.00,50000.00,framework_agreement,GOV-2026-12\n"
        + "2026-IT-02,2026,IT,Tractor,1,100.00,100.00,other,GOV-2026-12\n"  # no such category
        + "2026-PR-01,2026,Finance,Printer,3,2000.00,5400.00,online_inquiry,GOV-2026-12\n")


def _count(server: LiveServer, model: Any) -> int:
    with server.sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_importing_a_plan_shows_the_bad_rows_first_then_imports_on_confirmation(
        page: Any, live_server: LiveServer, tmp_path: Path) -> None:
    with live_server.sessions() as session, session.begin():
        office(session)
    plan = tmp_path / "plan.csv"
    plan.write_text(PLAN, encoding="utf-8")
    sign_in(page, live_server, live_server.user("admin"))
    open_menu(page, "采购", "采购计划")
    page.click("text=导入采购计划")
    page.set_input_files("#file", str(plan))
    page.click("button:has-text('检查文件')")
    assert page.locator("h1").inner_text() == "导入前检查采购计划"
    assert page.locator("#rows-bad").inner_text() == "1" and page.locator("#rows-good").inner_text() == "2"
    bad = page.locator("#bad-rows tbody tr")
    assert bad.count() == 1 and "没有名为“Tractor”的品目" in bad.inner_text() and "2026-IT-02" in bad.inner_text()
    assert _count(live_server, PlanLine) == 0  # nothing stored before the confirmation
    page.click("button:has-text('导入 2 条计划明细')")  # without "leave out the bad rows": refused
    assert "有 1 行有误，未导入任何一行" in page.locator(".flash.error").inner_text()
    assert _count(live_server, PlanLine) == 0
    page.check("#skip_bad")
    page.click("button:has-text('导入 2 条计划明细')")
    assert "已导入 2 条计划明细" in page.locator(".flashes").inner_text()
    rows = page.locator("#plan-lines tbody tr")
    assert rows.count() == 2 and "2026-IT-01" in rows.nth(0).inner_text()
    assert page.locator("#plan-lines .bar").count() == 2
    assert _count(live_server, PlanLine) == 2


def test_a_purchase_over_its_cap_is_refused_in_chinese_beside_the_price(page: Any, live_server: LiveServer) -> None:
    with live_server.sessions() as session, session.begin():
        office(session)
        plan_line(session)  # 10 laptops, unit price cap 6000.00
    sign_in(page, live_server, live_server.user("storekeeper"))
    page.goto(f"{live_server.url}/procurement/plans/2026-IT-01")
    page.click("text=登记采购")
    page.fill("#supplier", "联想华北")
    page.fill("#reference", "HT-2026-031")
    assert page.input_value("#lines-0-plan_line") == "2026-IT-01"  # started from the plan line
    page.fill("#lines-0-quantity", "2")
    page.fill("#lines-0-unit_price", "6000.01")
    beside = page.locator("#lines-0-unit_price-errors")
    # As typed: htmx asks the server's check (purchases.validate) and the refusal appears beside the price.
    beside.locator(".error").wait_for()
    expected = "第 1 行：单价 6000.01 超过计划明细 2026-IT-01 的单价上限 6000.00，超出 0.01"
    assert beside.inner_text() == expected
    assert "剩余：10 件" in page.locator("#lines-0-plan_line-hint").inner_text()
    assert _count(live_server, Purchase) == 0
    page.click("#save")  # saving anyway: the same rule refuses it
    assert page.locator("#lines-0-unit_price-errors").inner_text() == expected
    assert page.locator("#lines-0-unit_price").get_attribute("aria-invalid") == "true"
    assert _count(live_server, Purchase) == 0
    page.fill("#lines-0-unit_price", "6000.00")
    page.locator("#lines-0-unit_price-errors .error").wait_for(state="detached")  # the check clears it
    page.click("#save")
    assert "采购 1 已登记" in page.locator(".flashes").inner_text()
    assert _count(live_server, Purchase) == 1


def test_an_intake_ends_in_a_labels_pdf_whose_codes_scan(page: Any, live_server: LiveServer, tmp_path: Path) -> None:
    with live_server.sessions() as session, session.begin():
        office(session)
        plan_line(session)
        line_id = buy(session, qty=4, price="4999.99").lines[0].id
    sign_in(page, live_server, live_server.user("storekeeper"))
    page.goto(f"{live_server.url}/procurement/purchases/1")
    page.click("text=验收入库 >> nth=-1")
    assert page.input_value("#purchase_line") == str(line_id)
    page.select_option("#location", index=0)
    page.fill("#serials", "SN-1\nSN-2\nSN-3\nSN-4")
    page.click("button:has-text('验收入库')")
    assert "已验收入库 4 项资产" in page.locator(".flashes").inner_text()
    codes = page.locator("#intake-codes li").all_inner_texts()
    assert len(codes) == 4
    page.check("#template-a4-l7160")
    with page.expect_download() as download:
        page.click("#labels-pdf")
    pdf = tmp_path / "intake.pdf"
    download.value.save_as(pdf)
    found = {hit.text for hit in decode(rasterise(pdf, 300, tmp_path)[0])}
    assert found == set(codes)
    with live_server.sessions() as session:
        assert set(session.scalars(select(Asset.code))) == set(codes)


def test_a_long_label_job_shows_its_progress_then_the_download(page: Any, live_server: LiveServer,
                                                                tmp_path: Path) -> None:
    with live_server.sessions() as session, session.begin():
        made = code_service.issue(session, Kind.ASSET, jobs.LABELS_INLINE_MAX + 1)
    sign_in(page, live_server, live_server.user("storekeeper"))
    page.goto(f"{live_server.url}/labels")
    page.fill("#codes", "\n".join(made))
    page.click("button:has-text('生成 PDF')")
    assert "/jobs/" in page.url and "标签 PDF" in page.locator("h1").inner_text()
    page.locator("#job-download").wait_for(timeout=120_000)  # htmx polls the progress every second
    assert page.locator("#job-state").inner_text() == "已完成"
    assert page.locator("#job-percent").inner_text() == "100.0 %"
    with page.expect_download() as download:
        page.click("#job-download")
    pdf = tmp_path / "job.pdf"
    download.value.save_as(pdf)
    pages = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "Pages:           8" in pages  # 501 labels, 65 a sheet


def test_the_job_page_follows_a_job_without_javascript(browser: Any, live_server: LiveServer) -> None:
    with live_server.sessions() as session, session.begin():
        made = code_service.issue(session, Kind.ASSET, jobs.LABELS_INLINE_MAX + 1)
    context = browser.new_context(locale="zh-CN", java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        sign_in(page, live_server, live_server.user("storekeeper"))
        page.goto(f"{live_server.url}/labels")
        page.fill("#codes", "\n".join(made))
        page.click("button:has-text('生成 PDF')")
        assert page.locator("#job-download").count() == 0  # not done yet: the page refreshes itself
        page.locator("#job-download").wait_for(timeout=120_000)
        assert page.locator("#job-state").inner_text() == "已完成"
    finally:
        context.close()
