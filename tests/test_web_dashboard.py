"""The dashboard per role: each part only for the roles that may read its data, figures from the services."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest

from server.audit import SYSTEM
from server.models import KioskEvent, RejectedMessage, utcnow
from server.services import assets, kiosks
from tests import procurement_support as ps
from tests.admin_support import login

PARTS = {"plan": "预算年度采购计划执行情况", "kiosks": '<h2 id="kiosks">', "refusals": "已拒绝的记录与冲突",
         "overdue": "逾期未还的重点管控物品"}
SEEN = {"guard": set(), "storekeeper": {"plan", "overdue"}, "auditor": set(PARTS), "admin": set(PARTS)}


@pytest.fixture
def office(sessions: Any) -> dict[str, str]:
    with sessions() as session, session.begin():
        place = ps.office(session)
        ps.plan_line(session)  # Laptop, 50,000.00 approved
        ps.buy(session, qty=2, price="5000.00")  # 10,000.00 used: 20 %
        seal = assets.create_asset(session, SYSTEM, "单位公章", "Official seal").code
        assets.checkout(session, SYSTEM, seal, place.person, due=date(2026, 1, 5), purpose="合同盖章",
                        approval_ref="办〔2026〕1号")
        for name, state, outbox in (("gate-1", "online", 3), ("store-1", "offline", 5), ("store-2", None, None)):
            kiosk, _ = kiosks.enroll(session, SYSTEM, name, "gate" if name.startswith("gate") else "storeroom")
            kiosk.status = {"state": state, "outbox": outbox} if state else {}
        for age_days, reason in ((1, "bad_check"), (2, "bad_check"), (3, "unknown_code"), (10, "bad_json")):
            session.add(RejectedMessage(received_at=utcnow() - timedelta(days=age_days), topic="t", kiosk="gate-1",
                                        reason=reason, detail="", size=10, raw=""))
        session.add(KioskEvent(id=str(uuid.uuid4()), kiosk="gate-1", seq=1, boot="b", type="asset.move",
                               actor=None, at=utcnow(), synced=True, data={}, flags=["conflict"]))
    return {"seal": seal}


@pytest.mark.parametrize("role", sorted(SEEN))
def test_each_role_sees_its_parts(client: Any, sessions: Any, office: dict[str, str], role: str) -> None:
    login(client, sessions, role)
    page = client.get("/").get_data(as_text=True)
    assert "资产状态分布" in page
    assert {part for part, marker in PARTS.items() if marker in page} == SEEN[role]


def test_the_figures(client: Any, sessions: Any, office: dict[str, str]) -> None:
    login(client, sessions, "auditor")
    page = client.get("/").get_data(as_text=True)
    plan = page.split('<section aria-labelledby="plan">')[1].split("</section>")[0]
    assert "2026 预算年度" in plan and "¥50,000.00" in plan and "¥10,000.00" in plan and "¥40,000.00" in plan
    assert 'aria-label="Laptop: 20.0%"' in plan and "width: 20.0%" in plan
    kiosk_part = page.split('<section aria-labelledby="kiosks">')[1].split("</section>")[0]
    cards = [card.split("<strong>")[1].split("</strong>")[0] for card in kiosk_part.split('class="card"')[1:]]
    assert cards[:3] == ["1", "2", "8"]  # online; offline or never reported; events waiting (3 + 5)
    refusals = page.split('<section aria-labelledby="refusals">')[1].split("</section>")[0]
    assert "近 7 天已拒绝" in refusals and "<strong>3</strong>" in refusals and "校验位错误: 2" in refusals
    assert "有冲突待核查</div><strong>1</strong>" in refusals
    overdue = page.split('<section aria-labelledby="overdue">')[1].split("</section>")[0]
    assert "1 件重点管控物品逾期未还" in overdue and office["seal"] in overdue and "Li Wei" in overdue


def test_an_empty_office(client: Any, sessions: Any) -> None:
    login(client, sessions, "admin")
    page = client.get("/").get_data(as_text=True)
    assert "尚无资产" in page and "尚无采购计划" in page and "没有逾期未还的重点管控物品" in page


def test_the_dashboard_says_while_ingestion_is_down(client: Any, sessions: Any) -> None:
    """Issue 15: a dead consumer shows on the dashboard (as on /api/v1/kiosks), not only in the logs."""
    from server.services import health

    login(client, sessions, "auditor")

    def card() -> str:
        return client.get("/").get_data(as_text=True).split('id="ingestion"')[1].split("</div>\n</div>")[0]

    assert "中断：自助终端记录未入库" in card() and "最后一次运行信号" not in card()  # no consumer ever beat
    for age in (timedelta(0), timedelta(minutes=1)):  # beating; then silent for 12 of its 5 s beats
        with sessions() as session, session.begin():
            health.beat(session, health.consumer_name("c1"), host="h", pid=1, started_at=utcnow(), interval_s=5,
                        now=utcnow() - age)
        shown = card()
        assert ("自助终端记录正常入库" in shown) is (not age), shown
        assert ("中断" in shown and "最后一次运行信号" in shown) is bool(age), shown
