"""Real MQTT peers for tests: a kiosk-like publisher that collects acks, and the consumer.

Not mocks: they talk to the real broker exactly as a kiosk and the server do.
"""

from __future__ import annotations

import json
import queue
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt

from contract.messages import Event
from contract.topics import Topics


class KioskPeer:
    def __init__(self, host: str | None, port: int, prefix: str, kiosk: str) -> None:
        self.topics = Topics(prefix)
        self.kiosk = kiosk
        self.seq = 0
        self.boot = uuid.uuid4().hex
        self.acks: queue.Queue[dict[str, Any]] = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"peer-{uuid.uuid4().hex[:10]}")
        self.client.on_message = lambda _c, _u, msg: self.acks.put(json.loads(msg.payload))
        if host is not None:
            self.client.connect(host, port)
            self.client.subscribe(self.topics.acks(kiosk), qos=1)
            self.client.loop_start()

    @classmethod
    def offline(cls, prefix: str, kiosk: str) -> KioskPeer:
        """Only makes events (for tests that hand them to the writer without a broker)."""
        return cls(None, 0, prefix, kiosk)

    def event(self, type_: str, data: dict[str, Any], at: datetime | None = None, **extra: Any) -> Event:
        self.seq += 1
        fields = {"id": uuid.uuid4(), "kiosk": self.kiosk, "seq": self.seq, "boot": self.boot,
                  "at": at or datetime.now(UTC), "synced": True, "type": type_, "actor": None, "data": data}
        fields.update(extra)
        return Event.model_validate(fields)

    def send(self, payload: bytes | Event, topic_kiosk: str | None = None) -> None:
        raw = payload.to_bytes() if isinstance(payload, Event) else payload
        self.client.publish(self.topics.events(topic_kiosk or self.kiosk), raw, qos=1).wait_for_publish(5)

    def ack(self, timeout: float = 10) -> dict[str, Any]:
        return self.acks.get(timeout=timeout)

    def roundtrip(self, payload: bytes | Event, topic_kiosk: str | None = None, timeout: float = 10) -> dict[str, Any]:
        self.send(payload, topic_kiosk)
        return self.ack(timeout)

    def wait_for_server(self, timeout: float = 30) -> None:
        """Until the server's retained ``online`` status arrives. The consumer publishes it after
        subscribing, on the same connection, so the broker has its subscription by then: an event sent
        earlier could find no subscriber and be lost (``Consumer.connected`` is set before the SUBACK)."""
        self.client.subscribe(self.topics.server_status, qos=1)
        end = time.monotonic() + timeout
        try:
            while True:
                message = self.acks.get(timeout=max(0.0, end - time.monotonic()))
                if message.get("state") == "online":
                    return
        finally:
            self.client.unsubscribe(self.topics.server_status)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
