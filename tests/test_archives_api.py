"""The archive's REST API: classes, volumes, loans (request, refusal, lending, conflict, return) and
destruction lists with their PDF; bad input answers a clear 4xx and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from server.models import AuditEntry
from server.services import approvals, archive_destruction
from tests.archive_support import MANAGER, PRINCIPAL, Office, approved_loan, make_office


@pytest.fixture
def office(sessions: Any) -> Office:
    return make_office(sessions)


def _audit_count(sessions: Any) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def _refused(client: Any, sessions: Any, method: str, url: str, headers: dict[str, str], body: Any,
             status: int, code: str) -> dict[str, Any]:
    before = _audit_count(sessions)
    answer = client.open(url, method=method, headers=headers, json=body)
    assert (answer.status_code, answer.json["error"]["code"]) == (status, code), answer.json
    assert _audit_count(sessions) == before, "a refused request changed the ledger"
    return dict(answer.json["error"])


def test_classes_and_volumes(client: Any, sessions: Any, tokens: Any, office: Office) -> None:
    admin, keeper, guard = tokens.headers("admin"), tokens.headers("storekeeper"), tokens.headers("guard")
    reader = tokens.headers("auditor")
    for path in ("/api/v1/archives/classes", "/api/v1/archives/volumes", f"/api/v1/archives/volumes/{office.public}",
                 "/api/v1/archives/loans", "/api/v1/archives/destruction-due", "/api/v1/archives/conflicts"):
        assert client.get(path, headers=guard).status_code == 403, path  # the archive is not the gate's
    listed = client.get("/api/v1/archives/classes", headers=reader).json
    assert listed["loan_terms"] == [7, 14, 30] and [c["code"] for c in listed["items"]] == ["KJ", "RS", "WS"]
    made = client.post("/api/v1/archives/classes", headers=admin, json={"code": "JJ", "name": "基建档案",
                                                                        "loan_days": 14})
    assert made.status_code == 201 and made.json == {"code": "JJ", "name": "基建档案", "loan_days": 14,
                                                     "on_site_only": False}
    assert client.post("/api/v1/archives/classes", headers=keeper,
                       json={"code": "QT", "name": "其他", "loan_days": 7}).status_code == 403
    error = _refused(client, sessions, "POST", "/api/v1/archives/classes", admin,
                     {"code": "QT", "name": "其他", "loan_days": 10}, 422, "bad_loan_days")
    assert "7, 14, 30" in error["message"]
    changed = client.post("/api/v1/archives/classes/JJ", headers=admin, json={"name": "基建档案", "loan_days": 30,
                                                                              "on_site_only": True})
    assert changed.json["loan_days"] == 30 and changed.json["on_site_only"] is True
    body = {"title": "2025年度基建图纸", "class": "JJ", "year": 2025, "retention": "30y",
            "confidentiality": "confidential", "shelf": office.shelf, "reference": "JJ-2025-1"}
    volume = client.post("/api/v1/archives/volumes", headers=keeper, json=body)
    assert volume.status_code == 201, volume.json
    code = volume.json["code"]
    assert code.startswith("A-") and volume.json["retention_until"] == "2055-12-31"
    assert volume.json["on_site_only"] is True and volume.json["shelf"] == office.shelf
    _refused(client, sessions, "POST", "/api/v1/archives/volumes", keeper, {**body, "retention": "5y"}, 422,
             "bad_schema")
    _refused(client, sessions, "POST", "/api/v1/archives/volumes", keeper, {**body, "reference": "",
                                                                            "shelf": office.reading_room},
             422, "not_a_shelf")
    _refused(client, sessions, "POST", "/api/v1/archives/volumes", keeper, {**body, "reference": "", "class": "XX"},
             404, "unknown_class")
    _refused(client, sessions, "POST", "/api/v1/archives/volumes", keeper, body, 409, "reference_taken")
    assert client.get(f"/api/v1/archives/volumes/{code}", headers=reader).json["title"] == "2025年度基建图纸"
    assert client.get(f"/api/v1/archives/volumes/{office.plain}", headers=reader).status_code == 404
    first = client.get("/api/v1/archives/volumes?limit=2", headers=reader).json
    rest = client.get(f"/api/v1/archives/volumes?limit=10&after={first['next']}", headers=reader).json
    assert len(first["items"]) == 2 and len(rest["items"]) == 3 and rest["next"] is None
    only = client.get("/api/v1/archives/volumes?confidentiality=confidential", headers=reader).json["items"]
    assert [v["code"] for v in only] == [code]
    assert client.get("/api/v1/archives/volumes?confidentiality=x", headers=reader).status_code == 422


def test_loan_request_refusal_lending_conflict_and_return(client: Any, sessions: Any, tokens: Any,
                                                          office: Office) -> None:
    keeper, guard, auditor = tokens.headers("storekeeper"), tokens.headers("guard"), tokens.headers("auditor")
    assert client.post("/api/v1/archives/loans", headers=guard, json={
        "volume": office.top, "borrower": office.borrower, "purpose": "年度审计"}).status_code == 403
    asked = client.post("/api/v1/archives/loans", headers=keeper, json={
        "volume": office.top, "borrower": office.borrower, "purpose": "年度审计"})
    assert asked.status_code == 201, asked.json
    assert asked.json["state"] == "pending" and asked.json["approval"]["levels"] == [
        "archive_manager", "leader", "principal"]
    loan_id = asked.json["id"]
    _refused(client, sessions, "POST", f"/api/v1/archives/loans/{loan_id}/decision", auditor,
             {"decision": "approve"}, 403, "forbidden")  # a token is no approver
    error = _refused(client, sessions, "POST", f"/api/v1/archives/volumes/{office.top}/lend", keeper,
                     {"borrower": office.borrower}, 422, "no_loan_request")
    assert f"request {loan_id}" in error["message"] or "尚待审批" in error["message"]
    _refused(client, sessions, "POST", "/api/v1/archives/loans", keeper, {
        "volume": office.secret, "borrower": office.borrower, "purpose": "查阅"}, 422, "on_site_only")
    _refused(client, sessions, "POST", "/api/v1/archives/loans", keeper, {
        "volume": office.public, "borrower": office.borrower, "purpose": "查阅", "due_on": "2001-01-01"},
        422, "bad_due")
    _refused(client, sessions, "POST", "/api/v1/archives/loans", keeper, {
        "volume": office.public, "borrower": office.borrower, "purpose": "", "on_site": True}, 422, "bad_schema")
    _refused(client, sessions, "POST", "/api/v1/archives/loans", keeper, {
        "volume": office.public, "borrower": office.borrower, "purpose": "x", "extra": 1}, 422, "bad_schema")
    public_loan = approved_loan(sessions, office.public, office.borrower)
    _refused(client, sessions, "POST", f"/api/v1/archives/volumes/{office.public}/lend", keeper,
             {"borrower": office.other}, 422, "no_loan_request")
    lent = client.post(f"/api/v1/archives/loans/{public_loan}/lend", headers=keeper)
    assert lent.status_code == 200 and lent.json["state"] == "out" and lent.json["lent_by"] == "token:test-storekeeper"
    approved_loan(sessions, office.public, office.other)
    error = _refused(client, sessions, "POST", f"/api/v1/archives/volumes/{office.public}/lend", keeper,
                     {"borrower": office.other}, 422, "volume_on_loan")
    assert "张伟" in error["message"]
    assert client.get(f"/api/v1/archives/volumes/{office.public}", headers=auditor).json["on_loan"] == public_loan
    back = client.post(f"/api/v1/archives/volumes/{office.public}/return", headers=keeper, json={})
    assert back.status_code == 200 and back.json["state"] == "returned" and back.json["late"] is False
    _refused(client, sessions, "POST", f"/api/v1/archives/volumes/{office.public}/return", keeper, {}, 422,
             "not_on_loan")
    assert client.post(f"/api/v1/archives/volumes/{office.public}/return", headers=guard, json={}).status_code == 403
    returned = client.get("/api/v1/archives/loans?state=returned", headers=auditor).json["items"]
    assert [x["id"] for x in returned] == [public_loan]
    assert client.get("/api/v1/archives/loans?state=lost", headers=auditor).status_code == 422
    mine = client.get(f"/api/v1/archives/loans?borrower={office.borrower}", headers=auditor).json["items"]
    assert {x["id"] for x in mine} == {public_loan, loan_id}
    withdrawn = client.post(f"/api/v1/archives/loans/{loan_id}/withdraw", headers=keeper)
    assert withdrawn.status_code == 200 and withdrawn.json["state"] == "withdrawn"


def test_destruction_list_through_the_api(client: Any, sessions: Any, tokens: Any, office: Office) -> None:
    keeper, auditor, guard = tokens.headers("storekeeper"), tokens.headers("auditor"), tokens.headers("guard")
    due = client.get("/api/v1/archives/destruction-due", headers=auditor).json["items"]
    assert [v["code"] for v in due] == [office.old]
    _refused(client, sessions, "POST", "/api/v1/archives/destructions", keeper,
             {"volumes": [office.public], "reason": "无保存价值"}, 422, "not_past_retention")
    _refused(client, sessions, "POST", "/api/v1/archives/destructions", keeper,
             {"volumes": [], "reason": "无保存价值"}, 422, "bad_schema")
    made = client.post("/api/v1/archives/destructions", headers=keeper,
                       json={"volumes": [office.old], "reason": "无保存价值"})
    assert made.status_code == 201 and made.json["state"] == "pending" and made.json["volumes"] == [office.old]
    list_id = made.json["id"]
    _refused(client, sessions, "POST", f"/api/v1/archives/destructions/{list_id}/carry-out", keeper,
             {"executor": "王强", "witnesses": ["赵敏"], "method": "粉碎"}, 409, "illegal_transition")
    with sessions() as session, session.begin():
        approval_id = archive_destruction.by_id(session, list_id).approval_id
    for actor in (MANAGER, PRINCIPAL):
        with sessions() as session, session.begin():
            approvals.decide(session, actor, approval_id, "approve")
    _refused(client, sessions, "POST", f"/api/v1/archives/destructions/{list_id}/carry-out", keeper,
             {"executor": "王强", "witnesses": ["王强"], "method": "粉碎"}, 422, "bad_witnesses")
    _refused(client, sessions, "GET", f"/api/v1/archives/destructions/{list_id}/pdf", auditor, None, 409,
             "illegal_transition")
    done = client.post(f"/api/v1/archives/destructions/{list_id}/carry-out", headers=keeper,
                       json={"executor": "王强", "witnesses": ["赵敏", "孙丽"], "method": "粉碎"})
    assert done.status_code == 200 and done.json["state"] == "destroyed" and done.json["witnesses"] == ["赵敏", "孙丽"]
    pdf = client.get(f"/api/v1/archives/destructions/{list_id}/pdf", headers=auditor)
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert client.get(f"/api/v1/archives/destructions/{list_id}/pdf", headers=guard).status_code == 403
    assert client.get(f"/api/v1/archives/volumes/{office.old}", headers=auditor).json["status"] == "disposed"
    listed = client.get("/api/v1/archives/destructions", headers=auditor).json["items"]
    assert [d["id"] for d in listed] == [list_id]
    assert client.get("/api/v1/archives/destructions/999", headers=auditor).status_code == 404


def test_archive_reports_through_the_api(client: Any, sessions: Any, tokens: Any, office: Office) -> None:
    from server.services import archive_loans
    from tests.archive_support import KEEPER

    approved_loan(sessions, office.public, office.borrower)
    approved_loan(sessions, office.secret, office.borrower, on_site=True)
    with sessions() as session, session.begin():
        archive_loans.lend(session, KEEPER, office.public, office.borrower)
        archive_loans.lend(session, KEEPER, office.secret, office.borrower)
    auditor = tokens.headers("auditor")
    loans = client.get("/api/v1/reports/archive-loans", headers=auditor).json
    assert loans["rows"] == [
        {"department": "Finance", "archive_class": "人事档案", "loans": 1, "on_site": 1, "late_loans": 0,
         "still_out": 1},
        {"department": "Finance", "archive_class": "文书档案", "loans": 1, "on_site": 0, "late_loans": 0,
         "still_out": 1}]
    review = client.get("/api/v1/reports/archive-review", headers=auditor).json
    assert [r["volume"] for r in review["rows"]] == [office.old] and review["rows"][0]["past_retention"] is True
    wide = client.get("/api/v1/reports/archive-review?within=20000", headers=auditor)
    assert wide.status_code == 422
    far = client.get("/api/v1/reports/archive-review?within=3650", headers=auditor).json["rows"]
    assert {r["volume"] for r in far} == {office.old}  # the others are kept until 2054
    assert client.get("/api/v1/reports/archive-overdue", headers=auditor).json["rows"] == []


def test_archive_conflicts_through_the_api(client: Any, sessions: Any, tokens: Any, office: Office) -> None:
    """A return scanned off line of a volume that was not out: listed, and settled once by a storekeeper."""
    from server.models import utcnow
    from server.services import archive_conflicts, assets
    from tests.archive_support import KEEPER

    keeper, auditor = tokens.headers("storekeeper"), tokens.headers("auditor")
    with sessions() as session, session.begin():
        origin = assets.KioskOrigin("archive-1", 1, "00000000-0000-4000-8000-000000000001")
        made = archive_conflicts.return_at_kiosk(session, KEEPER, office.public, None, at=utcnow(), origin=origin,
                                                 offline=True).conflict
        assert made is not None
        conflict_id = made.id
    listed = client.get("/api/v1/archives/conflicts", headers={**auditor, "Accept-Language": "en"})
    assert [(c["id"], c["reason"], c["volume"], c["kiosk"]) for c in listed.json["items"]] == [
        (conflict_id, "not_on_loan", office.public, "archive-1")]
    assert "is not out on loan" in listed.json["items"][0]["message"]
    path = f"/api/v1/archives/conflicts/{conflict_id}/settle"
    _refused(client, sessions, "POST", path, auditor, {"note": "看过"}, 403, "forbidden")  # not the archive manager
    _refused(client, sessions, "POST", path, keeper, {"note": ""}, 422, "bad_schema")
    done = client.post(path, headers=keeper, json={"note": "已核实在架"})
    assert done.status_code == 200 and done.json["settled_by"] == "token:test-storekeeper"
    _refused(client, sessions, "POST", path, keeper, {"note": "再次"}, 409, "already_settled")
    assert client.get("/api/v1/archives/conflicts", headers=auditor).json["items"] == []
    assert client.get("/api/v1/archives/conflicts?state=all", headers=auditor).json["items"][0]["note"] == "已核实在架"
    assert client.get("/api/v1/archives/conflicts?state=x", headers=auditor).status_code == 422
