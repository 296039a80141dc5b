"""REST: booking requests (用车申请), their approval (the shared chain, kind "vehicle_booking"), dispatch
(派车), cancellation, and vehicles still out after their dispatch ended."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import current_app, g, jsonify, request
from pydantic import AwareDatetime, Field

from server import settings_of
from server import vehicle_serialize as out
from server.api import Body, accepts, bp, query
from server.api.vehicles import AFTER, KEEPERS, LIMIT, Param
from server.auth import READERS, roles
from server.models import VehicleBooking
from server.services import approvals, bookings, dispatch, paging

REQUESTERS = ("storekeeper", "guard")  # who asks for a vehicle (admin always may); auditors only read
Text = Annotated[str, Field(min_length=1, max_length=2000)]


class BookingBody(Body):
    department: str = Field(min_length=1, max_length=100)
    purpose: Text
    passengers: int = Field(ge=0, le=bookings.MAX_PASSENGERS, description="besides the driver")
    destination: str = Field(min_length=1, max_length=200)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    urgency: Literal["normal", "urgent"] = "normal"


class DecisionBody(Body):
    decision: Literal["approve", "reject"]
    reason: str = Field("", max_length=2000)


class DispatchBody(Body):
    vehicle: str = Field(min_length=1, max_length=300, description="plate or A- code")
    driver: str = Field(min_length=1, max_length=300, description="P- code")


class CancelBody(Body):
    reason: Text


def _json(row: VehicleBooking) -> dict[str, Any]:
    return out.booking(g.db, row)


@bp.get("/bookings")
@roles(*READERS)
@query(Param("state", "pending, rejected, withdrawn, approved, dispatched or cancelled.",
             {"type": "string", "enum": list(bookings.STATES)}),
       Param("department", "Only this department."), AFTER, LIMIT)
def list_bookings() -> Any:
    """Booking requests, newest first; ?state= and ?department=; keyset pages."""
    stmt = bookings.listing(g.db, request.args.get("state") or None, request.args.get("department") or None)
    page = paging.keyset_page(g.db, stmt, [VehicleBooking.id], AFTER.raw(), True, LIMIT.read() or 50)
    return jsonify(items=[_json(b) for b in page.items], next=page.next_cursor)


@bp.post("/bookings")
@roles(*REQUESTERS)
@accepts(BookingBody)
def submit_booking(body: BookingBody) -> Any:
    """Ask for a vehicle; the leader in charge of the department approves it."""
    made = bookings.submit(g.db, g.actor, bookings.BookingIn(
        body.department, body.purpose, body.passengers, body.destination, body.starts_at, body.ends_at, body.urgency),
        settings_of(current_app).principal_approval_above)
    g.db.commit()
    return jsonify(_json(made)), 201


@bp.get("/bookings/queue")
@roles(*KEEPERS)
def dispatch_queue() -> Any:
    """Approved requests waiting for a vehicle: urgent ones first, then by start."""
    return jsonify(items=[_json(b) for b in bookings.queue(g.db)])


@bp.get("/bookings/<int:booking_id>")
@roles(*READERS)
def get_booking(booking_id: int) -> Any:
    """One booking request: its approval steps and its dispatch."""
    return jsonify(_json(bookings.by_id(g.db, booking_id)))


@bp.post("/bookings/<int:booking_id>/decision")
@roles(*READERS)
@accepts(DecisionBody)
def decide_booking(booking_id: int, body: DecisionBody) -> Any:
    """Approve, or reject with a reason: only the leader in charge of its department may."""
    found = bookings.by_id(g.db, booking_id)
    approvals.decide(g.db, g.actor, found.approval_id, body.decision, None, body.reason)
    g.db.commit()
    return jsonify(_json(found))


@bp.post("/bookings/<int:booking_id>/cancel")
@roles(*REQUESTERS)
@accepts(CancelBody)
def cancel_booking(booking_id: int, body: CancelBody) -> Any:
    """Withdraw a request still waiting, or cancel an approved one: its vehicle and driver are free again."""
    found = bookings.cancel(g.db, g.actor, booking_id, body.reason)
    g.db.commit()
    return jsonify(_json(found))


@bp.post("/bookings/<int:booking_id>/dispatch")
@roles(*KEEPERS)
@accepts(DispatchBody)
def dispatch_booking(booking_id: int, body: DispatchBody) -> Any:
    """Assign a vehicle and a driver; a vehicle or driver dispatched elsewhere in the window is refused (409)."""
    made = dispatch.assign(g.db, g.actor, booking_id, body.vehicle, body.driver)
    g.db.commit()
    return jsonify(out.dispatch(made)), 201


@bp.post("/dispatches/<int:dispatch_id>/cancel")
@roles(*KEEPERS)
@accepts(CancelBody)
def cancel_dispatch(dispatch_id: int, body: CancelBody) -> Any:
    """Take a dispatch back: the slot is free, and the request waits for another dispatch."""
    found = dispatch.cancel(g.db, g.actor, dispatch_id, body.reason)
    g.db.commit()
    return jsonify(out.dispatch(found))


@bp.get("/dispatches/overdue")
@roles(*READERS)
def overdue_vehicles() -> Any:
    """Vehicles still out after their dispatch's window ended, longest first."""
    return jsonify(items=[{"trip": t.id, "vehicle": t.vehicle.plate, "out_at": t.out_at.isoformat() if t.out_at
                           else None, "dispatch": out.dispatch(t.dispatch) if t.dispatch else None}
                          for t in dispatch.overdue(g.db)])
