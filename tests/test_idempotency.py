"""Issue 10: ``Idempotency-Key`` on every POST of the REST API (server/api/idempotency.py).

On SQLite and PostgreSQL alike (ASSETGATE_TEST_DB), with real threads for the requests at the same time.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from server.models import Asset, AuditEntry, Category, IdempotencyKey, utcnow

ASSET = {"name": "Dell Latitude", "category": "Laptop"}


@pytest.fixture
def keeper(client: Any, tokens: Any) -> dict[str, str]:
    h = tokens.headers("storekeeper")
    assert client.post("/api/v1/categories", json={"name": "Laptop"}, headers=h).status_code == 201
    return h


def _count(sessions: Any, table: Any) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def _post(client: Any, headers: dict[str, str], key: str, body: Any = ASSET, path: str = "/api/v1/assets") -> Any:
    return client.post(path, json=body, headers={**headers, "Idempotency-Key": key})


def test_a_retry_gets_the_first_answer_and_changes_nothing(client: Any, keeper: dict[str, str],
                                                           sessions: Any) -> None:
    first = _post(client, keeper, "k-1")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    audit_rows = _count(sessions, AuditEntry)
    again = _post(client, keeper, "k-1")
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert _count(sessions, Asset) == 1 and _count(sessions, AuditEntry) == audit_rows
    other = _post(client, keeper, "k-2")  # a new key is a new request
    assert other.status_code == 201 and other.get_json()["code"] != first.get_json()["code"]
    assert _count(sessions, Asset) == 2


def test_without_the_header_nothing_changes(client: Any, keeper: dict[str, str], sessions: Any) -> None:
    for _ in range(2):
        assert client.post("/api/v1/assets", json=ASSET, headers=keeper).status_code == 201
    assert _count(sessions, Asset) == 2 and _count(sessions, IdempotencyKey) == 0


def test_the_same_key_for_another_request_is_refused(client: Any, keeper: dict[str, str], sessions: Any) -> None:
    assert _post(client, keeper, "k-1").status_code == 201
    for body, path in (({**ASSET, "name": "HP EliteBook"}, "/api/v1/assets"),
                       ({"name": "Printer"}, "/api/v1/categories")):
        r = _post(client, keeper, "k-1", body, path)
        assert r.status_code == 422 and r.get_json()["error"]["code"] == "idempotency_key_reused"
    r = client.post("/api/v1/assets?x=1", json=ASSET, headers={**keeper, "Idempotency-Key": "k-1"})
    assert r.status_code == 422  # the query string is part of the request
    assert _count(sessions, Asset) == 1 and _count(sessions, Category) == 1


def test_keys_are_per_caller(client: Any, keeper: dict[str, str], tokens: Any, sessions: Any) -> None:
    assert _post(client, keeper, "shared").status_code == 201
    other = _post(client, tokens.headers("admin"), "shared")
    assert other.status_code == 201 and "Idempotent-Replayed" not in other.headers
    assert _count(sessions, Asset) == 2


def test_a_refused_request_may_be_retried_with_its_key(client: Any, keeper: dict[str, str], sessions: Any) -> None:
    refused = _post(client, keeper, "k-1", {"name": "x", "category": "Tractor"})
    assert refused.status_code == 404
    assert _count(sessions, IdempotencyKey) == 0  # released: only 2xx answers are kept
    assert client.post("/api/v1/categories", json={"name": "Tractor"}, headers=keeper).status_code == 201
    retried = _post(client, keeper, "k-1", {"name": "x", "category": "Tractor"})
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers


@pytest.mark.parametrize("key", ["", "x" * 256, "with space", "naïve"])
def test_a_malformed_key_is_refused(client: Any, keeper: dict[str, str], sessions: Any, key: str) -> None:
    r = client.post("/api/v1/assets", json=ASSET, headers={**keeper, "Idempotency-Key": key.encode().decode("latin-1")})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "bad_idempotency_key"
    assert _count(sessions, Asset) == 0


def test_an_expired_key_is_forgotten(client: Any, keeper: dict[str, str], sessions: Any, app: Any) -> None:
    assert _post(client, keeper, "k-1").status_code == 201
    retention = app.extensions["assetgate.settings"].idempotency_retention_hours
    with sessions() as session, session.begin():
        session.execute(update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=retention, minutes=1)))
    again = _post(client, keeper, "k-1")
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert _count(sessions, Asset) == 2 and _count(sessions, IdempotencyKey) == 1


def test_expired_keys_of_others_are_deleted(client: Any, keeper: dict[str, str], sessions: Any) -> None:
    assert _post(client, keeper, "old").status_code == 201
    with sessions() as session, session.begin():
        session.execute(update(IdempotencyKey).values(created_at=utcnow() - timedelta(days=30)))
    assert _post(client, keeper, "new").status_code == 201
    with sessions() as session:
        assert session.scalars(select(IdempotencyKey.key)).all() == ["new"]


def test_a_claim_left_by_a_dead_request_is_taken_over(client: Any, keeper: dict[str, str], sessions: Any) -> None:
    """A request whose process died keeps its claim without an answer; after STALE_CLAIM it is taken over."""
    from server.api.idempotency import STALE_CLAIM

    with sessions() as session, session.begin():
        session.add(IdempotencyKey(actor="token:test-storekeeper", key="k-1", request="POST /api/v1/assets",
                                   request_hash="0" * 64, created_at=utcnow() - STALE_CLAIM - timedelta(seconds=1)))
    r = _post(client, keeper, "k-1")
    assert r.status_code == 201 and _count(sessions, Asset) == 1


def test_answers_that_are_not_json_are_not_kept(client: Any, keeper: dict[str, str], sessions: Any) -> None:
    code = _post(client, keeper, "k-1").get_json()["code"]
    for _ in range(2):
        r = client.post("/api/v1/labels", json={"codes": [code]}, headers={**keeper, "Idempotency-Key": "pdf"})
        assert r.status_code == 200 and r.mimetype == "application/pdf" and "Idempotent-Replayed" not in r.headers
    assert _count(sessions, IdempotencyKey) == 1


def _held_view(app: Any, endpoint: str) -> tuple[threading.Event, threading.Event]:
    """Hold one view in flight: it signals ``entered`` and waits for ``release`` (a latch, not a mock)."""
    entered, release = threading.Event(), threading.Event()
    original = app.view_functions[endpoint]

    def held(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        assert release.wait(30)
        return original(*args, **kwargs)

    held.__dict__.update(original.__dict__)  # keeps its roles and body model
    app.view_functions[endpoint] = held
    return entered, release


def test_a_duplicate_while_the_first_is_in_flight_gets_409(app: Any, keeper: dict[str, str],
                                                           sessions: Any) -> None:
    entered, release = _held_view(app, "api.create_asset")
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(_post, app.test_client(), keeper, "k-1")
        assert entered.wait(30)
        duplicate = _post(app.test_client(), keeper, "k-1")
        assert duplicate.status_code == 409 and duplicate.get_json()["error"]["code"] == "idempotency_in_flight"
        assert duplicate.headers["Retry-After"] == "1"
        assert _count(sessions, Asset) == 0
        release.set()
        assert first.result(30).status_code == 201
    replay = _post(app.test_client(), keeper, "k-1")
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert _count(sessions, Asset) == 1


def test_many_at_once_make_one_asset(app: Any, keeper: dict[str, str], sessions: Any) -> None:
    """Eight threads send the same request with the same key at the same moment: one runs the view,
    the others are replayed or told it is in flight; none makes a second asset."""
    start = threading.Barrier(8)

    def send(_: int) -> Any:
        client = app.test_client()
        start.wait(30)
        return _post(client, keeper, "race")

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {201, 409}, statuses
    fresh = [a for a in answers if a.status_code == 201 and "Idempotent-Replayed" not in a.headers]
    assert len(fresh) == 1
    assert _count(sessions, Asset) == 1
    codes = {a.get_json()["code"] for a in answers if a.status_code == 201}
    assert codes == {fresh[0].get_json()["code"]}


def test_every_post_route_takes_the_key(app: Any, client: Any, tokens: Any) -> None:
    """The hooks are on the blueprint, so every POST route under /api/v1, today's and tomorrow's, reads the
    key (a malformed one is refused before the view runs) and the OpenAPI document says so."""
    admin = {**tokens.headers("admin"), "Idempotency-Key": "not a key"}
    posts = [r for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1") and "POST" in (r.methods or ())]
    assert len(posts) >= 15
    for rule in posts:
        url = re.sub(r"<(?:\w+:)?\w+>", "A-000010*", re.sub(r"<int:\w+>", "1", rule.rule))
        r = client.post(url, json={}, headers=admin)
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "bad_idempotency_key", rule.rule
    spec = client.get("/api/v1/openapi.json").get_json()
    documented = [path for path, ops in spec["paths"].items() if "post" in ops
                  and "Idempotency-Key" in [p["name"] for p in ops["post"]["parameters"]]]
    assert len(documented) == len(posts)
