"""What one request of the asset search and of the asset page costs the server, measured so that the
machine's load hardly enters: CPU time of this process, database round trips, Python function calls,
and (``--callgrind``) instructions.

    .venv/bin/python bench/bench_web_cpu.py [--seed] [--assets 20000] [--events 200000] [--requests 200]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/ag_bench_web_cpu] [--profile KIND]
    .venv/bin/python bench/bench_web_cpu.py --callgrind [--requests 30]      # instructions per request

The app runs in this process with the production settings (CSRF on, no debug), a storekeeper signed
in; each request is a WSGI call with a prepared environ (the same requests as ``bench_web.py``: codes,
serials, name fragments, filters with sorts, next pages, asset pages), its whole answer read. Per kind
of request it prints: CPU ms in Python (``time.process_time``), CPU ms of the PostgreSQL backend that
served it (``/proc``), SQL statements and round trips to the database (statements, plus BEGIN, the
pool's ping and the ROLLBACK or COMMIT that ends the transaction), Python function calls (cProfile,
a separate pass), and the answer's size. The per-request CPU hardly depends on the table's size when
the indexes are used, so a small database (20,000 assets, made by ``seed_assets.py``) stands for a
million; ``bench_web.py`` measures the latencies at a million.

``--callgrind`` runs the measured loop under ``valgrind --tool=callgrind`` with instrumentation
switched on only around it (``callgrind_control``), and prints instructions per request per kind:
the figure that does not move with the load of a shared machine.
"""

from __future__ import annotations

import argparse
import cProfile
import ctypes
import os
import pstats
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from werkzeug.test import EnvironBuilder

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_web  # noqa: E402
import machine  # noqa: E402
import seed_assets  # noqa: E402

from server import create_app  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/ag_bench_web_cpu"
KINDS = ("asset page", "code", "serial", "name", "name prefix", "filters+sort", "next page")


class Counter:
    """SQL statements (SQLAlchemy's) and round trips to the database: messages that ask PostgreSQL
    for an answer (a simple Query such as BEGIN or ROLLBACK, or the Sync that ends an extended
    query), read from libpq's own trace of each connection. So nothing is missed or counted that
    SQLAlchemy believes it did (an autocommit "begin" sends nothing)."""

    def __init__(self, engine: Any) -> None:
        self.statements = 0
        self._traces: list[Any] = []
        event.listen(engine, "before_cursor_execute", self._statement)
        if engine.dialect.driver == "psycopg":
            event.listen(engine.pool, "connect", self._trace)

    def _statement(self, *_args: Any) -> None:
        self.statements += 1

    def _trace(self, dbapi_connection: Any, _record: Any) -> None:
        from psycopg import pq

        handle = tempfile.TemporaryFile("w+")  # noqa: SIM115 (kept open while libpq writes to it)
        self._traces.append(handle)
        dbapi_connection.pgconn.trace(handle.fileno())
        dbapi_connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)

    def trips(self) -> int:
        count = 0
        ctypes.CDLL(None).fflush(None)  # libpq writes through a C stdio buffer: flush them all
        for handle in self._traces:
            handle.seek(0)
            count += sum(1 for line in handle if re.match(r"F\t\d+\t(Query|Sync)\b", line))
        return count

    def snapshot(self) -> tuple[int, int]:
        return self.statements, self.trips()


def _sign_in(app: Any) -> str:
    """A storekeeper's session cookie, got through the sign-in form like a browser."""
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "no CSRF token on the sign-in page"
    answer = client.post("/login", data={"csrf_token": token.group(1), "username": bench_web.USER,
                                         "password": bench_web.PASSWORD})
    assert answer.status_code == 302, answer.status_code
    client.get("/assets")  # the first page after signing in adds a CSRF token to the cookie (a browser keeps it)
    cookie = client.get_cookie("session")
    assert cookie is not None
    return f"session={cookie.value}"


def _call(app: Any, path: str, query: Any, cookie: str) -> tuple[int, bytes]:
    """One WSGI request, its whole answer read (what gunicorn would do, less the socket)."""
    environ = EnvironBuilder(path=path, query_string=query, headers=[("Cookie", cookie)],
                             base_url="http://127.0.0.1:8000").get_environ()
    status: list[str] = []

    def start_response(line: str, headers: list[tuple[str, str]], _exc: Any = None) -> None:
        status.append(line)
        if any(name.lower() == "set-cookie" for name, _ in headers):
            cookies_set.append(environ["PATH_INFO"])

    body = app(environ, start_response)
    try:
        data = b"".join(body)
    finally:
        if hasattr(body, "close"):
            body.close()
    return int(status[0].split()[0]), data


cookies_set: list[str] = []  # requests answered with a Set-Cookie: none expected once signed in


def _requests(sample: dict[str, list[str]], n: int, seed: int) -> dict[str, list[tuple[str, Any]]]:
    """``n`` requests of each kind (a "next page" request follows a list page's own "next" link)."""
    plan = bench_web._plan(sample, n * 7, n, seed)
    by_kind: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for kind, path, params in plan:
        if len(by_kind[kind]) < n:
            by_kind[kind].append((path, params))
    return by_kind


def _next_pages(app: Any, cookie: str, firsts: list[tuple[str, Any]], n: int) -> list[tuple[str, Any]]:
    """Pages 2 to 5 of sorted, filtered lists: the URLs their pages link to as "next"."""
    out: list[tuple[str, Any]] = []
    for path, params in firsts:
        _, body = _call(app, path, params, cookie)
        for _ in range(4):
            found = re.search(rb'<a rel="next" href="([^"]+)"', body)
            if not found:
                break
            url = found.group(1).decode().replace("&amp;", "&")
            route, _, query = url.partition("?")
            out.append((route, query))
            _, body = _call(app, route, query, cookie)
        if len(out) >= n:
            break
    return out[:n]


def _backend_pid(app: Any) -> int | None:
    engine = app.extensions["assetgate.engine"]
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:  # the pool's one connection: the one every request gets
        return int(conn.scalar(text("SELECT pg_backend_pid()")))


_CALLGRIND_C = r"""
#include <valgrind/callgrind.h>
void measure_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void measure_stop(const char *name) { CALLGRIND_STOP_INSTRUMENTATION; CALLGRIND_DUMP_STATS_AT(name); }
"""


@contextmanager
def _callgrind(active: bool, name: str) -> Iterator[None]:
    """Instructions counted only inside (callgrind's client requests, from a small C helper built
    here with gcc: Python cannot issue them itself); each block is dumped under its own name."""
    if not active:
        yield
        return
    global _controls
    if _controls is None:
        built = Path(tempfile.mkdtemp()) / "callgrind_control.so"
        source = built.with_suffix(".c")
        source.write_text(_CALLGRIND_C)
        subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", str(built), str(source)], check=True)
        _controls = ctypes.CDLL(str(built))
    _controls.measure_start()
    try:
        yield
    finally:
        _controls.measure_stop(name.encode())


_controls: Any = None
answers: dict[str, str] = {}  # kind -> the HTTP statuses its requests got


def measure(app: Any, cookie: str, work: dict[str, list[tuple[str, Any]]], counter: Counter,
            backend: int | None, callgrind: bool = False) -> dict[str, dict[str, float]]:
    """Per kind: CPU ms (Python, PostgreSQL), statements and round trips per request, bytes."""
    figures: dict[str, dict[str, float]] = {}
    for kind in KINDS:
        items = work.get(kind, [])
        if not items:
            continue
        for path, query in items[:5]:  # warm: templates compiled, caches filled
            _call(app, path, query, cookie)
        statements, trips = counter.snapshot()
        pg_before = bench_web._cpu_seconds(backend) if backend else 0.0
        size = 0
        statuses: set[int] = set()
        each: list[float] = []
        with _callgrind(callgrind, kind):
            started = time.process_time()
            for path, query in items:
                begun = time.process_time()
                status, body = _call(app, path, query, cookie)
                each.append(time.process_time() - begun)
                statuses.add(status)
                size += len(body)
            used = time.process_time() - started
        pg = (bench_web._cpu_seconds(backend) - pg_before) if backend else 0.0
        after_statements, after_trips = counter.snapshot()
        n = len(items)
        figures[kind] = {"n": n, "cpu_ms": used / n * 1000, "pg_ms": pg / n * 1000,
                         "statements": (after_statements - statements) / n, "trips": (after_trips - trips) / n,
                         "bytes": size / n}
        answers[kind] = ",".join(map(str, sorted(statuses)))
        per_request[kind] = [cpu + pg / n for cpu in each]  # the backend's CPU spread evenly
    return figures


per_request: dict[str, list[float]] = {}  # kind -> server CPU seconds of each request measured


def quiet_estimate(clients: int = 4, cores: int = 2, requests: int = 60_000,
                   seed: int = 1) -> dict[str, tuple[float, float]]:
    """p50 and p99 (ms) of search and asset page requests that ``bench_web.py`` would see on an idle
    machine with ``cores`` cores: ``clients`` closed-loop clients (each sends its next request when
    the last is answered), the mix of bench_web's plan (2 searches to 1 asset page), each request
    needing the CPU measured here for one request of its kind, the cores shared equally among the
    requests in progress (the scheduler's processor sharing). A model, not a measurement: no other
    load, no cost for the network or for waking processes, the database's CPU counted with the
    request's."""
    pick = random.Random(seed)
    kinds = [kind for kind in per_request if per_request[kind]]
    weights = [1.0 if kind == "asset page" else 2.0 / max(1, len(kinds) - 1) for kind in kinds]
    now, done = 0.0, {"search": [], "asset page": []}  # type: ignore[var-annotated]
    active: list[list[Any]] = []  # [remaining CPU seconds, started at, class]

    def new_request() -> list[Any]:
        kind = pick.choices(kinds, weights)[0]
        return [pick.choice(per_request[kind]), now, "asset page" if kind == "asset page" else "search"]

    active = [new_request() for _ in range(clients)]
    while sum(len(v) for v in done.values()) < requests:
        rate = min(1.0, cores / len(active))  # CPU each request gets
        step = min(job[0] for job in active) / rate
        now += step
        for job in active:
            job[0] -= step * rate
        finished = [job for job in active if job[0] <= 1e-12]
        for job in finished:
            active.remove(job)
            done[job[2]].append(now - job[1])
            active.append(new_request())
    return {name: (statistics.median(times) * 1000, sorted(times)[int(len(times) * 0.99)] * 1000)
            for name, times in done.items() if times}


def calls_per_request(app: Any, cookie: str, work: dict[str, list[tuple[str, Any]]],
                      show: str | None) -> dict[str, float]:
    """Python function calls per request (cProfile: deterministic, unlike times); ``show`` prints a profile."""
    calls: dict[str, float] = {}
    for kind in KINDS:
        items = work.get(kind, [])
        if not items:
            continue
        profile = cProfile.Profile()
        profile.enable()
        for path, query in items:
            _call(app, path, query, cookie)
        profile.disable()
        stats = pstats.Stats(profile)
        calls[kind] = stats.total_calls / len(items)  # type: ignore[attr-defined]
        if show == kind:
            stats.sort_stats("cumulative").print_stats(60)
            stats.sort_stats("tottime").print_stats(40)
    return calls


def cpu_sample(app: Any, cookie: str, items: list[tuple[str, Any]], rounds: int = 5) -> None:
    """Where the CPU goes, without cProfile's per-call overhead (which inflates call-heavy code such
    as templates): the stack is sampled every 0.5 ms of CPU time; prints the functions found on the
    most samples (inclusive) and at the top of the stack (self)."""
    inclusive: dict[str, int] = defaultdict(int)
    own: dict[str, int] = defaultdict(int)
    samples = 0

    def record(_signum: int, frame: Any) -> None:
        nonlocal samples
        samples += 1
        seen = set()
        top = True
        while frame is not None:
            code = frame.f_code
            where = f"{Path(code.co_filename).name}:{code.co_firstlineno}({code.co_name})"
            if top:
                own[where] += 1
                top = False
            if where not in seen:
                seen.add(where)
                inclusive[where] += 1
            frame = frame.f_back

    previous = signal.signal(signal.SIGPROF, record)
    signal.setitimer(signal.ITIMER_PROF, 0.0005, 0.0005)
    try:
        for _ in range(rounds):
            for path, query in items:
                _call(app, path, query, cookie)
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        signal.signal(signal.SIGPROF, previous)
    print(f"{samples} samples")
    for title, table in (("inclusive", inclusive), ("self", own)):
        print(f"--- {title} ---")
        for where, count in sorted(table.items(), key=lambda kv: -kv[1])[:70 if title == "inclusive" else 40]:
            print(f"{100 * count / samples:6.1f}%  {where}")


def _report(figures: dict[str, dict[str, float]], calls: dict[str, float]) -> list[str]:
    lines = [f"{'requests':<13} {'n':>4} {'Python CPU ms':>13} {'PG CPU ms':>9} {'statements':>10} "
             f"{'round trips':>11} {'calls':>7} {'KiB':>5}  answers"]
    for kind, f in figures.items():
        lines.append(f"{kind:<13} {int(f['n']):>4} {f['cpu_ms']:>13.2f} {f['pg_ms']:>9.2f} {f['statements']:>10.2f} "
                     f"{f['trips']:>11.2f} {calls.get(kind, 0):>7.0f} {f['bytes'] / 1024:>5.1f}  {answers[kind]}")
    search = [f for kind, f in figures.items() if kind != "asset page"]
    if search:
        mean = sum(f["cpu_ms"] for f in search) / len(search)
        lines.append(f"search (mean of kinds): {mean:.2f} ms Python CPU, "
                     f"{sum(f['trips'] for f in search) / len(search):.2f} round trips")
    return lines


def _callgrind_run(args: argparse.Namespace) -> None:
    """Run this script again under callgrind; read the instructions of each measured loop from its dumps."""
    with tempfile.TemporaryDirectory() as out:
        command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}/cg.out",
                   sys.executable, __file__, "--database-url", args.database_url, "--requests", str(args.requests),
                   "--inside-callgrind"]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            print(done.stdout, done.stderr[-4000:])
            raise SystemExit("callgrind run failed")
        print(f"callgrind ({time.perf_counter() - started:.0f} s), {args.requests} requests a kind; "
              "instructions per request (millions):")
        for dump in sorted(Path(out).iterdir()):
            content = dump.read_text(errors="replace")
            trigger = re.search(r"^desc: Trigger: Client Request: (.+)$", content, re.M)
            total = re.search(r"^totals:\s*(\d+)", content, re.M)
            if trigger and total:
                print(f"  {trigger.group(1):<13} {int(total.group(1)) / args.requests / 1e6:8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--seed", action="store_true", help="make the database first (seed_assets.py)")
    parser.add_argument("--assets", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=200, help="requests measured per kind")
    parser.add_argument("--profile", metavar="KIND", help=f"print a cProfile of one kind: {', '.join(KINDS)}")
    parser.add_argument("--sample", metavar="KIND", help="print where one kind's CPU goes (stack sampling)")
    parser.add_argument("--callgrind", action="store_true", help="instructions per request, under valgrind")
    parser.add_argument("--inside-callgrind", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.callgrind:
        if not shutil.which("valgrind"):
            raise SystemExit("valgrind is not installed")
        _callgrind_run(args)
        return
    if not args.inside_callgrind:
        print(f"bench_web_cpu {time.strftime('%Y-%m-%dT%H:%M:%S')}; {machine.describe()}")
    if args.seed:
        started = time.perf_counter()
        seed_assets.seed(args.database_url, args.assets, args.events)
        print(f"seeded {args.assets:,} assets, {args.events:,} events in {time.perf_counter() - started:.0f} s")
    bench_web._bench_user(args.database_url)
    sample = bench_web._sample(args.database_url)
    with tempfile.TemporaryDirectory() as instance:
        app = create_app({"database_url": args.database_url, "secret_key": "bench-secret-key-0123456789",
                          "instance_path": instance, "log_level": "WARNING"})
        engine = app.extensions["assetgate.engine"]
        counter = Counter(engine)
        cookie = _sign_in(app)
        work = _requests(sample, args.requests, seed=2)
        work["next page"] = _next_pages(app, cookie, work.get("next page", []), args.requests)
        backend = _backend_pid(app)
        if args.inside_callgrind:
            measure(app, cookie, work, counter, backend, callgrind=True)
            return
        if args.sample:
            cpu_sample(app, cookie, work[args.sample])
            return
        figures = measure(app, cookie, work, counter, backend)
        calls = calls_per_request(app, cookie, work, args.profile)
        print(f"{_describe(args.database_url)}; load average {os.getloadavg()[0]:.1f}")
        for line in _report(figures, calls):
            print(line)
        print(f"answers that set a cookie: {len(cookies_set)}")
        for name, (p50, p99) in quiet_estimate().items():
            print(f"model, 4 clients on 2 idle cores (see quiet_estimate): {name} p50 {p50:.1f} ms, p99 {p99:.1f} ms")
        engine.dispose()


def _describe(url: str) -> str:
    target = make_url(url)
    if target.get_backend_name() != "postgresql":
        return target.get_backend_name()
    engine = create_engine(url)
    with engine.connect() as conn:
        assets = conn.scalar(text("SELECT count(*) FROM assets"))
        events = conn.scalar(text("SELECT count(*) FROM asset_events"))
    engine.dispose()
    return f"PostgreSQL, {assets:,} assets, {events:,} asset events"


if __name__ == "__main__":
    main()
