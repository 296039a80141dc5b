"""Gate benchmark: a morning's sign-ins at two gates, the on-site list over a long history, and the
retention purge of a million old visits. Prints its figures.

    .venv/bin/python bench/bench_gate.py [--signins 2000] [--hour-seconds 120] [--history 100000]
                                         [--purge 1000000] [--database-url URL]

1. ``--signins`` pre-registered visitors sign in at two gate kiosks (kiosk-like MQTT clients with
   TCP_NODELAY, QoS 1) within one morning hour, compressed into ``--hour-seconds``; the consumer
   runs as in production (network side here, writer process beside it), and so does the gate's
   scheduler (``assetgate gate run``, its own process, republishing the configs that change every
   15 s). Scan-to-ack: from publish to the ack's arrival.
2. The on-site list (``visits.on_site`` and ``GET /api/v1/visitors/on-site``) with ``--history``
   signed-out visits in the table and 200 visitors on site.
3. ``retention.purge`` over ``--purge`` old visits (between 90 days and 4 years old), inserted by
   set-based SQL: the personal fields of the newer ones emptied, the ones older than two years
   deleted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contract.messages import Event  # noqa: E402
from contract.topics import Topics  # noqa: E402
from server import (
    audit,  # noqa: E402
    create_app,  # noqa: E402
)
from server.audit import SYSTEM  # noqa: E402
from server.config import load_settings  # noqa: E402
from server.consumer import Consumer, _no_delay  # noqa: E402
from server.db import make_engine, make_session_factory  # noqa: E402
from server.migrate import upgrade  # noqa: E402
from server.models import Visit, VisitorPass, utcnow  # noqa: E402
from server.personal import install, policy  # noqa: E402
from server.services import directory, kiosks, retention, visitors, visits  # noqa: E402
from server.services.visitors import VisitorIn  # noqa: E402
from tests.brokers import PrivateBroker  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402

GATES = ("gate-1", "gate-2")


def fresh_database(url: str | None, folder: Path, name: str) -> str:
    if not url:
        return f"sqlite:///{folder / f'{name}.db'}"
    db = f"ag_bench_{name}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{db}"'))
    admin.dispose()
    return make_url(url).set(database=db).render_as_string(hide_password=False)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def setup(url: str, folder: Path, **overrides: Any) -> tuple[Any, Any, Any]:
    engine = make_engine(url)
    upgrade(engine)
    settings = load_settings({"instance_path": folder, "database_url": url, "log_level": "WARNING",
                              "topic_prefix": "bench/assetgate/v1", "mqtt_client_id": "bench-gate", **overrides},
                             environ={})
    sessions = make_session_factory(engine)
    install(sessions, settings)
    audit.install(sessions, settings)
    return engine, settings, sessions


# --- 1. sign-ins at two gates ---

def seed_passes(sessions: Any, count: int) -> list[str]:
    with sessions() as s, s.begin():
        gate = directory.create_location(s, SYSTEM, "East gate", "gate")
        hosts = [directory.create_person(s, SYSTEM, f"Host {i}").code for i in range(50)]
        for name in GATES:
            kiosks.enroll(s, SYSTEM, name, "gate", gate.code)
        start = utcnow() - timedelta(minutes=10)
        return [visitors.register(s, SYSTEM, VisitorIn(name=f"访客{i:05d}", host=hosts[i % len(hosts)],
                                                       organisation="某某单位", plate=f"京A{i:05d}"),
                                  start, start + timedelta(hours=8)).code for i in range(count)]


class Gate:
    """A kiosk-like client: publishes sign-ins, times each ack."""

    def __init__(self, port: int, topics: Topics, kiosk: str) -> None:
        self.topics, self.kiosk = topics, kiosk
        self.sent: dict[str, float] = {}
        self.latency: list[float] = []
        self.reasons: dict[str, int] = {}
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{kiosk}")
        self.client.on_message = self._on_ack
        self.client.on_socket_open = _no_delay
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(topics.acks(kiosk), qos=1)
        self.client.loop_start()
        self.seq = 0
        self.boot = uuid.uuid4().hex

    def _on_ack(self, _c: Any, _u: Any, msg: Any) -> None:
        ack = json.loads(msg.payload)
        with self.lock:
            started = self.sent.pop(ack["id"], None)
            if started is not None:
                self.latency.append((time.perf_counter() - started) * 1000)
                key = f"{ack['status']}:{ack['reason']}"
                self.reasons[key] = self.reasons.get(key, 0) + 1

    def sign_in(self, code: str, i: int) -> None:
        self.seq += 1
        event = Event(id=uuid.uuid4(), kiosk=self.kiosk, seq=self.seq, boot=self.boot, at=datetime.now(UTC),
                      synced=True, type="visitor.signin", actor=None,
                      data={"pass": code, "name": f"访客{i:05d}", "host": "P-0000000", "organisation": "某某单位"})
        with self.lock:
            self.sent[str(event.id)] = time.perf_counter()
        self.client.publish(self.topics.events(self.kiosk), event.to_bytes(), qos=1)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def morning(url: str, folder: Path, count: int, hour_seconds: float) -> None:
    broker = PrivateBroker(folder / "broker").start()
    engine, settings, sessions = setup(url, folder, mqtt_port=broker.port)
    t0 = time.perf_counter()
    codes = seed_passes(sessions, count)
    seeded = time.perf_counter() - t0
    worker = Consumer(settings)
    worker.start()
    assert worker.connected.wait(30)
    # The gate's scheduler as in production: its own process, republishing configs that changed.
    env = {**os.environ, "ASSETGATE_DATABASE_URL": url, "ASSETGATE_INSTANCE_PATH": str(folder),
           "ASSETGATE_MQTT_PORT": str(broker.port), "ASSETGATE_TOPIC_PREFIX": settings.topic_prefix,
           "ASSETGATE_MQTT_CLIENT_ID": "bench-gate", "ASSETGATE_LOG_LEVEL": "WARNING", "ASSETGATE_PURGE_HOUR": "-1"}
    scheduler = subprocess.Popen([sys.executable, "-m", "server", "gate", "run"], env=env,
                                 cwd=Path(__file__).resolve().parents[1])
    topics = Topics(settings.topic_prefix)
    gates = [Gate(broker.port, topics, name) for name in GATES]
    time.sleep(0.5)
    interval = hour_seconds / count
    start = time.perf_counter()
    for i, code in enumerate(codes):
        gates[i % 2].sign_in(code, i)
        time.sleep(max(0.0, start + (i + 1) * interval - time.perf_counter()))
    deadline = time.monotonic() + 60
    while any(g.sent for g in gates) and time.monotonic() < deadline:
        time.sleep(0.05)
    latency = [ms for g in gates for ms in g.latency]
    reasons: dict[str, int] = {}
    for g in gates:
        for key, n in g.reasons.items():
            reasons[key] = reasons.get(key, 0) + n
        g.close()
    with sessions() as s:
        on_site = visits.on_site_count(s)
    scheduler.terminate()
    scheduler.wait(30)
    worker.stop()
    engine.dispose()
    broker.stop()
    print(f"1. {count} pre-registered passes made in {seeded:.1f} s; {count} sign-ins at two gates in "
          f"{hour_seconds:.0f} s (the hour compressed {3600 / hour_seconds:.0f}x, {count / hour_seconds:.1f}/s)")
    print(f"   acks {len(latency)} ({reasons}); on site after: {on_site}")
    print(f"   scan-to-ack: median {statistics.median(latency):.1f} ms, p99 {pct(latency, 99):.1f} ms, "
          f"max {max(latency):.1f} ms")


# --- 2. the on-site list over a long history ---

def on_site_list(url: str, folder: Path, history: int) -> None:
    engine, settings, sessions = setup(url, folder)
    with sessions() as s, s.begin():
        host = directory.create_person(s, SYSTEM, "Host")
        vault = policy(s).vault
        token = vault.seal("历史访客")
        now = utcnow()
        t0 = time.perf_counter()
        _insert_history(s, host.id, history, token, now)
        inserted = time.perf_counter() - t0
    start = utcnow() - timedelta(hours=1)
    with sessions() as s, s.begin():
        for i in range(200):
            row = visitors.register(s, SYSTEM, VisitorIn(name=f"在场{i}", host=host.code, plate=f"沪B{i:05d}"),
                                    start, start + timedelta(hours=8))
            visits.sign_in(s, SYSTEM, row.code)
    timings = []
    for _ in range(10):
        with sessions() as s:
            t = time.perf_counter()
            rows = visits.on_site(s)
            timings.append((time.perf_counter() - t) * 1000)
    assert len(rows) == 200
    app = create_app(settings)
    from server import auth

    with app.extensions["assetgate.sessions"]() as s, s.begin():
        token_secret = auth.create_token(s, SYSTEM, "bench", "guard")
    client = app.test_client()
    rest = []
    for _ in range(10):
        t = time.perf_counter()
        answer = client.get("/api/v1/visitors/on-site", headers={"Authorization": f"Bearer {token_secret}"})
        rest.append((time.perf_counter() - t) * 1000)
        assert answer.get_json()["count"] == 200
    with sessions() as s:
        total = s.scalar(select(func.count()).select_from(Visit))
    app.extensions["assetgate.engine"].dispose()
    engine.dispose()
    print(f"2. on-site list, {total:,} visits in the table ({history:,} signed out, inserted in {inserted:.1f} s), "
          f"200 on site: visits.on_site median {statistics.median(timings):.1f} ms (max {max(timings):.1f}); "
          f"GET /api/v1/visitors/on-site median {statistics.median(rest):.1f} ms (max {max(rest):.1f})")


def _insert_history(session: Any, host_id: int, count: int, token: str | None, now: datetime,
                    max_days: int = 365, per_pass: int = 1) -> None:
    """``count`` signed-out visits over the last ``max_days`` (set-based: one statement per table)."""
    passes = count // per_pass
    if session.get_bind().dialect.name == "postgresql":
        series = "generate_series(1, :n) AS g(i)"
        seconds = "make_interval(secs => (i::bigint * :span / :n))"
        pass_sql = (f"INSERT INTO visitor_passes (code, kind, status, host_id, purpose, valid_from, valid_until, "
                    f"name_enc, organisation_enc, plate_enc, created_by, created_at, revoke_reason) "
                    f"SELECT 'V-H' || lpad(i::text, 9, '0'), 'preregistered', 'valid', :host, '会议', "
                    f"CAST(:now AS timestamp) - {seconds}, CAST(:now AS timestamp) - {seconds} + interval '8 hours', "
                    f":tok, :tok, :tok, 'bench', CAST(:now AS timestamp) - {seconds}, '' FROM {series}")
        visit_sql = (f"INSERT INTO visits (pass_id, signed_in_at, recorded_at, in_source, in_actor, plate_enc, "
                     f"signed_out_at, out_kind, conflict) "
                     f"SELECT p.id, p.valid_from + interval '1 hour', p.valid_from + interval '1 hour', "
                     f"'kiosk:gate-1', 'bench', :tok, p.valid_from + interval '3 hours', 'signout', false "
                     f"FROM {series.replace(':n', ':visits')} "
                     f"JOIN visitor_passes p ON p.id = :first + (i - 1) / :per")
    else:
        series = "(WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < :n) SELECT i FROM g)"
        at = "datetime(:now, '-' || (i * :span / :n) || ' seconds')"
        pass_sql = (f"INSERT INTO visitor_passes (code, kind, status, host_id, purpose, valid_from, valid_until, "
                    f"name_enc, organisation_enc, plate_enc, created_by, created_at, revoke_reason) "
                    f"SELECT 'V-H' || printf('%09d', i), 'preregistered', 'valid', :host, '会议', {at}, "
                    f"datetime({at}, '+8 hours'), :tok, :tok, :tok, 'bench', {at}, '' FROM {series}")
        visit_sql = (f"INSERT INTO visits (pass_id, signed_in_at, recorded_at, in_source, in_actor, plate_enc, "
                     f"signed_out_at, out_kind, conflict) "
                     f"SELECT p.id, datetime(p.valid_from, '+1 hours'), "
                     f"datetime(p.valid_from, '+1 hours'), 'kiosk:gate-1', 'bench', :tok, "
                     f"datetime(p.valid_from, '+3 hours'), 'signout', 0 FROM {series.replace(':n', ':visits')} g "
                     f"JOIN visitor_passes p ON p.id = :first + (g.i - 1) / :per")
    first = (session.scalar(select(func.max(VisitorPass.id))) or 0) + 1
    naive_now = now.replace(tzinfo=None)
    session.execute(text(pass_sql), {"n": passes, "span": max_days * 86400, "host": host_id, "tok": token,
                                     "now": naive_now})
    session.execute(text(visit_sql), {"visits": count, "per": per_pass, "first": first, "tok": token})


# --- 3. the purge of a million old visits ---

def purge(url: str, folder: Path, count: int) -> None:
    engine, settings, sessions = setup(url, folder)
    now = utcnow()
    with sessions() as s, s.begin():
        host = directory.create_person(s, SYSTEM, "Host")
        token = policy(s).vault.seal("老访客")
        t0 = time.perf_counter()
        # Ten visits a pass, from 91 days to about 4 years back.
        _insert_history(s, host.id, count, token, now - timedelta(days=91), max_days=4 * 365 - 91, per_pass=10)
        inserted = time.perf_counter() - t0
    with sessions() as s, s.begin():
        t0 = time.perf_counter()
        dry = retention.purge(s, SYSTEM, now, dry_run=True)
        dry_s = time.perf_counter() - t0
    with sessions() as s, s.begin():
        t0 = time.perf_counter()
        report = retention.purge(s, SYSTEM, now)
        t1 = time.perf_counter()
    commit_s = time.perf_counter() - t1
    with sessions() as s:
        left = s.scalar(select(func.count()).select_from(Visit))
    engine.dispose()
    print(f"3. purge of {count:,} old visits (inserted set-based in {inserted:.1f} s): dry run {dry_s:.1f} s; "
          f"real run {t1 - t0:.1f} s + commit {commit_s:.1f} s")
    print(f"   emptied {report.visits_anonymised:,} visits and {report.passes_anonymised:,} passes; deleted "
          f"{report.visits_deleted:,} visits and {report.passes_deleted:,} passes; {left:,} visits left "
          f"(dry run counted {dry.visits_anonymised:,} / {dry.visits_deleted:,})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signins", type=int, default=2000)
    parser.add_argument("--hour-seconds", type=float, default=120.0, help="the morning hour, compressed")
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--purge", type=int, default=1_000_000)
    parser.add_argument("--database-url", help="PostgreSQL server URL (fresh databases are made); SQLite if absent")
    parser.add_argument("--only", choices=("signins", "onsite", "purge"))
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ag-bench-gate-"))
    backend = "postgresql" if args.database_url else "sqlite"
    print(f"backend={backend}; {describe()}; {time.strftime('%Y-%m-%d')}")
    if args.only in (None, "signins"):
        morning(fresh_database(args.database_url, folder, "signins"), folder / "a", args.signins, args.hour_seconds)
    if args.only in (None, "onsite"):
        on_site_list(fresh_database(args.database_url, folder, "onsite"), folder / "b", args.history)
    if args.only in (None, "purge"):
        purge(fresh_database(args.database_url, folder, "purge"), folder / "c", args.purge)


if __name__ == "__main__":
    main()
