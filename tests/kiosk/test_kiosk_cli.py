"""``assetgate-kiosk`` commands through click's CliRunner, against the real broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from kiosk_support import Responder, config_dict, toml_text

from contract.codes import Kind, new_code
from kiosk.cli import main
from kiosk.config import describe_keys


@pytest.fixture
def config_file(tmp_path: Path, kiosk_id: str, prefix: str) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(toml_text(config_dict(tmp_path, kiosk_id, prefix)))
    return path


def publish(config_file: Path, *extra: str, data: dict | None = None) -> tuple[int, str]:
    data = data or {"tag": str(new_code(Kind.ASSET))}
    result = CliRunner().invoke(main, ["publish", "--config", str(config_file), "asset.checkin",
                                       "--data", json.dumps(data), *extra])
    return result.exit_code, result.output


def test_every_command_has_help() -> None:
    for name, command in main.commands.items():
        assert command.help, f"{name} has no docstring help"
        assert CliRunner().invoke(main, [name, "--help"]).exit_code == 0


def test_check_config_ok_and_errors_name_the_key(tmp_path: Path, config_file: Path) -> None:
    ok = CliRunner().invoke(main, ["check-config", str(config_file), "--keys"])
    assert ok.exit_code == 0 and ok.output.startswith("ok: kiosk")
    assert "broker.tls.ca_file" in ok.output
    bad = tmp_path / "bad.toml"
    bad.write_text('kiosk = "Bad Id!"\nmode = "lobby"\ncolour = "red"\n[broker]\nport = 99999\n')
    result = CliRunner().invoke(main, ["check-config", str(bad)])
    assert result.exit_code == 1
    for key in ("kiosk:", "mode:", "colour:", "broker.port:"):
        assert key in result.output
    broken = tmp_path / "broken.toml"
    broken.write_text("kiosk = \n")
    assert "not valid TOML" in CliRunner().invoke(main, ["check-config", str(broken)]).output


def test_publish_accepted_exit_0(config_file: Path, responder: Responder) -> None:
    code, output = publish(config_file, "--actor", str(new_code(Kind.PERSON)))
    assert code == 0, output
    assert json.loads(output.strip().splitlines()[-1])["status"] == "accepted"
    assert responder.received[0].actor is not None


def test_publish_rejected_exit_1(config_file: Path, prefix: str) -> None:
    peer = Responder(prefix, verdict=lambda e: ("rejected", "unknown_code")).start()
    try:
        code, output = publish(config_file)
    finally:
        peer.stop()
    assert code == 1 and json.loads(output.strip().splitlines()[-1])["reason"] == "unknown_code"


def test_publish_not_final_rejection_exit_2_keeps_the_event(config_file: Path, prefix: str) -> None:
    peer = Responder(prefix, verdict=lambda e: ("rejected", "unknown_kiosk")).start()
    try:
        code, output = publish(config_file)
    finally:
        peer.stop()
    assert code == 2 and json.loads(output.strip().splitlines()[-1])["reason"] == "unknown_kiosk"
    summary = json.loads(CliRunner().invoke(main, ["outbox", "--config", str(config_file)]).output)
    assert summary["depth"] == 1


def test_publish_timeout_exit_2_keeps_the_event(config_file: Path) -> None:
    code, output = publish(config_file, "--timeout", "1")
    assert code == 2
    assert json.loads(output.strip().splitlines()[-1])["status"] == "timeout"
    summary = json.loads(CliRunner().invoke(main, ["outbox", "--config", str(config_file)]).output)
    assert summary["depth"] == 1 and summary["last_seq"] == 1


def test_publish_refuses_bad_data_locally(config_file: Path) -> None:
    code, output = publish(config_file, data={"tag": "A-NOTACODE"})
    assert code == 1 and "refused locally" in output
    summary = json.loads(CliRunner().invoke(main, ["outbox", "--config", str(config_file)]).output)
    assert summary["depth"] == 0


def test_outbox_shows_recent_acks(config_file: Path, responder: Responder) -> None:
    assert publish(config_file)[0] == 0
    summary = json.loads(CliRunner().invoke(main, ["outbox", "--config", str(config_file)]).output)
    assert summary["depth"] == 0 and summary["recent_acks"][0]["status"] == "accepted"


def test_docs_describe_every_config_key() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "kiosk.md").read_text()
    missing = [key for key, _ in describe_keys() if f"`{key}`" not in docs]
    assert not missing, f"docs/kiosk.md does not document {missing}"


def test_publish_through_a_running_agent(config_file: Path, responder: Responder) -> None:
    # The running agent holds the outbox and the client id; publish only writes the outbox
    # and waits for the ack to show up in the outbox history.
    from kiosk.agent import Agent
    from kiosk.config import load_config

    agent = Agent(load_config(config_file), screen=False)
    agent.start()
    try:
        code, output = publish(config_file)
    finally:
        agent.stop()
    assert code == 0, output
    assert json.loads(output.strip().splitlines()[-1])["status"] == "accepted"
    assert [e.seq for e in responder.received] == [1]
