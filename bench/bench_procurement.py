"""Procurement benchmark: intake of 10,000 assets from one purchase, and the decision reports
(plan execution first) over a ledger of 100,000 assets. Prints its figures.

    .venv/bin/python bench/bench_procurement.py [--intake 10000] [--assets 100000] [--database-url URL]

The 100,000-asset ledger is seeded with bulk inserts (plan lines, purchases, purchase lines,
assets straight into their tables), not through the services: what is timed is the reports.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contract import codes  # noqa: E402
from server.audit import SYSTEM  # noqa: E402
from server.db import make_engine, make_session_factory  # noqa: E402
from server.migrate import upgrade  # noqa: E402
from server.models import Asset, PlanLine, Purchase, PurchaseLine, utcnow  # noqa: E402
from server.services import directory, intake, plans, purchases, reports  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import audited  # noqa: E402

CATEGORIES = ("Desktop PC", "Laptop", "Printer", "Server", "Network switch", "Camera", "Projector")
STATUSES = ("in_storage", "in_use", "in_use", "in_use", "under_repair", "disposed")


MADE: list[str] = []  # PostgreSQL databases this run made, dropped at the end


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


def bench_intake(sessions: Any, n: int) -> tuple[float, float]:
    with sessions() as s, s.begin():
        for name in CATEGORIES:
            directory.get_or_create_category(s, SYSTEM, name)
        store = directory.create_location(s, SYSTEM, "Central store", "storeroom").code
        plans.create_line(s, SYSTEM, {"ref": "BENCH-1", "budget_year": 2026, "department": "IT",
                                      "category": "Laptop", "approved_qty": n, "unit_price_cap": "6000.00",
                                      "approved_amount": str(Decimal(6000) * n), "method": "public_tender",
                                      "approval_ref": "GOV-1"})
        line_id = purchases.record(s, SYSTEM, "Bench Supplies", date(2026, 3, 1), "public_tender", "C-1",
                                   [purchases.LineIn("BENCH-1", "Laptop", n, Decimal("5499.00"))]).lines[0].id
    t0 = time.perf_counter()
    with sessions() as s, s.begin():
        got = intake.receive(s, SYSTEM, line_id, "bench-intake", store,
                             serials=[f"SN-{i:06d}" for i in range(n)])
    intake_s = time.perf_counter() - t0
    assert len(got.codes) == n
    t0 = time.perf_counter()
    with sessions() as s:
        again = intake.receive(s, SYSTEM, line_id, "bench-intake", store)
    replay_s = time.perf_counter() - t0
    assert again.replay and again.codes == got.codes
    return intake_s, replay_s


def seed_ledger(sessions: Any, n_assets: int, n_lines: int = 400) -> float:
    """Plan lines over 3 years, one purchase per line, and n_assets assets spread over them."""
    rng = random.Random(7)
    t0 = time.perf_counter()
    with sessions() as s, s.begin():
        cats = {name: directory.get_or_create_category(s, SYSTEM, name).id for name in CATEGORIES}
        places = [directory.create_location(s, SYSTEM, f"Room {i}", "office").id for i in range(50)]
        per_line = n_assets // n_lines
        plan_rows, purchase_rows, line_rows = [], [], []
        for i in range(n_lines):
            cat = CATEGORIES[i % len(CATEGORIES)]
            price = Decimal(rng.randrange(50_000, 900_000)) / 100
            plan_rows.append({"ref": f"S-{i:04d}", "budget_year": 2024 + i % 3, "department": f"Dept {i % 12}",
                              "category_id": cats[cat], "approved_qty": per_line + 10,
                              "unit_price_cap": price, "approved_amount": price * (per_line + 10),
                              "method": plans.METHODS[i % 5], "approval_ref": f"GOV-{i}", "created_at": utcnow()})
            purchase_rows.append({"supplier": f"Supplier {i % 30}", "purchased_on": date(2024 + i % 3, 1 + i % 12, 5),
                                  "method": plans.METHODS[i % 5], "reference": f"INV-{i}", "actor": "bench",
                                  "created_at": utcnow()})
        s.execute(insert(PlanLine), plan_rows)
        s.execute(insert(Purchase), purchase_rows)
        plan_ids = s.scalars(select(PlanLine.id).order_by(PlanLine.id)).all()
        purchase_ids = s.scalars(select(Purchase.id).order_by(Purchase.id)).all()
        for i, (plan_id, purchase_id) in enumerate(zip(plan_ids, purchase_ids, strict=True)):
            row = plan_rows[i]
            line_rows.append({"purchase_id": purchase_id, "plan_line_id": plan_id, "category_id": row["category_id"],
                              "description": "", "quantity": per_line, "unit_price": row["unit_price_cap"],
                              "amount": row["unit_price_cap"] * per_line})
        s.execute(insert(PurchaseLine), line_rows)
        line_ids = s.scalars(select(PurchaseLine.id).order_by(PurchaseLine.id)).all()
        now = utcnow()
        batch: list[dict[str, Any]] = []
        for k in range(n_assets):
            i = min(k // per_line, n_lines - 1)
            status = STATUSES[k % len(STATUSES)]
            batch.append({"code": str(codes.new_code(codes.Kind.ASSET, 10)), "name": "Bench asset",
                          "category_id": line_rows[i]["category_id"], "status": status,
                          "location_id": None if status == "disposed" else places[k % len(places)],
                          "department": f"Dept {i % 12}", "purchase_line_id": line_ids[i],
                          "price": line_rows[i]["unit_price"], "acquired_on": date(2024 + i % 3, 1 + i % 12, 20),
                          "state_at": now, "created_at": now, "updated_at": now})
            if len(batch) == 10_000:
                s.execute(insert(Asset), batch)
                batch = []
        if batch:
            s.execute(insert(Asset), batch)
    return time.perf_counter() - t0


def timed(sessions: Any, label: str, make: Any, repeat: int = 3) -> None:
    best, rows = float("inf"), 0
    for _ in range(repeat):
        with sessions() as s:
            t0 = time.perf_counter()
            report = make(s)
            body = report.as_json()
            best = min(best, time.perf_counter() - t0)
            rows = len(body["rows"])
    print(f"  {label:<34} {best * 1000:8.1f} ms  ({rows} rows, best of {repeat})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intake", type=int, default=10_000)
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--database-url", help="PostgreSQL server URL (fresh databases are made); SQLite if absent")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ag-bench-proc-"))
    for part in ("a", "b"):
        (folder / part).mkdir()

    engine = make_engine(fresh_database(args.database_url, folder / "a"))
    upgrade(engine)
    intake_s, replay_s = bench_intake(audited(make_session_factory(engine), folder), args.intake)
    print(f"backend={engine.dialect.name}")
    print(f"intake of {args.intake:,} assets in one purchase (codes, serials, assets, history, audit, commit): "
          f"{intake_s:.2f} s, {args.intake / intake_s:,.0f} assets/s; replay of the same request key {replay_s:.2f} s")
    engine.dispose()

    engine = make_engine(fresh_database(args.database_url, folder / "b"))
    upgrade(engine)
    sessions = audited(make_session_factory(engine), folder)
    seed_s = seed_ledger(sessions, args.assets)
    with sessions() as s:
        count = s.scalar(select(func.count()).select_from(Asset))
    print(f"seeded {count:,} assets over 400 plan lines in {seed_s:.1f} s (bulk inserts); reports:")
    timed(sessions, "plan-execution (all years)", lambda s: reports.plan_execution(s))
    timed(sessions, "plan-execution (year=2025)", lambda s: reports.plan_execution(s, 2025))
    timed(sessions, "spend by month", lambda s: reports.spend(s, "month"))
    timed(sessions, "spend by method", lambda s: reports.spend_by_method(s))
    for by in reports.ASSET_DIMENSIONS:
        timed(sessions, f"assets by {by}", lambda s, by=by: reports.assets_by(s, by))
    timed(sessions, "bought per year", lambda s: reports.bought_per_year(s))
    engine.dispose()
    if args.database_url and MADE:
        admin = create_engine(args.database_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in MADE:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
