"""REST for seals (issue 14): register, steps, imprint upload and its roles, a use request decided and
stamped, a take-out out and back, overdue, the register as JSON/CSV/PDF; bad input is a clear 4xx that
changes nothing. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from server.models import AuditEntry, SealUse
from tests.seal_support import Office, image, make_overdue, office


@pytest.fixture
def found(sessions: Any) -> Office:
    return office(sessions)


def _approve(sessions: Any, approval_id: int, quantity: int | None = None) -> None:
    """The leader in charge decides on the web (an API token acts as "token:<name>", who holds no grant)."""
    from server.audit import Actor
    from server.services import approvals

    with sessions() as session, session.begin():
        approvals.decide(session, Actor("leader", "web", "auditor"), approval_id, "approve", quantity)


def _audit_count(sessions: Any) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def test_register_steps_and_imprint_through_the_api(client: Any, tokens: Any, sessions: Any, found: Office) -> None:
    keeper = tokens.headers("storekeeper")
    made = client.post("/api/v1/seals", headers=keeper, json={
        "name": "财务专用章", "kind": "finance", "department": "Finance", "custodian": found.custodian,
        "approval_ref": "财〔2026〕3号", "made_on": "2026-11-01"})
    assert made.status_code == 201, made.json
    code = made.json["code"]
    assert (made.json["status"], made.json["custodian"]["code"], made.json["imprint"]) == ("made", found.custodian,
                                                                                          None)
    refused = client.post(f"/api/v1/seals/{code}/steps", headers=keeper, json={"action": "suspend",
                                                                               "approval_ref": "R-1"})
    assert refused.status_code == 409 and refused.json["error"]["code"] == "illegal_transition"
    assert "只能从启用状态变更" in refused.json["error"]["message"]
    ok = client.post(f"/api/v1/seals/{code}/steps", headers=keeper, json={"action": "enable", "approval_ref": "R-2"})
    assert ok.status_code == 200 and ok.json["status"] == "in_use"
    up = client.post(f"/api/v1/seals/{code}/imprint", headers={**keeper, "Content-Type": "image/png"}, data=image())
    assert up.status_code == 201 and len(up.json["imprint"]["sha256"]) == 64
    assert client.post(f"/api/v1/seals/{code}/imprint", headers={**keeper, "Content-Type": "image/gif"},
                       data=b"GIF89a").json["error"]["code"] == "imprint_not_image"
    got = client.get(f"/api/v1/seals/{code}", headers=tokens.headers("guard")).json
    assert [h["action"] for h in got["history"]] == ["register", "enable", "imprint"] and got["imprint"]["width"] == 120
    assert client.get(f"/api/v1/seals/{code}/imprint", headers=tokens.headers("guard")).status_code == 403
    png = client.get(f"/api/v1/seals/{code}/imprint", headers=tokens.headers("auditor"))
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert png.headers["Cache-Control"] == "private, no-store"
    assert client.get(f"/api/v1/seals/{code}/imprint?id=999", headers=keeper).status_code == 404
    listed = client.get("/api/v1/seals?kind=finance", headers=keeper).json["items"]
    assert [s["code"] for s in listed] == [code]
    assert client.get("/api/v1/seals?status=lost", headers=keeper).status_code == 422


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"kind": "private"}, 422, "bad_schema"), ({"approval_ref": ""}, 422, "bad_schema"),
    ({"custodian": "P-00000001"}, 422, "bad_check"),
    ({"custodian": "P-00000000"}, 404, "unknown_person"), ({"custodian": "A-000010*"}, 422, "wrong_kind"),
    ({"made_on": "1800-01-01"}, 422, "bad_schema"), ({"name": "x" * 201}, 422, "bad_schema"),
    ({"extra": 1}, 422, "bad_schema")])
def test_bad_registrations_are_clear_and_change_nothing(client: Any, tokens: Any, sessions: Any, found: Office,
                                                        body: dict[str, Any], status: int, code: str) -> None:
    keeper = tokens.headers("storekeeper")
    base = {"name": "章", "kind": "official", "department": "Finance", "custodian": found.custodian,
            "approval_ref": "R"}
    before = _audit_count(sessions)
    refused = client.post("/api/v1/seals", headers=keeper, json={**base, **body})
    assert (refused.status_code, refused.json["error"]["code"]) == (status, code)
    assert _audit_count(sessions) == before


def test_use_request_decided_and_stamped_over_rest(client: Any, tokens: Any, sessions: Any, found: Office) -> None:
    clerk = tokens.headers("guard")
    made = client.post("/api/v1/seal-requests", headers=clerk, json={
        "seal": found.seal, "document_title": "采购合同", "copies": 4, "recipient": "某公司", "purpose": "签约",
        "department": "Finance"})
    assert made.status_code == 201, made.json
    rid = made.json["id"]
    assert made.json["approval"]["levels"] == ["leader"] and made.json["approval"]["state"] == "pending"
    keeper = tokens.headers("storekeeper")
    refused = client.post(f"/api/v1/seals/{found.seal}/uses", headers=keeper, json={"request": rid, "copies": 1})
    assert refused.status_code == 422 and refused.json["error"]["code"] == "use_not_approved"
    no_request = client.post(f"/api/v1/seals/{found.seal}/uses", headers=keeper, json={"copies": 1})
    assert no_request.status_code == 422 and no_request.json["error"]["code"] == "request_required"
    assert client.post(f"/api/v1/seal-requests/{rid}/decision", headers=keeper,
                       json={"decision": "approve"}).status_code == 403  # no approver grant
    _approve(sessions, made.json["approval"]["id"], 2)
    used = client.post(f"/api/v1/seals/{found.seal}/uses", headers=keeper,
                       json={"request": rid, "copies": 2, "stamped_by": found.other, "note": "两份"})
    assert used.status_code == 201 and used.json["stamped_by"]["code"] == found.other
    over = client.post(f"/api/v1/seals/{found.seal}/uses", headers=keeper, json={"request": rid, "copies": 1})
    assert over.status_code == 422 and over.json["error"]["code"] == "copies_exceeded"
    got = client.get(f"/api/v1/seal-requests/{rid}", headers=clerk).json
    assert got["fulfilment"] == {"asked": 4, "approved": 2, "stamped": 2, "left": 0} and len(got["uses"]) == 1
    assert client.get("/api/v1/seal-requests?state=approved", headers=clerk).json["items"][0]["id"] == rid
    assert client.get("/api/v1/seal-requests?state=nope", headers=clerk).status_code == 422
    rows = client.get(f"/api/v1/seal-register?seal={found.seal}", headers=keeper).json
    assert rows["copies"] == 2 and rows["items"][0]["approved_by"] == "leader"
    csv_file = client.get("/api/v1/seal-register?format=csv", headers=keeper)
    assert csv_file.mimetype == "text/csv" and "采购合同" in csv_file.data.decode("utf-8-sig")
    pdf = client.get("/api/v1/seal-register?format=pdf&since=2026-01-01", headers=tokens.headers("auditor"))
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert client.get("/api/v1/seal-register", headers=clerk).status_code == 403
    assert client.get("/api/v1/seal-register?since=20x6", headers=keeper).status_code == 422
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(SealUse)) == 1


def test_takeout_out_back_and_overdue_over_rest(client: Any, tokens: Any, sessions: Any, found: Office) -> None:
    clerk, keeper = tokens.headers("guard"), tokens.headers("storekeeper")
    due = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    made = client.post("/api/v1/seal-takeouts", headers=clerk, json={
        "seal": found.seal, "carrier": found.carrier, "destination": "市政务中心", "purpose": "办理登记",
        "due_at": due, "department": "Finance"})
    assert made.status_code == 201, made.json
    tid = made.json["id"]
    naive = client.post("/api/v1/seal-takeouts", headers=clerk, json={
        "seal": found.seal, "carrier": found.carrier, "destination": "x", "purpose": "y",
        "due_at": "2030-01-01T10:00:00", "department": "Finance"})
    assert naive.status_code == 422 and naive.json["error"]["code"] == "bad_schema"
    out = client.post(f"/api/v1/seals/{found.seal}/takeout", headers=keeper, json={"carrier": found.carrier})
    assert out.status_code == 422 and out.json["error"]["code"] == "no_takeout_approval"
    assert client.post(f"/api/v1/seal-takeouts/{tid}/decision", headers=keeper,
                       json={"decision": "approve"}).json["error"]["code"] == "forbidden"
    _approve(sessions, made.json["approval"]["id"])
    out = client.post(f"/api/v1/seals/{found.seal}/takeout", headers=keeper, json={"carrier": found.carrier})
    assert out.status_code == 200 and out.json["state"] == "out"
    assert client.get("/api/v1/seal-takeouts/overdue", headers=clerk).json["items"] == []
    make_overdue(sessions, tid)
    late = client.get("/api/v1/seal-takeouts/overdue", headers=clerk).json["items"]
    assert [t["id"] for t in late] == [tid] and late[0]["state"] == "overdue"
    assert [t["id"] for t in client.get("/api/v1/seal-takeouts?state=overdue", headers=clerk).json["items"]] == [tid]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert client.post(f"/api/v1/seals/{found.seal}/return", headers=keeper,
                       json={"at": future}).json["error"]["code"] == "bad_time"
    back = client.post(f"/api/v1/seals/{found.seal}/return", headers=keeper, json={})
    assert back.status_code == 200 and back.json["state"] == "returned"
    again = client.post(f"/api/v1/seals/{found.seal}/return", headers=keeper, json={})
    assert again.status_code == 409 and again.json["error"]["code"] == "illegal_transition"
    assert client.get(f"/api/v1/seal-takeouts/{tid}", headers=clerk).json["returned_by"] == "token:test-storekeeper"
