"""The kiosk event consumer: its own process, a fixed client id and a persistent session.

Flow per batch: take up to N messages off the network thread's queue, apply each in
its own savepoint of one transaction (ingest or rejected log), commit, then publish
the acks and only then PUBACK the broker (manual acks). A crash anywhere before the
commit leaves the messages unacknowledged in the broker session, so they come back
and the event id makes the second delivery a duplicate: nothing lost, nothing doubled.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
import time
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from contract import messages as m
from contract.topics import QOS, Topics
from server.config import Settings
from server.models import Kiosk, RejectedMessage, utcnow
from server.services import bulk, ingest, kiosks

log = logging.getLogger("assetgate.consumer")
RAW_KEPT = 2048  # bytes of a refused message kept for the admin


@dataclass
class Incoming:
    message: mqtt.MQTTMessage
    kiosk: str | None
    status: bool = False
    event: m.Event | None = None
    data: Any = None
    error: m.ContractError | None = None


@dataclass
class Outgoing:
    kiosk: str | None
    ack: m.Ack | None
    mid: int
    qos: int


class Consumer:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session], client_id: str | None = None) -> None:
        self.settings = settings
        self.sessions = sessions
        self.topics = Topics(settings.topic_prefix)
        self.counts: Counter[str] = Counter()
        self.connected = threading.Event()
        self._inbox: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self.client = self._make_client(client_id or settings.mqtt_client_id)

    # --- MQTT wiring ---

    def _make_client(self, client_id: str) -> mqtt.Client:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                             protocol=mqtt.MQTTv311, manual_ack=True)
        if self.settings.mqtt_username:
            client.username_pw_set(self.settings.mqtt_username, self.settings.mqtt_password)
        if self.settings.mqtt_tls_ca:
            client.tls_set(ca_certs=str(self.settings.mqtt_tls_ca))
        client.will_set(self.topics.server_status, _server_status("offline"), qos=QOS, retain=True)
        client.max_inflight_messages_set(200)
        client.max_queued_messages_set(0)  # unbounded: acks must never be dropped while reconnecting
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_socket_open = _no_delay
        return client

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any = None) -> None:
        if reason.is_failure:
            log.error("broker refused the consumer: %s", reason)
            return
        client.subscribe(self.topics.all_events(shared=self.settings.mqtt_shared), qos=QOS)
        client.subscribe(self.topics.all_status, qos=QOS)
        client.publish(self.topics.server_status, _server_status("online"), qos=QOS, retain=True)
        self._publish_configs()
        self.connected.set()
        log.info("consumer connected to %s:%s", self.settings.mqtt_host, self.settings.mqtt_port)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any = None) -> None:
        self.connected.clear()
        if not self._stop.is_set():
            log.warning("consumer lost the broker (%s); reconnecting", reason)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        self._inbox.put(message)  # the network thread only queues; the worker does the work

    def _publish_configs(self) -> None:
        with self.sessions() as session:
            for kiosk in session.scalars(select(Kiosk).where(Kiosk.revoked_at.is_(None))):
                payload = kiosks.config_for(kiosk).model_dump_json().encode()
                self.client.publish(self.topics.config(kiosk.name), payload, qos=QOS, retain=True)

    # --- life cycle ---

    def start(self) -> None:
        self._stop.clear()
        self._worker = threading.Thread(target=self._work, name="consumer-worker", daemon=True)
        self._worker.start()
        self.client.connect_async(self.settings.mqtt_host, self.settings.mqtt_port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        self._stop.set()
        if self._worker:
            self._worker.join(timeout=10)
        if self.connected.is_set():
            info = self.client.publish(self.topics.server_status, _server_status("offline"), qos=QOS, retain=True)
            info.wait_for_publish(timeout=2)
        self.client.disconnect()
        self.client.loop_stop()

    def request_stop(self) -> None:
        """Ask run_forever to finish (safe from a signal handler)."""
        self._stop.set()

    def run_forever(self) -> None:
        self.start()
        try:
            while not self._stop.is_set():
                time.sleep(0.5)
        finally:
            self.stop()

    # --- the work ---

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                first = self._inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            batch = [first]
            while len(batch) < self.settings.consumer_batch:
                try:
                    batch.append(self._inbox.get_nowait())
                except queue.Empty:
                    break
            self._process_until_stored(batch)

    def _process_until_stored(self, batch: list[mqtt.MQTTMessage]) -> None:
        delay = 0.5
        while True:
            try:
                outgoing = self._process_or_split(batch)
                break
            except OperationalError as exc:  # database away: keep the batch, unacked, and retry
                log.error("database unavailable (%s); retrying in %.1fs", exc.orig, delay)
                if self._stop.wait(delay):
                    return  # stopping: the broker will deliver these again to the next consumer
                delay = min(delay * 2, 30)
        self._send(outgoing)

    def _process_or_split(self, batch: list[mqtt.MQTTMessage]) -> list[Outgoing]:
        """Fast path first (one flush per batch); on any surprise redo the batch on the safe
        path (a savepoint per message); if even that fails, message by message, so that one
        poisonous message spoils only itself. The same handlers run on every path."""
        try:
            done = self.process(batch, fast=True)
            self.counts["batches:fast"] += 1
            return done
        except OperationalError:
            raise
        except Exception as exc:
            log.info("fast path refused a batch of %d (%s); redoing it safely", len(batch), type(exc).__name__)
            self.counts["batches:safe"] += 1
        try:
            return self.process(batch, fast=False)
        except OperationalError:
            raise
        except Exception:
            log.exception("batch of %d failed; retrying message by message", len(batch))
        outgoing: list[Outgoing] = []
        for message in batch:
            try:
                outgoing += self.process([message], fast=False)
            except OperationalError:
                raise
            except Exception:  # unstorable even alone: refuse it loudly rather than loop on it
                log.exception("message on %s could not be stored; refused", message.topic[:100])
                self.counts[f"rejected:{m.Reason.INTERNAL}"] += 1
                parsed = self.topics.parse(message.topic)
                ack = m.Ack(id=None, status="rejected", reason=m.Reason.INTERNAL,
                            display=m.display_for("rejected", m.Reason.INTERNAL))
                outgoing.append(Outgoing(parsed.kiosk if parsed else None, ack, message.mid, message.qos))
        return outgoing

    def _send(self, outgoing: list[Outgoing]) -> None:
        for item in outgoing:
            if item.ack is not None and item.kiosk is not None:
                self.client.publish(self.topics.acks(item.kiosk), item.ack.to_bytes(), qos=QOS)
            if item.qos > 0:
                self.client.ack(item.mid, item.qos)

    def process(self, batch: list[mqtt.MQTTMessage], fast: bool = False) -> list[Outgoing]:
        """Store a batch in one transaction; returns the acks to send after the commit."""
        received = utcnow()
        items = [self._decode(message) for message in batch]
        outgoing: list[Outgoing] = []
        with self.sessions() as session, session.begin():
            events = [item.event for item in items if item.event is not None]
            prefetched = ingest.prefetch(session, events) if fast and events else None
            with bulk.rows(session) if fast else nullcontext():
                self._apply_all(session, items, received, prefetched, fast, outgoing)
        return outgoing

    def _apply_all(self, session: Session, items: list[Incoming], received: Any,
                   prefetched: ingest.Prefetched | None, fast: bool, outgoing: list[Outgoing]) -> None:
        for item in items:
            message = item.message
            if item.status:
                self._store_status(session, item.kiosk or "", bytes(message.payload))
                outgoing.append(Outgoing(None, None, message.mid, message.qos))
                continue
            ack = self._apply(session, item, received, prefetched, fast)
            outgoing.append(Outgoing(item.kiosk, ack, message.mid, message.qos))

    def _decode(self, message: mqtt.MQTTMessage) -> Incoming:
        parsed = self.topics.parse(message.topic)
        kiosk = parsed.kiosk if parsed is not None else None
        if parsed is not None and parsed.channel == "status":
            return Incoming(message, kiosk, status=True)
        try:
            if kiosk is None or parsed is None or parsed.channel != "events":
                raise m.ContractError(m.Reason.BAD_SCHEMA, f"not a kiosk events topic: {message.topic[:100]}")
            event, data = m.decode_event(bytes(message.payload), kiosk)
            return Incoming(message, kiosk, event=event, data=data)
        except m.ContractError as exc:
            return Incoming(message, kiosk, error=exc)

    def _apply(self, session: Session, item: Incoming, received: Any, prefetched: ingest.Prefetched | None,
               fast: bool) -> m.Ack:
        message, kiosk = item.message, item.kiosk
        try:
            if item.error is not None:
                raise item.error
            assert item.event is not None and item.data is not None
            result = ingest.ingest(session, item.event, item.data, received_at=received, batch=prefetched,
                                   require_enrolled=self.settings.require_enrolled_kiosks,
                                   max_skew_s=self.settings.max_clock_skew_s)
            self.counts[result.status] += 1
            return m.Ack(id=str(item.event.id), status=result.status, reason=result.reason,  # type: ignore[arg-type]
                         display=result.display)
        except m.ContractError as exc:
            return self._reject(session, message, kiosk, str(exc.reason), str(exc), exc.event_id, received, fast)
        except ValidationError as exc:  # a reply we could not build is our bug, not the kiosk's
            if fast:
                raise
            log.exception("bad ack for %s", message.topic)
            return self._reject(session, message, kiosk, m.Reason.INTERNAL, str(exc)[:300], None, received, fast)
        except Exception as exc:  # never let one message stop the loop
            if fast:
                raise  # the safe path will isolate it
            log.exception("internal error on %s", message.topic)
            return self._reject(session, message, kiosk, m.Reason.INTERNAL, repr(exc)[:300], None, received, fast)

    def _reject(self, session: Session, message: mqtt.MQTTMessage, kiosk: str | None, reason: str, detail: str,
                event_id: str | None, received: Any, fast: bool = False) -> m.Ack:
        self.counts[f"rejected:{reason}"] += 1
        log.warning("rejected %s from %s: %s (%s)", event_id or "message", kiosk or message.topic[:80], reason, detail)
        raw = message.payload[:RAW_KEPT].decode("utf-8", errors="backslashreplace")
        row = RejectedMessage(received_at=received, topic=_text(message.topic, 255), kiosk=kiosk,
                              event_id=_text(event_id, 64) if event_id else None, reason=reason,
                              detail=_text(detail, 1000), size=len(message.payload), raw=_text(raw, None))
        if fast:
            session.add(row)
        else:
            with session.begin_nested():
                session.add(row)
        return m.Ack(id=event_id, status="rejected", reason=reason, display=m.display_for("rejected", reason, detail))

    def _store_status(self, session: Session, kiosk_name: str, payload: bytes) -> None:
        if not payload:
            return  # a cleared retained message
        try:
            status = m.KioskStatus.model_validate_json(payload[: m.MAX_EVENT_BYTES])
        except ValidationError:
            log.warning("unreadable status from kiosk %s", kiosk_name)
            return
        kiosk = kiosks.active_kiosk(session, kiosk_name)
        if kiosk is not None:
            kiosk.status = status.model_dump(mode="json")
            kiosk.last_seen_at = utcnow()


def _no_delay(_client: mqtt.Client, _userdata: Any, sock: Any) -> None:
    # An ack is one small packet: without TCP_NODELAY, Nagle and delayed ACKs add ~40 ms to it.
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _text(value: str, limit: int | None) -> str:
    """Text safe for every backend: PostgreSQL refuses NUL characters in text columns."""
    return value.replace("\x00", "\\x00")[:limit]


def _server_status(state: str) -> bytes:
    return m.ServerStatus(state=state, at=utcnow()).model_dump_json().encode()  # type: ignore[arg-type]
