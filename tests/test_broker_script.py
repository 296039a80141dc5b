"""scripts/broker.sh: run.sh's broker. It starts AssetGate's own configuration (loopback only,
queue limits raised, persistence) when no broker answers, and says plainly what a broker that
already answers risks. Real Mosquitto processes throughout."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.brokers import PrivateBroker, free_port

pytestmark = pytest.mark.broker

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "broker.sh"
# Debian's /etc/mosquitto/mosquitto.conf as installed.
STOCK = """pid_file /run/mosquitto/mosquitto.pid
persistence true
persistence_location /var/lib/mosquitto/
log_dest file /var/log/mosquitto/mosquitto.log
include_dir {conf_d}
"""


def _script(*args: str, port: int, folder: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ASSETGATE_BROKER_PORT": str(port), "ASSETGATE_BROKER_DIR": str(folder)}
    return subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=30)


@pytest.fixture
def run_dir() -> Iterator[Path]:
    # Outside pytest's 0700 tmp tree: started as root, Mosquitto runs as the mosquitto user.
    folder = Path(f"/tmp/ag-broker-{uuid.uuid4().hex[:8]}")
    yield folder
    pid_file = folder / "mosquitto.pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
        time.sleep(0.5)
    shutil.rmtree(folder, ignore_errors=True)


def _client(port: int, client_id: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    client.connect("127.0.0.1", port)
    return client


def test_it_starts_the_projects_broker_on_loopback_which_keeps_more_than_1000_queued(run_dir: Path) -> None:
    port = free_port()
    started = _script("start", port=port, folder=run_dir)
    assert started.returncode == 0, started.stderr
    assert "starting AssetGate's Mosquitto (firmware-config/mosquitto/embedded.conf)" in started.stdout
    config = (run_dir / "mosquitto.conf").read_text()
    listeners = [line for line in config.splitlines() if line.startswith("listener")]
    assert listeners == [f"listener {port} 127.0.0.1"]  # loopback only
    assert "max_queued_messages 200000" in config and f"persistence_location {run_dir}/" in config

    again = _script("start", port=port, folder=run_dir)
    assert "AssetGate's own Mosquitto is running" in again.stdout

    # A consumer away while 1,500 events come (the stock limit would drop 500 of them), and a
    # broker restart in between (the stock would keep them only if it happened to autosave).
    received: list[bytes] = []
    consumer = _client(port, "away-consumer")
    consumer.subscribe("t/events", qos=1)
    consumer.loop(1)
    consumer.disconnect()
    sender = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="sender")
    sender.max_inflight_messages_set(100)
    sender.connect("127.0.0.1", port)
    sender.loop_start()
    infos = [sender.publish("t/events", str(i).encode(), qos=1) for i in range(1500)]
    for info in infos:
        info.wait_for_publish(10)
    sender.loop_stop()
    sender.disconnect()
    pid = int((run_dir / "mosquitto.pid").read_text())
    time.sleep(11)  # autosave_interval 10
    os.kill(pid, signal.SIGKILL)  # a crash, not a clean stop: only what was autosaved survives
    time.sleep(0.5)
    assert _script("start", port=port, folder=run_dir).returncode == 0
    consumer = _client(port, "away-consumer")
    consumer.on_message = lambda c, u, m: received.append(bytes(m.payload))
    deadline = time.monotonic() + 20
    while len(received) < 1500 and time.monotonic() < deadline:
        consumer.loop(0.2)
    consumer.disconnect()
    assert sorted(int(p) for p in received) == list(range(1500))


def test_a_broker_already_answering_is_used_and_its_risks_said(tmp_path: Path, run_dir: Path) -> None:
    ours = PrivateBroker(tmp_path / "private").start()  # raised limits, persistence, autosave 1 s
    try:
        out = _script("start", port=ours.port, folder=run_dir)
    finally:
        ours.stop()
    assert out.returncode == 0
    assert "did not start already answers" in out.stderr and "has what AssetGate needs" in out.stderr
    assert not run_dir.exists()  # nothing started


def test_risks_of_the_stock_configuration_are_named(tmp_path: Path) -> None:
    conf_d = tmp_path / "conf.d"
    conf_d.mkdir()
    stock = tmp_path / "mosquitto.conf"
    stock.write_text(STOCK.format(conf_d=conf_d))
    out = _script("risks", str(stock), port=1883, folder=tmp_path / "unused")
    assert out.returncode == 1
    assert "max_queued_messages 1000 (the default)" in out.stdout and "silently drops" in out.stdout
    assert "autosave_interval 1800 (the default)" in out.stdout
    assert "max_inflight_messages 20 (the default)" in out.stdout

    # The site file dropped into conf.d fixes all three.
    shutil.copy(ROOT / "firmware-config" / "mosquitto" / "assetgate.conf", conf_d / "assetgate.conf")
    assert _script("risks", str(stock), port=1883, folder=tmp_path / "unused").returncode == 0
    no_persistence = tmp_path / "bare.conf"
    no_persistence.write_text("listener 1883\n")
    out = _script("risks", str(no_persistence), port=1883, folder=tmp_path / "unused")
    assert "persistence off (the default)" in out.stdout
    assert _script("risks", str(ROOT / "firmware-config/mosquitto/embedded.conf"), port=1883,
                   folder=tmp_path / "unused").returncode == 0
