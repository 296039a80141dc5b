"""Vehicle benchmark: finding the free vehicles for a window, ordered by fit, with 200 vehicles and 100,000
past dispatches (issue 14 asks p99 <= 50 ms). Prints its figures.

    .venv/bin/python bench/bench_vehicles.py [--vehicles 200] [--past 100000] [--queries 500]
                                             [--database-url URL]

The fleet is registered through the services; the past dispatches (over the last two years, one in ten
cancelled, each with its booking and approval) and 300 standing ones in the next two weeks are inserted
with executemany, as a real office would have made them one by one. Then ``--queries`` random windows
(1 to 4 hours in the next two weeks, 0 to 6 passengers) are asked two ways: the service
(``vehicles.free_vehicles``, a session each) and ``GET /api/v1/vehicles/free`` through the Flask test
client (which also finds each vehicle's free drivers). Load-independent figures beside the timings: SQL
statements per call, and the query plan (PostgreSQL: buffers touched, from EXPLAIN ANALYZE BUFFERS).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, insert, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server import auth, create_app  # noqa: E402
from server.audit import SYSTEM  # noqa: E402
from server.db import make_engine  # noqa: E402
from server.migrate import upgrade  # noqa: E402
from server.models import Approval, Dispatch, VehicleBooking, utcnow  # noqa: E402
from server.services import assets, directory, vehicles  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402

CHUNK = 5000


def fresh_database(url: str | None, folder: Path) -> str:
    if not url:
        return f"sqlite:///{folder / 'vehicles.db'}"
    name = f"ag_bench_vehicles_{uuid.uuid4().hex[:6]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def fleet(sessions: Any, count: int) -> list[tuple[int, int]]:
    """``count`` vehicles of 5 to 45 seats, each with its own driver and two others in its pool.
    Returns (vehicle id, its own driver's id) pairs to dispatch with."""
    rng = random.Random(14)
    with sessions() as session, session.begin():
        directory.get_or_create_category(session, SYSTEM, "公务用车")
        vehicles.mark_category(session, SYSTEM, "公务用车")
        drivers = [directory.create_person(session, SYSTEM, f"驾驶员{n}", "办公室") for n in range(count)]
        pairs = []
        for n in range(count):
            asset = assets.create_asset(session, SYSTEM, f"公务车 {n}", "公务用车")
            pool = [drivers[n], *rng.sample(drivers, 2)]
            made = vehicles.register(session, SYSTEM, vehicles.VehicleIn(
                asset.code, f"京A{n:05d}", rng.choice((5, 5, 5, 7, 7, 12, 20, 45)), "petrol", rng.randint(0, 200_000),
                [p.code for p in pool]))
            pairs.append((made.id, drivers[n].id))
    return pairs


def dispatches(engine: Any, pairs: list[tuple[int, int]], past: int) -> None:
    """``past`` dispatches spread over the last two years (one in ten cancelled) and 300 standing ones in
    the next two weeks; one vehicle's windows never overlap, and each is driven by its own driver."""
    rng = random.Random(15)
    now = utcnow().replace(microsecond=0)
    rows: list[tuple[Any, Any, int, int, bool]] = []
    per_vehicle = max(1, past // len(pairs))
    spacing = timedelta(days=730) / per_vehicle
    for vehicle_id, driver_id in pairs:
        for k in range(per_vehicle):
            start = now - timedelta(days=730) + k * spacing
            rows.append((start, start + timedelta(hours=rng.randint(1, 2)), vehicle_id, driver_id, rng.random() < .1))
    for n in range(300):  # standing ones to come, so that some vehicles are busy in the windows asked
        vehicle_id, driver_id = pairs[n % len(pairs)]
        start = now + timedelta(days=7 * (n // len(pairs)), hours=2 + rng.randint(0, 72))
        rows.append((start, start + timedelta(hours=rng.randint(1, 8)), vehicle_id, driver_id, False))
    with engine.begin() as conn:
        for first in range(0, len(rows), CHUNK):
            _insert(conn, rows[first:first + CHUNK])


def _insert(conn: Any, rows: list[tuple[Any, Any, int, int, bool]]) -> None:
    approvals = [{"kind": "vehicle_booking", "department": "办公室", "requester": "bench", "amount": None,
                  "quantity": None, "approved_quantity": None, "levels": "leader", "step": 1, "state": "approved",
                  "created_at": start - timedelta(days=1), "decided_at": start - timedelta(hours=20)}
                 for start, *_ in rows]
    ids = [row[0] for row in conn.execute(insert(Approval).returning(Approval.id, sort_by_parameter_order=True),
                                          approvals)]
    bookings = [{"department": "办公室", "requester": "bench", "purpose": "公务", "passengers": 1,
                 "destination": "市区", "starts_at": start, "ends_at": end, "urgency": "normal", "approval_id": aid,
                 "created_at": start - timedelta(days=1), "cancelled_at": None, "cancelled_by": None,
                 "cancel_reason": ""} for (start, end, *_), aid in zip(rows, ids, strict=True)]
    booking_ids = [row[0] for row in conn.execute(
        insert(VehicleBooking).returning(VehicleBooking.id, sort_by_parameter_order=True), bookings)]
    conn.execute(insert(Dispatch), [
        {"booking_id": bid, "vehicle_id": vid, "driver_id": did, "starts_at": start, "ends_at": end,
         "dispatched_by": "bench", "dispatched_at": start - timedelta(hours=12),
         "cancelled_at": start - timedelta(hours=1) if cancelled else None,
         "cancelled_by": "bench" if cancelled else None, "cancel_reason": ""}
        for (start, end, vid, did, cancelled), bid in zip(rows, booking_ids, strict=True)])


class Statements:
    def __init__(self, engine: Any) -> None:
        self.count = 0
        self.kinds: set[str] = set()
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        self.count += 1
        self.kinds.add(statement.split()[0])


def windows(n: int) -> list[tuple[Any, Any, int]]:
    rng = random.Random(16)
    now = utcnow().replace(second=0, microsecond=0)
    found = []
    for _ in range(n):
        start = now + timedelta(minutes=30 * rng.randint(1, 14 * 48))
        found.append((start, start + timedelta(hours=rng.randint(1, 4)), rng.randint(0, 6)))
    return found


def run(url: str, count: int, past: int, queries: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        began = time.perf_counter()
        migrating = make_engine(url)
        upgrade(migrating)
        migrating.dispose()
        app = create_app({"instance_path": Path(folder), "database_url": url, "secret_key": "bench",
                          "log_level": "WARNING"})
        sessions = app.extensions["assetgate.sessions"]
        engine = app.extensions["assetgate.engine"]
        pairs = fleet(sessions, count)
        dispatches(engine, pairs, past)
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        with sessions() as session:
            total = session.scalar(text("SELECT COUNT(*) FROM vehicle_dispatches"))
        print(f"{engine.dialect.name}: {count} vehicles, {total} dispatches, set up in "
              f"{time.perf_counter() - began:.1f} s")
        asked = windows(queries)
        statements = Statements(engine)
        service_ms, cpu_ms, found = [], [], []
        for start, end, passengers in asked:
            t0, c0 = time.perf_counter(), time.process_time()
            with sessions() as session:
                found.append(len(vehicles.free_vehicles(session, start, end, passengers)))
            service_ms.append((time.perf_counter() - t0) * 1000)
            cpu_ms.append((time.process_time() - c0) * 1000)
        per_call = statements.count / len(asked)
        event.remove(engine, "before_cursor_execute", statements._seen)
        with sessions() as session, session.begin():
            token = auth.create_token(session, SYSTEM, "bench", "storekeeper")
        client, headers = app.test_client(), {"Authorization": f"Bearer {token}"}
        http_ms = []
        for start, end, passengers in asked[:200]:
            query = {"from": start.isoformat(), "to": end.isoformat(), "passengers": passengers}
            t0 = time.perf_counter()
            response = client.get("/api/v1/vehicles/free", query_string=query, headers=headers)
            http_ms.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200, response.get_json()
        print(f"  free vehicles (service), {len(asked)} windows: p50 {statistics.median(service_ms):.1f} ms, "
              f"p99 {pct(service_ms, 99):.1f} ms, max {max(service_ms):.1f} ms; {per_call:.1f} SQL statements "
              f"a call ({', '.join(sorted(statements.kinds))}); "
              f"{statistics.mean(found):.0f} of {count} free on average")
        print(f"  ... CPU time of this process a call (less sensitive to a loaded machine): "
              f"p50 {statistics.median(cpu_ms):.1f} ms, p99 {pct(cpu_ms, 99):.1f} ms")
        print(f"  GET /api/v1/vehicles/free (with each vehicle's free drivers), 200 windows: "
              f"p50 {statistics.median(http_ms):.1f} ms, p99 {pct(http_ms, 99):.1f} ms")
        plan(engine, sessions, asked[0])
        engine.dispose()


def plan(engine: Any, sessions: Any, window: tuple[Any, Any, int]) -> None:
    """The query plan of one call: an index seek per vehicle among standing dispatches, not a scan."""
    captured: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    with sessions() as session:
        vehicles.free_vehicles(session, *window)
    event.remove(engine, "before_cursor_execute", keep)
    statement, parameters = captured[-1]
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) " + statement, parameters)
            lines = [row[0] for row in cursor.fetchall()]
            buffers = [line.strip() for line in lines if "Buffers" in line][:1]
            index = [line.strip() for line in lines if "Index" in line][:2]
            timing = [line.strip() for line in lines if "Execution Time" in line]
            print("  plan:", "; ".join(index + buffers + timing))
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            print("  plan:", "; ".join(str(row[-1]) for row in cursor.fetchall()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vehicles", type=int, default=200)
    parser.add_argument("--past", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server URL (a database is made on it)")
    args = parser.parse_args()
    print(describe())
    with tempfile.TemporaryDirectory() as folder:
        url = fresh_database(args.database_url, Path(folder))
        try:
            run(url, args.vehicles, args.past, args.queries)
        finally:
            drop_database(url)


if __name__ == "__main__":
    main()
