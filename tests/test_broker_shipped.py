"""The shipped broker configuration (firmware-config/mosquitto/assetgate.conf) on a real Mosquitto:
a kiosk's login can take neither the consumer's session nor another kiosk's, consumers can still
share the subscription, and the broker drops messages over its size limit.

Mosquitto does not tie a client id to a user name by itself: without these listeners a kiosk's
password with the client id ``assetgate-consumer`` kicked the consumer off and took its persistent
session (and the events queued in it).
"""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from contract.topics import DEFAULT_PREFIX, Topics
from kiosk.agent import Agent
from kiosk.config import parse_config
from server import create_app, settings_of
from server.audit import SYSTEM
from server.cli import main
from server.consumer import Consumer
from server.models import KioskEvent
from server.services import assets, directory
from tests.brokers import ShippedBroker

pytestmark = pytest.mark.broker
SERVER_USER, SERVER_PASSWORD = "assetgate-server", "server-secret-1"
TOPICS = Topics(DEFAULT_PREFIX)


@pytest.fixture
def site(tmp_path: Path, database_url: str, settings_overrides: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The shipped broker, with kiosk-a and kiosk-b enrolled through the CLI, and the server's app."""
    broker = ShippedBroker(tmp_path / "broker")
    env = {"ASSETGATE_INSTANCE_PATH": str(tmp_path / "inst"), "ASSETGATE_DATABASE_URL": database_url,
           "ASSETGATE_BROKER_PASSWORD_FILE": str(broker.kiosk_passwords),
           "ASSETGATE_BROKER_SERVER_PASSWORD_FILE": str(broker.server_passwords),
           "ASSETGATE_BROKER_ACL_FILE": str(broker.acl), "ASSETGATE_BROKER_PID_FILE": str(broker.pid_file),
           "ASSETGATE_MQTT_USERNAME": SERVER_USER, "ASSETGATE_MQTT_PASSWORD": SERVER_PASSWORD}
    for name in ("kiosk-a", "kiosk-b"):
        result = CliRunner().invoke(main, ["kiosk", "enroll", name, "--mode", "storeroom"], env=env)
        assert result.exit_code == 0, result.output
    broker.start()
    app = create_app({**settings_overrides, "topic_prefix": DEFAULT_PREFIX, "mqtt_port": broker.port,
                      "mqtt_username": SERVER_USER, "mqtt_password": SERVER_PASSWORD,
                      "mqtt_client_id": "assetgate-consumer"})
    yield {"broker": broker, "app": app, "inst": tmp_path / "inst", "tmp": tmp_path}
    app.extensions["assetgate.engine"].dispose()
    broker.stop()


def _password(site: dict[str, Any], kiosk: str) -> str:
    return (site["inst"] / "kiosks" / kiosk / "broker-password").read_text().strip()


def _login(site: dict[str, Any], user: str, password: str, client_id: str, kiosk_listener: bool,
           got: queue.Queue[Any] | None = None) -> tuple[mqtt.Client, Any]:
    """A bare client: (client, CONNACK reason code, None if no answer came)."""
    answer: queue.Queue[Any] = queue.Queue()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    client.username_pw_set(user, password)
    client.on_connect = lambda _c, _u, _f, rc, _p=None: answer.put(rc)
    if got is not None:
        client.on_message = lambda _c, _u, msg: got.put((msg.topic, bytes(msg.payload)))
    broker = site["broker"]
    if kiosk_listener:
        client.tls_set(ca_certs=str(broker.ca))
    client.connect("127.0.0.1", broker.kiosk_port if kiosk_listener else broker.port)
    client.loop_start()
    try:
        rc = answer.get(timeout=5)
    except queue.Empty:
        rc = None
    return client, rc


def _close(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()


def _office(site: dict[str, Any]) -> dict[str, str]:
    with site["app"].extensions["assetgate.sessions"]() as session, session.begin():
        directory.get_or_create_category(session, SYSTEM, "Laptop")
        store = directory.create_location(session, SYSTEM, "Storeroom", "storeroom")
        room = directory.create_location(session, SYSTEM, "Room 7")
        asset = assets.create_asset(session, SYSTEM, "ThinkPad", "Laptop", store.code)
        return {"store": store.code, "room": room.code, "asset": asset.code}


def _kiosk(site: dict[str, Any], name: str) -> Agent:
    """The real kiosk agent, over TLS to the kiosks' listener, counting its connection losses."""
    agent = Agent(parse_config({
        "kiosk": name, "mode": "storeroom", "prefix": DEFAULT_PREFIX, "outbox": str(site["tmp"] / f"{name}.db"),
        "screen": {"enabled": False},
        "broker": {"host": "127.0.0.1", "port": site["broker"].kiosk_port, "tls": {"ca_file": str(site["broker"].ca)},
                   "password_file": str(site["inst"] / "kiosks" / name / "broker-password"),
                   "reconnect_min": 1, "reconnect_max": 2},
    }), screen=False, scanners=False)
    agent.losses = 0  # type: ignore[attr-defined]
    heard = agent.on_connection

    def on_connection(connected: bool, reason: str) -> None:
        agent.losses += 0 if connected else 1  # type: ignore[attr-defined]
        heard(connected, reason)

    agent.on_connection = on_connection  # type: ignore[method-assign]
    return agent


def _consumer(site: dict[str, Any], **changes: Any) -> Consumer:
    worker = Consumer(settings_of(site["app"]).model_copy(update=changes))
    worker.losses = 0  # type: ignore[attr-defined]
    heard = worker.client.on_disconnect

    def on_disconnect(*args: Any) -> None:
        worker.losses += 1  # type: ignore[attr-defined]
        heard(*args)  # type: ignore[misc]

    worker.client.on_disconnect = on_disconnect
    worker.start()
    assert worker.connected.wait(30), "the consumer did not connect with the server's login"
    return worker


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_kiosk_login_can_take_neither_the_consumers_session_nor_another_kiosks(site: dict[str, Any]) -> None:
    office = _office(site)
    consumer = _consumer(site)
    victim = _kiosk(site, "kiosk-b")
    victim.start()
    stolen = _password(site, "kiosk-a")
    refused: list[Any] = []
    try:
        _wait(lambda: victim.link.connected, 10, "kiosk-b to connect")
        ids: list[str] = []
        for round_ in range(6):  # 300 events from kiosk-b, with attacks in between
            places = [office["room"], office["store"]]
            ids += [str(e.id) for e in victim.record_many(
                [("asset.move", None, {"tag": office["asset"], "to": places[i % 2]}) for i in range(50)])]
            for client_id in ("assetgate-consumer", "kiosk-b"):
                # The server's listener knows only the server's user: refused, whatever the client id.
                client, rc = _login(site, "kiosk-a", stolen, client_id, kiosk_listener=False)
                _close(client)
                refused.append(rc)
                # The kiosks' listener lets kiosk-a in, but as kiosk-a: the client id it asked for is replaced.
                client, rc = _login(site, "kiosk-a", stolen, client_id, kiosk_listener=True)
                assert rc is not None and not rc.is_failure, rc
                time.sleep(0.2 if round_ % 2 else 0)
                _close(client)
        _wait(lambda: victim.depth() == 0, 60, "every event of kiosk-b acked")
        losses = (consumer.losses, victim.losses)  # type: ignore[attr-defined]  # before their own stop
    finally:
        victim.stop()
        consumer.stop()
    assert all(rc is not None and rc.is_failure for rc in refused), refused
    assert losses == (0, 0), "a kiosk's login knocked the consumer (first) or another kiosk off"
    assert victim.link.sent == 300, "kiosk-b had to send events again"
    with site["app"].extensions["assetgate.sessions"]() as session:
        stored = set(session.scalars(select(KioskEvent.id).where(KioskEvent.kiosk == "kiosk-b")))
    assert stored == set(ids), f"{len(set(ids) - stored)} of kiosk-b's 300 events lost"


def test_kiosk_names_are_their_client_ids_and_the_server_keeps_its_own(site: dict[str, Any]) -> None:
    """The server's user may still pick client ids: two consumers share the subscription."""
    _office(site)
    workers = [_consumer(site, mqtt_client_id=f"assetgate-consumer-{n}", mqtt_shared=True) for n in (1, 2)]
    kiosk = _kiosk(site, "kiosk-a")
    kiosk.start()
    try:
        events = kiosk.record_many([("asset.checkin", None, {"tag": "A-000010*"}) for _ in range(200)])
        _wait(lambda: kiosk.depth() == 0, 60, "every event acked")
        losses = [worker.losses for worker in workers]  # type: ignore[attr-defined]
    finally:
        kiosk.stop()
        for worker in workers:
            worker.stop()
    shares = [worker.counts["rejected:unknown_code"] for worker in workers]
    assert sum(shares) == len(events) and min(shares) > 0, f"the broker did not share the load: {shares}"
    assert losses == [0, 0], "the two consumers knocked each other off"
    # And kiosk logins are refused on the server's listener even with their own client id.
    client, rc = _login(site, "kiosk-a", _password(site, "kiosk-a"), "kiosk-a", kiosk_listener=False)
    _close(client)
    assert rc is not None and rc.is_failure


def test_the_broker_drops_messages_over_its_size_limit(site: dict[str, Any]) -> None:
    got: queue.Queue[Any] = queue.Queue()
    server, rc = _login(site, SERVER_USER, SERVER_PASSWORD, f"watch-{uuid.uuid4().hex[:6]}", False, got)
    assert rc is not None and not rc.is_failure
    server.subscribe(TOPICS.all_events(), qos=1)
    kiosk, rc = _login(site, "kiosk-a", _password(site, "kiosk-a"), "kiosk-a", kiosk_listener=True)
    assert rc is not None and not rc.is_failure
    try:
        time.sleep(0.3)  # the subscription is in place before the first publish
        for size in (20 * 1024, 40 * 1024, 10):  # over the contract, over the broker's limit, a marker
            kiosk.publish(TOPICS.events("kiosk-a"), b"x" * size, qos=1).wait_for_publish(5)
        sizes = []
        while not sizes or sizes[-1] != 10:
            sizes.append(len(got.get(timeout=10)[1]))
    finally:
        _close(kiosk)
        _close(server)
    # 20 KiB still reaches the consumer, which answers too_large; 40 KiB never leaves the broker.
    assert sizes == [20 * 1024, 10]
