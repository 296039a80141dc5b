"""Two purchases that together exceed a plan line, at the same time: exactly one passes
(on SQLite through BEGIN IMMEDIATE, on PostgreSQL through SELECT ... FOR UPDATE)."""

from __future__ import annotations

import threading
import time
from typing import Any

from server.errors import RuleViolation
from server.services import plans, purchases
from tests.procurement_support import buy, office, plan_line


def test_two_purchases_that_together_exceed_a_line(engine_sessions: Any, monkeypatch: Any) -> None:
    with engine_sessions() as session, session.begin():
        office(session)
        plan_line(session)  # 10 approved
    real_check = purchases.check

    def slow_check(*args: Any, **kwargs: Any) -> Any:
        found = real_check(*args, **kwargs)
        time.sleep(0.3)  # widen the window: without the lock both would see 0 used
        return found

    monkeypatch.setattr(purchases, "check", slow_check)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def worker() -> None:
        start.wait()
        try:
            with engine_sessions() as session, session.begin():
                buy(session, qty=6, price="1000.00")
            outcomes.append("ok")
        except RuleViolation as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["ok", "quantity_exceeded"]
    with engine_sessions() as session:
        [row] = plans.execution(session)
        assert row.used_qty == 6 and row.remaining_qty == 4
