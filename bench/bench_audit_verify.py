"""The audit check (``assetgate audit verify``) on a big log: rows per second and peak memory. Prints its figures.

    .venv/bin/python bench/bench_audit_verify.py [--rows 1000000] [--assets 20000] [--database-url URL]

The log is made the way the consumer makes it, only faster: ``--assets`` assets created (one
``asset.create`` row each, with its history row), then kiosk ``asset.move`` events until the log
holds ``--rows`` rows, each with its audit row (the asset's full state before and after, the
kiosk event and the asset event described in ``inserted``, keyed with the instance's key by the
same ``server.audit.chain`` code), its ``kiosk_events`` row and its ``asset_events`` row, and the
assets left in the state their newest audit rows describe. Written with executemany in batches,
outside the services (the writer would take an hour here); what is timed is only the check.

The check runs in a process of its own, twice: the chain and checkpoints only (``--chain-only``),
then everything (chain, checkpoints, and every ledger row against the log). Each prints its wall
time, rows per second, and the process's resident memory before the check and at its peak
(``ru_maxrss``): flat across sizes means bounded memory; time grows with the rows.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, create_engine, insert, text, update
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server import audit  # noqa: E402
from server.audit import SYSTEM, chain, keys, ledger  # noqa: E402
from server.config import load_settings  # noqa: E402
from server.db import make_engine, make_session_factory  # noqa: E402
from server.migrate import upgrade  # noqa: E402
from server.models import Asset, AssetEvent, AuditEntry, KioskEvent  # noqa: E402
from server.services import directory, kiosks  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402

BATCH = 5000
KIOSKS = ("bench-1", "bench-2", "bench-3")


def fresh_database(url: str | None, folder: Path) -> str:
    if not url:
        return f"sqlite:///{folder / 'bench.db'}"
    name = f"ag_audit_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def drop(url: str) -> None:
    target = make_url(url)
    if target.get_backend_name() != "postgresql":
        return
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


class Log:
    """Appends keyed audit rows (and the rows they describe) in executemany batches."""

    def __init__(self, engine: Any, keyring: keys.Keyring, prev_hash: str) -> None:
        self.engine, self.keyring, self.prev = engine, keyring, prev_hash
        self.pending: dict[Any, list[dict[str, Any]]] = {KioskEvent: [], AssetEvent: [], AuditEntry: []}
        self.rows = 0

    def add(self, action: str, code: str, before: Any, after: Any, made: list[tuple[Any, dict[str, Any]]],
            at: datetime, source: str) -> None:
        described: dict[str, list[dict[str, Any]]] = {}
        for model, values in made:
            described.setdefault(model.__tablename__, []).append(ledger.describe(model, values))
        row = {"at": at, "actor": source, "source": source, "action": action, "entity": "asset", "entity_id": code,
               "before": before, "after": after, "inserted": described, "key_id": self.keyring.current,
               "prev_hash": self.prev}
        row["hash"] = chain.keyed_hash(self.keyring.current_key, self.prev, row)
        for model, values in made:
            self.pending[model].append({**values, "audit_hash": row["hash"]})
        self.pending[AuditEntry].append(row)
        self.prev, self.rows = row["hash"], self.rows + 1
        if len(self.pending[AuditEntry]) >= BATCH:
            self.flush()

    def flush(self) -> None:
        with self.engine.begin() as conn:
            for model, rows in self.pending.items():
                if rows:
                    conn.execute(insert(model), rows)
                    rows.clear()


def make_log(url: str, folder: Path, rows: int, n_assets: int) -> dict[str, float]:
    started = time.perf_counter()
    engine = make_engine(url)
    upgrade(engine)
    settings = load_settings({"instance_path": folder, "database_url": url}, environ={})
    sessions = make_session_factory(engine)
    keyring = audit.install(sessions, settings)
    with sessions() as session, session.begin():
        category = directory.get_or_create_category(session, SYSTEM, "Laptop").id
        store = directory.create_location(session, SYSTEM, "Store", "storeroom").id
        rooms = [directory.create_location(session, SYSTEM, f"Room {i}").id for i in range(4)]
        for name in KIOSKS:
            kiosks.enroll(session, SYSTEM, name, "storeroom")
        head = session.scalar(text("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1"))
    log = Log(engine, keyring, head)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    states: list[dict[str, Any]] = []
    for n in range(n_assets):  # what assets.create_asset writes, row for row
        values = {"code": f"A-B{n:08d}", "name": f"Laptop {n}", "category_id": category, "serial": None,
                  "status": "in_storage", "location_id": store, "custodian_id": None, "department": "IT",
                  "purchase_line_id": None, "intake_id": None, "price": None, "acquired_on": None, "due_at": None,
                  "state_at": now, "created_at": now, "updated_at": now}
        states.append(values)
    with engine.begin() as conn:
        for start in range(0, n_assets, BATCH):
            conn.execute(insert(Asset), states[start:start + BATCH])
        ids = dict(conn.execute(text("SELECT code, id FROM assets")).all())
    for values in states:
        event = {"asset_id": ids[values["code"]], "type": "asset.create", "at": now, "recorded_at": now,
                 "actor": "system", "source": "cli", "kiosk": None, "seq": None, "kiosk_event_id": None,
                 "from_status": None, "to_status": "in_storage", "from_location_id": None, "to_location_id": store,
                 "custodian_id": None, "reason": "", "applied": True, "data": {}}
        log.add("asset.create", values["code"], None, ledger.normal_of(Asset, values), [(AssetEvent, event)],
                now, "cli")
    boot = uuid.uuid4().hex
    for i in range(max(0, rows - log.rows - 9)):  # the office's 9 rows are there already
        values = states[i % n_assets]
        kiosk, room = KIOSKS[i % 3], rooms[i % 4]
        at = now + timedelta(seconds=i)
        before = ledger.normal_of(Asset, values)
        event_id = str(uuid.uuid4())
        kiosk_event = {"id": event_id, "kiosk": kiosk, "seq": i // 3 + 1, "boot": boot, "type": "asset.move",
                       "actor": None, "at": at, "received_at": at, "synced": True,
                       "data": {"tag": values["code"], "to": f"L-{room}"}, "flags": []}
        asset_event = {"asset_id": ids[values["code"]], "type": "asset.move", "at": at, "recorded_at": at,
                       "actor": f"kiosk:{kiosk}", "source": f"kiosk:{kiosk}", "kiosk": kiosk, "seq": i // 3 + 1,
                       "kiosk_event_id": event_id, "from_status": values["status"], "to_status": "in_use",
                       "from_location_id": values["location_id"], "to_location_id": room, "custodian_id": None,
                       "reason": "", "applied": True, "data": {}}
        values.update(status="in_use", location_id=room, state_at=at, updated_at=at)
        log.add("asset.move", values["code"], before, ledger.normal_of(Asset, values),
                [(KioskEvent, kiosk_event), (AssetEvent, asset_event)], at, f"kiosk:{kiosk}")
    log.flush()
    with engine.begin() as conn:  # the assets as their newest audit rows describe them
        table = Asset.__table__
        for start in range(0, n_assets, BATCH):
            conn.execute(update(table).where(table.c.code == bindparam("b_code")).values(
                status=bindparam("b_status"), location_id=bindparam("b_location")),
                [{"b_code": v["code"], "b_status": v["status"], "b_location": v["location_id"]}
                 for v in states[start:start + BATCH]])
        total = conn.scalar(text("SELECT count(*) FROM audit_log"))
    engine.dispose()
    return {"made_s": time.perf_counter() - started, "rows": float(total or 0)}


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def check(url: str, folder: str, chain_only: bool) -> None:
    """In its own process: one check, and what it cost."""
    from server.audit import check as checks
    from server.audit import checkpoints

    settings = load_settings({"instance_path": Path(folder), "database_url": url}, environ={})
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    audit.install(sessions, settings)
    before = rss_kib()
    started, cpu = time.perf_counter(), time.process_time()
    with sessions() as session:
        found = checks.verify(session, checkpoints.load(settings), ledger=not chain_only)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"ok": found.ok, "rows": found.rows, "ledger_rows": found.ledger_rows, "seconds": seconds,
                      "cpu": cpu,
                      "rss_before_kib": before, "peak_kib": peak, "findings": len(found.findings)}))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--assets", type=int, default=20_000)
    parser.add_argument("--database-url", help="PostgreSQL server URL (a fresh database is made); SQLite if absent")
    parser.add_argument("--check", nargs=3, metavar=("URL", "FOLDER", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.check:
        check(args.check[0], args.check[1], args.check[2] == "chain")
        return
    folder = Path(tempfile.mkdtemp(prefix="ag-bench-audit-"))
    url = fresh_database(args.database_url, folder)
    try:
        made = make_log(url, folder, args.rows, min(args.assets, args.rows))
        backend = make_url(url).get_backend_name()
        print(f"bench_audit_verify backend={backend} rows={made['rows']:,.0f} assets={args.assets:,}; {describe()}; "
              f"{time.strftime('%Y-%m-%d')}")
        print(f"log made in {made['made_s']:.0f} s (not timed below)")
        for mode in ("chain", "ledger"):
            out = subprocess.run([sys.executable, __file__, "--check", url, str(folder), mode], check=True,
                                 capture_output=True, text=True).stdout
            result = json.loads(out.strip().splitlines()[-1])
            rate = result["rows"] / result["seconds"]
            what = "chain and checkpoints" if mode == "chain" else "chain, checkpoints and ledger"
            print(f"{what + ':':<31} {result['seconds']:7.1f} s ({result['cpu']:.1f} s CPU in this process, "
                  f"{result['cpu'] / result['rows'] * 1e6:.0f} us per row), {rate:9,.0f} audit rows/s, "
                  f"{result['ledger_rows']:,} ledger rows compared, ok={result['ok']}; RSS before "
                  f"{result['rss_before_kib'] / 1024:.0f} MiB, peak {result['peak_kib'] / 1024:.0f} MiB; "
                  f"10,000,000 rows at this rate: {1e7 / rate / 60:.0f} min")
    finally:
        drop(url)


if __name__ == "__main__":
    main()
