"""The acceptance path of the base issue, end to end with real parts:
REST -> label PDF -> pdftoppm -> QR decoder -> MQTT kiosk event -> consumer -> ack -> history."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import paho.mqtt.client as mqtt
import pytest
import zxingcpp

from contract.topics import Topics
from server import settings_of
from server.audit import SYSTEM
from server.consumer import Consumer
from server.services import kiosks
from tests.peers import KioskPeer

pytestmark = pytest.mark.broker


@pytest.fixture
def consumer(app: Any, sessions: Any, broker: Any) -> Iterator[Consumer]:
    worker = Consumer(settings_of(app))
    worker.start()
    assert worker.connected.wait(30)
    yield worker
    worker.stop()


def _decode_pdf(pdf: bytes, tmp_path: Path) -> list[str]:
    (tmp_path / "label.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "300", "-png", str(tmp_path / "label.pdf"), str(tmp_path / "page")],
                   check=True, timeout=60)
    texts = []
    for page in sorted(tmp_path.glob("page*.png")):
        texts += [r.text for r in zxingcpp.read_barcodes(cv2.imread(str(page)))]
    return texts


def test_thin_real_path(client: Any, tokens: Any, sessions: Any, consumer: Consumer, app: Any,
                        broker: Any, tmp_path: Path) -> None:
    h = tokens.headers("storekeeper")
    with sessions() as session, session.begin():
        kiosks.enroll(session, SYSTEM, "store-1", "storeroom")

    # 1. a location and an asset through the REST API
    assert client.post("/api/v1/categories", json={"name": "Projector"}, headers=h).status_code == 201
    room = client.post("/api/v1/locations", json={"name": "Meeting room 2", "kind": "meeting_room"}, headers=h)
    room_code = room.get_json()["code"]
    created = client.post("/api/v1/assets", json={"name": "Epson CB-X49", "category": "Projector"}, headers=h)
    code = created.get_json()["code"]

    # 2. its label as PDF, rendered at printer resolution and decoded by a real decoder
    pdf = client.get(f"/api/v1/assets/{code}/label.pdf", headers=h)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    decoded = _decode_pdf(pdf.data, tmp_path)
    assert decoded == [code]

    # 3. a kiosk publishes asset.move for the decoded code, as paho would on a Pi
    peer = KioskPeer(broker[0], broker[1], settings_of(app).topic_prefix, "store-1")
    try:
        event = peer.event("asset.move", {"tag": decoded[0], "to": room_code})
        ack = peer.roundtrip(event)
        assert (ack["id"], ack["status"]) == (str(event.id), "accepted")

        # 4. the history shows the move
        history = client.get(f"/api/v1/assets/{code}/history", headers=h).get_json()["items"]
        moves = [e for e in history if e["type"] == "asset.move"]
        assert len(moves) == 1 and moves[0]["to_location"] == room_code and moves[0]["kiosk"] == "store-1"

        # 5. the same event again: duplicate, and no second history row
        assert peer.roundtrip(event)["status"] == "duplicate"
        again = client.get(f"/api/v1/assets/{code}/history", headers=h).get_json()["items"]
        assert len([e for e in again if e["type"] == "asset.move"]) == 1

        # 6. a malformed payload is refused with bad_json and the consumer keeps going
        bad = peer.roundtrip(b"\x00{oops")
        assert (bad["status"], bad["reason"]) == ("rejected", "bad_json")
        follow = peer.event("asset.checkout", {"tag": code, "to": _person(client, h)})
        assert peer.roundtrip(follow)["status"] == "accepted"
    finally:
        peer.close()


def _person(client: Any, h: dict[str, str]) -> str:
    return client.post("/api/v1/people", json={"name": "Wang Fang"}, headers=h).get_json()["code"]


def test_server_status_is_retained_online_then_offline_on_stop(app: Any, sessions: Any, broker: Any) -> None:
    topics = Topics(settings_of(app).topic_prefix)
    worker = Consumer(settings_of(app))
    worker.start()
    assert worker.connected.wait(30)
    seen: list[dict[str, Any]] = []
    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"w-{uuid.uuid4().hex[:8]}")
    watcher.on_message = lambda _c, _u, msg: msg.payload and seen.append(json.loads(msg.payload))
    watcher.connect(*broker)
    watcher.subscribe(topics.server_status, qos=1)
    watcher.loop_start()
    try:
        _wait(lambda: bool(seen))
        assert seen[0]["state"] == "online"
        worker.stop()
        _wait(lambda: seen[-1]["state"] == "offline")
    finally:
        watcher.publish(topics.server_status, b"", qos=1, retain=True).wait_for_publish(5)
        watcher.loop_stop()
        watcher.disconnect()
    assert datetime.fromisoformat(seen[-1]["at"]) <= datetime.now(UTC)


def _wait(predicate: Any, timeout: float = 10) -> None:
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")
