"""Every write path leaves the ledger as the audit log describes it (both backends)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from server import audit, settings_of
from server.audit import ledger
from tests.audit_support import whole_ledger


def test_every_write_path_keeps_the_ledger_as_the_log_describes(app: Any, sessions: Any) -> None:
    whole_ledger(sessions, settings_of(app), app)
    with sessions() as session:
        counts = {t.table: session.scalar(select(func.count()).select_from(t.model))
                  for t in (*ledger.ENTITIES, *ledger.HISTORY)}
        report = audit.verify(session)
    assert report.ok, report.findings
    assert all(counts.values()), {t: n for t, n in counts.items() if not n}  # the day touched every table
    assert report.ledger_rows >= sum(counts.values()) and report.legacy_rows == 0
