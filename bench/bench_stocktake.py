"""Stocktake and stock benchmark. Prints its figures.

    .venv/bin/python bench/bench_stocktake.py [--assets 1000000] [--scans 100000] [--movements 10000000]
                                              [--database-url postgresql+psycopg://...]

1. Classification: a ledger of ``--assets`` assets over 1,000 locations (1% in another department,
   1% disposed); a stocktake of one department is opened (the expected set frozen by one
   INSERT … SELECT, timed), ``--scans`` scans are added (in place, 5% one room over, 5% unknown
   codes, and whatever out-of-scope and disposed assets they hit), and the counts per class are
   timed (the one set-based query ``stocktakes.counts``), then one page of missing lines.
2. Stock reads: ``--movements`` ledger rows over 1,000 supply items; 2,000 random ``supplies.stock``
   reads, p50/p99.

Seeding is done in SQL inside the database (a recursive CTE on SQLite, generate_series on
PostgreSQL): what is timed is the freeze, the classification and the reads, not the seeding.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import audited, describe  # noqa: E402
from server.audit import SYSTEM  # noqa: E402
from server.db import make_engine, make_session_factory  # noqa: E402
from server.migrate import upgrade  # noqa: E402
from server.services import stocktakes, supplies  # noqa: E402

MADE: list[str] = []
NOW = "2026-01-01 00:00:00"


def fresh_database(url: str | None, folder: Path) -> str:
    if not url:
        return f"sqlite:///{folder / 'bench.db'}"
    name = f"ag_bench_{uuid.uuid4().hex[:8]}"
    MADE.append(name)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def series(dialect: str, n: int) -> str:
    """A FROM clause giving x = 1..n."""
    if dialect == "postgresql":
        return f"generate_series(1, {n}) AS s(x)"
    return f"(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) SELECT x FROM c)"


def pad(dialect: str, expr: str) -> str:
    return f"lpad(({expr})::text, 9, '0')" if dialect == "postgresql" else f"printf('%09d', {expr})"


def seed_assets(sessions: Any, dialect: str, n: int) -> float:
    t0 = time.perf_counter()
    with sessions() as s, s.begin():
        s.execute(text("INSERT INTO categories (name, controlled) VALUES ('Laptop', false)"))
        s.execute(text(f"INSERT INTO locations (code, name, kind, created_at) SELECT 'L-' || {pad(dialect, 'x')}, "
                       f"'Room ' || x, 'office', '{NOW}' FROM {series(dialect, 1000)}"))
        # status: every 100th disposed; location (x % 1000) + 1
        s.execute(text(
            f"INSERT INTO assets (code, name, category_id, status, location_id, department, created_at, updated_at) "
            f"SELECT 'A-' || {pad(dialect, 'x')}, 'Asset ' || x, 1, "
            f"CASE WHEN x % 100 = 0 THEN 'disposed' ELSE 'in_use' END, (x % 1000) + 1, "
            f"CASE WHEN x % 100 = 30 THEN 'HR' ELSE 'IT' END, '{NOW}', '{NOW}' "
            f"FROM {series(dialect, n)}"))
    return time.perf_counter() - t0


def seed_scans(sessions: Any, dialect: str, st: int, n_assets: int, n: int) -> float:
    """Scan x sees asset x*k: 90% where expected, 5% one room over, the rest of x % 20 == 19 unknown."""
    step = max(n_assets // n, 1)
    t0 = time.perf_counter()
    with sessions() as s, s.begin():
        s.execute(text(
            f"INSERT INTO stocktake_scans (stocktake_id, code, asset_id, location_id, at, actor, source) "
            f"SELECT {st}, CASE WHEN x % 20 = 19 THEN 'A-X' || {pad(dialect, 'x')} "
            f"ELSE 'A-' || {pad(dialect, f'x * {step}')} END, "
            f"CASE WHEN x % 20 = 19 THEN NULL ELSE x * {step} END, "
            f"CASE WHEN x % 20 = 18 THEN ((x * {step} + 1) % 900) + 1 ELSE ((x * {step}) % 1000) + 1 END, "
            f"'{NOW}', 'bench', 'csv' FROM {series(dialect, n)}"))
    return time.perf_counter() - t0


def bench_classification(sessions: Any, dialect: str, n_assets: int, n_scans: int) -> dict[str, float]:
    out = {"seed_assets_s": seed_assets(sessions, dialect, n_assets)}
    if dialect == "postgresql":
        with sessions() as s, s.begin():
            s.execute(text("ANALYZE"))
    t0 = time.perf_counter()
    with sessions() as s, s.begin():
        st = stocktakes.open_stocktake(s, SYSTEM, "department", "IT").id
    out["open_freeze_s"] = time.perf_counter() - t0
    out["seed_scans_s"] = seed_scans(sessions, dialect, st, n_assets, n_scans)
    if dialect == "postgresql":
        with sessions() as s, s.begin():
            s.execute(text("ANALYZE"))
    with sessions() as s:
        found = stocktakes.by_id(s, st)
        t0 = time.perf_counter()
        counts = stocktakes.counts(s, found)
        out["classify_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        page = stocktakes.lines(s, found, "missing", 1000)
        out["missing_page_s"] = time.perf_counter() - t0
    print("  counts:", counts, "missing page:", len(page))
    assert counts["unknown"] and counts["found_in_place"] and counts["missing"]
    return out


def bench_stock(sessions: Any, dialect: str, n_movements: int, reads: int = 2000) -> dict[str, float]:
    t0 = time.perf_counter()
    with sessions() as s, s.begin():
        s.execute(text(f"INSERT INTO supply_items (code, name, unit, category, location, reorder_level, "
                       f"reorder_quantity, valuable, created_at) SELECT 'S-' || {pad(dialect, 'x')}, 'Item ' || x, "
                       f"'box', '', '', 0, 0, false, '{NOW}' FROM {series(dialect, 1000)}"))
        s.execute(text(f"INSERT INTO supply_movements (item_id, kind, quantity, at, recorded_at, actor, source, "
                       f"department, purpose, conflict) SELECT (x % 1000) + 1, "
                       f"CASE WHEN x % 3 = 0 THEN 'pickup' ELSE 'receipt' END, "
                       f"CASE WHEN x % 3 = 0 THEN -1 ELSE 1 END, '{NOW}', '{NOW}', 'bench', 'bench', '', '', false "
                       f"FROM {series(dialect, n_movements)}"))
    seed_s = time.perf_counter() - t0
    if dialect == "postgresql":  # what autovacuum does after a bulk insert: sets the visibility map,
        # without which the index-only scan of the stock sum visits the heap for every row
        engine = sessions.kw["bind"]
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE supply_movements"))
    times = []
    rng = random.Random(7)
    with sessions() as s:
        for _ in range(reads):
            item = rng.randint(1, 1000)
            t0 = time.perf_counter()
            supplies.stock(s, item)
            times.append(time.perf_counter() - t0)
    times.sort()
    return {"seed_movements_s": seed_s, "stock_p50_ms": statistics.median(times) * 1000,
            "stock_p99_ms": times[int(len(times) * 0.99) - 1] * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=1_000_000)
    parser.add_argument("--scans", type=int, default=100_000)
    parser.add_argument("--movements", type=int, default=10_000_000)
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server URL (default: SQLite file)")
    args = parser.parse_args()
    print(describe())
    with tempfile.TemporaryDirectory() as folder:
        url = fresh_database(args.database_url, Path(folder))
        engine = make_engine(url)
        try:
            upgrade(engine)
            sessions = audited(make_session_factory(engine), folder)
            dialect = engine.dialect.name
            print(f"{dialect}: {args.assets:,} assets, {args.scans:,} scans")
            for key, value in bench_classification(sessions, dialect, args.assets, args.scans).items():
                print(f"  {key}: {value:.3f}")
            if args.movements:
                print(f"{dialect}: {args.movements:,} movements")
                for key, value in bench_stock(sessions, dialect, args.movements).items():
                    print(f"  {key}: {value:.3f}")
        finally:
            engine.dispose()
            for name in MADE:
                admin = create_engine(args.database_url, isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()


if __name__ == "__main__":
    main()
