"""Long jobs: how long a request takes when it does the work itself, and when it hands a bigger batch
to a job instead; how long the job's process takes to start and to finish; and how long a request
that polls the job waits meanwhile (on SQLite a plan import's store holds the write lock).

    .venv/bin/python bench/bench_jobs.py [--labels 2000] [--rows 20000] [--database-url URL]

Runs a throwaway instance (a temporary SQLite file unless --database-url is given, which must name
an empty database) through Flask's test client, with real job processes. Prints its figures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine import describe  # noqa: E402  (bench/machine.py: run as python bench/<name>.py)

from contract.codes import Kind  # noqa: E402
from server import auth, create_app  # noqa: E402
from server.audit import SYSTEM  # noqa: E402
from server.migrate import upgrade  # noqa: E402
from server.services import codes as code_service  # noqa: E402
from server.services import jobs  # noqa: E402
from tests.procurement_support import office  # noqa: E402

HEADER = "ref,budget_year,department,category,approved_qty,unit_price_cap,approved_amount,method,approval_ref\n"


def plan(rows: int, prefix: str) -> bytes:
    return (HEADER + "".join(f"{prefix}-{i:06d},2026,IT,Laptop,1,1.00,1.00,other,G\n" for i in range(rows))).encode()


def timed(call: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def follow(client: Any, headers: dict[str, str], url: str) -> None:
    """Poll a job until it ends; print when it started running, when it ended, the slowest poll."""
    start, running, slowest, polls = time.perf_counter(), None, 0.0, 0
    while True:
        body, took = timed(lambda: client.get(url, headers=headers).get_json())
        slowest, polls = max(slowest, took), polls + 1
        if body["state"] == "running" and running is None:
            running = time.perf_counter() - start
        if body["state"] in ("done", "failed"):
            break
        time.sleep(0.05)
    summary = {k: v for k, v in (body["result"] or {}).items() if k != "errors"}
    print(f"  job {body['state']}: running after {running or 0:.1f} s, ended after "
          f"{time.perf_counter() - start:.1f} s; {polls} polls, the slowest {slowest:.2f} s; result {summary}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--labels", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    app = create_app({"instance_path": folder, "database_url": args.database_url or f"sqlite:///{folder}/a.db",
                      "secret_key": "bench", "testing": True, "csrf_enabled": False, "log_level": "WARNING"})
    upgrade(app.extensions["assetgate.engine"])
    sessions = app.extensions["assetgate.sessions"]
    with sessions() as session, session.begin():
        office(session)
        made = code_service.issue(session, Kind.ASSET, max(args.labels, jobs.LABELS_INLINE_MAX))
        token = auth.create_token(session, SYSTEM, "bench", "admin")
    client, headers = app.test_client(), {"Authorization": f"Bearer {token}"}
    print(describe(), "|", app.extensions["assetgate.engine"].dialect.name)
    small, took = timed(lambda: client.post("/api/v1/labels", json={"codes": made[:jobs.LABELS_INLINE_MAX]},
                                            headers=headers))
    print(f"{jobs.LABELS_INLINE_MAX} labels inside the request: HTTP {small.status_code} in {took:.2f} s")
    big, took = timed(lambda: client.post("/api/v1/labels", json={"codes": made[:args.labels]}, headers=headers))
    print(f"{args.labels} labels: HTTP {big.status_code} in {took:.2f} s")
    follow(client, headers, big.get_json()["url"])
    small, took = timed(lambda: client.post("/api/v1/plans/import", data=plan(jobs.PLAN_ROWS_INLINE_MAX, "A"),
                                            headers=headers))
    print(f"{jobs.PLAN_ROWS_INLINE_MAX} plan rows inside the request: HTTP {small.status_code} in {took:.2f} s")
    big, took = timed(lambda: client.post("/api/v1/plans/import", data=plan(args.rows, "B"), headers=headers))
    print(f"{args.rows} plan rows: HTTP {big.status_code} in {took:.2f} s")
    follow(client, headers, big.get_json()["url"])
    app.extensions["assetgate.engine"].dispose()


if __name__ == "__main__":
    main()
