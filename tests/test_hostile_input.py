"""Issue 15, "500s": the six root causes that hostile requests turned into 500s, each a clear 4xx now.

Each case here once answered 500 (integers beyond 64 bits in ids, ``offset`` and ``year``; ``year=²``,
which passes ``isdigit()``; a due date of 9999-12-31; JSON nested 5,000 deep; a lone surrogate in a
string; a CSV field over 128 KiB). tests/test_hostile_routes.py sends the same kinds of input to every
route of the app, so new routes are covered too.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select

from server.errors import Invalid
from server.models import Asset, AssetEvent, AuditEntry, Person, PlanLine
from server.services import assets, plans
from tests.procurement_support import ACTOR, buy, office, plan_line

BIG = "9" * 30  # beyond 64 bits
HEADER = "ref,budget_year,department,category,approved_qty,unit_price_cap,approved_amount,method,approval_ref\n"


@pytest.fixture
def ledger(sessions: Any) -> dict[str, Any]:
    with sessions() as session, session.begin():
        place = office(session)
        plan_line(session)
        buy(session)
        asset = assets.create_asset(session, ACTOR, "Dell Latitude", "Laptop", place.store)
    return {"asset": asset.code, "person": place.person, "store": place.store}


def _audit_rows(sessions: Any) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


@pytest.mark.parametrize("url,status,code", [
    (f"/api/v1/purchases/{BIG}", 404, "unknown_purchase"),
    (f"/api/v1/intakes/{BIG}", 404, "unknown_intake"),
    ("/api/v1/purchases/１２", 404, "unknown_purchase"),  # full-width digits: int() would take them
    (f"/api/v1/assets?offset={BIG}", 422, "bad_query"),
    (f"/api/v1/assets?limit={BIG}", 422, "bad_query"),
    ("/api/v1/assets?offset=-1", 422, "bad_query"),
    ("/api/v1/assets?limit=ten", 422, "bad_query"),
    (f"/api/v1/locations?offset={BIG}", 422, "bad_parameter"),
    (f"/api/v1/plans?year={BIG}", 422, "bad_parameter"),
    ("/api/v1/plans?year=²", 422, "bad_parameter"),
    ("/api/v1/plans?year=١٢", 422, "bad_parameter"),  # Arabic-Indic digits pass isdigit() and int()
    (f"/api/v1/reports/spend?year={BIG}", 422, "bad_filter"),
    ("/api/v1/reports/spend?year=²", 422, "bad_filter"),
    ("/api/v1/reports/plan-execution?year=99999", 422, "bad_filter"),
])
def test_numbers_in_paths_and_queries(client: Any, tokens: Any, ledger: dict[str, Any], url: str, status: int,
                                      code: str) -> None:
    r = client.get(url, headers=tokens.headers("admin"))
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.get_json()["error"]["code"] == code and r.get_json()["error"]["message"]


def test_good_numbers_still_work(client: Any, tokens: Any, ledger: dict[str, Any]) -> None:
    h = tokens.headers("admin")
    assert client.get("/api/v1/plans?year=2026", headers=h).get_json()["items"][0]["ref"] == "2026-IT-01"
    assert client.get("/api/v1/plans?year=2025", headers=h).get_json()["items"] == []
    assert client.get("/api/v1/assets?limit=1&offset=0", headers=h).get_json()["total"] == 1
    assert client.get("/api/v1/assets?limit=1000", headers=h).get_json()["limit"] == 1000
    assert client.get("/api/v1/assets?limit=1001", headers=h).status_code == 422  # was clamped: now said
    assert client.get("/api/v1/reports/spend?year=2026", headers=h).status_code == 200


def test_a_due_date_at_the_end_of_the_calendar(client: Any, tokens: Any, ledger: dict[str, Any],
                                               sessions: Any) -> None:
    h = tokens.headers("storekeeper")
    before = _audit_rows(sessions)
    for due in ("9999-12-31", "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"):
        r = client.post(f"/api/v1/assets/{ledger['asset']}/checkout", json={"to": ledger["person"], "due": due},
                        headers=h)
        assert r.status_code == 422, (due, r.get_data(as_text=True))
        assert r.get_json()["error"]["code"] == "bad_schema" and "due" in r.get_json()["error"]["message"]
    assert _audit_rows(sessions) == before


def test_the_service_refuses_a_due_date_it_cannot_represent(sessions: Any, ledger: dict[str, Any]) -> None:
    """The kiosk path reaches the service without the REST body model: the rule is in the service too."""
    with sessions() as session, pytest.raises(Invalid) as refused:
        assets.checkout(session, ACTOR, ledger["asset"], ledger["person"], date(9999, 12, 31))
    assert refused.value.code == "bad_due"


def test_json_nested_5000_deep(client: Any, tokens: Any, ledger: dict[str, Any]) -> None:
    deep = '{"name": ' + "[" * 5000 + "]" * 5000 + ', "category": "Laptop"}'
    r = client.post("/api/v1/assets", data=deep, content_type="application/json", headers=tokens.headers("admin"))
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "bad_json"


@pytest.mark.parametrize("raw,field", [
    ('{"name": "Li", "department": "\\ud800"}', "department"),  # unconstrained str: reached PostgreSQL
    ('{"name": "Li", "department": "IT\\udfffx"}', "department"),
    ('{"name": "\\ud83d", "department": "IT"}', "name"),
])
def test_a_lone_surrogate(client: Any, tokens: Any, sessions: Any, raw: str, field: str) -> None:
    r = client.post("/api/v1/people", data=raw, content_type="application/json", headers=tokens.headers("admin"))
    assert r.status_code in (400, 422), r.get_data(as_text=True)
    assert r.get_json()["error"]["code"] in ("bad_json", "bad_schema")
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 0


@pytest.mark.parametrize("body", [
    {"name": "Li\x00", "department": "IT"},
    {"name": "Li", "department": "\x00"},
])
def test_a_nul_in_a_body_string(client: Any, tokens: Any, sessions: Any, body: dict[str, str]) -> None:
    r = client.post("/api/v1/people", json=body, headers=tokens.headers("admin"))
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "bad_schema"
    assert "NUL" in r.get_json()["error"]["message"]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 0


def test_a_nul_in_a_list_of_strings(client: Any, tokens: Any, ledger: dict[str, Any]) -> None:
    r = client.post("/api/v1/labels", json={"codes": [ledger["asset"], "A-\x00"]}, headers=tokens.headers("admin"))
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "bad_schema"


def test_integers_beyond_64_bits_in_bodies(client: Any, tokens: Any, ledger: dict[str, Any]) -> None:
    h = tokens.headers("admin")
    for value in (2**70, 2**63, -(2**70)):
        body = {"purchase_line": value, "request_key": "k1", "location": ledger["store"]}
        r = client.post("/api/v1/intakes", json=body, headers=h)
        assert r.status_code == 422 and r.get_json()["error"]["code"] == "bad_schema", value


def test_a_csv_field_over_128_kib(client: Any, tokens: Any, ledger: dict[str, Any], sessions: Any) -> None:
    csv = HEADER + "x" * (140 * 1024) + ",2026,IT,Laptop,1,1,1,other,A\n"
    r = client.post("/api/v1/plans/import", data=csv.encode(),
                    headers={**tokens.headers("admin"), "Accept-Language": "en"})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "bad_file"
    assert "row 1" in r.get_json()["error"]["message"]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(PlanLine)) == 1


def test_read_table_names_the_bad_row() -> None:
    with pytest.raises(Invalid) as refused:
        plans.read_table((HEADER + "a,2026,IT,Laptop,1,1,1,other,A\n" + "y" * 200_000 + "\n").encode())
    assert refused.value.code == "bad_file" and "row 2" in refused.value.message


@pytest.mark.parametrize("cell", ["IT\x00", "\x00"])
def test_a_nul_in_a_plan_file(client: Any, tokens: Any, ledger: dict[str, Any], cell: str) -> None:
    csv = HEADER + f"2026-IT-09,2026,{cell},Laptop,1,1,1,other,A\n"
    r = client.post("/api/v1/plans/import", data=csv.encode(), headers=tokens.headers("admin"))
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "bad_rows"
    assert "NUL" in r.get_json()["errors"][0]["message"]


def test_refused_requests_change_nothing(client: Any, tokens: Any, ledger: dict[str, Any], sessions: Any) -> None:
    h = tokens.headers("admin")
    with sessions() as session:
        before = [session.scalar(select(func.count()).select_from(t)) for t in (Asset, AssetEvent, AuditEntry)]
    client.post(f"/api/v1/assets/{ledger['asset']}/checkout", json={"to": ledger["person"], "due": "9999-12-31"},
                headers=h)
    client.post("/api/v1/assets", json={"name": "a\x00", "category": "Laptop"}, headers=h)
    with sessions() as session:
        after = [session.scalar(select(func.count()).select_from(t)) for t in (Asset, AssetEvent, AuditEntry)]
    assert after == before


def test_a_nul_in_a_web_form_field(client: Any, sessions: Any) -> None:
    """Web forms: a NUL in any posted field is a 400 before a view runs (a sign-in name with one reached
    the sign-in failure table: a 500 on PostgreSQL)."""
    from server.models import SignInFailure

    for data in ({"username": "boss\x00", "password": "x"}, {"username": "boss", "password": "x\x00"},
                 {"username": "boss", "password": "x", "extra\x00": "1"}):
        r = client.post("/login", data=data)
        assert r.status_code == 400, data
        assert "NUL" in r.get_data(as_text=True)  # the page says why
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(SignInFailure)) == 0


@pytest.mark.parametrize("url", ["/api/v1/plans/2026-IT-01%00", "/api/v1/assets?category=Laptop%00",
                                 "/api/v1/reports/assets?by=%00"])
def test_a_nul_in_a_path_or_query(client: Any, tokens: Any, ledger: dict[str, Any], url: str) -> None:
    r = client.get(url, headers=tokens.headers("admin"))
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "bad_request"


def test_an_int_route_argument_beyond_64_bits_matches_no_route(app: Any) -> None:
    """``<int:...>`` routes (the purchase requests', the jobs') got any number of digits through to
    ``session.get``, which overflowed: the app's int converter stops at 2**63 - 1."""
    from werkzeug.exceptions import NotFound
    from werkzeug.routing import Map, Rule

    urls = Map([Rule("/things/<int:thing_id>", endpoint="thing")], converters=app.url_map.converters).bind("x")
    assert urls.match(f"/things/{2**63 - 1}") == ("thing", {"thing_id": 2**63 - 1})
    for too_long in (str(2**63), BIG):
        with pytest.raises(NotFound):
            urls.match(f"/things/{too_long}")
