"""`assetgate backup` / `assetgate restore` on the real database (SQLite, or PostgreSQL with
ASSETGATE_TEST_DB=postgresql: pg_dump and pg_restore): what was backed up comes back, what came
after is gone, the audit chain still verifies, and a bad or dangerous restore changes nothing."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from server.cli import main
from server.db import make_engine, make_session_factory
from server.models import Asset, User


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {"ASSETGATE_INSTANCE_PATH": str(tmp_path / "inst"), "ASSETGATE_DATABASE_URL": database_url}


def _run(args: list[str], env: dict[str, str], code: int = 0) -> str:
    result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def _counts(url: str) -> tuple[int, set[str]]:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            return (session.scalar(select(func.count()).select_from(Asset)) or 0,
                    set(session.scalars(select(User.username))))
    finally:
        engine.dispose()


def _seeded(env: dict[str, str]) -> Path:
    _run(["init"], env)
    _run(["demo", "--admin-password", "a-long-password"], env)
    _run(["kiosk", "enroll", "bk-1", "--mode", "gate"], env)
    instance = Path(env["ASSETGATE_INSTANCE_PATH"])
    (instance / "checkpoints").mkdir(exist_ok=True)
    (instance / "checkpoints" / "2026-12-01.json").write_text('{"last_id": 42}')
    return instance


def test_database_backup_and_restore_round_trip(env: dict[str, str], database_url: str, tmp_path: Path) -> None:
    _seeded(env)
    assets, users = _counts(database_url)
    assert assets > 0 and "admin" in users
    dump = tmp_path / "db.dump"
    assert "database ->" in _run(["backup", "database", str(dump)], env)
    assert dump.stat().st_mode & 0o777 == 0o600

    _run(["user", "create", "after-backup", "--role", "guard"], env)
    refused = _run(["restore", "database", str(dump)], env, code=1)
    assert "holds data" in refused and "--replace" in refused
    assert "after-backup" in _counts(database_url)[1]  # refused: nothing changed

    _run(["restore", "database", str(dump), "--replace"], env)
    assert _counts(database_url) == (assets, users)  # the backup's state; the later user is gone
    assert "database ready" in _run(["init"], env)
    _run(["audit", "verify"], env)


def test_a_folder_gets_dated_names(env: dict[str, str], tmp_path: Path) -> None:
    _seeded(env)
    folder = tmp_path / "backups"
    folder.mkdir()
    _run(["backup", "database", str(folder)], env)
    _run(["backup", "instance", str(folder)], env)
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 2 and names[0].startswith("assetgate-database-") and names[0].endswith(".dump")
    assert names[1].startswith("assetgate-instance-") and names[1].endswith(".tar.gz")


def test_a_broken_database_backup_changes_nothing(env: dict[str, str], database_url: str, tmp_path: Path) -> None:
    _seeded(env)
    before = _counts(database_url)
    junk = tmp_path / "junk.dump"
    junk.write_bytes(b"PGDMP but not really" * 50)
    out = _run(["restore", "database", str(junk), "--replace"], env, code=1)
    assert "not an SQLite database" in out or "pg_restore failed" in out
    assert _run(["restore", "database", str(tmp_path / "absent.dump")], env, code=1).startswith("Error: no backup file")
    assert _counts(database_url) == before


def test_instance_backup_restores_keys_and_checkpoints(env: dict[str, str], tmp_path: Path) -> None:
    instance = _seeded(env)
    archive = tmp_path / "inst.tar.gz"
    out = _run(["backup", "instance", str(archive)], env)
    assert archive.stat().st_mode & 0o777 == 0o600
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert "checkpoints/2026-12-01.json" in names and "kiosks/bk-1/kiosk.toml" in names
    assert not {n for n in names if n.startswith("assetgate.db")}  # the database has its own backup
    assert f"instance: {len(names)} files" in out

    refused = _run(["restore", "instance", str(archive)], env, code=1)
    assert "is not empty" in refused

    target = tmp_path / "restored"
    _run(["restore", "instance", str(archive)], {**env, "ASSETGATE_INSTANCE_PATH": str(target)})
    assert target.stat().st_mode & 0o777 == 0o700
    for name in names:
        original, restored = instance / name, target / name
        assert restored.read_bytes() == original.read_bytes(), name
        assert restored.stat().st_mode & 0o777 == original.stat().st_mode & 0o777, name  # 600 keys stay 600


def test_an_archive_that_escapes_the_folder_is_refused(env: dict[str, str], tmp_path: Path) -> None:
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("../outside")
        data = b"x"
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    target = tmp_path / "new"
    out = _run(["restore", "instance", str(archive)], {**env, "ASSETGATE_INSTANCE_PATH": str(target)}, code=1)
    assert "unexpected entry '../outside'" in out
    assert not target.exists() and not (tmp_path / "outside").exists()


def test_restore_instance_of_something_else_is_a_clear_error(env: dict[str, str], tmp_path: Path) -> None:
    notes = tmp_path / "notes.tar.gz"
    notes.write_text("not an archive")
    out = _run(["restore", "instance", str(notes)], {**env, "ASSETGATE_INSTANCE_PATH": str(tmp_path / "n")}, code=1)
    assert "cannot read the archive" in out


def test_pg_dump_gets_the_urls_options_as_libpq_reads_them() -> None:
    from server.backup import _libpq

    url = "postgresql+psycopg://ag:secret@db.example:5432/assetgate?options=-c synchronous_commit=off"
    assert _libpq(url) == ("postgresql://ag:secret@db.example:5432/assetgate"
                           "?options=-c%20synchronous_commit%3Doff")
    assert _libpq("postgresql+psycopg://ag@db/assetgate") == "postgresql://ag@db/assetgate"
