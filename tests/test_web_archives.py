"""The archive's pages in both languages: filing a volume, classes, a loan asked for, approved, refused,
lent and returned at the lending desk, overdue on the dashboard, a destruction list carried out and its
PDF, bad input beside its field, and the roles of every page."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from server.models import ArchiveLoan, ArchiveVolume, AuditEntry
from server.services import archive_loans, archives
from tests.admin_support import login
from tests.archive_support import KEEPER, Office, approved_loan, make_office

EN = {"Accept-Language": "en"}


@pytest.fixture
def office(sessions: Any) -> Office:
    return make_office(sessions)


def _text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def test_filing_a_volume_and_its_page_in_both_languages(client: Any, sessions: Any, office: Office) -> None:
    login(client, sessions, "storekeeper", make=False)
    form = _text(client.get("/archives/new"))
    assert "归档" in form and "密级" in form and "保管期限" in form and "文书档案" in form
    made = client.post("/archives/new", data={"title": "2025年度工作总结", "kind": "volume", "class_code": "WS",
                                              "year": "2025", "retention": "permanent", "confidentiality": "internal",
                                              "shelf": office.shelf, "reference": "WS-2025-007"})
    assert made.status_code == 302, _text(made)
    code = made.headers["Location"].rsplit("/", 1)[-1]
    page = _text(client.get(f"/archives/{code}"))
    for expected in ("2025年度工作总结", "WS-2025-007", "永久", "内部", "档案室 A 架", "打印二维码标签", "借阅申请"):
        assert expected in page, expected
    english = _text(client.get(f"/archives/{code}", headers=EN))
    assert "Permanent" in english and "Internal" in english and "Print QR label" in english
    listing = _text(client.get("/archives/?confidentiality=internal&q=工作总结"))
    assert code in listing and office.public not in listing
    assert client.get("/archives/?confidentiality=nonsense").status_code == 400
    assert f"codes={code}" in page  # the label page is opened with the volume's code
    # The volume's label (/c/<code>) opens the volume's page; an ordinary asset's, the asset page.
    assert client.get(f"/c/{code}").headers["Location"] == f"/archives/{code}"
    assert client.get(f"/c/{office.plain}").headers["Location"] == f"/assets/{office.plain}"


def test_bad_volume_input_is_shown_beside_its_field(client: Any, sessions: Any, office: Office) -> None:
    login(client, sessions, "storekeeper", make=False)
    data = {"title": "卷", "kind": "volume", "class_code": "WS", "year": "2025", "retention": "30y",
            "confidentiality": "public", "shelf": office.reading_room}
    refused = client.post("/archives/new", data=data)
    assert refused.status_code == 422 and "不是货架、货位或库房" in _text(refused)
    bad_year = client.post("/archives/new", data={**data, "shelf": office.shelf, "year": "1800"}, headers=EN)
    assert bad_year.status_code == 422 and "between 1900 and 2200" in _text(bad_year)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(ArchiveVolume)) == 4  # the office's, nothing more


def test_a_loan_asked_approved_lent_and_returned_on_the_web(client: Any, sessions: Any, office: Office) -> None:
    login(client, sessions, "storekeeper", make=False)
    asked = client.post("/archives/loans/new", data={"volume": office.secret, "borrower": office.borrower,
                                                    "purpose": "干部考察"})
    assert asked.status_code == 422 and "只能现场查阅" in _text(asked)  # a take-away of a confidential volume
    asked = client.post("/archives/loans/new", data={"volume": office.secret, "borrower": office.borrower,
                                                    "purpose": "干部考察", "on_site": "y"})
    assert asked.status_code == 302
    loan_id = int(asked.headers["Location"].rsplit("/", 1)[-1])
    page = _text(client.get(f"/archives/loans/{loan_id}"))
    assert "待审批" in page and "档案室负责人" in page and "分管领导" in page and "现场查阅" in page
    early = client.post("/archives/desk", data={"volume": office.secret, "borrower": office.borrower})
    assert early.status_code == 422 and "尚待审批" in _text(early)
    client.post("/logout")
    login(client, sessions, "auditor", "archivist", make=False)
    assert str(loan_id) in _text(client.get("/archives/loans/"))  # waiting for me
    assert client.post(f"/archives/loans/{loan_id}/decision", data={"decision": "approve"}).status_code == 302
    client.post("/logout")
    login(client, sessions, "auditor", "leader", make=False)
    rejected = client.post(f"/archives/loans/{loan_id}/decision", data={"decision": "reject"})
    assert rejected.status_code == 422 and "不同意时必须填写原因" in _text(rejected)
    assert client.post(f"/archives/loans/{loan_id}/decision", data={"decision": "approve"}).status_code == 302
    client.post("/logout")
    login(client, sessions, "storekeeper", make=False)
    other = client.post("/archives/desk", data={"volume": office.secret, "borrower": office.other})
    assert other.status_code == 422 and "没有借阅" in _text(other)
    lent = client.post("/archives/desk", data={"volume": office.secret, "borrower": office.borrower})
    assert lent.status_code == 302
    assert "已借给 张伟" in _text(client.get("/archives/desk"))
    again = client.post("/archives/desk", data={"volume": office.secret, "borrower": office.borrower}, headers=EN)
    assert again.status_code == 422 and "is lent to 张伟" in _text(again)
    assert "借出中" in _text(client.get(f"/archives/loans/{loan_id}"))
    back = client.post("/archives/desk", data={"volume": office.secret})
    assert back.status_code == 302
    page = _text(client.get(f"/archives/loans/{loan_id}"))
    assert "已归还" in page
    english = _text(client.get(f"/archives/loans/{loan_id}", headers=EN))
    assert "Returned" in english and "On site (reading room)" in english
    with sessions() as session:
        loan = archive_loans.by_id(session, loan_id)
        assert loan.lent_source == "web" and loan.returned_by == "u-storekeeper"


def test_lend_and_return_buttons_on_the_loan_page(client: Any, sessions: Any, office: Office) -> None:
    loan_id = approved_loan(sessions, office.public, office.borrower)
    login(client, sessions, "storekeeper", make=False)
    assert "现在借出" in _text(client.get(f"/archives/loans/{loan_id}"))
    assert client.post(f"/archives/loans/{loan_id}/lend").status_code == 302
    assert "登记归还" in _text(client.get(f"/archives/loans/{loan_id}"))
    assert client.post(f"/archives/loans/{loan_id}/return").status_code == 302
    assert "已归还" in _text(client.get(f"/archives/loans/{loan_id}"))
    client.post(f"/archives/loans/{loan_id}/return")  # not out: a message, nothing changes
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "archive_loan.return")) == 1


def test_bad_loan_input_is_refused_with_its_reason(client: Any, sessions: Any, office: Office) -> None:
    login(client, sessions, "storekeeper", make=False)
    with sessions() as session:
        beyond = (archives.today(session) + timedelta(days=40)).isoformat()
    cases = [({"due_on": beyond}, "借阅期限为 30 天"), ({"borrower": "P-0000001"}, "校验位"),
             ({"volume": office.plain}, "不是档案案卷或文件"), ({"purpose": ""}, "")]
    for change, message in cases:
        data = {"volume": office.public, "borrower": office.borrower, "purpose": "查阅", **change}
        refused = client.post("/archives/loans/new", data=data)
        assert refused.status_code == 422, change
        assert message in _text(refused)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(ArchiveLoan)) == 0


def test_overdue_loans_are_on_the_dashboard(client: Any, sessions: Any, office: Office) -> None:
    approved_loan(sessions, office.public, office.borrower)
    with sessions() as session, session.begin():
        loan = archive_loans.lend(session, KEEPER, office.public, office.borrower)
        loan.due_at = loan.due_at - timedelta(days=40)  # as if lent long ago
    login(client, sessions, "storekeeper", make=False)
    page = _text(client.get("/"))
    assert "逾期未还的档案" in page and "2024年度发文汇编" in page and "张伟" in page
    listed = _text(client.get("/archives/loans/?state=overdue"))
    assert "2024年度发文汇编" in listed
    report = _text(client.get("/reports/archive-overdue"))
    assert office.public in report and "逾期天数" in report and "公开" in report
    assert "Days late" in _text(client.get("/reports/archive-overdue", headers=EN))


def test_destruction_list_on_the_web_and_its_pdf(client: Any, sessions: Any, office: Office, tmp_path: Any) -> None:
    login(client, sessions, "storekeeper", make=False)
    page = _text(client.get("/archives/destruction/"))
    assert office.old in page and office.public not in page
    none_picked = client.post("/archives/destruction/", data={"reason": "无保存价值"})
    assert none_picked.status_code == 422 and "1 至 1000 卷" in _text(none_picked)
    made = client.post("/archives/destruction/", data={"volumes": [office.old], "reason": "无保存价值"})
    assert made.status_code == 302
    list_id = int(made.headers["Location"].rsplit("/", 1)[-1])
    client.post("/logout")
    for user in ("archivist", "principal"):
        login(client, sessions, "auditor", user, make=False)
        assert client.post(f"/archives/destruction/{list_id}/decision", data={"decision": "approve"}).status_code == 302
        client.post("/logout")
    login(client, sessions, "storekeeper", make=False)
    assert client.get(f"/archives/destruction/{list_id}.pdf").status_code == 409  # not destroyed yet
    data = {"executor": "王强", "witnesses": "赵敏，孙丽", "method": "粉碎"}
    confirm = client.post(f"/archives/destruction/{list_id}/carry-out", data=data)
    assert confirm.status_code == 200 and "无法撤销" in _text(confirm)
    same = client.post(f"/archives/destruction/{list_id}/carry-out", data={**data, "witnesses": "王强",
                                                                          "confirmed": "1"})
    assert same.status_code == 422 and "不能同时担任监销人" in _text(same)
    done = client.post(f"/archives/destruction/{list_id}/carry-out", data={**data, "confirmed": "1"})
    assert done.status_code == 302
    page = _text(client.get(f"/archives/destruction/{list_id}"))
    assert "已销毁" in page and "赵敏、孙丽" in page and "销毁清册（PDF）" in page
    pdf = client.get(f"/archives/destruction/{list_id}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    path = tmp_path / "list.pdf"
    path.write_bytes(pdf.data)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "档案销毁清册" in text and "监销人：赵敏、孙丽" in text and office.old in text
    assert "已销毁" in _text(client.get(f"/archives/{office.old}"))


def test_classes_are_the_admins(client: Any, sessions: Any, office: Office) -> None:
    login(client, sessions, "storekeeper", make=False)
    assert client.get("/archives/classes").status_code == 403
    client.post("/logout")
    login(client, sessions, "admin")
    page = _text(client.get("/archives/classes"))
    assert "人事档案" in page and "7 天" in page
    added = client.post("/archives/classes", data={"code": "jj", "name": "基建档案", "loan_days": "14"})
    assert added.status_code == 302
    bad = client.post("/archives/classes", data={"code": "JJ", "name": "重复", "loan_days": "14"})
    assert bad.status_code == 422 and "已存在" in _text(bad)
    odd = client.post("/archives/classes", data={"code": "QT", "name": "其他", "loan_days": "10"})
    assert odd.status_code == 422
    assert client.post("/archives/classes/JJ", data={"name": "基建档案", "loan_days": "30",
                                                     "on_site_only": "y"}).status_code == 302
    with sessions() as session:
        changed = archives.class_by_code(session, "JJ")
        assert (changed.loan_days, changed.on_site_only) == (30, True)


@pytest.mark.parametrize(("role", "method", "path", "allowed"), [
    ("auditor", "GET", "/archives/loans/new", False), ("auditor", "GET", "/archives/destruction/", True),
    ("auditor", "GET", "/archives/desk", False), ("storekeeper", "GET", "/archives/conflicts/", True)])
def test_roles_of_the_archive_pages(client: Any, sessions: Any, office: Office, role: str, method: str, path: str,
                                    allowed: bool) -> None:
    login(client, sessions, role, f"x-{role}")
    status = client.open(path, method=method, data={}).status_code
    assert (status != 403) is allowed, status


def test_the_gate_sees_no_archive_page(client: Any, sessions: Any, office: Office) -> None:
    """Titles, borrowers and confidentiality levels are not the guards' business: every archive page, the
    menu entry and the dashboard's part are refused or absent for the guard role."""
    loan_id = approved_loan(sessions, office.public, office.borrower)
    login(client, sessions, "guard", "x-guard")
    for method, path in (("GET", "/archives/"), ("GET", f"/archives/{office.public}"), ("GET", "/archives/new"),
                         ("GET", "/archives/desk"), ("GET", "/archives/classes"), ("GET", "/archives/loans/"),
                         ("GET", "/archives/loans/new"), ("GET", f"/archives/loans/{loan_id}"),
                         ("POST", f"/archives/loans/{loan_id}/decision"), ("GET", "/archives/destruction/"),
                         ("POST", "/archives/destruction/"), ("GET", "/archives/conflicts/"),
                         ("POST", "/archives/conflicts/1")):
        assert client.open(path, method=method, data={}).status_code == 403, path
    home = _text(client.get("/"))
    assert "/archives/" not in home and "逾期未还的档案" not in home


def test_a_file_names_its_volume(client: Any, sessions: Any, office: Office) -> None:
    login(client, sessions, "storekeeper", make=False)
    made = client.post("/archives/new", data={"title": "关于会议的通知", "kind": "file", "class_code": "WS",
                                              "year": "2024", "retention": "30y", "confidentiality": "public",
                                              "shelf": office.shelf, "parent": office.public})
    assert made.status_code == 302, _text(made)
    page = _text(client.get(made.headers["Location"]))
    assert "文件" in page and "归入" in page and office.public in page and "2024年度发文汇编" in page
    refused = client.post("/archives/new", data={"title": "卷中卷", "kind": "volume", "class_code": "WS",
                                                 "year": "2024", "retention": "30y", "confidentiality": "public",
                                                 "shelf": office.shelf, "parent": office.public})
    assert refused.status_code == 422 and "只有文件可以归入案卷" in _text(refused)


def test_every_input_of_the_archive_pages_has_a_label(client: Any, sessions: Any, office: Office) -> None:
    import re

    loan_id = approved_loan(sessions, office.public, office.borrower)
    with sessions() as session, session.begin():
        from server.services import archive_destruction

        list_id = archive_destruction.propose(session, KEEPER, [office.old], "无保存价值").id
    login(client, sessions, "admin")
    pages = ["/archives/", "/archives/new", f"/archives/{office.public}", "/archives/classes", "/archives/desk",
             "/archives/loans/", "/archives/loans/new", f"/archives/loans/{loan_id}", "/archives/destruction/",
             f"/archives/destruction/{list_id}"]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        html = _text(response)
        labelled = set(re.findall(r'<label[^>]* for="([^"]+)"', html))
        ids = re.findall(r'\bid="([^"]+)"', html)
        assert len(ids) == len(set(ids)), (path, "an id used twice")
        for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
            if 'type="hidden"' in tag or "aria-label=" in tag:
                continue
            ident = re.search(r'id="([^"]+)"', tag)
            assert ident and ident.group(1) in labelled, (path, tag)


def test_off_line_conflicts_are_listed_and_settled_by_the_archive_manager(client: Any, sessions: Any,
                                                                          office: Office) -> None:
    """A lending scanned off line without an approved request: a loan without an approval, on the conflicts
    page and the dashboard; the archive manager settles it with a note, an auditor without the grant may not."""
    from server.models import utcnow
    from server.services import archive_conflicts, assets

    with sessions() as session, session.begin():
        origin = assets.KioskOrigin("archive-1", 1, "00000000-0000-4000-8000-000000000001")
        done = archive_conflicts.lend_at_kiosk(session, KEEPER, office.public, office.borrower, at=utcnow(),
                                               origin=origin, offline=True)
        assert done.conflict is not None and done.loan is not None
        conflict_id, loan_id = done.conflict.id, done.loan.id
    login(client, sessions, "auditor", "leader", make=False)  # an auditor, but not the archive manager
    page = _text(client.get("/archives/conflicts/"))
    assert "离线借出，无已批准的借阅申请" in page and "张伟" in page and f'name="c{conflict_id}-note"' not in page
    assert client.post(f"/archives/conflicts/{conflict_id}", data={f"c{conflict_id}-note": "看过"}).status_code == 403
    client.post("/logout")
    login(client, sessions, "auditor", "archivist", make=False)
    assert "1 项档案冲突待处理" in _text(client.get("/"))
    loan_page = _text(client.get(f"/archives/loans/{loan_id}"))
    assert "没有审批" in loan_page and "借出中" in loan_page and "离线借出，无已批准的借阅申请" in loan_page
    english = _text(client.get("/archives/conflicts/", headers=EN))
    assert "Lent off line without an approved loan request" in english and "has no approved loan request" in english
    empty = client.post(f"/archives/conflicts/{conflict_id}", data={f"c{conflict_id}-note": ""})
    assert empty.status_code == 422
    settled = client.post(f"/archives/conflicts/{conflict_id}", data={f"c{conflict_id}-note": "已补办借阅申请"})
    assert settled.status_code == 302
    assert "已补办借阅申请" in _text(client.get("/archives/conflicts/?state=settled"))
    assert "档案冲突待处理" not in _text(client.get("/"))
    assert client.get("/archives/conflicts/?state=x").status_code == 400
