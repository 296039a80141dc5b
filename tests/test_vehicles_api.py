"""The vehicle registers through the REST API: register, request, approve, dispatch (and a double booking),
the trip log, a correction, costs, the gate desk, reports; roles and bad input with clear 4xx."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from server.models import AuditEntry, GateAlert, utcnow
from server.services import approvals
from tests.vehicle_support import BUS, CAR, LEADER, VAN, Fleet, fleet, window

BASE = "/api/v1"


@pytest.fixture
def cars(sessions: Any) -> Fleet:
    return fleet(sessions)


def _booking(client: Any, tokens: Any, start: Any, end: Any, passengers: int = 2, urgency: str = "normal") -> Any:
    return client.post(f"{BASE}/bookings", headers=tokens.headers("guard"), json={
        "department": "Finance", "purpose": "budget meeting", "passengers": passengers, "destination": "市财政局",
        "starts_at": start.isoformat(), "ends_at": end.isoformat(), "urgency": urgency})


def test_request_approve_dispatch_and_a_double_booking(client: Any, tokens: Any, cars: Fleet, sessions: Any) -> None:
    start, end = window(1, 2)
    made = _booking(client, tokens, start, end)
    assert made.status_code == 201, made.get_json()
    booking = made.get_json()
    assert (booking["state"], booking["approval"]["levels"], booking["approval"]["next"]) == (
        "pending", ["leader"], "leader")
    office = tokens.headers("storekeeper")
    early = client.post(f"{BASE}/bookings/{booking['id']}/dispatch", headers=office,
                        json={"vehicle": CAR, "driver": cars.drivers[0]})
    assert (early.status_code, early.get_json()["error"]["code"]) == (409, "illegal_transition")
    refused = client.post(f"{BASE}/bookings/{booking['id']}/decision", headers=tokens.headers("auditor"),
                          json={"decision": "approve"})
    assert refused.status_code == 403  # an auditor who is not the leader in charge
    with sessions() as session, session.begin():
        approvals.decide(session, LEADER, booking["approval"]["id"], "approve")
    queue = client.get(f"{BASE}/bookings/queue", headers=office).get_json()["items"]
    assert [b["id"] for b in queue] == [booking["id"]]
    free = client.get(f"{BASE}/vehicles/free?from={start.isoformat()}&to={end.isoformat()}&passengers=2".replace(
        "+", "%2B"), headers=office).get_json()["items"]
    assert [(v["plate"], v["spare_seats"]) for v in free] == [(CAR, 2), (VAN, 4), (BUS, 17)]
    assert sorted(free[0]["free_drivers"]) == sorted(cars.drivers)
    done = client.post(f"{BASE}/bookings/{booking['id']}/dispatch", headers=office,
                       json={"vehicle": "京a 12345", "driver": cars.drivers[0]})
    assert done.status_code == 201 and done.get_json()["vehicle"] == CAR
    assert client.get(f"{BASE}/bookings/{booking['id']}", headers=office).get_json()["state"] == "dispatched"
    second = _booking(client, tokens, start + timedelta(minutes=30), end).get_json()
    with sessions() as session, session.begin():
        approvals.decide(session, LEADER, second["approval"]["id"], "approve")
    clash = client.post(f"{BASE}/bookings/{second['id']}/dispatch", headers=office,
                        json={"vehicle": CAR, "driver": cars.drivers[1]})
    body = clash.get_json()["error"]
    assert clash.status_code == 409 and body["code"] == "vehicle_busy" and CAR in body["message"]
    cancelled = client.post(f"{BASE}/bookings/{booking['id']}/cancel", headers=tokens.headers("guard"),
                            json={"reason": "meeting moved"})
    assert cancelled.status_code == 200 and cancelled.get_json()["state"] == "cancelled"
    again = client.post(f"{BASE}/bookings/{second['id']}/dispatch", headers=office,
                        json={"vehicle": CAR, "driver": cars.drivers[1]})
    assert again.status_code == 201  # the cancellation freed the slot
    listed = client.get(f"{BASE}/bookings?state=dispatched", headers=office).get_json()["items"]
    assert [b["id"] for b in listed] == [second["id"]]


def test_trip_log_correction_costs_and_reports(client: Any, tokens: Any, cars: Fleet) -> None:
    office = tokens.headers("storekeeper")
    t0 = utcnow() - timedelta(days=3)
    made = client.post(f"{BASE}/trips", headers=office, json={
        "vehicle": VAN, "out_at": t0.isoformat(), "in_at": (t0 + timedelta(hours=4)).isoformat(),
        "odometer_out": 10_100, "odometer_in": 10_300, "driver": cars.drivers[1], "department": "Finance",
        "purpose": "audit visit"})
    assert made.status_code == 201, made.get_json()
    trip = made.get_json()
    assert (trip["distance_km"], trip["entered_late"], trip["dispatch"]) == (200, True, None)
    fixed = client.post(f"{BASE}/trips/{trip['id']}/corrections", headers=office,
                        json={"side": "in", "odometer": 10_250, "reason": "misread"})
    assert fixed.status_code == 201 and fixed.get_json()["corrections"][0] == {
        **fixed.get_json()["corrections"][0], "side": "in", "before": 10_300, "after": 10_250}
    down = client.post(f"{BASE}/trips/{trip['id']}/corrections", headers=office,
                       json={"side": "in", "odometer": 10_000, "reason": "x"})
    assert (down.status_code, down.get_json()["error"]["code"]) == (422, "bad_odometer")
    for kind, amount in (("fuel", "200.00"), ("tolls", "50"), ("parking", "12.5")):
        cost = client.post(f"{BASE}/vehicle-costs", headers=office, json={
            "vehicle": VAN, "kind": kind, "amount": amount, "spent_on": t0.date().isoformat(), "trip": trip["id"]})
        assert cost.status_code == 201, cost.get_json()
    reader = tokens.headers("auditor")
    assert len(client.get(f"{BASE}/trips/{trip['id']}", headers=reader).get_json()["costs"]) == 3
    per_km = client.get(f"{BASE}/reports/vehicle-cost-per-km", headers=reader).get_json()
    van = next(r for r in per_km["rows"] if r["plate"] == VAN)
    assert (van["distance_km"], van["total_cost"], van["cost_per_km"]) == (150, "262.50", "1.75")
    use = client.get(f"{BASE}/reports/vehicle-use-by-department", headers=reader).get_json()["rows"]
    assert [(r["department"], r["trips"], r["distance_km"], r["trip_costs"]) for r in use] == [
        ("Finance", 1, 150, "262.50")]
    missing = client.get(f"{BASE}/reports/trips-without-dispatch", headers=reader).get_json()["rows"]
    assert [(r["trip"], r["plate"], r["entered_late"]) for r in missing] == [(trip["id"], VAN, True)]
    usage = client.get(f"{BASE}/reports/vehicle-utilisation", headers=reader).get_json()["rows"]
    assert next(r for r in usage if r["plate"] == VAN)["hours_out"] == "4.0"
    csv = client.get(f"{BASE}/reports/vehicle-cost-per-km?format=csv", headers=reader)
    assert csv.status_code == 200 and VAN in csv.get_data(as_text=True)
    log = client.get(f"{BASE}/vehicles/{VAN}/trips", headers=reader).get_json()
    assert [t["id"] for t in log["items"]] == [trip["id"]]


def test_the_gate_desk_refuses_an_exit_without_a_dispatch_and_logs_others(client: Any, tokens: Any, cars: Fleet,
                                                                          sessions: Any) -> None:
    guard = tokens.headers("guard")
    refused = client.post(f"{BASE}/vehicles/gate", headers=guard,
                          json={"direction": "out", "plate": CAR, "tag": cars.tags[CAR], "odometer": 10_010})
    assert (refused.status_code, refused.get_json()["error"]["code"]) == (409, "no_dispatch")
    with sessions() as session:
        assert [a.kind for a in session.scalars(select(GateAlert))] == ["no_dispatch"]  # kept after the rollback
    visitor = client.post(f"{BASE}/vehicles/gate", headers=guard, json={"direction": "in", "plate": "沪C-88888"})
    assert visitor.status_code == 201 and visitor.get_json()["kind"] == "unknown"
    log = client.get(f"{BASE}/vehicle-passages", headers=guard).get_json()["items"]
    assert [(p["kind"], p["plate"]) for p in log] == [("unknown", "沪C88888")]
    assert client.get(f"{BASE}/vehicle-passages", headers=tokens.headers("storekeeper")).status_code == 403


def test_roles_and_bad_input_are_refused_with_clear_reasons(client: Any, tokens: Any, cars: Fleet,
                                                            sessions: Any) -> None:
    guard, office = tokens.headers("guard"), tokens.headers("storekeeper")
    tokens.headers("auditor")  # made now: a token's making is audited
    with sessions() as session:
        before = session.scalar(select(func.count()).select_from(AuditEntry))
    start, end = window()
    cases = [
        (client.post(f"{BASE}/vehicles", headers=guard, json={"asset": cars.laptop, "plate": "京B1", "seats": 5,
                                                             "fuel": "petrol", "odometer": 0}), 403, "forbidden"),
        (client.post(f"{BASE}/vehicles", headers=office, json={"asset": cars.laptop, "plate": "京B1", "seats": 5,
                                                              "fuel": "petrol", "odometer": 0}),
         422, "not_a_vehicle_category"),
        (client.post(f"{BASE}/vehicles", headers=office, json={"asset": cars.laptop, "plate": "京B1", "seats": 5,
                                                              "fuel": "coal", "odometer": 0}), 422, "bad_schema"),
        (client.post(f"{BASE}/vehicles", headers=office, json={"asset": cars.tags[CAR], "plate": "京B#1",
                                                              "seats": 5, "fuel": "petrol", "odometer": 0}),
         422, "bad_plate"),
        (_booking(client, tokens, end, start), 422, "bad_window"),
        (_booking(client, tokens, start, end, passengers=80), 422, "bad_schema"),
        (_booking(client, tokens, start, end, urgency="asap"), 422, "bad_schema"),
        (client.post(f"{BASE}/bookings", headers=tokens.headers("auditor"), json={}), 403, "forbidden"),
        (client.get(f"{BASE}/vehicles/free?from=tomorrow&to=later", headers=office), 422, "bad_parameter"),
        (client.get(f"{BASE}/vehicles/free?from=2026-12-01T08:00:00&to=2026-12-01T09:00:00", headers=office),
         422, "bad_parameter"),
        (client.get(f"{BASE}/vehicles/京Z00000", headers=office), 404, "unknown_code"),
        (client.get(f"{BASE}/bookings?state=lost", headers=office), 422, "bad_filter"),
        (client.get(f"{BASE}/trips?no_dispatch=maybe", headers=office), 422, "bad_parameter"),
        (client.post(f"{BASE}/vehicle-costs", headers=office, json={"vehicle": CAR, "kind": "fuel", "amount": "-1",
                                                                   "spent_on": "2026-11-01"}), 422, "invalid"),
        (client.post(f"{BASE}/trips/999/corrections", headers=office,
                     json={"side": "in", "odometer": 1, "reason": "x"}), 404, "unknown_code"),
        (client.post(f"{BASE}/vehicles/gate", headers=guard, json={"direction": "out", "plate": CAR,
                                                                  "tag": "A-12"}), 422, "bad_code"),
    ]
    for response, status, code in cases:
        assert (response.status_code, response.get_json()["error"]["code"]) == (status, code), response.get_json()
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == before  # nothing changed
