"""The procurement and label pages through Flask's client: who may open what (the REST routes' roles),
the plan import's preview (bad rows listed, nothing stored until confirmed), purchase refusals beside
their fields (the as-you-type check and the save call the same rule), intake to labels, the labels
picker and preview, and long jobs from the web to completion in a real process."""

from __future__ import annotations

import io
import re
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from PIL import Image
from sqlalchemy import func, select

from contract.codes import Kind
from server import auth
from server.audit import SYSTEM
from server.errors import NotFound
from server.models import Asset, AuditEntry, Job, PlanLine, Purchase
from server.services import codes as code_service
from server.services import jobs, plans, uploads
from tests.labels.labels_support import decode, rasterise
from tests.procurement_support import buy, office, plan_line

PASSWORD = "correct horse battery"
HEADER = "ref,budget_year,department,category,approved_qty,unit_price_cap,approved_amount,method,approval_ref\n"
GOOD = ("2026-IT-01,2026,IT,Laptop,10,6000.00,50000.00,framework_agreement,GOV-2026-12\n"
        "2026-PR-01,2026,Finance,Printer,3,2000,5400.5,online_inquiry,GOV-2026-12\n")
BAD = ("2026-IT-03,2026,IT,Laptop,0,6000.00,50000.00,framework_agreement,GOV-2026-12\n"  # qty 0
       "2026-IT-04,2026,IT,Tractor,1,6000.00,50000.00,framework_agreement,GOV-2026-12\n")  # no such category
PAGES = {  # page -> roles that may open it (admin always), as the REST routes allow
    "/procurement/plans": {"storekeeper", "auditor"},
    "/procurement/plans/2026-IT-01": {"storekeeper", "auditor"},
    "/procurement/purchases": {"storekeeper", "auditor"},
    "/procurement/purchases/1": {"storekeeper", "auditor"},
    "/procurement/plans/import": set(),
    "/procurement/purchases/new": {"storekeeper"},
    "/procurement/intake": {"storekeeper"},
    "/labels": {"storekeeper"},
}


def login(client: Any, sessions: Any, role: str) -> None:
    with sessions() as session, session.begin():
        auth.create_user(session, SYSTEM, f"w-{role}", PASSWORD, role)
    client.post("/login", data={"username": f"w-{role}", "password": PASSWORD})


@pytest.fixture
def bought(sessions: Any) -> Any:
    """An office with one plan line (10 laptops, cap 6000.00) and a purchase of 2 on it."""
    with sessions() as session, session.begin():
        where = office(session)
        plan_line(session)
        line_id = buy(session, qty=2, price="5000.00").lines[0].id
    return where, line_id


def count(sessions: Any, model: Any) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


@pytest.mark.parametrize("role", ["admin", "storekeeper", "auditor", "guard"])
def test_each_role_opens_exactly_the_pages_its_rest_routes_allow(client: Any, sessions: Any, bought: Any,
                                                                 role: str) -> None:
    login(client, sessions, role)
    for path, allowed in PAGES.items():
        status = client.get(path).status_code
        assert status == (200 if role == "admin" or role in allowed else 403), (role, path, status)
    menu = text(client.get("/"))
    assert ('>采购计划</a>' in menu) == (role != "guard")
    tabs = text(client.get("/procurement/plans")) if role != "guard" else ""
    assert ("导入采购计划" in tabs) == (role == "admin") and ("登记采购" in tabs) == (role in ("admin", "storekeeper"))


def test_plans_page_shows_used_and_remaining_with_bars(client: Any, sessions: Any, bought: Any) -> None:
    with sessions() as session, session.begin():
        plan_line(session, "2027-IT-01", year=2027, qty=1, cap="1.00", amount="1.00")
    login(client, sessions, "auditor")
    page = text(client.get("/procurement/plans?year=2026"))
    assert "2026-IT-01" in page and "2027-IT-01" not in page
    assert "2 · ¥10,000.00" in page and "8 · ¥40,000.00" in page  # used, remaining
    assert 'class="bar"' in page and 'aria-label="执行率: 20.0%"' in page
    assert "2027-IT-01" in text(client.get("/procurement/plans?sort=year&dir=desc"))
    assert client.get("/procurement/plans?year=abc").status_code == 400
    assert client.get("/procurement/plans?after=junk").status_code == 400
    assert client.get("/procurement/plans/NOPE").status_code == 404


def _upload(client: Any, data: bytes, name: str = "plan.csv") -> Any:
    return client.post("/procurement/plans/import", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_import_preview_lists_bad_rows_and_stores_nothing_until_confirmed(
        client: Any, sessions: Any, settings_overrides: dict[str, Any]) -> None:
    with sessions() as session, session.begin():
        office(session)
    login(client, sessions, "admin")
    r = _upload(client, (HEADER + GOOD + BAD).encode())
    assert r.status_code == 302
    preview_url = r.headers["Location"]
    token = preview_url.rsplit("/", 1)[-1]
    page = text(client.get(preview_url))
    assert re.search(r'id="rows-bad">2<', page) and re.search(r'id="rows-good">2<', page)
    assert "approved_qty 的值 0 须在 1 至 10000000 之间" in page and "没有名为“Tractor”的品目" in page
    assert count(sessions, PlanLine) == 0
    refused = client.post(preview_url, data={})
    assert refused.status_code == 422 and "有 2 行有误，未导入任何一行" in text(refused)
    assert count(sessions, PlanLine) == 0
    done = client.post(preview_url, data={"skip_bad": "y"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/procurement/plans")
    assert count(sessions, PlanLine) == 2
    with pytest.raises(NotFound):  # the upload is gone once imported
        uploads.path(Path(settings_overrides["instance_path"]), token)
    assert client.get(preview_url).status_code == 404


def test_import_of_an_xlsx_and_of_unreadable_files(client: Any, sessions: Any) -> None:
    with sessions() as session, session.begin():
        office(session)
    login(client, sessions, "admin")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER.strip().split(","))
    sheet.append(["2026-IT-01", 2026, "IT", "Laptop", 10, 6000, 50000.5, "framework_agreement", "GOV-1"])
    buffer = io.BytesIO()
    book.save(buffer)
    preview_url = _upload(client, buffer.getvalue(), "plan.xlsx").headers["Location"]
    assert client.post(preview_url, data={}).status_code == 302 and count(sessions, PlanLine) == 1
    not_utf8 = _upload(client, b"\xff\xfe" + HEADER.encode("utf-16-le"))
    assert not_utf8.status_code == 422 and "无法判断 CSV 文件的编码" in text(not_utf8)
    no_header = _upload(client, b"a,b\n1,2\n")
    assert no_header.status_code == 422 and "表头缺少列" in text(no_header)
    assert _upload(client, b"").status_code == 422
    assert client.get("/procurement/plans/import/../../etc").status_code == 404
    assert client.get("/procurement/plans/import/" + "0" * 32).status_code == 404


PURCHASE = {"supplier": "ACME", "purchased_on": "2026-04-01", "method": "framework_agreement", "reference": "C-1",
            "lines-0-plan_line": "2026-IT-01", "lines-0-category": "Laptop", "lines-0-quantity": "1",
            "lines-0-unit_price": "6000.01"}
CAP = "第 1 行：单价 6000.01 超过计划明细 2026-IT-01 的单价上限 6000.00，超出 0.01"


def errors_of(html: str, field_id: str) -> list[str]:
    block = re.search(rf'id="{re.escape(field_id)}-errors"[^>]*>(.*?)</div>', html, re.S)
    assert block, field_id
    return re.findall(r'<p class="error">(.*?)</p>', block.group(1))


def test_the_check_as_you_type_and_the_save_give_the_same_refusal_beside_the_field(
        client: Any, sessions: Any, bought: Any) -> None:
    login(client, sessions, "storekeeper")
    audit_before = count(sessions, AuditEntry)
    check = client.post("/procurement/purchases/check", data={**PURCHASE, "supplier": "", "reference": ""})
    html = text(check)
    assert check.status_code == 200 and 'id="lines-0-unit_price-errors" hx-swap-oob="true"' in html
    assert errors_of(html, "lines-0-unit_price") == [CAP]
    assert errors_of(html, "supplier") == []  # still empty while typing: nothing said about it yet
    assert "剩余：8 件，¥40,000.00" in html  # what is left of the plan line, beside it
    assert count(sessions, AuditEntry) == audit_before and count(sessions, Purchase) == 1  # nothing written
    saved = client.post("/procurement/purchases/new", data=PURCHASE)
    assert saved.status_code == 422 and errors_of(text(saved), "lines-0-unit_price") == [CAP]
    assert 'aria-invalid="true"' in text(saved) and count(sessions, Purchase) == 1
    english = client.post("/procurement/purchases/check", data=PURCHASE, headers={"Accept-Language": "en"})
    assert errors_of(text(english), "lines-0-unit_price") == [
        "line 1: unit price 6000.01 is above plan line 2026-IT-01&#39;s cap 6000.00 by 0.01"]


@pytest.mark.parametrize("change,field,message", [
    ({"lines-0-quantity": "9", "lines-0-unit_price": "100"}, "lines-0-quantity",
     "将使计划明细 2026-IT-01 已执行数量达到 11"),
    ({"lines-0-category": "Printer", "lines-0-unit_price": "100"}, "lines-0-category", "品目“Printer”与计划明细"),
    ({"method": "other", "lines-0-unit_price": "100"}, "method", "不是计划明细 2026-IT-01 规定的采购方式"),
    ({"lines-0-plan_line": "2099-XX-01", "lines-0-unit_price": "100"}, "lines-0-plan_line", "没有计划明细 2099-XX-01"),
    ({"lines-0-unit_price": "abc"}, "lines-0-unit_price", ""),
    ({"supplier": "", "lines-0-unit_price": "100"}, "supplier", "请填写此项"),
])
def test_each_refusal_lands_beside_its_field_and_nothing_is_stored(
        client: Any, sessions: Any, bought: Any, change: dict[str, str], field: str, message: str) -> None:
    login(client, sessions, "storekeeper")
    r = client.post("/procurement/purchases/new", data={**PURCHASE, **change})
    assert r.status_code == 422
    shown = errors_of(text(r), field)
    assert shown and message in shown[0], shown
    assert count(sessions, Purchase) == 1


def test_a_purchase_of_two_lines_is_recorded_without_javascript(client: Any, sessions: Any, bought: Any) -> None:
    login(client, sessions, "storekeeper")
    added = client.post("/procurement/purchases/new", data={**PURCHASE, "add_line": "1"})
    assert added.status_code == 200 and 'id="lines-1-plan_line"' in text(added)
    two = {**PURCHASE, "lines-0-unit_price": "6000.00", "lines-1-plan_line": "2026-IT-01",
           "lines-1-category": "Laptop", "lines-1-quantity": "2", "lines-1-unit_price": "100.00",
           "lines-2-plan_line": "", "lines-2-quantity": "", "lines-2-unit_price": "", "save": "1"}  # a blank line
    r = client.post("/procurement/purchases/new", data=two)
    assert r.status_code == 302
    with sessions() as session:
        purchase = session.scalars(select(Purchase).order_by(Purchase.id.desc())).first()
        assert [(li.quantity, li.unit_price) for li in purchase.lines] == [(1, Decimal("6000.00")),
                                                                          (2, Decimal("100.00"))]
    assert "2026-IT-01" in text(client.get(r.headers["Location"]))


def test_intake_refusal_beside_the_quantity_then_labels_that_scan(client: Any, sessions: Any, bought: Any,
                                                                  tmp_path: Path) -> None:
    where, line_id = bought
    login(client, sessions, "storekeeper")
    form = text(client.get(f"/procurement/intake?line={line_id}"))
    key = re.search(r'name="request_key" type="hidden" value="([0-9a-f]+)"', form).group(1)
    body = {"purchase_line": str(line_id), "location": where.store, "received_on": "2026-04-02", "request_key": key}
    over = client.post("/procurement/intake", data={**body, "quantity": "3"})
    assert over.status_code == 422
    assert errors_of(text(over), "quantity") == [f"采购明细 {line_id} 共 2 件，剩余待入库 2 件；本次 3 件，超出 1 件"]
    assert count(sessions, Asset) == 0
    done = client.post("/procurement/intake", data={**body, "serials": "SN-1\nSN-2"})
    assert done.status_code == 302, text(done)
    again = client.post("/procurement/intake", data={**body, "serials": "SN-1\nSN-2"})  # sent twice: received once
    assert again.status_code == 302, text(again)
    assert again.headers["Location"] == done.headers["Location"] and count(sessions, Asset) == 2
    page = text(client.get(done.headers["Location"]))
    codes = re.findall(r"<code>(A-[0-9A-Z*~$=U]+)</code>", page)
    assert len(codes) == 2
    pdf = client.post(done.headers["Location"] + "/labels", data={"template": "thermal-50x30", "skip": "0"})
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    (tmp_path / "i.pdf").write_bytes(pdf.data)
    found = sorted(hit.text for page_image in rasterise(tmp_path / "i.pdf", 203, tmp_path)
                   for hit in decode(page_image))
    assert found == sorted(codes)
    client.post("/logout")
    login(client, sessions, "auditor")
    assert client.get(done.headers["Location"]).status_code == 200
    assert client.post(done.headers["Location"] + "/labels", data={}).status_code == 403


def test_labels_picker_preview_and_refusals(client: Any, sessions: Any) -> None:
    with sessions() as session, session.begin():
        made = code_service.issue(session, Kind.ASSET, 3)
    login(client, sessions, "storekeeper")
    page = text(client.get("/labels"))
    for name in ("a4-l7651", "a4-l7160", "a4-l7163", "thermal-62", "thermal-50x30", "thermal-40x20"):
        assert f'id="template-{name}"' in page
    assert "210 × 297 毫米标签纸，每张 65 个（5 × 13）" in page and "38.1 × 21.2 毫米" in page
    shown = client.post("/labels", data={"codes": "\n".join(made), "template": "a4-l7160", "action": "preview"})
    src = re.search(r'id="preview-image"|src="([^"]+preview\.png[^"]*)"', text(shown))
    url = re.search(r'src="([^"]+preview\.png[^"]*)"', text(shown)).group(1).replace("&amp;", "&")
    assert src and shown.status_code == 200
    png = client.get(url)
    assert png.status_code == 200 and png.mimetype == "image/png"
    image = Image.open(io.BytesIO(png.data))
    assert image.size[0] in (496, 497) and image.size[1] == 702  # one A4 page at 60 dpi: the first sheet only
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "labels.print")) == 0  # a preview is not a print
    fragment = client.post("/labels", data={"codes": made[0], "template": "a4-l7651", "action": "preview"},
                           headers={"HX-Request": "true"})
    assert text(fragment).lstrip().startswith('<figure id="preview"')
    skip = client.post("/labels", data={"codes": made[0], "template": "a4-l7160", "skip": "21"})
    assert skip.status_code == 422 and errors_of(text(skip), "skip") == [
        "模板 a4-l7160 第一张纸上已用的标签数须在 0 至 20 之间"]
    unknown = client.post("/labels", data={"codes": made[0], "template": "nope"})
    assert unknown.status_code == 422 and "没有标签模板 nope" in errors_of(text(unknown), "template")[0]
    assert client.get("/labels/preview.png?codes=A-000010A").status_code == 422


def wait_for_job(client: Any, job_url: str, timeout: float = 180) -> str:
    """Poll the job's progress fragment (as htmx does) until the job ends; the last fragment."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fragment = text(client.get(job_url + "/progress"))
        if "hx-trigger" not in fragment:  # a finished job stops the polling
            return fragment
        assert '<meta http-equiv="refresh"' in fragment  # without JS the page reloads itself
        time.sleep(0.3)
    pytest.fail(f"{job_url} did not finish")


def test_a_big_label_batch_from_the_web_is_a_job_to_its_download(client: Any, sessions: Any) -> None:
    with sessions() as session, session.begin():
        made = code_service.issue(session, Kind.ASSET, jobs.LABELS_INLINE_MAX + 1)
    login(client, sessions, "storekeeper")
    r = client.post("/labels", data={"codes": "\n".join(made), "template": "a4-l7651", "action": "pdf"})
    assert r.status_code == 302 and "/jobs/" in r.headers["Location"]
    job_url = r.headers["Location"]
    assert "标签 PDF" in text(client.get(job_url))
    final = wait_for_job(client, job_url)
    assert "已完成" in final and "共 501 张标签，8 页。" in final
    with client.get(job_url + "/result") as pdf:
        assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    client.post("/logout")
    login(client, sessions, "admin")
    assert client.get(job_url).status_code == 200  # an admin sees every job
    with sessions() as session, session.begin():
        auth.create_user(session, SYSTEM, "other-keeper", PASSWORD, "storekeeper")
    client.post("/logout")
    client.post("/login", data={"username": "other-keeper", "password": PASSWORD})
    assert client.get(job_url).status_code == 404  # another storekeeper's job is not theirs to see


def test_a_big_plan_upload_is_checked_then_imported_by_jobs(client: Any, sessions: Any) -> None:
    with sessions() as session, session.begin():
        office(session)
    login(client, sessions, "admin")
    rows = jobs.PLAN_ROWS_INLINE_MAX + 10
    data = (HEADER + "".join(f"2026-B-{i:05d},2026,IT,{'Tractor' if i == 7 else 'Laptop'},1,1.00,1.00,other,G\n"
                             for i in range(rows))).encode()
    r = _upload(client, data)
    assert "/jobs/" in r.headers["Location"]
    final = wait_for_job(client, r.headers["Location"])
    assert f"{rows:,} 行中 {rows - 1:,} 行无误" in final
    preview_url = re.search(r'id="job-next" href="([^"]+)"', final).group(1).replace("&amp;", "&")
    preview = text(client.get(preview_url))
    assert "没有名为“Tractor”的品目" in preview and count(sessions, PlanLine) == 0
    started = client.post(preview_url.split("?")[0], data={"skip_bad": "y"})
    assert "/jobs/" in started.headers["Location"]
    final = wait_for_job(client, started.headers["Location"])
    assert f"已导入 {rows - 1:,} 条计划明细" in final
    assert count(sessions, PlanLine) == rows - 1
    with sessions() as session:
        kinds = [j.kind for j in session.scalars(select(Job).order_by(Job.id))]
        assert kinds == ["plan_check", "plan_import"]


def test_a_failed_job_shows_why(client: Any, sessions: Any, app: Any) -> None:
    with sessions() as session, session.begin():
        office(session)
    login(client, sessions, "admin")
    settings = app.extensions["assetgate.settings"]
    bad = (HEADER + "".join(f"2026-C-{i:05d},2026,IT,Tractor,1,1.00,1.00,other,G\n"
                            for i in range(jobs.PLAN_ROWS_INLINE_MAX + 5))).encode()
    token = uploads.save(settings.instance_path, bad, "bad.csv")
    r = client.post(f"/procurement/plans/import/{token}", data={})
    final = wait_for_job(client, r.headers["Location"])
    assert "失败" in final and 'id="job-error"' in final
    assert f"有 {jobs.PLAN_ROWS_INLINE_MAX + 5} 行有误，未导入任何一行" in final
    assert f"共 {jobs.PLAN_ROWS_INLINE_MAX + 5} 条，仅显示前 1000 条" in final
    assert final.count("没有名为“Tractor”的品目") == 1000
    assert count(sessions, PlanLine) == 0
    assert plans.estimate_rows(bad) == jobs.PLAN_ROWS_INLINE_MAX + 5


def test_every_input_on_the_procurement_pages_has_a_label(client: Any, sessions: Any, bought: Any) -> None:
    where, line_id = bought
    login(client, sessions, "admin")
    done = client.post("/procurement/intake", data={"purchase_line": str(line_id), "location": where.store,
                                                    "received_on": "2026-04-02", "request_key": "k-1"})
    preview = _upload(client, (HEADER + GOOD).encode()).headers["Location"]
    pages = [*PAGES, done.headers["Location"], preview]
    for path in pages:
        html = text(client.get(path))
        labelled = set(re.findall(r'<label[^>]* for="([^"]+)"', html))
        inputs = re.findall(r"<(?:input|select|textarea)\b[^>]*>", html)
        assert inputs, path
        for tag in inputs:
            if 'type="hidden"' in tag or "aria-label=" in tag:
                continue
            ident = re.search(r'id="([^"]+)"', tag)
            assert ident and ident.group(1) in labelled, (path, tag)
