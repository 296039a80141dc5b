"""REST: locations, people, assets, life-cycle actions and their errors."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from server.models import Asset, AssetEvent, AuditEntry


@pytest.fixture
def office(client: Any, tokens: Any) -> dict[str, Any]:
    h = tokens.headers("storekeeper")
    assert client.post("/api/v1/categories", json={"name": "Laptop"}, headers=h).status_code == 201
    store = client.post("/api/v1/locations", json={"name": "Main storeroom", "kind": "storeroom"}, headers=h)
    room = client.post("/api/v1/locations", json={"name": "Room 101"}, headers=h)
    person = client.post("/api/v1/people", json={"name": "Li Wei", "department": "IT"}, headers=h)
    return {"h": h, "store": store.get_json()["code"], "room": room.get_json()["code"],
            "person": person.get_json()["code"]}


def _asset(client: Any, office: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body = {"name": "Dell Latitude", "category": "Laptop", "location": office["store"], **extra}
    r = client.post("/api/v1/assets", json=body, headers=office["h"])
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_create_and_read(client: Any, office: dict[str, Any]) -> None:
    asset = _asset(client, office, serial="SN-1", price="6299.00")
    assert asset["code"].startswith("A-") and asset["status"] == "in_storage"
    got = client.get(f"/api/v1/assets/{asset['code'].lower()}", headers=office["h"]).get_json()
    assert got["serial"] == "SN-1" and got["price"] == "6299.00" and got["location"]["code"] == office["store"]
    listed = client.get(f"/api/v1/assets?location={office['store']}", headers=office["h"]).get_json()
    assert listed["total"] == 1


def test_life_cycle_and_history(client: Any, office: dict[str, Any], sessions: Any) -> None:
    code = _asset(client, office)["code"]
    h = office["h"]
    assert client.post(f"/api/v1/assets/{code}/move", json={"to": office["room"], "reason": "desk"},
                       headers=h).get_json()["status"] == "in_use"
    out = client.post(f"/api/v1/assets/{code}/checkout", json={"to": office["person"], "due": "2026-12-31"},
                      headers=h).get_json()
    assert out["custodian"]["code"] == office["person"]
    back = client.post(f"/api/v1/assets/{code}/checkin", json={"location": office["store"]}, headers=h).get_json()
    assert back["status"] == "in_storage" and back["custodian"] is None
    history = client.get(f"/api/v1/assets/{code}/history", headers=h).get_json()["items"]
    assert [e["type"] for e in history] == ["asset.create", "asset.move", "asset.checkout", "asset.checkin"]
    assert history[1]["reason"] == "desk" and history[1]["source"] == "api"
    with sessions() as session:
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.entity == "asset")).all()
    assert actions == ["asset.create", "asset.move", "asset.checkout", "asset.checkin"]


def test_illegal_transition_changes_nothing(client: Any, office: dict[str, Any], sessions: Any) -> None:
    code = _asset(client, office)["code"]
    r = client.post(f"/api/v1/assets/{code}/checkin", json={}, headers=office["h"])
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "illegal_transition"
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AssetEvent)) == 1


@pytest.mark.parametrize("path,body,status,code", [
    ("/api/v1/assets/A-000010A", None, 422, "bad_check"),
    ("/api/v1/assets/A-000010*", None, 404, "unknown_code"),
    ("/api/v1/assets/L-000010*", None, 422, "wrong_kind"),
    ("/api/v1/assets/garbage", None, 422, "bad_code"),
    ("/api/v1/assets", {"name": "x"}, 422, "bad_schema"),
    ("/api/v1/assets", {"name": "x", "category": "Laptop", "price": "-1"}, 422, "bad_schema"),
    ("/api/v1/assets", {"name": "x", "category": "Nope"}, 404, "unknown_category"),
    ("/api/v1/assets", {"name": "x", "category": "Laptop", "surprise": 1}, 422, "bad_schema"),
    ("/api/v1/locations", {"name": "x", "kind": "volcano"}, 422, "bad_kind"),
    ("/api/v1/nothing-here", None, 404, "not_found"),
])
def test_bad_input_gets_clear_errors(client: Any, office: dict[str, Any], sessions: Any, path: str,
                                     body: Any, status: int, code: str) -> None:
    with sessions() as session:
        before = session.scalar(select(func.count()).select_from(AuditEntry))
    r = client.post(path, json=body, headers=office["h"]) if body is not None else client.get(path, headers=office["h"])
    assert r.status_code == status, r.get_json()
    assert r.get_json()["error"]["code"] == code and r.get_json()["error"]["message"]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == before


def test_not_json_and_oversized(client: Any, office: dict[str, Any]) -> None:
    r = client.post("/api/v1/assets", data="{not json", headers={**office["h"], "Content-Type": "application/json"})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "bad_json"
    big = {"name": "x" * (3 * 1024 * 1024), "category": "Laptop"}
    r = client.post("/api/v1/assets", json=big, headers=office["h"])
    assert r.status_code == 413 and r.get_json()["error"]["code"] == "request_entity_too_large"


def test_duplicate_serial_refused(client: Any, office: dict[str, Any], sessions: Any) -> None:
    _asset(client, office, serial="SN-9")
    r = client.post("/api/v1/assets", json={"name": "y", "category": "Laptop", "serial": "SN-9"}, headers=office["h"])
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "already_exists"
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Asset)) == 1


def test_openapi_lists_every_api_route(client: Any, app: Any) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    api_rules = {r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1")}
    assert len(spec["paths"]) == len(api_rules)
    assert spec["paths"]["/api/v1/assets"]["post"]["requestBody"]
    assert spec["paths"]["/api/v1/assets/{code}/history"]["get"]["x-roles"]
