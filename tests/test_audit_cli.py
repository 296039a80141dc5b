"""`assetgate audit ...`: verify, checkpoint (the daily timer's command), check-summary, public-key,
rotate-key and baseline, through click's CliRunner on the test database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from server.audit import SYSTEM, chain, keys
from server.cli import main
from server.models import AuditEntry, utcnow
from server.services import assets, directory, lifecycle


@pytest.fixture
def env(settings_overrides: dict[str, Any]) -> dict[str, str]:
    """The CLI on the same database and instance folder (the same audit keys) as ``engine_sessions``."""
    return {"ASSETGATE_DATABASE_URL": settings_overrides["database_url"],
            "ASSETGATE_INSTANCE_PATH": str(settings_overrides["instance_path"])}


def _run(args: list[str], env: dict[str, str]) -> Any:
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def _seed(sessions: Any) -> str:
    with sessions() as session, session.begin():
        directory.get_or_create_category(session, SYSTEM, "Laptop")
        store = directory.create_location(session, SYSTEM, "Store", "storeroom")
        code = assets.create_asset(session, SYSTEM, "One", "Laptop", store.code).code
        lifecycle.dispose(session, SYSTEM, code, "scrapped", "D-1")
        return code


def test_verify_exit_codes_and_findings(engine_sessions: Any, env: dict[str, str]) -> None:
    code = _seed(engine_sessions)
    ok = _run(["audit", "verify"], env)
    assert ok.exit_code == 0, ok.output
    assert "audit log intact: 4 rows checked" in ok.stdout
    with engine_sessions() as session, session.begin():
        session.execute(text("UPDATE assets SET status = 'in_use' WHERE code = :c"), {"c": code})
    bad = _run(["audit", "verify"], env)
    assert bad.exit_code == 1 and "PROBLEMS FOUND" in bad.stdout
    assert f"assets {code} .status: found in_use, expected disposed" in bad.stderr
    as_json = json.loads(_run(["audit", "verify", "--json"], env).stdout)
    assert as_json["ok"] is False and as_json["findings"][0]["field"] == "status"
    assert _run(["audit", "verify", "--chain-only"], env).exit_code == 0  # the chain itself is intact
    with engine_sessions() as session, session.begin():
        session.execute(text("UPDATE audit_log SET after = NULL WHERE id = (SELECT max(id) FROM audit_log)"))
    broken = _run(["audit", "verify", "--chain-only"], env)
    assert broken.exit_code == 1 and "BROKEN at row 4" in broken.stderr


def test_checkpoint_summary_and_a_deleted_tail(engine_sessions: Any, env: dict[str, str], tmp_path: Path) -> None:
    _seed(engine_sessions)
    public = tmp_path / "auditor.pem"
    shown = _run(["audit", "public-key", "--out", str(public)], env)
    assert shown.exit_code == 0 and "BEGIN PUBLIC KEY" in shown.stdout and public.read_text() in shown.stdout + "\n"
    made = _run(["audit", "checkpoint"], env)
    assert made.exit_code == 0, made.output
    signed = json.loads(made.stdout)
    assert signed["summary"]["rows"] == 4 and signed["summary"]["actions"]["asset.create"] == 1
    instance = Path(env["ASSETGATE_INSTANCE_PATH"])
    [kept] = (instance / "audit-summaries").iterdir()
    line = json.loads((instance / "audit.checkpoints").read_text())
    assert line["rows"] == 4 and line["head_hash"] == signed["summary"]["head_hash"] and line["signature"]
    assert (instance / "audit.checkpoints").stat().st_mode & 0o777 == 0o600
    assert (instance / "audit_signing.key").stat().st_mode & 0o777 == 0o600
    checked = _run(["audit", "check-summary", str(kept), "--public-key", str(public)], env)
    assert checked.exit_code == 0 and "still holds this head" in checked.stdout, checked.output
    with engine_sessions() as session, session.begin():  # two more rows, and a second checkpoint
        directory.create_location(session, SYSTEM, "Room", "office")
        directory.create_location(session, SYSTEM, "Hall", "office")
    second = json.loads(_run(["audit", "checkpoint"], env).stdout)["summary"]
    assert (second["rows"], second["added"], second["previous"]["rows"]) == (6, 2, 4)
    with engine_sessions() as session, session.begin():
        session.execute(text("DELETE FROM audit_log WHERE id > 4"))
        session.execute(text("DELETE FROM locations WHERE name IN ('Room', 'Hall')"))  # the ledger along with it
    tail = _run(["audit", "verify"], env)
    assert tail.exit_code == 1 and "rows: found 4, expected 6" in tail.stderr
    assert "fewer rows than a checkpoint saw" in tail.stderr
    newest = sorted((instance / "audit-summaries").iterdir())[-1]
    again = _run(["audit", "check-summary", str(newest), "--public-key", str(public)], env)
    assert again.exit_code == 1 and "is missing (the tail was deleted)" in again.stderr
    refused = _run(["audit", "checkpoint"], env)  # never a checkpoint over a log that lost rows
    assert refused.exit_code == 1 and "no longer matches the checkpoint" in refused.output


def test_check_summary_refuses_another_key_and_an_edit(engine_sessions: Any, env: dict[str, str],
                                                        tmp_path: Path) -> None:
    _seed(engine_sessions)
    assert _run(["audit", "checkpoint", "--quiet"], env).exit_code == 0
    instance = Path(env["ASSETGATE_INSTANCE_PATH"])
    [kept] = (instance / "audit-summaries").iterdir()
    other = {**env, "ASSETGATE_INSTANCE_PATH": str(tmp_path / "other")}
    foreign = tmp_path / "foreign.pem"
    _run(["audit", "public-key", "--out", str(foreign)], other)  # another instance's key
    wrong = _run(["audit", "check-summary", str(kept), "--public-key", str(foreign), "--offline"], env)
    assert wrong.exit_code == 1 and "signature does not match" in wrong.output
    signed = json.loads(kept.read_text())
    signed["summary"]["head_id"] = 1
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(signed))
    assert _run(["audit", "check-summary", str(edited), "--offline"], env).exit_code == 1


def test_rotate_key_from_the_cli(engine_sessions: Any, env: dict[str, str]) -> None:
    _seed(engine_sessions)
    rotated = _run(["audit", "rotate-key"], env)
    assert rotated.exit_code == 0 and "new audit key" in rotated.stdout
    with engine_sessions() as session:
        last = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).one()
    assert last.action == "audit.rotate_key" and last.key_id == last.after["key_id"] != last.before["key_id"]
    assert _run(["audit", "verify"], env).exit_code == 0
    from_env = _run(["audit", "rotate-key"], {**env, "ASSETGATE_AUDIT_KEYS": "k1:" + "ab" * 32})
    assert from_env.exit_code == 0 and "put this entry first" in from_env.stdout


def test_bad_keys_stop_commands_with_one_line(env: dict[str, str]) -> None:
    result = _run(["audit", "verify"], {**env, "ASSETGATE_AUDIT_KEYS": "k1:nothex"})
    assert result.exit_code == 1 and "hex digits" in result.output and "Traceback" not in result.output


def test_baseline_describes_rows_the_old_log_did_not(engine_sessions: Any, env: dict[str, str]) -> None:
    """A database from before the keyed chain: legacy rows, rows no audit row describes, and history
    rows without a link. The baseline describes them once; after it the check compares them."""
    code = _seed(engine_sessions)
    with engine_sessions() as session, session.begin():
        session.execute(text("DELETE FROM audit_log"))
        session.execute(text("UPDATE asset_events SET audit_hash = NULL"))
        prev = chain.GENESIS  # one row of the old log, the way the old code wrote it
        row = {"at": utcnow(), "actor": "old", "source": "cli", "action": "asset.create", "entity": "asset",
               "entity_id": code, "before": None, "after": {"code": code, "status": "in_storage"}}
        session.add(AuditEntry(**row, prev_hash=prev, hash=chain.legacy_hash(prev, row), key_id=keys.LEGACY))
    before = _run(["audit", "verify"], env)
    assert before.exit_code == 1 and "run assetgate audit baseline" in before.stderr
    assert "1 ledger records are described only by rows from before the keyed chain" in before.stdout
    dry = _run(["audit", "baseline"], env)
    assert "assets: 1 rows described" in dry.stdout and "run again with --yes" in dry.stdout
    assert _run(["audit", "verify"], env).exit_code == 1  # a dry run records nothing
    done = _run(["audit", "baseline", "--yes"], env)
    assert done.exit_code == 0 and "asset_events: 2 rows from before the keyed chain" in done.stdout
    after = _run(["audit", "verify"], env)
    assert after.exit_code == 0, after.output
    assert "nothing to describe" in _run(["audit", "baseline"], env).stdout
    with engine_sessions() as session, session.begin():  # a baselined history row edited afterwards
        session.execute(text("UPDATE asset_events SET reason = 'edited' WHERE to_status = 'disposed'"))
    edited = _run(["audit", "verify"], env)
    assert edited.exit_code == 1 and "changed since their baseline" in edited.stderr
