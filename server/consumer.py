"""The kiosk event consumer's network side: a fixed client id and a persistent session.

Two processes share the work. This one runs the MQTT client; a writer process
(``server.writer``) parses and stores. paho's network thread only queues each
delivery; the dispatcher thread hands them to the writer in batches of up to
``consumer_batch`` (at most ``WINDOW`` batches unanswered, so the writer always has
the next one ready and memory stays bounded); the collector thread takes the
writer's answer for a batch, which comes only after its commit, publishes the acks
and then PUBACKs the broker (manual acks).

A crash anywhere before the commit leaves the messages unacknowledged in the broker
session, so they come back and the event id makes the second delivery a duplicate:
nothing lost, nothing doubled. If the writer process dies, a new one is started and
given the unanswered batches again; if this process dies, the writer sees its pipe
close and ends too.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import socket
import threading
import time
from collections import Counter, deque
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import paho.mqtt.client as mqtt

from contract import messages as m
from contract.topics import QOS, Topics
from server import writer
from server.config import Settings
from server.models import utcnow
from server.services import health
from server.writer import Delivery, Reply

log = logging.getLogger("assetgate.consumer")
WINDOW = 2  # batches handed to the writer and not yet answered
_SPAWN = multiprocessing.get_context("spawn")  # a clean interpreter: no threads or sockets copied by fork


class Consumer:
    def __init__(self, settings: Settings, client_id: str | None = None) -> None:
        self.settings = settings
        self.topics = Topics(settings.topic_prefix)
        self.counts: Counter[str] = Counter()
        self.connected = threading.Event()
        self._subscribed_mid: int | None = -1
        self._pending: deque[Delivery] = deque()  # received, not yet handed to the writer
        self._wake = threading.Event()
        self._want_configs = False
        self._window = threading.Semaphore(WINDOW)
        self._outstanding: dict[int, list[Delivery]] = {}  # batch id -> handed to the writer, not answered
        self._batch_ids = 0
        self._pipe_lock = threading.Lock()  # the dispatcher and a writer restart both send on the pipe
        self._stop = threading.Event()
        self._closing = threading.Event()
        self._resend = threading.Event()  # set when a new writer needs the unanswered batches
        self._online_started = False
        self._threads: list[threading.Thread] = []
        self._pipe: Connection | None = None
        self._process: BaseProcess | None = None
        self.client = self._make_client(client_id or settings.mqtt_client_id)
        self._beat_name = health.consumer_name(client_id or settings.mqtt_client_id)
        self._started_at = utcnow()
        self._next_beat = 0.0
        self._beat_unanswered = False  # at most one beat in the pipe: a stuck writer never gets a pile

    # --- MQTT wiring ---

    def _make_client(self, client_id: str) -> mqtt.Client:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                             protocol=mqtt.MQTTv311, manual_ack=True)
        if self.settings.mqtt_username:
            client.username_pw_set(self.settings.mqtt_username, self.settings.mqtt_password)
        if self.settings.mqtt_tls_ca:
            client.tls_set(ca_certs=str(self.settings.mqtt_tls_ca))
        client.will_set(self.topics.server_status, _server_status("offline"), qos=QOS, retain=True)
        # No cap on our own unconfirmed publishes (the acks; their number is bounded by the
        # batches in flight). With a cap, paho walks every queued message on each PUBACK:
        # a fifth of this process's time at 500 acks a batch.
        client.max_inflight_messages_set(0)
        client.max_queued_messages_set(0)  # unbounded: acks must never be dropped while reconnecting
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_socket_open = _no_delay
        return client

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any = None) -> None:
        if reason.is_failure:
            log.error("broker refused the consumer: %s", reason)
            return
        client.subscribe(self.topics.all_events(shared=self.settings.mqtt_shared), qos=QOS)
        # Connected counts from the broker's SUBACK of the last subscription, not from CONNACK: an
        # event a kiosk sends in between would find no subscriber on a new session.
        _, self._subscribed_mid = client.subscribe(self.topics.all_status, qos=QOS)
        client.publish(self.topics.server_status, _server_status("online"), qos=QOS, retain=True)
        self._want_configs = True  # the dispatcher asks the writer; the collector publishes them
        self._wake.set()

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, mid: int, _codes: Any, _p: Any = None) -> None:
        if mid == self._subscribed_mid:  # subscriptions are acknowledged in order: both are in place
            self.connected.set()
            log.info("consumer connected to %s:%s", self.settings.mqtt_host, self.settings.mqtt_port)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any = None) -> None:
        self.connected.clear()
        if not self._stop.is_set():
            log.warning("consumer lost the broker (%s); reconnecting", reason)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        # The network thread only queues: everything else happens elsewhere.
        self._pending.append(Delivery(message.mid, message.qos, message.topic, bytes(message.payload)))
        self._wake.set()

    # --- life cycle ---

    def start(self) -> None:
        self._stop.clear()
        self._closing.clear()
        self._online_started = False
        self._start_writer()
        self._threads = [threading.Thread(target=self._dispatch, name="consumer-dispatch", daemon=True),
                         threading.Thread(target=self._collect, name="consumer-collect", daemon=True)]
        for thread in self._threads:
            thread.start()  # the collector connects to the broker once the writer is ready

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()  # no new batches; what is still queued here stays unacked and comes back
        deadline = time.monotonic() + timeout
        while self._outstanding and time.monotonic() < deadline and self._writer_alive():
            time.sleep(0.02)  # let the batches in the writer finish and their acks go out
        self._closing.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._stop_writer()
        if self.connected.is_set():
            info = self.client.publish(self.topics.server_status, _server_status("offline"), qos=QOS, retain=True)
            info.wait_for_publish(timeout=2)
        if self._online_started:
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

    # --- the writer process ---

    def _start_writer(self) -> None:
        mine, theirs = _SPAWN.Pipe()
        process = _SPAWN.Process(target=writer.run, args=(theirs, self.settings), name="assetgate-writer",
                                 daemon=True)
        process.start()
        theirs.close()  # only the writer holds that end now: its death closes our pipe
        self._pipe, self._process = mine, process

    def _writer_alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def _stop_writer(self) -> None:
        with self._pipe_lock:
            if self._pipe is not None:
                with contextlib.suppress(OSError):
                    self._pipe.send(("stop",))
        if self._process is not None:
            self._process.join(timeout=10)
            if self._process.is_alive():
                log.warning("the writer did not stop in time; terminating it")
                self._process.terminate()
                self._process.join(timeout=5)
        if self._pipe is not None:
            self._pipe.close()

    def _restart_writer(self, backoff: float) -> None:
        code = self._process.exitcode if self._process else None
        log.error("the writer process ended (exit code %s); starting another and handing it the %d "
                  "unanswered batches", code, len(self._outstanding))
        self.counts["writer:restarts"] += 1
        if self._closing.wait(backoff):
            return
        with self._pipe_lock:
            if self._pipe is not None:
                self._pipe.close()
            self._start_writer()
            self._beat_unanswered = False  # the beat died with the old writer
        # The dispatcher sends them: this thread must stay free to read the answers, or a
        # writer blocked on a large answer and this thread blocked on a large batch would wait
        # for each other for ever.
        self._resend.set()
        self._wake.set()

    # --- the work ---

    def _dispatch(self) -> None:
        while not self._stop.is_set():
            self._beat_if_due()
            if self._resend.is_set():  # a new writer: first the batches the last one left unanswered
                self._resend.clear()
                self.counts["writer:resent"] += len(self._outstanding)
                with self._pipe_lock:
                    for batch_id in sorted(self._outstanding):
                        self._send_to_writer(("batch", batch_id, self._outstanding[batch_id]), locked=True)
            if not self._window.acquire(timeout=0.2):
                continue
            while not (self._worth_sending() or self._want_configs or self._resend.is_set() or self._stop.is_set()):
                self._wake.wait(0.2)
                self._wake.clear()
                self._beat_if_due()
            if self._want_configs:
                self._want_configs = False
                self._send_to_writer(("configs",))
            if self._stop.is_set() or self._resend.is_set() or not self._worth_sending():
                self._window.release()
                continue
            batch = [self._pending.popleft() for _ in range(min(len(self._pending), self.settings.consumer_batch))]
            with self._pipe_lock:
                self._batch_ids += 1
                self._outstanding[self._batch_ids] = batch
                self._send_to_writer(("batch", self._batch_ids, batch), locked=True)

    def _beat_if_due(self) -> None:
        """Every heartbeat_interval_s, from this loop, while connected and the writer is ready: one beat
        means events can be stored right now. The writer records it (one UPDATE)."""
        now = time.monotonic()
        if now < self._next_beat or self._beat_unanswered or not (self.connected.is_set() and self._online_started):
            return
        self._next_beat = now + self.settings.heartbeat_interval_s
        self._beat_unanswered = True
        self._send_to_writer(("beat", self._beat_name, socket.gethostname(), os.getpid(), self._started_at,
                              self.settings.heartbeat_interval_s))

    def _worth_sending(self) -> bool:
        # An idle writer gets whatever is there (low latency); a busy one gets a second
        # batch only when it is full (throughput): a small one would make the next wait.
        return bool(self._pending) and (not self._outstanding or len(self._pending) >= self.settings.consumer_batch)

    def _send_to_writer(self, request: tuple[Any, ...], locked: bool = False) -> None:
        with contextlib.nullcontext() if locked else self._pipe_lock:
            try:
                assert self._pipe is not None
                self._pipe.send(request)
            except OSError:
                pass  # the writer is gone: the collector restarts it and hands it every unanswered batch

    def _collect(self) -> None:
        failures = 0
        while not self._closing.is_set():
            try:
                assert self._pipe is not None
                if not self._pipe.poll(0.2):
                    if not self._writer_alive():
                        raise EOFError
                    continue
                answer = self._pipe.recv()
            except (EOFError, OSError):
                if self._closing.is_set():
                    return
                failures += 1
                self._restart_writer(min(0.5 * 2 ** (failures - 1), 30))
                continue
            if answer[0] == "done":
                failures = 0
                self._answered(answer[1], answer[2], answer[3])
            elif answer[0] == "ready" and not self._online_started:
                # Only now: "online" promises that events are stored, not merely received.
                self._online_started = True
                self.client.connect_async(self.settings.mqtt_host, self.settings.mqtt_port, keepalive=30)
                self.client.loop_start()
            elif answer[0] == "beat":
                self._beat_unanswered = False
            elif answer[0] == "configs":
                for kiosk, payload in answer[1]:
                    self.client.publish(self.topics.config(kiosk), payload, qos=QOS, retain=True)

    def _answered(self, batch_id: int, replies: list[Reply] | None, counts: dict[str, int]) -> None:
        self.counts.update(counts)
        if replies is not None:
            self._send(replies)
        if self._outstanding.pop(batch_id, None) is not None:
            self._window.release()
            self._wake.set()  # the dispatcher may be holding back a part batch for this

    def _send(self, replies: list[Reply]) -> None:
        for reply in replies:
            if reply.ack is not None and reply.kiosk is not None:
                self.client.publish(self.topics.acks(reply.kiosk), reply.ack, qos=QOS)
            if reply.qos > 0:
                self.client.ack(reply.mid, reply.qos)


def _no_delay(_client: mqtt.Client, _userdata: Any, sock: Any) -> None:
    # An ack is one small packet: without TCP_NODELAY, Nagle and delayed ACKs add ~40 ms to it.
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _server_status(state: str) -> bytes:
    return m.ServerStatus(state=state, at=utcnow()).model_dump_json().encode()  # type: ignore[arg-type]
