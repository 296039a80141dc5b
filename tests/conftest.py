"""Fixtures: a fresh app and database per test (SQLite file by default, PostgreSQL with
ASSETGATE_TEST_DB=postgresql), API tokens per role, and the real Mosquitto broker.

A migrated template database is made once per run and copied for each test, so
every test starts from the real migrations without paying for them each time.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from server import create_app
from server.db import make_engine, make_session_factory
from server.migrate import upgrade
from tests.pg_clones import ClonePool

BACKEND = os.environ.get("ASSETGATE_TEST_DB", "sqlite")
PG_URL = os.environ.get("ASSETGATE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BROKER_HOST = os.environ.get("ASSETGATE_TEST_BROKER_HOST", "127.0.0.1")
_clones: ClonePool | None = None  # PostgreSQL only: fresh databases made ahead of the tests
BROKER_PORT = int(os.environ.get("ASSETGATE_TEST_BROKER_PORT", "1883"))


def pytest_report_header() -> str:
    return f"assetgate: database backend {BACKEND}, broker {BROKER_HOST}:{BROKER_PORT}"


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if BACKEND == "postgresql":
        name = f"ag_tpl_{uuid.uuid4().hex[:10]}"
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine = make_engine(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
        upgrade(engine)
        engine.dispose()
        global _clones
        _clones = ClonePool(PG_URL, name)
        yield name
        _clones.close()
        _clones = None
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("template") / "template.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        engine.dispose()
        yield str(path)


@contextmanager
def _fresh_database(template: str, path: Path) -> Iterator[str]:
    if BACKEND == "postgresql":
        assert _clones is not None, "the template database fixture makes the clones"
        name = _clones.take()
        try:
            # A commit need not wait for the disk here: no test crashes PostgreSQL itself.
            url = make_url(PG_URL).set(database=name).update_query_dict({"options": "-c synchronous_commit=off"})
            yield url.render_as_string(hide_password=False)
        finally:
            _clones.give_back(name)
    else:
        shutil.copy(template, path)
        yield f"sqlite:///{path}"


@pytest.fixture
def database_url(_template_db: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database for one test."""
    with _fresh_database(_template_db, tmp_path / "assetgate.db") as url:
        yield url


@pytest.fixture
def other_database_url(_template_db: str, tmp_path: Path) -> Iterator[str]:
    """A second fresh database in the same test: another server's."""
    with _fresh_database(_template_db, tmp_path / "other.db") as url:
        yield url


@pytest.fixture
def settings_overrides(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return {
        "instance_path": tmp_path / "instance",
        "database_url": database_url,
        "secret_key": "test-secret",
        "testing": True,
        "csrf_enabled": False,  # the CSRF tests switch it back on
        "topic_prefix": f"test/{uuid.uuid4().hex[:12]}/assetgate/v1",
        "mqtt_host": BROKER_HOST,
        "mqtt_port": BROKER_PORT,
        "mqtt_client_id": f"consumer-{uuid.uuid4().hex[:12]}",
    }


@pytest.fixture
def app(settings_overrides: dict[str, Any]) -> Iterator[Any]:
    app = create_app(settings_overrides)
    yield app
    app.extensions["assetgate.engine"].dispose()


@pytest.fixture
def sessions(app: Any) -> Any:
    return app.extensions["assetgate.sessions"]


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


class Tokens:
    """Bearer headers per role, made through the same service the CLI uses."""

    def __init__(self, sessions: Any) -> None:
        self._sessions = sessions
        self._cache: dict[str, str] = {}

    def headers(self, role: str) -> dict[str, str]:
        if role not in self._cache:
            from server import auth
            from server.audit import SYSTEM

            with self._sessions() as session, session.begin():
                self._cache[role] = auth.create_token(session, SYSTEM, f"test-{role}", role)
        return {"Authorization": f"Bearer {self._cache[role]}"}


@pytest.fixture
def tokens(sessions: Any) -> Tokens:
    return Tokens(sessions)


def broker_available(host: str = BROKER_HOST, port: int = BROKER_PORT) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def broker() -> tuple[str, int]:
    """The real Mosquitto broker; tests fail (not skip) without it: CI must start it."""
    if not broker_available():
        pytest.fail(f"no MQTT broker on {BROKER_HOST}:{BROKER_PORT}; start mosquitto (see .ci/run)")
    return BROKER_HOST, BROKER_PORT


@pytest.fixture
def engine_sessions(settings_overrides: dict[str, Any]) -> Iterator[Any]:
    """Sessions on the test database without a Flask app (service-level tests), with the audit keys of
    the same instance folder as the ``app`` fixture's (so either may write and check the chain)."""
    from server import audit
    from server.config import load_settings

    settings = load_settings(settings_overrides, environ={})
    engine = make_engine(settings.effective_database_url)
    factory = make_session_factory(engine)
    audit.install(factory, settings)
    yield factory
    engine.dispose()
