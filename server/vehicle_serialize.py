"""The official vehicles' rows as JSON for the API (vehicles, bookings, dispatches, trips, costs, passages)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from server.models import Dispatch, OdometerCorrection, Trip, Vehicle, VehicleBooking, VehicleCost, VehiclePassage
from server.services import approvals, bookings, trips, vehicle_gate


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def vehicle(row: Vehicle, with_drivers: bool = True) -> dict[str, Any]:
    out = {"plate": row.plate, "asset": row.asset.code, "name": row.asset.name, "status": row.asset.status,
           "seats": row.seats, "fuel": row.fuel, "odometer": row.odometer, "active": row.active,
           "registered_at": row.registered_at.isoformat()}
    if with_drivers:
        out["drivers"] = [{"code": d.person.code, "name": d.person.name} for d in row.drivers]
    return out


def dispatch(row: Dispatch) -> dict[str, Any]:
    return {"id": row.id, "booking": row.booking_id, "vehicle": row.vehicle.plate,
            "driver": {"code": row.driver.code, "name": row.driver.name}, "starts_at": row.starts_at.isoformat(),
            "ends_at": row.ends_at.isoformat(), "dispatched_by": row.dispatched_by,
            "dispatched_at": row.dispatched_at.isoformat(), "cancelled_at": _iso(row.cancelled_at),
            "cancel_reason": row.cancel_reason or None}


def booking(session: Session, row: VehicleBooking) -> dict[str, Any]:
    chain = row.approval
    standing = bookings.standing_dispatch(session, row.id)
    return {"id": row.id, "state": bookings.state_of(session, row), "department": row.department,
            "requester": row.requester, "purpose": row.purpose, "passengers": row.passengers,
            "destination": row.destination, "starts_at": row.starts_at.isoformat(), "ends_at": row.ends_at.isoformat(),
            "urgency": row.urgency, "created_at": row.created_at.isoformat(),
            "approval": {"id": chain.id, "state": chain.state, "levels": chain.level_list,
                         "next": chain.current_level,
                         "decisions": [{"level": d.level, "by": d.decided_by, "decision": d.decision,
                                        "reason": d.reason, "at": d.at.isoformat()} for d in chain.decisions]},
            "dispatch": dispatch(standing) if standing else None, "cancelled_at": _iso(row.cancelled_at),
            "cancel_reason": row.cancel_reason or None}


def correction(row: OdometerCorrection) -> dict[str, Any]:
    return {"side": row.side, "before": row.before, "after": row.after, "reason": row.reason,
            "by": row.corrected_by, "at": row.corrected_at.isoformat()}


def trip(row: Trip, session: Session | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id, "vehicle": row.vehicle.plate, "dispatch": row.dispatch_id,
        "driver": {"code": row.driver.code, "name": row.driver.name} if row.driver else None,
        "department": row.department, "purpose": row.purpose, "out_at": _iso(row.out_at), "in_at": _iso(row.in_at),
        "odometer_out": row.odometer_out, "odometer_in": row.odometer_in, "distance_km": trips.distance(row),
        "source": row.source, "entered_late": row.late, "conflict": row.conflict, "recorded_by": row.recorded_by}
    if session is not None:
        out["corrections"] = [correction(c) for c in trips.corrections(session, row.id)]
        out["costs"] = [cost(c) for c in session.scalars(trips.costs(session, trip_id=row.id))]
    return out


def cost(row: VehicleCost) -> dict[str, Any]:
    return {"id": row.id, "vehicle_id": row.vehicle_id, "trip": row.trip_id, "kind": row.kind,
            "amount": str(row.amount), "spent_on": row.spent_on.isoformat(), "note": row.note,
            "recorded_by": row.recorded_by}


def passage(session: Session, row: VehiclePassage) -> dict[str, Any]:
    return {"id": row.id, "direction": row.direction, "kind": row.kind, "at": row.at.isoformat(),
            "plate": vehicle_gate.shown_plate(session, row) or None, "pass": row.pass_code,
            "odometer": row.odometer, "trip": row.trip_id, "dispatch": row.dispatch_id, "source": row.source,
            "actor": row.actor, "conflict": row.conflict, "note": row.note or None,
            "purged": row.purged_at is not None}


def may_decide(session: Session, username: str, row: VehicleBooking) -> bool:
    return approvals.may_decide(session, username, row.approval)
