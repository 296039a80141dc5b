"""Supplies benchmark: the pickup rate at the kiosk and on the web API, and the FIFO consumption report.
Prints its figures.

    .venv/bin/python bench/bench_supplies.py [--pickups 3000] [--movements 1000000] [--database-url URL]

1. Kiosk pickups: ``supply.pickup`` events of 3 storeroom kiosks handed to the consumer's writer
   (``Writer.process``, the same decode, idempotency, rules, ledger row and audit row as from the broker;
   no broker, no pipe), in batches of 64 (a backlog after a reconnect) and one at a time (a kiosk
   on line). Pickups per second, CPU seconds, and SQL statements per pickup (load-independent).
2. The same pickups through ``POST /api/v1/supplies/<code>/pickups`` (Flask test client): requests
   per second and SQL statements per request.
3. FIFO: a ledger of ``--movements`` rows over 100 items (a receipt every 10 rows, priced), seeded in
   SQL; the ``supply-consumption`` report by department (every row valued FIFO in one pass).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_stocktake import MADE, fresh_database, pad, series  # noqa: E402
from bench.machine import describe  # noqa: E402
from contract.messages import Event  # noqa: E402
from contract.topics import Topics  # noqa: E402
from server import create_app  # noqa: E402
from server.audit import SYSTEM  # noqa: E402
from server.auth import create_token  # noqa: E402
from server.config import load_settings  # noqa: E402
from server.db import make_engine, make_session_factory  # noqa: E402
from server.migrate import upgrade  # noqa: E402
from server.services import directory, kiosks, reports, supplies  # noqa: E402
from server.writer import Delivery, Writer  # noqa: E402

KIOSKS = ("store-1", "store-2", "store-3")
NOW = "2026-01-01 00:00:00"


class Statements:
    """Counts the SQL statements an engine runs (a figure the machine's load does not change)."""

    def __init__(self, engine: Any) -> None:
        self.n = 0
        event.listen(engine, "before_cursor_execute", self._one)

    def _one(self, *_args: Any) -> None:
        self.n += 1


def seed_store(sessions: Any, items: int, people: int) -> tuple[list[str], list[str]]:
    with sessions() as s, s.begin():
        room = directory.create_location(s, SYSTEM, "Storeroom", "storeroom")
        codes = [supplies.create_item(s, SYSTEM, supplies.ItemIn(name=f"Item {i}", unit="box", reorder_level=5)).code
                 for i in range(items)]
        badges = [directory.create_person(s, SYSTEM, f"Person {i}", f"Dept {i % 7}").code for i in range(people)]
        for kiosk in KIOSKS:
            kiosks.enroll(s, SYSTEM, kiosk, "storeroom", room.code)
        # Opening stock straight into the ledger: what is measured is the pickups, not the receipts.
        s.execute(text("INSERT INTO supply_movements (item_id, kind, quantity, at, recorded_at, actor, source, "
                       "department, purpose, conflict) SELECT id, 'adjustment', 1000000, :now, :now, 'bench', "
                       "'bench', '', 'opening stock', false FROM supply_items"), {"now": datetime.now(UTC)})
    return codes, badges


def pickup_events(n: int, codes: list[str], badges: list[str]) -> list[tuple[str, bytes]]:
    out, boot = [], uuid.uuid4().hex
    for i in range(n):
        kiosk = KIOSKS[i % len(KIOSKS)]
        made = Event(id=uuid.uuid4(), kiosk=kiosk, seq=i // len(KIOSKS) + 1, boot=boot, at=datetime.now(UTC),
                     synced=True, type="supply.pickup", actor=None,
                     data={"item": codes[i % len(codes)], "qty": 1, "taker": badges[i % len(badges)]})
        out.append((kiosk, made.to_bytes()))
    return out


def kiosk_pickups(settings: Any, sessions: Any, counter: Statements, events: list[tuple[str, bytes]],
                  batch: int) -> dict[str, float]:
    topics = Topics(settings.topic_prefix)
    deliveries = [Delivery(i % 65_000 + 1, 1, topics.events(k), p) for i, (k, p) in enumerate(events)]
    worker = Writer(settings, sessions)
    before, wall, cpu = counter.n, time.perf_counter(), time.process_time()
    for i in range(0, len(deliveries), batch):
        worker.process(deliveries[i:i + batch], fast=True)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"pickups_per_s": len(events) / wall, "cpu_s": cpu, "statements_per_pickup": (counter.n - before)
            / len(events)}


def api_pickups(settings: dict[str, Any], n: int, codes: list[str], badges: list[str]) -> dict[str, float]:
    app = create_app(settings)
    engine = app.extensions["assetgate.engine"]
    counter = Statements(engine)
    with app.extensions["assetgate.sessions"]() as s, s.begin():
        token = create_token(s, SYSTEM, "bench", "storekeeper")
    client, headers = app.test_client(), {"Authorization": f"Bearer {token}"}
    before, wall, cpu = counter.n, time.perf_counter(), time.process_time()
    for i in range(n):
        answer = client.post(f"/api/v1/supplies/{codes[i % len(codes)]}/pickups", headers=headers,
                             json={"quantity": 1, "taker": badges[i % len(badges)], "purpose": "bench"})
        assert answer.status_code == 201, answer.get_data(as_text=True)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    engine.dispose()
    return {"requests_per_s": n / wall, "cpu_s": cpu, "statements_per_request": (counter.n - before) / n}


def fifo_report(sessions: Any, dialect: str, n: int) -> dict[str, float]:
    t0 = time.perf_counter()
    with sessions() as s, s.begin():
        s.execute(text(f"INSERT INTO supply_items (code, name, unit, category, location, reorder_level, "
                       f"reorder_quantity, valuable, created_at) SELECT 'S-F' || {pad(dialect, 'x')}, 'FIFO ' || x, "
                       f"'box', '', '', 0, 0, false, '{NOW}' FROM {series(dialect, 100)}"))
        first = s.scalar(text("SELECT min(id) FROM supply_items WHERE code LIKE 'S-F%'"))
        s.execute(text(f"INSERT INTO supply_movements (item_id, kind, quantity, unit_cost, at, recorded_at, actor, "
                       f"source, department, purpose, conflict) SELECT (x % 100) + {first}, "
                       f"CASE WHEN x % 10 < 1 THEN 'receipt' ELSE 'pickup' END, "
                       f"CASE WHEN x % 10 < 1 THEN 20 ELSE -2 END, "
                       f"CASE WHEN x % 10 < 1 THEN 1 + (x % 7) ELSE NULL END, '{NOW}', '{NOW}', 'bench', 'bench', "
                       f"'Dept ' || (x % 13), '', false FROM {series(dialect, n)}"))
    seeded = time.perf_counter() - t0
    with sessions() as s:
        t0, cpu = time.perf_counter(), time.process_time()
        rows = reports.build(s, "supply-consumption", {"by": "department"}).rows
        took, cpu = time.perf_counter() - t0, time.process_time() - cpu
    return {"seed_s": seeded, "report_s": took, "report_cpu_s": cpu, "rows_per_s": n / took,
            "groups": float(len(rows))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pickups", type=int, default=3000)
    parser.add_argument("--movements", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server URL (default: SQLite file)")
    args = parser.parse_args()
    print(describe())
    with tempfile.TemporaryDirectory() as folder:
        url = fresh_database(args.database_url, Path(folder))
        engine = make_engine(url)
        try:
            upgrade(engine)
            sessions = make_session_factory(engine)
            counter = Statements(engine)
            overrides = {"instance_path": Path(folder) / "instance", "database_url": url, "secret_key": "bench"}
            settings = load_settings(overrides)
            codes, badges = seed_store(sessions, 50, 200)
            print(f"{engine.dialect.name}: {args.pickups:,} kiosk pickups over {len(codes)} items")
            for batch in (64, 1):
                events = pickup_events(args.pickups if batch > 1 else args.pickups // 3, codes, badges)
                for key, value in kiosk_pickups(settings, sessions, counter, events, batch).items():
                    print(f"  batch {batch}: {key}: {value:.2f}")
            for key, value in api_pickups(overrides, args.pickups // 3, codes, badges).items():
                print(f"  REST: {key}: {value:.2f}")
            if args.movements:
                print(f"{engine.dialect.name}: FIFO consumption report over {args.movements:,} movements")
                for key, value in fifo_report(sessions, engine.dialect.name, args.movements).items():
                    print(f"  {key}: {value:.2f}")
        finally:
            engine.dispose()
            for name in MADE:
                from sqlalchemy import create_engine

                admin = create_engine(args.database_url, isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()


if __name__ == "__main__":
    main()
