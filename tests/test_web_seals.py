"""Seal pages (issue 14) in both languages: registering a seal with its imprint (bad uploads refused beside the
field, nothing stored), the imprint served only to permitted roles, life-cycle steps with references, a use
request approved and stamped, a take-out out and back, an overdue seal on the dashboard, the register as
page, CSV and PDF. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from server.models import AuditEntry, Seal, SealImprint, SealUse
from server.services import seal_takeouts, seals
from tests.admin_support import login
from tests.seal_support import KEEPER, Office, approved_takeout, approved_use, image, make_overdue, office


@pytest.fixture
def found(sessions: Any) -> Office:
    return office(sessions)


def _text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def _count(sessions: Any, model: Any) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def multipart(fields: dict[str, str], name: str, filename: str, data: bytes) -> tuple[bytes, str]:
    """A multipart body as bytes: for a big file the test client would spool the body to a temporary
    file that it never closes (a ResourceWarning), which a browser upload does not do."""
    parts = [f'--b1\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()]
    head = f'--b1\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n\r\n'.encode()
    return b"".join(parts) + head + data + b"\r\n--b1--\r\n", "multipart/form-data; boundary=b1"


def _seal_form(found: Office, **more: Any) -> dict[str, Any]:
    return {"name": "合同专用章", "kind": "contract", "department": "财务科", "custodian": found.custodian,
            "approval_ref": "财办〔2026〕12号", "made_on": "2026-11-30", "note": "", **more}


def test_register_a_seal_with_its_imprint_and_see_it_in_both_languages(client: Any, sessions: Any,
                                                                        found: Office) -> None:
    login(client, sessions, "storekeeper")
    form = _seal_form(found, imprint=(io.BytesIO(image("JPEG")), "imprint.jpg"))
    made = client.post("/seals/new", data=form, content_type="multipart/form-data")
    assert made.status_code == 302, _text(made)
    code = made.headers["Location"].rsplit("/", 1)[-1]
    page = _text(client.get(f"/seals/{code}"))
    assert "合同专用章" in page and "刻制" in page and "财办〔2026〕12号" in page and "刻制登记" in page
    assert f'src="/seals/{code}/imprint.png"' in page and "启用" in page  # the step it may take next
    picture = client.get(f"/seals/{code}/imprint.png")
    assert picture.status_code == 200 and picture.mimetype == "image/png" and picture.data.startswith(b"\x89PNG")
    assert picture.headers["Cache-Control"] == "private, no-store"
    assert picture.headers["X-Content-Type-Options"] == "nosniff"
    client.post("/language", data={"language": "en", "next": "/"})
    english = _text(client.get(f"/seals/{code}"))
    assert "Contract seal" in english and "Made" in english and "Registered (made)" in english
    assert "Seals" in _text(client.get("/seals/"))


@pytest.mark.parametrize(("upload", "message"), [
    ((b"GIF89a" + b"\x00" * 50, "x.png"), "印模须为 PNG 或 JPEG 图片"),
    ((b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "x.png"), "印模图片已损坏或无法读取"),
    ((b"\x89PNG\r\n\x1a\n" + b"x" * (1024 * 1024 + 10), "big.png"), "最大只接受 1024 KB"),
])
def test_bad_imprints_are_refused_beside_the_field_and_nothing_is_stored(client: Any, sessions: Any, found: Office,
                                                                         upload: tuple[bytes, str],
                                                                         message: str) -> None:
    login(client, sessions, "storekeeper")
    seals_before, audit_before = _count(sessions, Seal), _count(sessions, AuditEntry)
    body, kind = multipart(_seal_form(found), "imprint", upload[1], upload[0])
    refused = client.post("/seals/new", data=body, content_type=kind)
    assert refused.status_code == 422
    assert re.search(r'id="imprint-err">[^<]*' + re.escape(message), refused.get_data(as_text=True))
    assert (_count(sessions, Seal), _count(sessions, AuditEntry), _count(sessions, SealImprint)) == (
        seals_before, audit_before, 0)


def test_an_upload_over_the_request_limit_is_a_clear_413(client: Any, sessions: Any, found: Office) -> None:
    login(client, sessions, "storekeeper")
    body, kind = multipart({}, "imprint", "huge.png", b"\x89PNG\r\n\x1a\n" + b"x" * (3 * 1024 * 1024))
    refused = client.post(f"/seals/{found.seal}/imprint", data=body, content_type=kind)
    assert refused.status_code == 413 and "上传文件过大" in _text(refused)
    assert _count(sessions, SealImprint) == 0


@pytest.mark.parametrize(("role", "status"), [("storekeeper", 200), ("auditor", 200), ("admin", 200),
                                              ("guard", 403)])
def test_the_imprint_is_served_only_to_permitted_roles(client: Any, sessions: Any, found: Office, role: str,
                                                       status: int) -> None:
    with sessions() as session, session.begin():
        from server.services import seal_imprints

        seal_imprints.upload(session, KEEPER, found.seal, image())
    login(client, sessions, role)
    assert client.get(f"/seals/{found.seal}/imprint.png").status_code == status
    page = _text(client.get(f"/seals/{found.seal}"))
    assert ("imprint.png" in page) == (status == 200)


def test_steps_with_references_and_destruction_asks_first(client: Any, sessions: Any, found: Office) -> None:
    login(client, sessions, "storekeeper")
    missing = client.post(f"/seals/{found.seal}/steps", data={"action": "suspend", "approval_ref": ""})
    assert missing.status_code == 422 and re.search(r'id="approval_ref-err">此项必填', missing.get_data(as_text=True))
    illegal = client.post(f"/seals/{found.seal}/steps", data={"action": "destroy", "approval_ref": "R-1",
                                                              "confirmed": "1"})
    assert illegal.status_code == 422 and "当前为启用状态，不能销毁：只能从刻制、停用、收缴状态变更" in _text(illegal)
    assert client.post(f"/seals/{found.seal}/steps", data={"action": "suspend", "approval_ref": "R-2"}).status_code \
        == 302
    asked = client.post(f"/seals/{found.seal}/steps", data={"action": "destroy", "approval_ref": "R-3"})
    assert asked.status_code == 200 and "此操作不可撤销" in _text(asked)
    with sessions() as session:
        assert seals.by_code(session, found.seal).status == "suspended"
    done = client.post(f"/seals/{found.seal}/steps", data={"action": "destroy", "approval_ref": "R-3",
                                                           "confirmed": "1"})
    assert done.status_code == 302
    page = _text(client.get(f"/seals/{found.seal}"))
    assert "销毁" in page and "R-3" in page and "印章管理" not in page  # nothing left to manage


def test_use_request_approved_with_fewer_copies_then_stamped(client: Any, sessions: Any, found: Office) -> None:
    login(client, sessions, "guard", "clerk", make=False)
    made = client.post("/seal-requests/new", data={
        "seal": found.seal, "document_title": "关于2027年预算的报告", "copies": "5", "recipient": "县财政局",
        "purpose": "报送预算", "department": "Finance"})
    assert made.status_code == 302, _text(made)
    rid = made.headers["Location"].rsplit("/", 1)[-1]
    login(client, sessions, "auditor", "leader", make=False)
    assert "关于2027年预算的报告" in _text(client.get("/seal-requests/"))  # waiting for me
    assert f'href="/seal-requests/{rid}"' in _text(client.get("/seals/"))  # and on the seal list
    page = _text(client.get(f"/seal-requests/{rid}"))
    assert "用印申请" in page and "同意" in page and "待我审批" not in page
    assert client.post(f"/seal-requests/{rid}/decision", data={"decision": "approve", "quantity": "3"}).status_code \
        == 302
    login(client, sessions, "storekeeper")
    over = client.post(f"/seal-requests/{rid}/uses", data={"copies": "4"})
    assert over.status_code == 422 and "批准 3 份，已盖 0 份：再盖 4 份超出批准份数" in _text(over)
    assert client.post(f"/seal-requests/{rid}/uses", data={"copies": "3", "note": "第一批"}).status_code == 302
    page = _text(client.get(f"/seal-requests/{rid}"))
    assert 'id="stamped">3' in page and "第一批" in page
    assert f'action="/seal-requests/{rid}/uses"' not in page  # nothing left to stamp
    assert _count(sessions, SealUse) == 1


def test_a_use_without_approval_is_refused_on_the_page(client: Any, sessions: Any, found: Office) -> None:
    login(client, sessions, "guard", "clerk", make=False)
    made = client.post("/seal-requests/new", data={
        "seal": found.seal, "document_title": "合同", "copies": "1", "recipient": "银行", "purpose": "贷款",
        "department": "Finance"})
    rid = made.headers["Location"].rsplit("/", 1)[-1]
    login(client, sessions, "storekeeper")
    refused = client.post(f"/seal-requests/{rid}/uses", data={"copies": "1"})
    assert refused.status_code == 422 and "用印须有已批准的申请" in _text(refused)
    assert _count(sessions, SealUse) == 0


def test_bad_use_request_input_says_why(client: Any, sessions: Any, found: Office) -> None:
    login(client, sessions, "guard", "clerk", make=False)
    refused = client.post("/seal-requests/new", data={
        "seal": "A-NOTACODE", "document_title": "", "copies": "0", "recipient": "x", "purpose": "y",
        "department": "Finance"})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert re.search(r'id="document_title-err">此项必填', html) and 'id="copies-err"' in html
    bad_code = client.post("/seal-requests/new", data={
        "seal": "A-NOTACODE", "document_title": "t", "copies": "1", "recipient": "x", "purpose": "y",
        "department": "Finance"})
    assert bad_code.status_code == 422 and 'id="seal-err"' in bad_code.get_data(as_text=True)


def test_takeout_out_and_back_on_the_web_and_overdue_on_the_dashboard(client: Any, sessions: Any,
                                                                      found: Office) -> None:
    tid = approved_takeout(sessions, found)
    login(client, sessions, "storekeeper")
    wrong = client.post(f"/seal-takeouts/{tid}/out", data={"carrier": found.other})
    assert wrong.status_code == 422 and "携带人是 Zhao Lei，不是此人" in _text(wrong)
    assert client.post(f"/seal-takeouts/{tid}/out", data={"carrier": found.carrier}).status_code == 302
    assert "外带中" in _text(client.get(f"/seal-takeouts/{tid}"))
    assert "逾期未还的印章" in _text(client.get("/")) and "没有逾期未还的印章" in _text(client.get("/"))
    make_overdue(sessions, tid)
    dashboard = _text(client.get("/"))
    assert "逾期未还的印章" in dashboard and f"/seal-takeouts/{tid}" in dashboard
    assert "逾期" in _text(client.get(f"/seal-takeouts/{tid}"))
    assert "外带逾期未还" in _text(client.get("/seals/"))
    assert client.post(f"/seal-takeouts/{tid}/back").status_code == 302
    assert "没有逾期未还的印章" in _text(client.get("/"))
    with sessions() as session:
        assert seal_takeouts.state(seal_takeouts.by_id(session, tid)) == "returned"


def test_takeout_request_form_and_its_decision(client: Any, sessions: Any, found: Office) -> None:
    login(client, sessions, "guard", "clerk", make=False)
    bad = client.post("/seal-takeouts/new", data={
        "seal": found.seal, "carrier": found.carrier, "destination": "县财政局", "purpose": "签合同",
        "due_at": "2020-01-01T10:00", "department": "Finance"})
    assert bad.status_code == 422 and "应还时间须晚于现在" in _text(bad)
    made = client.post("/seal-takeouts/new", data={
        "seal": found.seal, "carrier": found.carrier, "destination": "县财政局", "purpose": "签合同",
        "due_at": _soon(), "department": "Finance"})
    assert made.status_code == 302, _text(made)
    tid = made.headers["Location"].rsplit("/", 1)[-1]
    login(client, sessions, "auditor", "leader", make=False)
    missing_reason = client.post(f"/seal-takeouts/{tid}/decision", data={"decision": "reject", "reason": ""})
    assert missing_reason.status_code == 422
    assert client.post(f"/seal-takeouts/{tid}/decision", data={"decision": "reject", "reason": "不必外带"}
                       ).status_code == 302
    assert "未批准" in _text(client.get(f"/seal-takeouts/{tid}"))


def _soon() -> str:
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    return (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M")


def test_register_page_csv_and_pdf(client: Any, sessions: Any, found: Office, tmp_path: Path) -> None:
    rid = approved_use(sessions, found.seal, copies=2)
    from server.services import seal_uses

    with sessions() as session, session.begin():
        seal_uses.record_use(session, KEEPER, found.seal, seal_uses.UseIn(rid, 2))
    login(client, sessions, "auditor", "boss")
    page = _text(client.get(f"/seal-register?seal={found.seal}"))
    assert "用印登记" in page and "Budget report 2027" in page and "合计" in page
    assert _text(client.get("/seal-register?since=2026-13-01")).count("日期") >= 1
    assert client.get("/seal-register?since=2026-13-01").status_code == 422
    assert client.get("/seal-register?since=2030-01-02&until=2030-01-01").status_code == 422
    got = client.get(f"/seal-register.csv?seal={found.seal}")
    assert got.status_code == 200 and got.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(got.data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["序号", "用印时间", "印章编号"] and rows[1][6] == "Budget report 2027" and rows[1][7] == "2"
    pdf = client.get("/seal-register.pdf?department=Finance")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    (tmp_path / "r.pdf").write_bytes(pdf.data)
    text = subprocess.run(["pdftotext", str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True).stdout
    assert "用印登记簿" in text and "Budget report 2027" in text
    assert client.get("/seal-register.xlsx").status_code == 404
    login(client, sessions, "guard", "gate-guard")
    assert client.get("/seal-register").status_code == 403


def test_a_seal_label_opens_the_seal_page_and_prints_with_its_name(app: Any, client: Any, sessions: Any,
                                                                   found: Office) -> None:
    from server.services import printing

    login(client, sessions, "guard")
    opened = client.get(f"/c/{found.seal.lower()}")
    assert opened.status_code == 302 and opened.headers["Location"] == f"/seals/{found.seal}"
    with app.test_request_context(headers={"Accept-Language": "zh"}), sessions() as session:
        (label,) = printing.resolve(session, [found.seal], "县财政局")
        assert (label.name, label.category) == ("Finance Bureau seal", "公章")
