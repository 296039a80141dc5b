"""The asset pages under load at a million assets: p50 and p99 of the asset search and of the asset page.

    .venv/bin/python bench/bench_web.py [--seed] [--database-url postgresql+psycopg://...] [--clients 4]
        [--search 3000] [--pages 1500] [--keep]

With ``--seed`` it first fills the database with ``seed_assets.py`` (1,000,000 assets, 10,000,000
events). It then serves the app with gunicorn (4 workers, loopback, the production settings: CSRF
on, no debug), signs in a storekeeper from each client process, and sends a fixed number of
requests from ``--clients`` processes at once, each waiting for its answer before the next:

- search: a scanned code (answered by a redirect to the asset), an exact serial, a name fragment
  (three or more characters: anywhere in the name; two: at its start), filters with a sort, and
  next pages (pages 2 to 5 of a sorted, filtered list, following the page's own "next" link);
- asset page: a random asset (QR code, facts, origin, maintenance cost, first page of history).

Times are measured in the client, from sending the request to having read the whole answer.
The goals: search p99 <= 100 ms, asset page p99 <= 50 ms. At the end the database is dropped
(``--keep`` keeps it for EXPLAIN ANALYZE). ``bench_web_cpu.py`` measures what one of these requests
costs the server (CPU, statements, round trips, instructions), which the load does not blur.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import machine  # noqa: E402
import seed_assets  # noqa: E402

from server import auth  # noqa: E402
from server.audit import SYSTEM  # noqa: E402
from server.db import make_engine, make_session_factory  # noqa: E402

GUNICORN = Path(sys.executable).with_name("gunicorn")
PASSWORD = "bench password 123"
USER = "bench-storekeeper"
NAMES = ["ThinkPad", "打印机", "LaserJet", "KFR-35GW", "会议椅", "执法记录仪", "MateBook", "交换机"]
PREFIXES = ["办公", "联想", "佳能", "格力"]
GOALS = {"search": 100.0, "asset page": 50.0}


def _sample(url: str, size: int = 5000) -> dict[str, list[str]]:
    """Codes and names to ask for, drawn from the seeded data (as a person scanning labels would)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        total = conn.scalar(text("SELECT max(id) FROM assets")) or 1
        ids = random.Random(7).sample(range(1, total + 1), min(size, total))
        rows = conn.execute(text("SELECT code, serial FROM assets WHERE id = ANY(:ids)"), {"ids": ids}).all()
        sample = {
            "codes": [r.code for r in rows],
            "serials": [r.serial for r in rows if r.serial],
            "locations": list(conn.scalars(text("SELECT code FROM locations ORDER BY random() LIMIT 300"))),
            "people": list(conn.scalars(text(
                "SELECT p.code FROM people p WHERE EXISTS (SELECT 1 FROM assets a WHERE a.custodian_id = p.id) "
                "ORDER BY random() LIMIT 300"))),
            "categories": list(conn.scalars(text("SELECT name FROM categories"))),
        }
    engine.dispose()
    return sample


def _plan(sample: dict[str, list[str]], n_search: int, n_pages: int, seed: int) -> list[tuple[str, str, Any]]:
    """The requests, shuffled: (kind, path, params). A "next" item is a chain of pages 1..5."""
    rnd = random.Random(seed)
    items: list[tuple[str, str, Any]] = []
    makers = [
        ("code", lambda: {"q": rnd.choice([str.upper, str.lower])(rnd.choice(sample["codes"]))}),
        ("serial", lambda: {"q": rnd.choice(sample["serials"])}),
        ("name", lambda: {"q": rnd.choice(NAMES)}),
        ("name prefix", lambda: {"q": rnd.choice(PREFIXES)}),
        ("filters+sort", lambda: rnd.choice([
            {"status": "in_use", "sort": "price", "dir": "desc"},
            {"category": rnd.choice(sample["categories"]), "sort": "acquired", "dir": "desc"},
            {"location": rnd.choice(sample["locations"]), "sort": "name"},
            {"custodian": rnd.choice(sample["people"])},
            {"status": "under_repair", "category": rnd.choice(sample["categories"]), "sort": "location"},
            {"sort": "category"},
            {"sort": "location", "dir": "desc"},
            {"q": rnd.choice(NAMES), "status": "in_storage", "sort": "price"},
        ])),
    ]
    per_kind = n_search // (len(makers) + 1)
    for kind, make in makers:
        items += [(kind, "/assets", make()) for _ in range(per_kind)]
    chains = (n_search - per_kind * len(makers)) // 4  # each chain: page 1 (not counted) + pages 2..5
    items += [("next page", "/assets", rnd.choice([
        {"status": "in_use", "sort": "name"}, {"category": rnd.choice(sample["categories"]), "sort": "price"},
        {"sort": "acquired", "dir": "desc"}, {"q": rnd.choice(NAMES), "sort": "code"}])) for _ in range(chains)]
    items += [("asset page", f"/assets/{rnd.choice(sample['codes'])}", None) for _ in range(n_pages)]
    rnd.shuffle(items)
    return items


# --- the client processes ---

_session: requests.Session | None = None
_base = ""


def _client_init(base: str) -> None:
    global _session, _base
    _base = base
    _session = requests.Session()
    login = _session.get(f"{base}/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
    assert token, "no CSRF token on the sign-in page"
    answer = _session.post(f"{base}/login", data={"csrf_token": token.group(1), "username": USER,
                                                  "password": PASSWORD}, allow_redirects=False)
    assert answer.status_code == 302, f"sign-in failed: {answer.status_code}"


def _timed(path: str, params: Any) -> tuple[float, int, str]:
    assert _session is not None
    started = time.perf_counter()
    answer = _session.get(f"{_base}{path}", params=params, allow_redirects=False)
    body = answer.text  # read it all
    return (time.perf_counter() - started) * 1000, answer.status_code, body


def _run(item: tuple[str, str, Any]) -> list[tuple[str, float, int]]:
    kind, path, params = item
    if kind != "next page":
        ms, status, _ = _timed(path, params)
        return [(kind, ms, status)]
    out = []
    ms, status, body = _timed(path, params)
    for _ in range(4):
        found = re.search(r'<a rel="next" href="([^"]+)"', body)
        if not found:
            break
        ms, status, body = _timed(found.group(1).replace("&amp;", "&"), None)
        out.append((kind, ms, status))
    return out


def _load(base: str, plan: list[tuple[str, str, Any]], clients: int) -> tuple[list[tuple[str, float, int]], float]:
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(clients, _client_init, (base,)) as pool:
        results = [r for chunk in pool.imap_unordered(_run, plan, chunksize=4) for r in chunk]
    return results, time.perf_counter() - started


# --- the server ---

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(url: str, port: int, workers: int, instance: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ASSETGATE_DATABASE_URL": url, "ASSETGATE_SECRET_KEY": "bench-secret-key-0123456789",
           "ASSETGATE_INSTANCE_PATH": instance, "ASSETGATE_LOG_LEVEL": "WARNING",
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    server = subprocess.Popen([str(GUNICORN), "-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning",
                               "server:create_app()"], env=env, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/login", timeout=30).status_code == 200:
                return server
        except requests.RequestException:
            time.sleep(0.2)
    _stop(server)
    raise RuntimeError("gunicorn did not start")


def _stop(server: subprocess.Popen[bytes]) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)


def _bench_user(url: str, instance: str) -> None:
    engine = make_engine(url)
    with machine.audited(make_session_factory(engine), instance)() as session, session.begin():
        from sqlalchemy import select

        from server.models import User

        if session.scalars(select(User).where(User.username == USER)).first() is None:
            auth.create_user(session, SYSTEM, USER, PASSWORD, "storekeeper")
    engine.dispose()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (Linux /proc); 0 for one that is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _server_pids(server: subprocess.Popen[bytes], url: str) -> dict[str, list[int]]:
    """gunicorn's workers, and the PostgreSQL backends serving this database (the workers' pools)."""
    workers = [int(p) for p in Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()]
    engine = create_engine(url)
    with engine.connect() as conn:
        backends = list(conn.scalars(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                          "AND pid <> pg_backend_pid()")))
    engine.dispose()
    return {"gunicorn workers": workers, "PostgreSQL backends": backends}


def _drop(url: str) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


# --- the report ---

def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def _report(results: list[tuple[str, float, int]]) -> list[str]:
    lines = [f"{'requests':<14} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  answers"]
    groups: dict[str, list[tuple[float, int]]] = {}
    for kind, ms, status in results:
        groups.setdefault(kind, []).append((ms, status))
    search = [ms for kind, ms, _ in results if kind != "asset page"]
    for kind, rows in [*sorted(groups.items()), ("search (all)", [(ms, 0) for ms in search])]:
        times = [ms for ms, _ in rows]
        statuses = sorted({s for _, s in rows if s})
        lines.append(f"{kind:<14} {len(times):>6} {statistics.median(times):>8.1f} {_pct(times, 99):>8.1f} "
                     f"{max(times):>8.1f}  {','.join(map(str, statuses))}")
    return lines


def _database_facts(url: str) -> str:
    engine = create_engine(url)
    with engine.connect() as conn:
        version = conn.scalar(text("SHOW server_version"))
        assets = conn.scalar(text("SELECT count(*) FROM assets"))
        events = conn.scalar(text("SELECT reltuples::bigint FROM pg_class WHERE relname = 'asset_events'"))
        size = conn.scalar(text("SELECT pg_size_pretty(pg_database_size(current_database()))"))
    engine.dispose()
    return f"PostgreSQL {version}, {assets:,} assets, about {events:,} asset events, database {size}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/ag_bench_web")
    parser.add_argument("--seed", action="store_true", help="fill the database first (seed_assets.py)")
    parser.add_argument("--assets", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--search", type=int, default=3000, help="search requests measured")
    parser.add_argument("--pages", type=int, default=1500, help="asset page requests measured")
    parser.add_argument("--keep", action="store_true", help="keep the database (default: drop it)")
    args = parser.parse_args()

    print(f"bench_web {datetime.now().isoformat(timespec='seconds')}; {machine.describe()}")
    if args.seed:
        started = time.perf_counter()
        timings = seed_assets.seed(args.database_url, args.assets, args.events)
        print(f"seeded in {time.perf_counter() - started:.0f} s (" + ", ".join(f"{k} {v:.0f} s"
                                                                           for k, v in timings.items()) + ")")
    print(_database_facts(args.database_url))
    sample = _sample(args.database_url)
    port = _free_port()
    with tempfile.TemporaryDirectory() as instance:
        _bench_user(args.database_url, instance)  # with the audit keys the server will read there
        server = _serve(args.database_url, port, args.workers, instance)
        try:
            base = f"http://127.0.0.1:{port}"
            _load(base, _plan(sample, 300, 150, seed=1), args.clients)  # warm-up, not counted
            pids = _server_pids(server, args.database_url)
            cpu_before = {pid: _cpu_seconds(pid) for group in pids.values() for pid in group}
            load_before = os.getloadavg()
            results, seconds = _load(base, _plan(sample, args.search, args.pages, seed=2), args.clients)
            load_after = os.getloadavg()
            cpu = {name: sum(_cpu_seconds(pid) - cpu_before[pid] for pid in group) for name, group in pids.items()}
        finally:
            _stop(server)
    print(f"gunicorn -w {args.workers} on loopback; {args.clients} client processes; {len(results)} requests "
          f"in {seconds:.1f} s ({len(results) / seconds:.0f}/s); load average {load_before[0]:.1f} before, "
          f"{load_after[0]:.1f} after (1 min), on {os.cpu_count()} cores shared with other work")
    for line in _report(results):
        print(line)
    print("server CPU per request (all kinds): " + ", ".join(f"{name} {used / len(results) * 1000:.1f} ms"
                                                           for name, used in cpu.items())
          + f"; total {sum(cpu.values()) / len(results) * 1000:.1f} ms, i.e. at most "
          f"{len(results) / sum(cpu.values()) * (os.cpu_count() or 1):.0f} requests/s on {os.cpu_count()} idle cores")
    search = [ms for kind, ms, _ in results if kind != "asset page"]
    page = [ms for kind, ms, _ in results if kind == "asset page"]
    for name, times in (("search", search), ("asset page", page)):
        p99 = _pct(times, 99)
        print(f"goal {name}: p99 {p99:.1f} ms <= {GOALS[name]:.0f} ms: {'met' if p99 <= GOALS[name] else 'MISSED'}")
    bad = [(kind, status) for kind, _, status in results if status >= 400]
    if bad:
        print(f"{len(bad)} answers were errors: {bad[:5]}")
    if not args.keep:
        _drop(args.database_url)
        print("bench database dropped")


if __name__ == "__main__":
    main()
