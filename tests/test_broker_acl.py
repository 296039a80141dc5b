"""Enrolment writes real Mosquitto credentials and ACLs; a kiosk cannot pose as another."""

from __future__ import annotations

import queue
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner

from contract.topics import Topics
from server.cli import main
from tests.brokers import PrivateBroker

pytestmark = pytest.mark.broker
PREFIX = "assetgate/v1"


@pytest.fixture
def site(tmp_path: Path, database_url: str) -> Iterator[dict[str, Any]]:
    passwd, acl = tmp_path / "passwd", tmp_path / "acl"
    passwd.write_text("")
    acl.write_text("")
    broker = PrivateBroker(tmp_path / "broker", password_file=passwd, acl_file=acl, persistence=False)
    env = {"ASSETGATE_INSTANCE_PATH": str(tmp_path / "inst"), "ASSETGATE_DATABASE_URL": database_url,
           "ASSETGATE_BROKER_PASSWORD_FILE": str(passwd), "ASSETGATE_BROKER_ACL_FILE": str(acl),
           "ASSETGATE_BROKER_PID_FILE": str(broker.pid_file), "ASSETGATE_MQTT_USERNAME": "assetgate-server",
           "ASSETGATE_MQTT_PASSWORD": "server-secret-1", "ASSETGATE_MQTT_PORT": str(broker.port)}
    runner = CliRunner()
    for name in ("kiosk-a", "kiosk-b"):
        result = runner.invoke(main, ["kiosk", "enroll", name, "--mode", "storeroom"], env=env)
        assert result.exit_code == 0, result.output
    broker.start()
    yield {"broker": broker, "env": env, "inst": tmp_path / "inst", "runner": runner}
    broker.stop()


def _password(site: dict[str, Any], kiosk: str) -> str:
    return (site["inst"] / "kiosks" / kiosk / "broker-password").read_text().strip()


def _client(site: dict[str, Any], user: str, password: str) -> tuple[mqtt.Client, queue.Queue[Any], Any]:
    got: queue.Queue[Any] = queue.Queue()
    result: dict[str, Any] = {}
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{user}-{uuid.uuid4().hex[:6]}")
    client.username_pw_set(user, password)
    client.on_message = lambda _c, _u, msg: got.put((msg.topic, msg.payload))
    client.on_connect = lambda _c, _u, _f, rc, _p=None: result.setdefault("rc", rc)
    client.connect(*site["broker"].address)
    client.loop_start()
    deadline = time.monotonic() + 5
    while "rc" not in result and time.monotonic() < deadline:
        time.sleep(0.02)
    return client, got, result.get("rc")


def test_bundle_is_a_valid_kiosk_config(site: dict[str, Any]) -> None:
    from kiosk.config import load_config

    config = load_config(site["inst"] / "kiosks" / "kiosk-a" / "kiosk.toml")
    assert config.kiosk == "kiosk-a" and config.password() == _password(site, "kiosk-a")
    assert (site["inst"] / "kiosks" / "kiosk-a" / "broker-password").stat().st_mode & 0o077 == 0


def test_kiosk_cannot_pose_as_another_or_read_its_acks(site: dict[str, Any]) -> None:
    topics = Topics(PREFIX)
    server, server_got, rc = _client(site, "assetgate-server", "server-secret-1")
    assert not rc.is_failure
    server.subscribe(topics.all_events(), qos=1)
    a, a_got, rc_a = _client(site, "kiosk-a", _password(site, "kiosk-a"))
    assert not rc_a.is_failure
    a.subscribe(topics.acks("kiosk-b"), qos=1)
    a.subscribe(topics.config("kiosk-b"), qos=1)
    a.subscribe(topics.acks("kiosk-a"), qos=1)
    time.sleep(0.3)

    a.publish(topics.events("kiosk-b"), b'{"forged": true}', qos=1).wait_for_publish(5)
    a.publish(topics.events("kiosk-a"), b'{"own": true}', qos=1).wait_for_publish(5)
    server.publish(topics.acks("kiosk-b"), b'{"for": "b"}', qos=1).wait_for_publish(5)
    server.publish(topics.config("kiosk-b"), b'{"cfg": "b"}', qos=1, retain=True).wait_for_publish(5)
    server.publish(topics.acks("kiosk-a"), b'{"for": "a"}', qos=1).wait_for_publish(5)
    time.sleep(1.0)

    seen_by_server = _drain(server_got)
    seen_by_a = _drain(a_got)
    assert seen_by_server == [(topics.events("kiosk-a"), b'{"own": true}')]
    assert seen_by_a == [(topics.acks("kiosk-a"), b'{"for": "a"}')]
    for client in (server, a):
        client.loop_stop()
        client.disconnect()


def _refused(site: dict[str, Any], user: str, password: str, timeout: float = 5) -> bool:
    """Whether the broker refuses this login, waiting up to ``timeout`` for a reload to take effect."""
    deadline = time.monotonic() + timeout
    while True:
        client, _q, rc = _client(site, user, password)
        client.loop_stop()
        client.disconnect()
        if rc is not None and rc.is_failure:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


def test_wrong_password_and_revoked_kiosk_are_refused(site: dict[str, Any]) -> None:
    _c, _q, rc = _client(site, "kiosk-a", "not-the-password")
    assert rc is not None and rc.is_failure
    _c.loop_stop()
    password_b = _password(site, "kiosk-b")
    connected, _qb, rc_b = _client(site, "kiosk-b", password_b)
    assert not rc_b.is_failure
    result = site["runner"].invoke(main, ["kiosk", "revoke", "kiosk-b"], env=site["env"])
    assert result.exit_code == 0, result.output
    assert "WARNING" not in result.output and "NOT reloaded" not in result.output
    assert _refused(site, "kiosk-b", password_b)  # the CLI told the broker to reload
    deadline = time.monotonic() + 5
    while connected.is_connected() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not connected.is_connected(), "the reload must also drop a revoked kiosk's open connection"
    connected.loop_stop()
    assert not _refused(site, "kiosk-a", _password(site, "kiosk-a"), timeout=0)


def test_revoke_deletes_the_kiosks_plain_text_password(site: dict[str, Any]) -> None:
    bundle = site["inst"] / "kiosks" / "kiosk-a"
    assert (bundle / "broker-password").exists()
    result = site["runner"].invoke(main, ["kiosk", "revoke", "kiosk-a"], env=site["env"])
    assert result.exit_code == 0 and f"deleted its password file {bundle / 'broker-password'}" in result.output
    assert not (bundle / "broker-password").exists() and (bundle / "kiosk.toml").exists()


@pytest.mark.parametrize("stale", ["dead", "unrelated"])
def test_a_stale_pid_file_signals_nobody_and_the_admin_is_told(site: dict[str, Any], tmp_path: Path,
                                                               stale: str) -> None:
    """SIGHUP kills a process that does not handle it: a pid file left behind by a broker that
    died may name any process by now."""
    bystander = subprocess.Popen(["sleep", "60"])  # stands for whatever got the broker's old pid
    if stale == "dead":
        bystander.kill()
        bystander.wait()
    pid_file = tmp_path / "stale.pid"
    pid_file.write_text(f"{bystander.pid}\n")
    password_b = _password(site, "kiosk-b")
    try:
        env = {**site["env"], "ASSETGATE_BROKER_PID_FILE": str(pid_file)}
        result = site["runner"].invoke(main, ["kiosk", "revoke", "kiosk-b"], env=env)
        assert result.exit_code == 1, result.output
        assert "kiosk kiosk-b revoked" in result.output and "NOT reloaded" in result.output
        assert "kiosk-b can still log in until it is reloaded: run `systemctl reload mosquitto`" in result.output
        assert "stale" in result.output
        if stale == "unrelated":
            assert bystander.poll() is None, "a process that is not the broker got a signal"
        assert "kiosk-b:" not in Path(site["env"]["ASSETGATE_BROKER_PASSWORD_FILE"]).read_text()
        assert not _refused(site, "kiosk-b", password_b, timeout=0), "not reloaded, so still let in: as the CLI said"
        fixed = site["runner"].invoke(main, ["kiosk", "broker-files"], env=site["env"])
        assert fixed.exit_code == 0, fixed.output
        assert _refused(site, "kiosk-b", password_b)
    finally:
        bystander.kill()
        bystander.wait()


@pytest.mark.parametrize("name", ["assetgate-consumer", "assetgate-consumer-2", "assetgate-anything", "consumer-x"])
def test_kiosk_names_of_the_server_side_are_refused(site: dict[str, Any], name: str) -> None:
    env = {**site["env"], "ASSETGATE_MQTT_CLIENT_ID": "consumer-x"}
    result = site["runner"].invoke(main, ["kiosk", "enroll", name, "--mode", "gate"], env=env)
    assert result.exit_code == 1 and f"kiosk id {name} is reserved" in result.output
    assert f"{name}:" not in Path(site["env"]["ASSETGATE_BROKER_PASSWORD_FILE"]).read_text()


def _drain(q: queue.Queue[Any]) -> list[Any]:
    out = []
    while not q.empty():
        out.append(q.get_nowait())
    return out


def test_acl_file_shape(site: dict[str, Any]) -> None:
    acl = Path(site["env"]["ASSETGATE_BROKER_ACL_FILE"]).read_text()
    assert "user kiosk-a\ntopic write assetgate/v1/kiosks/kiosk-a/events" in acl
    assert "topic read assetgate/v1/kiosks/kiosk-a/acks" in acl and "kiosk-b/acks" not in acl.split("user kiosk-b")[0]
