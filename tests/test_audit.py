"""The hash-chained audit log and `assetgate audit verify`."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner
from sqlalchemy import text, update

from server import audit
from server.audit import SYSTEM
from server.cli import main
from server.models import AuditEntry
from server.services import directory


def _seed(sessions: Any, n: int = 5) -> None:
    with sessions() as session, session.begin():
        for i in range(n):
            directory.create_location(session, SYSTEM, f"Room {i}")


def test_chain_verifies_and_links(engine_sessions: Any) -> None:
    _seed(engine_sessions)
    with engine_sessions() as session:
        report = audit.verify(session)
        links = session.execute(text("SELECT hash, prev_hash FROM audit_log ORDER BY id")).all()
    assert report.ok and report.rows == 5
    assert links[0].prev_hash == audit.GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(links, links[1:], strict=False))


def test_edit_behind_the_apps_back_is_found(engine_sessions: Any) -> None:
    _seed(engine_sessions)
    with engine_sessions() as session, session.begin():
        third = session.execute(text("SELECT id FROM audit_log ORDER BY id LIMIT 1 OFFSET 2")).scalar_one()
        session.execute(update(AuditEntry).where(AuditEntry.id == third).values(actor="mallory"))
    with engine_sessions() as session:
        report = audit.verify(session)
    assert not report.ok and report.broken_at == third and "edited" in report.problem


def test_deleted_row_is_found(engine_sessions: Any) -> None:
    _seed(engine_sessions)
    with engine_sessions() as session, session.begin():
        second = session.execute(text("SELECT id FROM audit_log ORDER BY id LIMIT 1 OFFSET 1")).scalar_one()
        session.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": second})
    with engine_sessions() as session:
        report = audit.verify(session)
    assert not report.ok and report.broken_at == second + 1 and "link" in report.problem


def test_cli_verify_exit_codes(engine_sessions: Any, database_url: str, tmp_path: Any) -> None:
    _seed(engine_sessions, 3)
    env = {"ASSETGATE_DATABASE_URL": database_url, "ASSETGATE_INSTANCE_PATH": str(tmp_path)}
    ok = CliRunner().invoke(main, ["audit", "verify"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "intact: 3 rows" in ok.output
    with engine_sessions() as session, session.begin():
        session.execute(text("UPDATE audit_log SET after = NULL WHERE id = (SELECT max(id) FROM audit_log)"))
    bad = CliRunner().invoke(main, ["audit", "verify"], env=env)
    assert bad.exit_code == 1
    assert "BROKEN at row" in bad.output
