"""Consumer ingest benchmark: events stored per second vs a bare paho subscriber, and
scan-to-ack latency at a steady rate. Prints its figures.

    .venv/bin/python bench/bench_ingest.py [--events 20000] [--database-url URL]

A private Mosquitto (persistence on, queue limits raised) holds a backlog of N events
for two offline persistent sessions: a bare subscriber that only receives, and the
consumer (network side in this process, its writer process beside it). Each drains the
same backlog in turn; the ratio is the consumer's cost. Then the writer alone (the same
kind of events handed to ``Writer.process`` here, no broker) and the scan-to-ack latency
of a kiosk-like client (TCP_NODELAY, QoS 1) at 10 and 100 events/s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contract.messages import Event  # noqa: E402
from contract.topics import Topics  # noqa: E402
from server import audit  # noqa: E402
from server.audit import SYSTEM  # noqa: E402
from server.config import load_settings  # noqa: E402
from server.consumer import Consumer, _no_delay  # noqa: E402
from server.db import make_engine, make_session_factory  # noqa: E402
from server.migrate import upgrade  # noqa: E402
from server.models import KioskEvent  # noqa: E402
from server.services import assets, directory, kiosks  # noqa: E402
from server.writer import Delivery, Writer  # noqa: E402
from tests.brokers import PrivateBroker  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402

KIOSKS = ("bench-1", "bench-2", "bench-3")


def fresh_database(url: str | None, folder: Path) -> str:
    if not url:
        return f"sqlite:///{folder / 'bench.db'}"
    name = f"ag_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def seed(sessions, n_assets: int) -> tuple[list[str], list[str]]:
    with sessions() as s, s.begin():
        directory.get_or_create_category(s, SYSTEM, "Laptop")
        store = directory.create_location(s, SYSTEM, "Store", "storeroom")
        rooms = [directory.create_location(s, SYSTEM, f"Room {i}").code for i in range(5)]
        tags = [assets.create_asset(s, SYSTEM, f"Laptop {i}", "Laptop", store.code).code for i in range(n_assets)]
        for k in KIOSKS:
            kiosks.enroll(s, SYSTEM, k, "storeroom")
    return tags, rooms


def make_events(n: int, tags: list[str], rooms: list[str]) -> list[tuple[str, bytes]]:
    out, boot = [], uuid.uuid4().hex
    for i in range(n):
        kiosk = KIOSKS[i % len(KIOSKS)]
        event = Event(id=uuid.uuid4(), kiosk=kiosk, seq=i // len(KIOSKS) + 1, boot=boot, at=datetime.now(UTC),
                      synced=True, type="asset.move", actor=None,
                      data={"tag": tags[i % len(tags)], "to": rooms[i % len(rooms)]})
        out.append((kiosk, event.to_bytes()))
    return out


def client(port: int, client_id: str, clean: bool = True) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean)
    c.max_inflight_messages_set(1000)
    c.connect("127.0.0.1", port)
    return c


def register_session(port: int, client_id: str, topic: str) -> None:
    c = client(port, client_id, clean=False)
    c.loop_start()
    c.subscribe(topic, qos=1)
    time.sleep(0.3)
    c.loop_stop()
    c.disconnect()


def publish_all(port: int, topics: Topics, events: list[tuple[str, bytes]]) -> None:
    pub = client(port, f"pub-{uuid.uuid4().hex[:6]}")
    pub.loop_start()
    infos = [pub.publish(topics.events(k), payload, qos=1) for k, payload in events]
    for info in infos:
        info.wait_for_publish(30)
    pub.loop_stop()
    pub.disconnect()


def bare_drain(port: int, topic: str, n: int) -> tuple[float, float]:
    """Seconds to receive the backlog, and this process's CPU seconds for it."""
    got = 0
    done = threading.Event()

    def on_message(*_a) -> None:
        nonlocal got
        got += 1
        if got >= n:
            done.set()

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bare", clean_session=False)
    c.on_message = on_message
    start, cpu = time.perf_counter(), time.process_time()
    c.connect("127.0.0.1", port)
    c.loop_start()
    done.wait(600)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    c.loop_stop()
    c.disconnect()
    return elapsed, cpu


def stored(sessions) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(KioskEvent)) or 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (Linux /proc); 0 for one that is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[int]:
    """The local PostgreSQL server's processes (its backends do the consumer's SQL)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def consumer_drain(settings, sessions, n: int, broker_pid: int) -> tuple[float, dict[str, float]]:
    """Seconds to store the backlog, and the CPU seconds each process spent on it."""
    worker = Consumer(settings)
    worker.start()  # its writer process starts first; the consumer connects once it is ready
    worker.connected.wait(60)
    assert worker._process is not None and worker._process.pid is not None
    groups = {"network side": lambda: [os.getpid()], "writer": lambda: [worker._process.pid],
              "broker": lambda: [broker_pid]}
    if sessions.kw["bind"].dialect.name == "postgresql":
        groups["PostgreSQL"] = postgres_pids  # the writer's backends may start after this
    before = {pid: cpu_seconds(pid) for pids in groups.values() for pid in pids()}
    start = time.perf_counter()
    while stored(sessions) < n:
        time.sleep(0.2)  # each poll is a transaction too: keep it light
    elapsed = time.perf_counter() - start
    used = {name: sum(cpu_seconds(pid) - before.get(pid, 0.0) for pid in pids()) for name, pids in groups.items()}
    worker.stop()
    return elapsed, used


def process_tree(pid: int) -> list[int]:
    """A process and its descendants (a consumer and its writer)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def shared_drain(settings, sessions, n: int, consumers: int, broker_pid: int) -> tuple[float, dict[str, float]]:
    """Like consumer_drain, with ``consumers`` separate ``assetgate consume`` processes sharing
    the subscription, as a site with more cores would run them. The clock starts at the first
    stored event (each process needs a moment to start its writer)."""
    env = {**os.environ, "ASSETGATE_DATABASE_URL": settings.effective_database_url,
           "ASSETGATE_INSTANCE_PATH": str(settings.instance_path), "ASSETGATE_MQTT_PORT": str(settings.mqtt_port),
           "ASSETGATE_TOPIC_PREFIX": settings.topic_prefix, "ASSETGATE_MQTT_SHARED": "true",
           "ASSETGATE_CONSUMER_BATCH": str(settings.consumer_batch), "ASSETGATE_LOG_LEVEL": "WARNING"}
    procs = [subprocess.Popen([sys.executable, "-m", "server", "consume"], cwd=Path(__file__).resolve().parents[1],
                              env={**env, "ASSETGATE_MQTT_CLIENT_ID": f"{settings.mqtt_client_id}-{i}"})
             for i in range(1, consumers + 1)]
    groups = {"consumers": lambda: [pid for proc in procs for pid in process_tree(proc.pid)],
              "broker": lambda: [broker_pid]}
    if sessions.kw["bind"].dialect.name == "postgresql":
        groups["PostgreSQL"] = postgres_pids
    while stored(sessions) == 0:
        time.sleep(0.05)
    before = {pid: cpu_seconds(pid) for pids in groups.values() for pid in pids()}
    start = time.perf_counter()
    while stored(sessions) < n:
        time.sleep(0.2)
    elapsed = time.perf_counter() - start
    used = {name: sum(cpu_seconds(pid) - before.get(pid, 0.0) for pid in pids()) for name, pids in groups.items()}
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(30)
    return elapsed, used


def writer_alone(settings, sessions, events: list[tuple[str, bytes]], batch: int) -> tuple[float, float]:
    """The writer's own cost: the same kind of events handed to Writer.process, no broker,
    no pipe. Returns (wall, CPU) seconds."""
    topics = Topics(settings.topic_prefix)
    deliveries = [Delivery(i % 65_000 + 1, 1, topics.events(k), p) for i, (k, p) in enumerate(events)]
    worker = Writer(settings, sessions)
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(deliveries), batch):
        worker.process(deliveries[i:i + batch], fast=True)
    return time.perf_counter() - wall, time.process_time() - cpu


def latency(settings, sessions, port: int, tags: list[str], rooms: list[str], rate: float,
            seconds: float) -> list[float]:
    topics = Topics(settings.topic_prefix)
    worker = Consumer(settings)
    worker.start()
    worker.connected.wait(10)
    sent: dict[str, float] = {}
    lat: list[float] = []
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"lat-{uuid.uuid4().hex[:6]}")

    def on_ack(_c, _u, msg) -> None:
        import json

        ack = json.loads(msg.payload)
        if ack["id"] in sent:
            lat.append((time.perf_counter() - sent.pop(ack["id"])) * 1000)

    c.on_message = on_ack
    c.on_socket_open = _no_delay  # as the kiosk agent does: an event is one small packet
    c.connect("127.0.0.1", port)
    c.subscribe(topics.acks(KIOSKS[0]), qos=1)
    c.loop_start()
    time.sleep(0.3)
    n = int(rate * seconds)
    boot = uuid.uuid4().hex
    for i in range(n):
        event = Event(id=uuid.uuid4(), kiosk=KIOSKS[0], seq=10_000_000 + int(rate) * 100_000 + i, boot=boot,
                      at=datetime.now(UTC), synced=True, type="asset.move", actor=None,
                      data={"tag": tags[i % len(tags)], "to": rooms[i % len(rooms)]})
        sent[str(event.id)] = time.perf_counter()
        c.publish(topics.events(KIOSKS[0]), event.to_bytes(), qos=1)
        time.sleep(1 / rate)
    deadline = time.monotonic() + 10
    while sent and time.monotonic() < deadline:
        time.sleep(0.05)
    c.loop_stop()
    c.disconnect()
    worker.stop()
    return lat


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--database-url", help="PostgreSQL server URL (a fresh database is made); SQLite if absent")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--consumers", type=int, default=1,
                        help="more than 1: that many `assetgate consume` processes sharing the subscription")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="ag-bench-"))
    broker = PrivateBroker(folder / "broker").start()
    url = fresh_database(args.database_url, folder)
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    settings = load_settings({"instance_path": folder, "database_url": url, "mqtt_port": broker.port,
                              "topic_prefix": "bench/assetgate/v1", "consumer_batch": args.batch,
                              "mqtt_client_id": "bench-consumer", "log_level": "WARNING"}, environ={})
    audit.install(sessions, settings)  # the consumer processes read the same instance folder's keys
    topics = Topics(settings.topic_prefix)
    tags, rooms = seed(sessions, args.assets)
    register_session(broker.port, "bare", topics.all_events())
    if args.consumers == 1:
        register_session(broker.port, "bench-consumer", topics.all_events())
        register_session(broker.port, "bench-consumer", topics.all_status)
    else:  # each member's persistent session gets its share of the backlog
        for i in range(1, args.consumers + 1):
            register_session(broker.port, f"bench-consumer-{i}", topics.all_events(shared=True))

    events = make_events(args.events, tags, rooms)
    t0 = time.perf_counter()
    publish_all(broker.port, topics, events)
    publish_s = time.perf_counter() - t0
    bare_s, bare_cpu = bare_drain(broker.port, topics.all_events(), args.events)
    assert broker.process is not None
    if args.consumers == 1:
        consumer_s, cpu = consumer_drain(settings, sessions, args.events, broker.process.pid)
    else:
        consumer_s, cpu = shared_drain(settings, sessions, args.events, args.consumers, broker.process.pid)
    backend = engine.dialect.name
    bare_rate, store_rate = args.events / bare_s, args.events / consumer_s
    print(f"backend={backend} events={args.events} batch={args.batch} consumers={args.consumers}; {describe()}; "
          f"{time.strftime('%Y-%m-%d')}")
    print(f"publish (QoS 1, one client): {args.events / publish_s:,.0f} ev/s")
    print(f"bare paho receive:           {bare_rate:,.0f} ev/s ({bare_s:.2f} s)")
    print(f"consumer stored+acked:       {store_rate:,.0f} ev/s ({consumer_s:.2f} s)")
    print(f"consumer / bare:             {store_rate / bare_rate:.0%}")
    # Where the CPU went while the consumer drained (the network side's figure includes
    # this script's light polling). Two cores share all three processes.
    print("CPU per stored event:        " + ", ".join(f"{name} {seconds / args.events * 1e6:.0f} us"
                                                      for name, seconds in cpu.items())
          + f" (the bare subscriber: {bare_cpu / args.events * 1e6:.0f} us)")
    # The network side alone, on a core of its own with a writer that cost nothing, could not
    # go faster than this: the ceiling that receiving, acking and PUBACKing in paho sets.
    if "network side" in cpu:
        print(f"network side's own ceiling:  {args.events / cpu['network side']:,.0f} ev/s "
              f"({args.events / cpu['network side'] / bare_rate:.0%} of bare)")
    cores = len(os.sched_getaffinity(0))
    every = sum(cpu.values()) / args.events
    print(f"all on {cores} cores' ceiling:   {cores / every:,.0f} ev/s ({cores / every / bare_rate:.0%} of bare), "
          f"if the {every * 1e6:.0f} us of CPU per event were spread perfectly")
    # Fresh ids, the same assets: what the writer costs by itself, in this process.
    alone = make_events(min(args.events, 10_000), tags, rooms)
    wall, cpu = writer_alone(settings, sessions, alone, args.batch)
    print(f"writer alone (no broker):    {len(alone) / wall:,.0f} ev/s, {cpu / len(alone) * 1e6:.0f} us CPU per event")
    for rate, seconds in ((10, 10), (100, 10)):
        lat = latency(settings, sessions, broker.port, tags, rooms, rate, seconds)
        print(f"scan-to-ack at {rate:>3} ev/s: n={len(lat)} median {statistics.median(lat):.1f} ms, "
              f"p99 {pct(lat, 99):.1f} ms, max {max(lat):.1f} ms")
    engine.dispose()
    broker.stop()


if __name__ == "__main__":
    main()
