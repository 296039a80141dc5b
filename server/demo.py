"""`assetgate demo`: a small, realistic Chinese office, so a newcomer sees every page with data at once.

It seeds an approved plan for the current year (a line for each procurement method), purchases
against it (one an approved exception to the plan's method), an intake whose labels were printed,
purchase requests at different approval steps, and the life of a few assets: moves, a check-out,
a repair with its cost, a transfer and a disposal. Every report and chart then has something to show.
Run twice, it adds nothing and says so: the first run's admin password stays the one that works.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from server import auth
from server.audit import Actor
from server.models import Location, Person, User
from server.services import approvals, assets, directory, intake, kiosks, lifecycle, plans, printing, purchases
from server.services import purchase_requests as requests

DEMO = Actor("demo", "cli", "admin")
ORG = "示范单位办公室"
CATEGORIES = [("台式计算机", False), ("笔记本电脑", False), ("打印机", False), ("服务器", False),
              ("网络交换机", False), ("摄像机", False), ("投影仪", False), ("公章", True)]
LOCATIONS = [("中心库房", "storeroom"), ("主任办公室", "office"), ("综合办公室", "office"), ("财务室", "office"),
             ("一号会议室", "meeting_room"), ("机房", "office"), ("南门岗", "gate")]
PEOPLE = [("李伟", "办公室"), ("张敏", "财务科"), ("王芳", "办公室"), ("陈杰", "信息中心"), ("刘洋", "保卫科")]
ASSETS = [("联想 ThinkCentre M70", "台式计算机", "4899.00"), ("戴尔 Latitude 5440", "笔记本电脑", "6299.00"),
          ("惠普 LaserJet Pro M404", "打印机", "1899.00"), ("华为 FusionServer 2288H", "服务器", "28500.00"),
          ("新华三 S5130 交换机", "网络交换机", "3200.00"), ("海康威视 DS-2CD", "摄像机", "860.00"),
          ("爱普生 CB-X49", "投影仪", "3999.00"), ("单位公章（圆章）", "公章", "120.00")]
# ref, department, category, quantity, unit price cap, method
PLAN = [("{y}-XX-01", "信息中心", "台式计算机", 20, "5000.00", "online_inquiry"),
        ("{y}-XX-02", "办公室", "打印机", 10, "2000.00", "self_purchase"),
        ("{y}-XX-03", "信息中心", "笔记本电脑", 15, "6500.00", "framework_agreement"),
        ("{y}-XX-04", "信息中心", "服务器", 2, "30000.00", "public_tender"),
        ("{y}-XX-05", "保卫科", "摄像机", 12, "900.00", "other")]
USERS = [("kuguan", "storekeeper", "办公室"), ("menwei", "guard", "保卫科"), ("shenji", "auditor", "财务科"),
         ("fenguan", "auditor", "办公室"), ("zhuyao", "auditor", "办公室")]


def seed(session: Session, admin_password: str) -> str | None:
    """Seed the demo office; None when it is there already (nothing is added or changed)."""
    if session.scalars(select(User).where(User.username == "admin")).first():
        return None
    for name, controlled in CATEGORIES:
        directory.get_or_create_category(session, DEMO, name, controlled)
    places = {name: directory.create_location(session, DEMO, name, kind) for name, kind in LOCATIONS}
    staff = [directory.create_person(session, DEMO, name, dept) for name, dept in PEOPLE]
    store = places["中心库房"]
    made = _assets(session, store.code)
    _life(session, made, places, staff)
    intake_codes = _procurement(session, store.code)
    printing.render(session, DEMO, intake_codes, org=ORG, template="a4-l7651", base_url=None)
    auth.create_user(session, DEMO, "admin", admin_password, "admin")
    _requests(session, admin_password)
    kiosks.enroll(session, DEMO, "store-1", "storeroom", store.code)
    kiosks.enroll(session, DEMO, "gate-1", "gate", places["南门岗"].code)
    return (f"demo office: {len(CATEGORIES)} categories, {len(places)} locations, {len(staff)} staff, "
            f"{len(made) + len(intake_codes)} assets, a plan of {len(PLAN)} lines with purchases and an intake, "
            f"purchase requests at each step, kiosks store-1 and gate-1; users {', '.join(u for u, _, _ in USERS)} "
            f"share the admin's password")


def _assets(session: Session, store_code: str) -> list[str]:
    made = []
    for i, (name, category, price) in enumerate(ASSETS * 2):
        made.append(assets.create_asset(session, DEMO, name, category, store_code, serial=f"DEMO-{i:04d}",
                                        price=Decimal(price), acquired_on=date.today() - timedelta(days=30 * i),
                                        department="办公室").code)
    return made


def _life(session: Session, made: list[str], places: dict[str, Location], staff: list[Person]) -> None:
    offices = [p for p in places.values() if p.kind == "office"]
    for i, code in enumerate(made[:6]):
        assets.move(session, DEMO, code, offices[i % len(offices)].code, reason="配发到办公室")
    assets.checkout(session, DEMO, made[6], staff[3].code, reason="信息中心借用")
    # the official seal is a controlled item: taken out with a purpose, an approval and a due day
    assets.checkout(session, DEMO, made[7], staff[0].code, due=date.today() + timedelta(days=1),
                    purpose="赴市局签订合同用印", approval_ref="办印〔2026〕21号")
    lifecycle.send_to_repair(session, DEMO, made[2], vendor="市办公设备维修中心", reason="卡纸，定影器损坏")
    lifecycle.record_maintenance(session, DEMO, made[2], date.today(), "市办公设备维修中心", "380.00", "更换定影器")
    lifecycle.back_from_repair(session, DEMO, made[2], reason="维修完成")
    lifecycle.record_maintenance(session, DEMO, made[3], date.today(), "华为服务中心", "1200.00", "年度巡检保养")
    lifecycle.transfer(session, DEMO, made[4], "信息中心", approval_ref="办发〔2026〕12号", reason="网络改造")
    lifecycle.dispose(session, DEMO, made[15], "scrapped", "财资〔2026〕3号", note="使用年限已满，无法修复")


def _procurement(session: Session, store_code: str) -> list[str]:
    year = date.today().year
    for ref, department, category, qty, cap, method in PLAN:
        plans.create_line(session, DEMO, {
            "ref": ref.format(y=year), "budget_year": year, "department": department, "category": category,
            "approved_qty": qty, "unit_price_cap": cap, "approved_amount": str(Decimal(cap) * qty),
            "method": method, "approval_ref": f"财预〔{year}〕8号"})
    day = max(date(year, 1, 2), date.today() - timedelta(days=20))
    bought = purchases.record(session, DEMO, "京东政企采购", day, "online_inquiry", "JD-2026-0001", [
        {"plan_line": f"{year}-XX-01", "category": "台式计算机", "quantity": 6, "unit_price": "4799.00"}])
    purchases.record(session, DEMO, "本市办公用品商行", day, "self_purchase", "FP-88231", [
        {"plan_line": f"{year}-XX-02", "category": "打印机", "quantity": 3, "unit_price": "1850.00"}])
    # bought from the framework supplier's online shop instead of the agreement: an approved exception
    purchases.record(session, DEMO, "联想官方商城", day, "online_inquiry", "LX-55120", [
        {"plan_line": f"{year}-XX-03", "category": "笔记本电脑", "quantity": 4, "unit_price": "6299.00"}],
        exception_ref="办批〔2026〕5号")
    received = intake.receive(session, DEMO, bought.lines[0].id, "demo-intake-1", store_code, quantity=6,
                              received_on=day + timedelta(days=3))
    return received.codes


def _requests(session: Session, password: str) -> None:
    for username, role, department in USERS:
        auth.create_user(session, DEMO, username, password, role, department)
    approvals.grant(session, DEMO, "fenguan", "leader", "")
    approvals.grant(session, DEMO, "zhuyao", "principal", "")
    clerk, leader, principal = (Actor("kuguan", "web", "storekeeper"), Actor("fenguan", "web", "auditor"),
                                Actor("zhuyao", "web", "auditor"))
    limit = Decimal("10000.00")
    asks = [("信息中心", "笔记本电脑", "笔记本电脑", 2, "6000.00", "新进人员办公"),
            ("办公室", "打印机", "打印机", 1, "1800.00", "替换老旧打印机"),
            ("信息中心", "服务器", "服务器", 1, "28000.00", "业务系统扩容"),
            ("财务科", "台式计算机", "台式计算机", 3, "4800.00", "财务软件升级"),
            ("保卫科", "摄像机", "摄像机", 4, "850.00", "南门监控补点")]
    made = [requests.submit(session, clerk, requests.RequestIn(*ask), limit) for ask in asks]
    approvals.decide(session, leader, made[1].approval_id, "approve")  # approved (one level)
    approvals.decide(session, leader, made[2].approval_id, "approve")  # waits for the principal leader
    approvals.decide(session, leader, made[3].approval_id, "approve", quantity=2)
    approvals.decide(session, principal, made[3].approval_id, "approve")  # approved, fewer than asked
    approvals.decide(session, leader, made[4].approval_id, "reject", reason="本年度预算已用完")
