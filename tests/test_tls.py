"""TLS between kiosk, broker and server: a real Mosquitto TLS listener with a CA made here."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk.agent import Agent
from kiosk.config import parse_config
from server import settings_of
from server.audit import SYSTEM
from server.consumer import Consumer
from server.services import assets, directory, kiosks
from tests.brokers import MOSQUITTO, free_port, make_certs

pytestmark = pytest.mark.broker


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A CA, a broker certificate for 127.0.0.1, and Mosquitto listening with TLS only."""
    certs = make_certs(tmp_path / "certs")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text("\n".join([
        f"listener {port} 127.0.0.1", "allow_anonymous true", f"cafile {certs / 'ca.crt'}",
        f"certfile {certs / 'server.crt'}", f"keyfile {certs / 'server.key'}", "tls_version tlsv1.2",
        "persistence false", "user root", "",
    ]))
    with open(tmp_path / "mosquitto.log", "wb") as log:
        process = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=log, stderr=log)
    time.sleep(0.5)
    assert process.poll() is None, (tmp_path / "mosquitto.log").read_text()
    yield {"port": port, "ca": certs / "ca.crt"}
    process.terminate()
    process.wait(timeout=10)


def test_kiosk_and_consumer_over_tls(tls_broker: dict[str, Any], settings_overrides: dict[str, Any],
                                     tmp_path: Path) -> None:
    from server import create_app

    app = create_app({**settings_overrides, "mqtt_port": tls_broker["port"], "mqtt_tls_ca": tls_broker["ca"]})
    sessions = app.extensions["assetgate.sessions"]
    with sessions() as session, session.begin():
        directory.get_or_create_category(session, SYSTEM, "Laptop")
        room = directory.create_location(session, SYSTEM, "Room 1").code
        tag = assets.create_asset(session, SYSTEM, "ThinkPad", "Laptop").code
        kiosks.enroll(session, SYSTEM, "tls-1", "storeroom")
    consumer = Consumer(settings_of(app))
    consumer.start()
    agent = Agent(parse_config({
        "kiosk": "tls-1", "mode": "storeroom", "prefix": settings_of(app).topic_prefix,
        "outbox": str(tmp_path / "outbox.db"),
        "broker": {"host": "127.0.0.1", "port": tls_broker["port"], "tls": {"ca_file": str(tls_broker["ca"])},
                   "reconnect_min": 1, "reconnect_max": 2},
        "screen": {"enabled": False},
    }), screen=False, scanners=False)
    try:
        assert consumer.connected.wait(30), "the consumer did not connect over TLS"
        agent.start()
        event = agent.record("asset.move", None, {"tag": tag, "to": room})
        ack = agent.wait_ack(str(event.id), timeout=15)
        assert ack is not None and ack.status == "accepted", ack
    finally:
        agent.stop()
        consumer.stop()
        app.extensions["assetgate.engine"].dispose()


def test_plain_client_is_refused_by_tls_listener(tls_broker: dict[str, Any]) -> None:
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"plain-{uuid.uuid4().hex[:6]}")
    with pytest.raises(OSError):  # a plain MQTT client never gets a CONNACK from a TLS listener
        client.connect("127.0.0.1", tls_broker["port"], keepalive=5)
        client.loop(timeout=2)
        if not client.is_connected():
            raise OSError("not connected")
