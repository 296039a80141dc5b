"""`assetgate serve` as a user runs it: web on a port, the consumer as its own process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from contract.topics import Topics
from tests.brokers import free_port

pytestmark = pytest.mark.broker


def _wait_http(url: str, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return int(response.status)
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


def test_serve_runs_web_and_consumer(tmp_path: Path, database_url: str, broker: tuple[str, int]) -> None:
    port = free_port()
    prefix = f"test/{uuid.uuid4().hex[:8]}/assetgate/v1"
    env = {**os.environ, "ASSETGATE_INSTANCE_PATH": str(tmp_path), "ASSETGATE_DATABASE_URL": database_url,
           "ASSETGATE_TOPIC_PREFIX": prefix, "ASSETGATE_MQTT_CLIENT_ID": f"serve-{uuid.uuid4().hex[:8]}"}
    subprocess.run([sys.executable, "-m", "server", "demo", "--admin-password", "a-long-password"], env=env,
                   check=True, capture_output=True, timeout=60)
    with open(tmp_path / "serve.log", "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "server", "serve", "--port", str(port)], env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    seen: list[dict[str, str]] = []
    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"w-{uuid.uuid4().hex[:8]}")
    watcher.on_message = lambda _c, _u, msg: msg.payload and seen.append(json.loads(msg.payload))
    watcher.connect(*broker)
    watcher.subscribe(Topics(prefix).server_status, qos=1)
    watcher.loop_start()
    try:
        assert _wait_http(f"http://127.0.0.1:{port}/login") == 200
        deadline = time.monotonic() + 20
        while not any(s.get("state") == "online" for s in seen) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert any(s.get("state") == "online" for s in seen), "the consumer did not come online"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=5) as response:
            assert json.load(response)["info"]["title"] == "AssetGate API"
    finally:
        process.send_signal(signal.SIGTERM)  # as systemd or timeout stop it: the consumer must go too
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        watcher.publish(Topics(prefix).server_status, b"", qos=1, retain=True).wait_for_publish(5)
        watcher.loop_stop()
        watcher.disconnect()
    log_text = (tmp_path / "serve.log").read_text(errors="replace")
    assert any(s.get("state") == "offline" for s in seen), f"the consumer did not say offline on stop:\n{log_text}"
