"""REST for the corrections: the same service, its refusals in both languages, roles."""

from __future__ import annotations

from typing import Any

import pytest

from server.services import intake
from tests.procurement_support import ACTOR, buy, office, plan_line


@pytest.fixture
def setup(sessions: Any) -> dict[str, Any]:
    with sessions() as session, session.begin():
        where = office(session)
        plan_line(session)
        purchase = buy(session, qty=2, price="5000.00")
        got = intake.receive(session, ACTOR, purchase.lines[0].id, "k1", where.store, 2)
        return {"purchase": purchase.id, "intake": got.intake.id, "codes": got.codes}


def test_void_reverse_and_amend_through_rest(client: Any, tokens: Any, setup: dict[str, Any]) -> None:
    h = tokens.headers("storekeeper")
    refused = client.post(f"/api/v1/purchases/{setup['purchase']}/void",
                          json={"reason": "duplicate", "approval_ref": "CHG-1"}, headers={**h, "Accept-Language": "en"})
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "has_intakes"
    assert "reverse them before voiding it" in refused.get_json()["error"]["message"]
    zh = client.post(f"/api/v1/purchases/{setup['purchase']}/void",
                     json={"reason": "duplicate", "approval_ref": "CHG-1"}, headers={**h, "Accept-Language": "zh"})
    assert "冲销" in zh.get_json()["error"]["message"]
    back = client.post(f"/api/v1/intakes/{setup['intake']}/reverse", json={"reason": "entered twice"}, headers=h)
    assert back.status_code == 200 and back.get_json()["retired"] == setup["codes"]
    done = client.post(f"/api/v1/purchases/{setup['purchase']}/void",
                       json={"reason": "duplicate", "approval_ref": "CHG-1"}, headers=h)
    assert done.status_code == 200 and done.get_json()["void_approval_ref"] == "CHG-1"
    line = client.get("/api/v1/plans/2026-IT-01", headers=h).get_json()
    assert (line["used_qty"], line["remaining_amount"]) == (0, "50000.00")
    admin = tokens.headers("admin")
    assert client.post("/api/v1/plans/2026-IT-01/amendments", json={"approval_ref": "CHG-2", "approved_qty": 4},
                       headers=h).status_code == 403
    amended = client.post("/api/v1/plans/2026-IT-01/amendments",
                          json={"approval_ref": "CHG-2", "approved_qty": 4, "approved_amount": "20000.00"},
                          headers=admin)
    assert amended.status_code == 201 and amended.get_json()["old_qty"] == 10
    listed = client.get("/api/v1/plans/2026-IT-01/amendments", headers=h).get_json()["items"]
    assert [(a["old_amount"], a["new_amount"]) for a in listed] == [("50000.00", "20000.00")]
    over = client.post("/api/v1/plans/2026-IT-01/amendments",
                       json={"approval_ref": "CHG-3", "approved_qty": 1, "approved_amount": "7000.00"},
                       headers={**admin, "Accept-Language": "zh"})
    assert over.status_code == 422 and over.get_json()["error"]["code"] == "amount_above_cap"
    assert "单价上限" in over.get_json()["error"]["message"]


def test_bad_bodies(client: Any, tokens: Any, setup: dict[str, Any]) -> None:
    h = tokens.headers("storekeeper")
    assert client.post(f"/api/v1/purchases/{setup['purchase']}/void", json={"reason": "x"},
                       headers=h).status_code == 422
    assert client.post("/api/v1/purchases/999/void", json={"reason": "x", "approval_ref": "y"},
                       headers=h).status_code == 404
    assert client.post(f"/api/v1/intakes/{setup['intake']}/reverse", json={}, headers=h).status_code == 422
