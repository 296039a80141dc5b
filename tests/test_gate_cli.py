"""The gate's commands: purge (dry run, audited), the scheduler's round, automatic sign-out, key rotation."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from cryptography.fernet import Fernet
from sqlalchemy import select

from server import create_app
from server.cli import main
from server.models import AuditEntry
from server.services import visitors, visits
from tests.gate_support import GUARD, office, preregister, shift


def _run(args: list[str], env: dict[str, str]) -> Any:
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def test_purge_dry_run_then_real_and_audited(settings_overrides: dict[str, Any], database_url: str,
                                            tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    app = create_app({**settings_overrides, "personal_data_keys": key})
    sessions = app.extensions["assetgate.sessions"]
    place = office(sessions)
    old = preregister(sessions, place["host"], "旧访客", hours=2)
    with sessions() as session, session.begin():
        visits.sign_in(session, GUARD, old)
        visits.sign_out(session, GUARD, old)
    for visit_shift in (timedelta(days=-120),):
        shift(sessions, old, visit_shift)
        with sessions() as session, session.begin():
            for visit in visitors.view(session, visitors.pass_by_code(session, old), with_visits=True).visits:
                row = session.get(type(visit), visit.id)
                assert row is not None
                row.signed_in_at += visit_shift
                row.signed_out_at = row.signed_in_at + timedelta(hours=1)
    app.extensions["assetgate.engine"].dispose()
    env = {"ASSETGATE_INSTANCE_PATH": str(tmp_path / "instance"), "ASSETGATE_DATABASE_URL": database_url,
           "ASSETGATE_PERSONAL_DATA_KEYS": key}

    dry = _run(["purge", "--dry-run"], env)
    assert dry.exit_code == 0 and "1 visits and 1 passes would be emptied" in dry.output
    real = _run(["purge"], env)
    assert real.exit_code == 0 and "1 visits and 1 passes were emptied" in real.output
    again = _run(["purge"], env)
    assert "0 visits and 0 passes were emptied" in again.output

    check = create_app({**settings_overrides, "personal_data_keys": key})
    try:
        with check.extensions["assetgate.sessions"]() as session:
            assert visitors.view(session, visitors.pass_by_code(session, old)).name == ""
            actions = session.scalars(select(AuditEntry.action).where(AuditEntry.action == "visitors.purge")).all()
            assert actions == ["visitors.purge", "visitors.purge"]  # the dry run changed nothing, left no entry
    finally:
        check.extensions["assetgate.engine"].dispose()


def test_rotate_key_and_scheduler_round(settings_overrides: dict[str, Any], database_url: str,
                                        tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    app = create_app({**settings_overrides, "personal_data_keys": old})
    sessions = app.extensions["assetgate.sessions"]
    place = office(sessions)
    code = preregister(sessions, place["host"], "钱十")
    app.extensions["assetgate.engine"].dispose()
    env = {"ASSETGATE_INSTANCE_PATH": str(tmp_path / "instance"), "ASSETGATE_DATABASE_URL": database_url}

    wrong = _run(["gate", "rotate-key"], {**env, "ASSETGATE_PERSONAL_DATA_KEYS": new})
    assert wrong.exit_code == 1 and "does not open with any configured key" in wrong.output
    bad = _run(["gate", "rotate-key"], {**env, "ASSETGATE_PERSONAL_DATA_KEYS": "not-a-key"})
    assert bad.exit_code == 1 and "must be Fernet keys" in bad.output
    done = _run(["gate", "rotate-key"], {**env, "ASSETGATE_PERSONAL_DATA_KEYS": f"{new},{old}"})
    assert done.exit_code == 0 and "re-encrypted: 1 passes" in done.output
    round_ = _run(["gate", "run", "--once"], {**env, "ASSETGATE_PERSONAL_DATA_KEYS": new,
                                              "ASSETGATE_PURGE_HOUR": "-1"})
    assert round_.exit_code == 0 and "notifications sent 0" in round_.output and "purged no" in round_.output
    check = create_app({**settings_overrides, "personal_data_keys": new})
    try:
        with check.extensions["assetgate.sessions"]() as session:
            assert visitors.view(session, visitors.pass_by_code(session, code)).name == "钱十"
    finally:
        check.extensions["assetgate.engine"].dispose()
