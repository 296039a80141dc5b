"""The correction pages: void a purchase (confirm step), reverse an intake, amend a plan line; refusals
beside their fields in Chinese; roles as the REST routes'."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from server.models import Asset, Intake, PlanLine, Purchase
from server.services import intake
from tests.procurement_support import ACTOR, buy, office, plan_line
from tests.test_web_procurement import login


@pytest.fixture
def received(sessions: Any) -> dict[str, Any]:
    with sessions() as session, session.begin():
        where = office(session)
        plan_line(session)
        purchase = buy(session, qty=2, price="5000.00")
        got = intake.receive(session, ACTOR, purchase.lines[0].id, "k1", where.store, 2)
        return {"purchase": purchase.id, "intake": got.intake.id}


def test_void_waits_for_the_intake_to_be_reversed(client: Any, sessions: Any, received: dict[str, Any]) -> None:
    login(client, sessions, "storekeeper")
    pid, iid = received["purchase"], received["intake"]
    page = client.get(f"/procurement/purchases/{pid}/void").get_data(as_text=True)
    assert "请先冲销" in page and f"/procurement/intakes/{iid}" in page
    form = {"reason": "重复录入", "approval_ref": "CHG-1"}
    confirm = client.post(f"/procurement/purchases/{pid}/void", data=form).get_data(as_text=True)
    assert "作废采购" in confirm and 'name="confirmed"' in confirm
    refused = client.post(f"/procurement/purchases/{pid}/void", data={**form, "confirmed": "1"})
    assert refused.status_code == 400 and "请先冲销入库再作废" in refused.get_data(as_text=True)
    back = client.post(f"/procurement/intakes/{iid}/reverse", data={"reason": "录错", "confirmed": "1"})
    assert back.status_code == 302
    assert "已冲销" in client.get(f"/procurement/intakes/{iid}").get_data(as_text=True)
    done = client.post(f"/procurement/purchases/{pid}/void", data={**form, "confirmed": "1"})
    assert done.status_code == 302
    shown = client.get(f"/procurement/purchases/{pid}").get_data(as_text=True)
    assert 'id="voided"' in shown and "CHG-1" in shown
    with sessions() as session:
        assert session.get(Purchase, pid).voided_at is not None
        assert session.get(Intake, iid).reversed_at is not None
        assert set(session.scalars(select(Asset.status))) == {"retired"}


def test_amend_is_for_the_admin_and_shows_refusals_beside_the_field(client: Any, sessions: Any,
                                                                    received: dict[str, Any]) -> None:
    login(client, sessions, "storekeeper")
    assert client.get("/procurement/plans/2026-IT-01/amend").status_code == 403
    assert "/amend" not in client.get("/procurement/plans/2026-IT-01").get_data(as_text=True)
    client.get("/logout")
    login(client, sessions, "admin")
    low = client.post("/procurement/plans/2026-IT-01/amend", data={"approved_qty": "1", "approval_ref": "CHG-2"})
    text = low.get_data(as_text=True)
    assert low.status_code == 400 and "已执行 2 件" in text and 'aria-invalid="true"' in text
    ok = client.post("/procurement/plans/2026-IT-01/amend",
                     data={"approved_qty": "5", "approved_amount": "25000.00", "approval_ref": "CHG-2",
                           "reason": "预算调减"})
    assert ok.status_code == 302
    page = client.get("/procurement/plans/2026-IT-01").get_data(as_text=True)
    assert 'id="amendments"' in page and "CHG-2" in page and "预算调减" in page
    with sessions() as session:
        line = session.scalars(select(PlanLine)).one()
        assert (line.approved_qty, str(line.approved_amount)) == (5, "25000.00")
