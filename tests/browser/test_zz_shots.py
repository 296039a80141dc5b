from typing import Any
from datetime import date, timedelta
from decimal import Decimal
from tests.browser.conftest import LiveServer, sign_in
from tests.procurement_support import ACTOR, buy, office, plan_line
from server.services import assets, intake, lifecycle, directory

def test_shots(page: Any, live_server: LiveServer) -> None:
    with live_server.sessions() as session, session.begin():
        where = office(session)
        plan_line(session, "2026-IT-01", qty=10, cap="6000.00", amount="50000.00")
        plan_line(session, "2026-PR-01", "Printer", qty=4, cap="2000.00", amount="6000.00", method="online_inquiry")
        plan_line(session, "2025-IT-01", qty=2, cap="5000.00", amount="9000.00", year=2025)
        b = buy(session, qty=2, price="5000.00", on=date(2026, 1, 20))
        buy(session, qty=1, price="5999.99", on=date(2026, 5, 3))
        buy(session, "2026-PR-01", qty=3, price="1500.50", category="Printer", method="public_tender", exception_ref="EXC-1", on=date(2026, 8, 1))
        buy(session, "2025-IT-01", qty=1, price="4500.00", on=date(2025, 11, 30))
        got = intake.receive(session, ACTOR, b.lines[0].id, "k1", where.store, received_on=date(2026, 1, 25))
        assets.move(session, ACTOR, got.codes[0], where.room)
        lifecycle.dispose(session, ACTOR, got.codes[1], "scrapped", "D-1")
        for i in range(4):
            seal = assets.create_asset(session, ACTOR, f"Seal {i}", "Official seal", where.store, price=Decimal("300.00"), acquired_on=date(2024 + i % 2, 6, 1), department="Office").code
            assets.checkout(session, ACTOR, seal, where.person, date.today() - timedelta(days=i + 1), purpose="signing", approval_ref="S-1")
    sign_in(page, live_server, live_server.user("auditor"))
    for lang in ("zh", "en"):
        if lang == "en":
            page.select_option("#language-select", "en"); page.click(".lang button")
        for name in ("spend", "spend-by-method", "plan-execution", "assets", "assets?by=location", "bought-per-year", "overdue", "usage-log", "spend?year=1999"):
            page.goto(f"{live_server.url}/reports/{name}")
            page.screenshot(path=f"/tmp/wr/{lang}-{name.replace('?', '_')}.png", full_page=True)
    page.goto(f"{live_server.url}/reports")
    page.screenshot(path="/tmp/wr/index.png", full_page=True)
