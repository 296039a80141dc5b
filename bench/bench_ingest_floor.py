"""The floor under the consumer's ingest rate on SQLite: the database's own work per event.

    .venv/bin/python bench/bench_ingest_floor.py [--events 20000] [--batch 500]

The rows one ``asset.move`` event makes (a kiosk event, an asset event, an audit row and
the asset's new state) go into the real schema with the raw sqlite3 module, parameters
made in advance, one transaction per batch, WAL and ``synchronous=FULL`` as the server
runs it. Whatever the writer does beyond this (parsing, the rules, hashing, building the
rows) comes on top; compare with ``bench_ingest.py``'s "writer alone".
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.db import make_engine, make_session_factory  # noqa: E402
from server.migrate import upgrade  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import seed  # noqa: E402
from machine import audited  # noqa: E402

NOW = "2026-11-25 10:00:00.000000"
INSERT_KIOSK_EVENT = ("INSERT INTO kiosk_events (id, kiosk, seq, boot, type, actor, at, received_at, synced, data, "
                      "flags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
INSERT_ASSET_EVENT = ("INSERT INTO asset_events (asset_id, type, at, recorded_at, actor, source, kiosk, seq, "
                      "kiosk_event_id, from_status, to_status, from_location_id, to_location_id, custodian_id, "
                      "reason, applied, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
INSERT_AUDIT = ("INSERT INTO audit_log (at, actor, source, action, entity, entity_id, before, after, prev_hash, "
                "hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
UPDATE_ASSET = "UPDATE assets SET status = ?, location_id = ?, state_at = ?, updated_at = ? WHERE id = ?"


def rows(n: int, asset_ids: list[int]) -> list[tuple[tuple, tuple, tuple, tuple]]:
    out = []
    for i in range(n):
        event_id, asset_id, src = str(uuid.uuid4()), asset_ids[i % len(asset_ids)], "kiosk:bench-1"
        out.append((
            (event_id, "bench-1", i, "boot", "asset.move", None, NOW, NOW, 1, '{"tag":"A","to":"L"}', "[]"),
            (asset_id, "asset.move", NOW, NOW, src, src, "bench-1", i, event_id, "in_storage", "in_use", 1, 2, None,
             "", 1, "{}"),
            (NOW, src, src, "asset.move", "asset", "A-X", '{"status":"in_storage"}', '{"status":"in_use"}',
             uuid.uuid4().hex * 2, uuid.uuid4().hex * 2),
            ("in_use", 2, NOW, NOW, asset_id),
        ))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    path = Path(tempfile.mkdtemp(prefix="ag-floor-")) / "floor.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    seed(audited(make_session_factory(engine), path.parent), 1000)
    engine.dispose()
    db = sqlite3.connect(str(path), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    made = rows(args.events, [r[0] for r in db.execute("SELECT id FROM assets")])
    start = time.perf_counter()
    for i in range(0, len(made), args.batch):
        batch = made[i:i + args.batch]
        db.execute("BEGIN IMMEDIATE")
        for statement, column in ((INSERT_KIOSK_EVENT, 0), (INSERT_ASSET_EVENT, 1), (INSERT_AUDIT, 2),
                                  (UPDATE_ASSET, 3)):
            db.executemany(statement, [row[column] for row in batch])
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    print(f"SQLite's own work: {elapsed / args.events * 1e6:.0f} us per event ({args.events / elapsed:,.0f} ev/s), "
          f"batch {args.batch}")


if __name__ == "__main__":
    main()
