"""MQTT link to the server: sends the outbox, takes acks, reports status (PROTOCOL.md section 2).

The outbox is the only queue that counts. The link keeps a window of at most
``max_inflight`` events published on the current connection and not yet acked by the
server; each ack frees a place and the next pending event (in seq order) goes out. On
every (re)connect the window is emptied and the whole outbox is sent again from the
lowest seq: events whose ack was lost with the connection are resent, and the server
answers them ``duplicate``. If acks stop coming for ``ack_timeout`` seconds while events
wait, the window is resent the same way (the consumer may have lost them).

An ack that is not final (``unknown_kiosk``, ``internal_error``: the server is the wrong one,
does not know this kiosk yet, or could not store the event) leaves the event in the outbox
and *held*: it is not sent again until the next reconnect or the next config message from the
server (a server that learns of this kiosk publishes its config), so a server that keeps
saying no is not flooded. The held count and reason go into the kiosk's status.

paho runs the socket in its own thread (``loop_start``) and reconnects with backoff;
``connected`` is set only from a successful CONNACK, so a refused or failed connect never
looks like a connection. A publish that races a disconnect stays in the outbox and goes
out again on reconnect: nothing is dropped while the link is down.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import ValidationError

from contract.messages import Ack, KioskConfig, KioskStatus, ServerStatus
from contract.topics import QOS, Topics
from kiosk import agent_version
from kiosk.config import AgentConfig
from kiosk.outbox import AckRecord, Outbox

log = logging.getLogger("kiosk.link")

STATUS_INTERVAL = 1.0  # seconds between status refreshes while the outbox changes
TICK = 0.25  # housekeeping period: ack timeouts, events added by other processes, status


class LinkListener:
    """What the agent hears from the link; every method runs on a link thread."""

    def on_ack(self, record: AckRecord) -> None: ...
    def on_connection(self, connected: bool, reason: str) -> None: ...
    def on_server_status(self, status: ServerStatus | None) -> None: ...
    def on_kiosk_config(self, config: KioskConfig | None) -> None: ...


class Link:
    def __init__(self, config: AgentConfig, outbox: Outbox, listener: LinkListener | None = None) -> None:
        self.config = config
        self.outbox = outbox
        self.listener = listener or LinkListener()
        self.topics = Topics(config.prefix)
        self.kiosk = config.kiosk
        self._window = config.broker.max_inflight
        self._lock = threading.RLock()  # guards the window state below and every publish of events
        self._inflight: dict[str, float] = {}  # event id -> monotonic send time, oldest first
        self._cursor = 0  # highest seq published (or passed over, when held) on this connection
        self._held: dict[str, tuple[int, str]] = {}  # event id -> (seq, reason) after a not-final ack
        self._connected = False
        self._last_ack = time.monotonic()
        self._status_dirty = False
        self._status_sent = 0.0
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self.last_tick = time.monotonic()  # end of the last housekeeping turn, for the watchdog
        self.sent = 0  # events published (resends included), for the bench and tests
        self._handlers: dict[str, Callable[[bytes], None]] = {
            self.topics.acks(self.kiosk): self._on_ack_payload,
            self.topics.config(self.kiosk): self._on_config_payload,
            self.topics.server_status: self._on_server_status_payload,
        }
        self.client = self._make_client()

    # -- set-up -------------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        broker = self.config.broker
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.kiosk, protocol=mqtt.MQTTv5)
        client.username_pw_set(self.config.username(), self.config.password())
        if broker.tls is not None:
            client.tls_set(
                ca_certs=str(broker.tls.ca_file),
                certfile=str(broker.tls.cert_file) if broker.tls.cert_file else None,
                keyfile=str(broker.tls.key_file) if broker.tls.key_file else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
            client.tls_insecure_set(broker.tls.insecure)
        # The broker announces us offline, retained, when our socket dies without a DISCONNECT.
        client.will_set(self.topics.status(self.kiosk), self._status_bytes("offline"), qos=QOS, retain=True)
        # paho's own window a little above ours leaves room for status messages.
        client.max_inflight_messages_set(self._window + 10)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(int(max(1, broker.reconnect_min)), int(max(1, broker.reconnect_max)))
        # Events and acks are small packets: without TCP_NODELAY, Nagle's algorithm and delayed
        # ACKs hold each one back by up to 40 ms (paho does not set it).
        client.on_socket_open = _no_delay
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def start(self) -> None:
        """Connect in the background (retrying with backoff) and start sending."""
        broker = self.config.broker
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = broker.session_expiry
        # clean_start=False + session expiry: acks published while we are away wait in the broker.
        self.client.connect_async(
            broker.host, broker.port, keepalive=broker.keepalive, clean_start=False, properties=props
        )
        self.client.loop_start()
        self._ticker = threading.Thread(target=self._tick_loop, name=f"kiosk-link-{self.kiosk}", daemon=True)
        self._ticker.start()

    def stop(self, timeout: float = 3.0) -> None:
        """Say offline (retained) when connected, disconnect cleanly and stop the threads."""
        self._stop.set()
        if self._connected:
            info = self.client.publish(
                self.topics.status(self.kiosk), self._status_bytes("offline"), qos=QOS, retain=True
            )
            # If the connection went away meanwhile, the last will says offline instead.
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout)
        self.client.disconnect()
        self.client.loop_stop()
        if self._ticker is not None:
            self._ticker.join(timeout)
        self._connected = False

    def stalled(self, limit: float) -> str | None:
        """Why the link should be restarted (its housekeeping thread hung or died), or None."""
        if self._ticker is None or self._stop.is_set():
            return None
        if not self._ticker.is_alive():
            return "link thread ended"
        idle = time.monotonic() - self.last_tick
        return f"link housekeeping stuck for {idle:.0f} s" if idle > limit else None

    @property
    def connected(self) -> bool:
        return self._connected

    def inflight(self) -> int:
        with self._lock:
            return len(self._inflight)

    def held(self) -> tuple[int, str | None]:
        """How many events a not-final rejection holds back, and the newest such reason."""
        with self._lock:
            reasons = [reason for _seq, reason in self._held.values()]
        return len(reasons), (reasons[-1] if reasons else None)

    # -- paho callbacks (paho's thread) -------------------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.warning("broker refused the connection: %s", reason)
            self.listener.on_connection(False, str(reason))
            return
        with self._lock:
            self._connected = True
            # Everything not acked is sent again, from the lowest seq, held events too.
            self._inflight.clear()
            self._held.clear()
            self._cursor = 0
            self._last_ack = time.monotonic()
        client.subscribe([(topic, QOS) for topic in self._handlers])
        self._publish_status()
        log.info("connected to %s:%s as %s", self.config.broker.host, self.config.broker.port, self.kiosk)
        self.listener.on_connection(True, "connected")
        self.pump()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        with self._lock:
            self._connected = False
        if not self._stop.is_set():
            log.warning("disconnected from broker: %s", reason)
        self.listener.on_connection(False, str(reason))

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        handler = self._handlers.get(message.topic)
        if handler is None:
            log.warning("message on unexpected topic %s ignored", message.topic)
            return
        try:
            handler(bytes(message.payload))
        except Exception:  # a bad message must never stop the network thread
            log.exception("handling a message on %s failed", message.topic)

    def _on_ack_payload(self, payload: bytes) -> None:
        try:
            ack = Ack.model_validate_json(payload)
        except ValidationError as exc:
            log.warning("malformed ack ignored: %s", exc.errors()[:1])
            return
        with self._lock:
            self._last_ack = time.monotonic()
            record = self.outbox.mark_acked(ack)
            if ack.id is not None:
                self._inflight.pop(ack.id, None)
            if record is not None:
                self._status_dirty = True
                if record.final:
                    self._held.pop(record.id, None)
                else:
                    self._held[record.id] = (record.seq, record.reason or "")
                    log.warning("server says %s for event %s: kept, sent again after a reconnect or a new "
                                "config", record.reason, record.id)
        if record is None:
            log.debug("ack for unknown or already acked event %s ignored", ack.id)
        else:
            self.listener.on_ack(record)
        self.pump()

    def _on_config_payload(self, payload: bytes) -> None:
        self._release_held()  # whatever the config says, the server behind it may know us now
        if not payload:  # a cleared retained message
            self.listener.on_kiosk_config(None)
            return
        try:
            config = KioskConfig.model_validate_json(payload)
        except ValidationError as exc:
            log.warning("malformed kiosk config ignored: %s", exc.errors()[:1])
            return
        self.listener.on_kiosk_config(config)

    def _on_server_status_payload(self, payload: bytes) -> None:
        if not payload:
            self.listener.on_server_status(None)
            return
        try:
            status = ServerStatus.model_validate_json(payload)
        except ValidationError as exc:
            log.warning("malformed server status ignored: %s", exc.errors()[:1])
            return
        self.listener.on_server_status(status)

    # -- sending ------------------------------------------------------------------------

    def wake(self) -> None:
        """New events are in the outbox: send what the window allows (any thread)."""
        with self._lock:
            self._status_dirty = True
        self.pump()

    def pump(self) -> None:
        with self._lock:
            if not self._connected:
                return
            room = self._window - len(self._inflight)
            topic = self.topics.events(self.kiosk)
            while room > 0:
                batch = self.outbox.pending(limit=room, after_seq=self._cursor)
                if not batch:
                    return
                for queued in batch:
                    # Held events wait for their release; after one, the cursor comes back
                    # over events already in flight, which must not go out twice.
                    if queued.id not in self._held and queued.id not in self._inflight:
                        info = self.client.publish(topic, queued.body, qos=QOS)
                        if info.rc != mqtt.MQTT_ERR_SUCCESS:
                            return  # lost the connection meanwhile: the event is still in the outbox
                        self._inflight[queued.id] = time.monotonic()
                        self.sent += 1
                        room -= 1
                    self._cursor = queued.seq

    def _release_held(self) -> None:
        with self._lock:
            if not self._held:
                return
            log.info("sending the %d held events again", len(self._held))
            self._cursor = min(self._cursor, min(seq for seq, _reason in self._held.values()) - 1)
            self._held.clear()
            self._status_dirty = True
        self.pump()

    def _tick_loop(self) -> None:
        while not self._stop.wait(TICK):
            try:
                self._tick()
            except Exception:
                log.exception("link housekeeping failed")
            self.last_tick = time.monotonic()

    def _tick(self) -> None:
        now = time.monotonic()
        with self._lock:
            if self._connected and self._inflight:
                oldest = next(iter(self._inflight.values()))
                timeout = self.config.broker.ack_timeout
                if now - oldest > timeout and now - self._last_ack > timeout:
                    log.warning("no ack for %.0f s: sending %d unacked events again", timeout, len(self._inflight))
                    self._inflight.clear()
                    self._cursor = 0
                    self._last_ack = now
        # Also picks up events that another process (publish CLI, a test) put in the outbox.
        self.pump()
        if self._status_dirty and now - self._status_sent >= STATUS_INTERVAL:
            self._publish_status()

    # -- status -------------------------------------------------------------------------

    def _status_bytes(self, state: str) -> bytes:
        if state == "offline":
            # The will is fixed at connect time, so it carries no outbox figure or time.
            status = KioskStatus(state="offline", mode=self.config.mode, version=agent_version())
        else:
            held, reason = self.held()
            status = KioskStatus(
                state="online",
                mode=self.config.mode,
                version=agent_version(),
                outbox=self.outbox.depth(),
                outbox_oldest_s=self.outbox.oldest_age(),
                held=held or None,
                held_reason=reason,
                at=datetime.now().astimezone(),
            )
        return status.model_dump_json(exclude_none=True).encode()

    def _publish_status(self) -> None:
        if not self._connected:
            return
        self._status_dirty = False
        self._status_sent = time.monotonic()
        self.client.publish(self.topics.status(self.kiosk), self._status_bytes("online"), qos=QOS, retain=True)


def _no_delay(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
