"""Settings validation and the `assetgate` CLI, through click's CliRunner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner

from server.cli import main
from server.config import ConfigError, load_settings
from server.db import make_engine
from server.migrate import current_revision, head_revision
from server.models import Base


def test_defaults_and_sources(tmp_path: Path) -> None:
    toml = tmp_path / "assetgate.toml"
    toml.write_text('org_name = "County Office"\nmqtt_port = 1884\n')
    settings = load_settings({"mqtt_port": 1885}, environ={"ASSETGATE_CONFIG": str(toml),
                                                           "ASSETGATE_ORG_NAME": "From env"})
    assert settings.org_name == "From env" and settings.mqtt_port == 1885
    assert load_settings(environ={}).effective_database_url.startswith("sqlite:///")


def test_every_wrong_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(environ={"ASSETGATE_MQTT_PORT": "99999", "ASSETGATE_DATABASE_URL": "mysql://x",
                               "ASSETGATE_LOG_LEVEL": "LOUD"})
    text = str(err.value)
    assert "mqtt_port" in text and "database_url" in text and "log_level" in text
    with pytest.raises(ConfigError, match="typo_key"):
        load_settings({"typo_key": 1}, environ={})
    bad = tmp_path / "bad.toml"
    bad.write_text("this is = = not toml")
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(environ={"ASSETGATE_CONFIG": str(bad)})


def test_every_setting_is_documented() -> None:
    from server.config import Settings

    doc = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text()
    missing = [name for name in Settings.model_fields if f"`{name}`" not in doc]
    assert missing == []


def test_migrations_match_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == [], "models changed without a migration: run alembic revision --autogenerate"


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {"ASSETGATE_INSTANCE_PATH": str(tmp_path / "inst"), "ASSETGATE_DATABASE_URL": database_url}


def _run(args: list[str], env: dict[str, str]) -> Any:
    result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    return result


def test_cli_init_demo_user_token(env: dict[str, str], tmp_path: Path) -> None:
    assert "database ready" in _run(["init"], env).output
    demo = _run(["demo", "--admin-password", "a-long-password"], env)
    assert demo.exit_code == 0 and "22 assets" in demo.output and "admin / a-long-password" in demo.output
    again = _run(["demo"], env)
    assert "nothing added" in again.output and "admin /" not in again.output  # prints no password that fails
    user = _run(["user", "create", "guard1", "--role", "guard"], env)
    assert user.exit_code == 0 and "password:" in user.output
    again = _run(["user", "create", "guard1", "--role", "guard"], env)
    assert again.exit_code == 1 and "already_exists" in again.output
    token = _run(["token", "create", "ci", "--role", "auditor"], env)
    assert token.exit_code == 0 and token.output.startswith("agt_")
    assert _run(["audit", "verify"], env).exit_code == 0
    bad_role = _run(["user", "create", "x", "--role", "king"], env)
    assert bad_role.exit_code == 2


def test_cli_kiosk_and_labels(env: dict[str, str], tmp_path: Path) -> None:
    _run(["init"], env)
    assert _run(["kiosk", "enroll", "gate-2", "--mode", "gate"], env).exit_code == 0
    bad_id = _run(["kiosk", "enroll", "Gate 2!", "--mode", "gate"], env)
    assert bad_id.exit_code == 1 and "bad_kiosk_id" in bad_id.output
    out = tmp_path / "blank.pdf"
    made = _run(["labels", "--blank", "3", "-o", str(out)], env)
    assert made.exit_code == 0, made.output
    assert out.read_bytes().startswith(b"%PDF")
    bad = _run(["labels", "--codes", "A-000010A", "-o", str(out)], env)
    assert bad.exit_code == 1 and "bad_check" in bad.output
    assert _run(["kiosk", "revoke", "gate-2"], env).exit_code == 0


def test_cli_errors_on_bad_config(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["init"], env={"ASSETGATE_MQTT_PORT": "nope",
                                                     "ASSETGATE_INSTANCE_PATH": str(tmp_path)})
    assert result.exit_code == 1 and "mqtt_port" in result.output


def test_commands_without_an_instance_say_so_in_one_line(tmp_path: Path) -> None:
    env = {"ASSETGATE_INSTANCE_PATH": str(tmp_path / "nowhere")}
    for args in (["demo"], ["user", "create", "x", "--role", "guard"], ["audit", "verify"], ["consume"]):
        result = CliRunner().invoke(main, args, env=env)
        assert result.exit_code == 1, (args, result.output)
        assert "no instance folder at" in result.output and "nowhere" in result.output
        assert "ASSETGATE_INSTANCE_PATH" in result.output and "Traceback" not in result.output
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, ["demo"], env={"ASSETGATE_INSTANCE_PATH": str(tmp_path / "empty")})
    assert result.exit_code == 1 and "no AssetGate database at" in result.output and "assetgate init" in result.output


def test_the_demo_office_gives_every_report_data(env: dict[str, str]) -> None:
    from server.db import make_engine, make_session_factory
    from server.services import purchase_requests, reports

    _run(["init"], env)
    assert _run(["demo", "--admin-password", "a-long-password"], env).exit_code == 0
    engine = make_engine(env["ASSETGATE_DATABASE_URL"])
    with make_session_factory(engine)() as session:
        for name in ("spend", "spend-by-method", "plan-execution", "assets", "bought-per-year", "usage-log"):
            assert reports.build(session, name, {}).rows, name
        assert {r["state"] for r in purchase_requests.counts_by(session)} == {"pending", "approved", "rejected"}
    engine.dispose()


def test_cli_labels_help_lists_the_templates(env: dict[str, str]) -> None:
    import labels

    result = _run(["labels", "--help"], env)
    assert result.exit_code == 0
    listed = result.output.split("Built-in templates:", 1)[1].splitlines()
    for name in labels.templates.names():  # each on a line of its own, with its stock and size beside it
        line = next((line for line in listed if line.split()[:1] == [name]), "")
        assert labels.templates.get(name).description[:20] in line, (name, result.output)
    assert any("Avery L7651: A4, 65 labels 38.1 x 21.2 mm" in line for line in listed)
    unknown = _run(["labels", "--template", "avery-5160", "--blank", "1", "-o", "x.pdf"], env)
    assert unknown.exit_code == 1 and "unknown label template avery-5160" in unknown.output
