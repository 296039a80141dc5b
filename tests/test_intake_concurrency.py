"""Intakes at the same time: two that together over-receive a purchase line cannot both pass,
and the same request key sent twice at once makes one set of assets."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from server.errors import DomainError
from server.models import Asset
from server.services import intake
from tests.procurement_support import ACTOR, buy, office, plan_line


def _race(engine_sessions: Any, work: Callable[[Any], Any]) -> list[Any]:
    start = threading.Barrier(2)
    results: list[Any] = []

    def worker() -> None:
        start.wait()
        try:
            with engine_sessions() as session, session.begin():
                results.append(work(session))
        except DomainError as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def _setup(engine_sessions: Any) -> tuple[str, int]:
    with engine_sessions() as session, session.begin():
        where = office(session)
        plan_line(session)
        return where.store, buy(session, qty=5).lines[0].id


def test_two_intakes_cannot_over_receive(engine_sessions: Any) -> None:
    store, line_id = _setup(engine_sessions)
    keys = iter(("a", "b"))
    lock = threading.Lock()

    def work(session: Any) -> int:
        with lock:
            key = next(keys)
        return len(intake.receive(session, ACTOR, line_id, key, store, quantity=3).codes)

    assert sorted(map(str, _race(engine_sessions, work))) == ["3", "intake_exceeded"]
    with engine_sessions() as session:
        assert session.scalar(select(func.count()).select_from(Asset)) == 3


def test_same_key_at_once_makes_one_batch(engine_sessions: Any) -> None:
    store, line_id = _setup(engine_sessions)
    results = _race(engine_sessions, lambda s: intake.receive(s, ACTOR, line_id, "same", store))
    assert sorted(r.replay for r in results) == [False, True]
    assert results[0].codes == results[1].codes
    with engine_sessions() as session:
        assert session.scalar(select(func.count()).select_from(Asset)) == 5
