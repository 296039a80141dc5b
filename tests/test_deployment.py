"""Running in production, without processes: ingestion status from heartbeats, the fleet view and
metrics that show it, restart back-off, and the reverse-proxy setting. The real processes are in
test_serve.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from server import connections, create_app, settings_of
from server.cli import main
from server.config import load_settings
from server.db import make_engine
from server.services import health
from server.serving import Backoff

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _beat(sessions: Any, client_id: str, at: datetime, interval_s: float = 5.0, pid: int = 4242) -> None:
    with sessions() as session, session.begin():
        health.beat(session, health.consumer_name(client_id), host="srv-1", pid=pid,
                    started_at=T0 - timedelta(hours=1), interval_s=interval_s, now=at)


def test_ingestion_is_down_until_a_consumer_beats(engine_sessions: Any) -> None:
    with engine_sessions() as session:
        status = health.ingestion_status(session, now=T0)
    assert status["state"] == "down" and status["last_beat"] is None and status["consumers_up"] == 0


def test_a_beat_is_fresh_for_three_intervals(engine_sessions: Any) -> None:
    _beat(engine_sessions, "c1", T0)
    with engine_sessions() as session:
        fresh = health.ingestion_status(session, now=T0 + timedelta(seconds=15))
        stale = health.ingestion_status(session, now=T0 + timedelta(seconds=15.1))
    assert fresh == {"state": "up", "last_beat": T0.isoformat(), "age_s": 15.0, "consumers_up": 1,
                     "consumer": "c1", "host": "srv-1", "pid": 4242,
                     "started_at": (T0 - timedelta(hours=1)).isoformat()}
    assert stale["state"] == "down" and stale["age_s"] == 15.1 and stale["pid"] == 4242


def test_a_beat_updates_the_one_row_and_any_fresh_consumer_keeps_ingestion_up(engine_sessions: Any) -> None:
    _beat(engine_sessions, "c1", T0, pid=1)
    _beat(engine_sessions, "c1", T0 + timedelta(seconds=5), pid=2)  # the same consumer, restarted: same row
    _beat(engine_sessions, "c2", T0 + timedelta(seconds=30), interval_s=1.0, pid=3)
    with engine_sessions() as session:
        both = health.ingestion_status(session, now=T0 + timedelta(seconds=20))  # c2's beat is in the future
        later = health.ingestion_status(session, now=T0 + timedelta(seconds=31))
        gone = health.ingestion_status(session, now=T0 + timedelta(seconds=34))
    assert both["state"] == "up" and both["consumers_up"] == 2
    assert later["state"] == "up" and later["consumers_up"] == 1 and later["pid"] == 3  # c1 stale, c2 fresh
    assert gone["state"] == "down" and gone["consumer"] == "c2"
    from sqlalchemy import func, select

    from server.models import ServiceHeartbeat

    with engine_sessions() as session:
        assert session.scalar(select(func.count()).select_from(ServiceHeartbeat)) == 2


def test_fleet_view_and_metrics_show_ingestion(client: Any, tokens: Any, sessions: Any) -> None:
    auditor = tokens.headers("auditor")
    body = client.get("/api/v1/kiosks", headers=auditor).get_json()
    assert body["items"] == [] and body["ingestion"]["state"] == "down"  # the old shape, plus one field
    assert "assetgate_ingestion_up 0" in client.get("/api/v1/metrics", headers=auditor).get_data(as_text=True)
    _beat(sessions, "live", datetime.now(UTC))
    body = client.get("/api/v1/kiosks", headers=auditor).get_json()
    assert body["ingestion"]["state"] == "up" and body["ingestion"]["consumer"] == "live"
    assert "assetgate_ingestion_up 1" in client.get("/api/v1/metrics", headers=auditor).get_data(as_text=True)
    assert client.get("/api/v1/kiosks", headers=tokens.headers("guard")).status_code == 403


def test_backoff_doubles_to_the_cap_and_resets_after_a_stable_run() -> None:
    backoff = Backoff(first=1, cap=60, stable_s=60)
    assert [backoff.delay(ran_s=2) for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff.delay(ran_s=61) == 1  # it had been up a while: a new incident
    assert backoff.delay(ran_s=0.5) == 2


@pytest.mark.parametrize(("proxies", "location"), [(0, "/login?next=/"), (1, "/assetgate/login?next=/assetgate/")])
def test_behind_proxy_trusts_forwarded_headers_only_when_set(settings_overrides: dict[str, Any], proxies: int,
                                                             location: str) -> None:
    app = create_app({**settings_overrides, "behind_proxy": proxies})
    try:
        seen: dict[str, Any] = {}

        @app.after_request
        def _record(response: Any) -> Any:
            from flask import request

            seen.update(scheme=request.scheme, remote=request.remote_addr, host=request.host)
            return response

        headers = {"X-Forwarded-Prefix": "/assetgate", "X-Forwarded-Proto": "https",
                   "X-Forwarded-For": "203.0.113.7", "X-Forwarded-Host": "assets.example.org"}
        response = app.test_client().get("/", headers=headers)
        assert response.status_code == 302
        assert response.headers["Location"].endswith(location)
        if proxies:
            assert seen == {"scheme": "https", "remote": "203.0.113.7", "host": "assets.example.org"}
        else:  # anyone can send these headers: without a proxy they are ignored
            assert seen == {"scheme": "http", "remote": "127.0.0.1", "host": "localhost"}
    finally:
        app.extensions["assetgate.engine"].dispose()


def test_web_pool_on_postgresql_is_the_settings_and_sqlite_keeps_its_own(app: Any, database_url: str) -> None:
    pool = app.extensions["assetgate.engine"].pool
    if database_url.startswith("postgresql"):
        assert (pool.size(), pool._max_overflow) == (2, 8)  # db_pool_size, db_max_overflow
    else:
        assert connections.pool_options(settings_of(app)) == {}


def test_serve_refuses_web_workers_whose_pools_postgresql_cannot_hold(settings_overrides: dict[str, Any],
                                                                     database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("max_connections is PostgreSQL's")
    settings = load_settings(settings_overrides)
    engine = make_engine(database_url)
    try:
        fits = connections.budget(settings, 4, engine)
        assert fits is not None and fits.problem() is None and fits.warning() is None
        assert fits.kept == 4 * 2 + 1 + 1 + 4 * 2  # workers, the consumer's writer, the scheduler, the jobs
        assert fits.allowed == fits.max_connections - fits.reserved
        many = connections.budget(settings, 64, engine)
    finally:
        engine.dispose()
    assert many is not None and many.warning() is not None  # 64 x (2 + 8) at a peak
    env = {f"ASSETGATE_{k.upper()}": str(v) for k, v in settings_overrides.items()}
    result = CliRunner().invoke(main, ["serve", "--workers", "64"], env={**env, "ASSETGATE_DB_POOL_SIZE": "3"})
    assert result.exit_code == 1, result.output  # refused before any process started
    assert f"PostgreSQL allows {many.allowed} connections" in result.output
    assert "keeps up to 202 open: 64 web workers × db_pool_size 3" in result.output
