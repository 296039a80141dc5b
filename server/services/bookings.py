"""Booking requests (用车申请): a department asks the office for a vehicle.

A request records the department, purpose, passengers, destination, time window and urgency. Its
approval chain is the shared one (``services.approvals``, kind "vehicle_booking"): the leader in
charge of the department (分管领导) approves or rejects it. The office then dispatches it
(``services.dispatch``). The requester may withdraw a request still waiting; the requester or the
office may cancel an approved one, which frees its vehicle and driver.

A booking's state is derived, never stored twice: the approval's state while it is not approved,
then ``cancelled``, ``dispatched`` (a standing dispatch) or ``approved`` (waiting for the office).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session

from server import audit
from server.audit import Actor
from server.errors import Forbidden, IllegalTransition, Invalid, NotFound, Term
from server.i18n import N_
from server.models import Approval, ApprovalState, Dispatch, Trip, Urgency, VehicleBooking, utcnow
from server.services import approvals, supplies, vehicles

KIND = "vehicle_booking"
URGENCIES = tuple(u.value for u in Urgency)
MAX_PASSENGERS = vehicles.MAX_SEATS - 1
OFFICE = ("storekeeper",)  # the roles that dispatch and may cancel anyone's booking (and admin)
STATES = ("pending", "rejected", "withdrawn", "approved", "dispatched", "cancelled")


@dataclass(frozen=True)
class BookingIn:
    department: str
    purpose: str
    passengers: int
    destination: str
    starts_at: datetime
    ends_at: datetime
    urgency: str = Urgency.NORMAL.value


def facts(booking: VehicleBooking) -> dict[str, Any]:
    return {"department": booking.department, "purpose": booking.purpose, "passengers": booking.passengers,
            "destination": booking.destination, "starts_at": booking.starts_at.isoformat(),
            "ends_at": booking.ends_at.isoformat(), "urgency": booking.urgency, "approval": booking.approval_id,
            "cancelled": booking.cancelled_at is not None}


def described(booking: VehicleBooking) -> dict[str, Any]:
    """What an audit row says of the booking: its audited state, and its facts for a reader."""
    return {**facts(booking), **audit.state(booking)}


def submit(session: Session, actor: Actor, data: BookingIn, principal_above: Decimal) -> VehicleBooking:
    """Record a request and open its approval chain (the leader in charge of its department)."""
    department = supplies.clean_text(data.department, N_("department"), 100)
    purpose = supplies.clean_text(data.purpose, N_("purpose"), 2000)
    destination = supplies.clean_text(data.destination, N_("destination"), 200)
    if isinstance(data.passengers, bool) or not 0 <= data.passengers <= MAX_PASSENGERS:
        raise Invalid(N_("the passengers must be between 0 and %(most)s"), code="bad_passengers",
                      most=MAX_PASSENGERS)
    if data.urgency not in URGENCIES:
        raise Invalid(N_("the urgency must be one of %(choices)s"), code="bad_urgency", choices=", ".join(URGENCIES))
    vehicles.check_window(data.starts_at, data.ends_at)
    if data.ends_at <= utcnow():
        raise Invalid(N_("the window is over already"), code="bad_window")
    chain = approvals.open_chain(session, actor, KIND, department, None, None, principal_above)
    booking = VehicleBooking(department=department, requester=actor.name[:100], purpose=purpose,
                             passengers=data.passengers, destination=destination, starts_at=data.starts_at,
                             ends_at=data.ends_at, urgency=data.urgency, approval_id=chain.id, approval=chain)
    session.add(booking)
    session.flush()
    audit.change(session, actor, "booking.submit", booking, extra=facts(booking))
    return booking


def by_id(session: Session, booking_id: int) -> VehicleBooking:
    found = session.get(VehicleBooking, booking_id)
    if found is None:
        raise NotFound(N_("there is no booking request %(id)s"), id=booking_id)
    return found


def for_change(session: Session, booking_id: int) -> VehicleBooking:
    """The booking, locked (two clerks dispatching or cancelling it at once act one after the other)."""
    session.execute(select(VehicleBooking.id).where(VehicleBooking.id == booking_id).with_for_update())
    found = session.scalars(select(VehicleBooking).where(VehicleBooking.id == booking_id)
                            .execution_options(populate_existing=True)).first()
    if found is None:
        raise NotFound(N_("there is no booking request %(id)s"), id=booking_id)
    return found


def by_approval(session: Session, approval_id: int) -> VehicleBooking:
    return session.scalars(select(VehicleBooking).where(VehicleBooking.approval_id == approval_id)).one()


def standing_dispatch(session: Session, booking_id: int) -> Dispatch | None:
    return session.scalars(select(Dispatch).where(Dispatch.booking_id == booking_id,
                                                  Dispatch.cancelled_at.is_(None))).first()


def state_of(session: Session, booking: VehicleBooking) -> str:
    if booking.approval.state != ApprovalState.APPROVED:
        return booking.approval.state
    if booking.cancelled_at is not None:
        return "cancelled"
    return "dispatched" if standing_dispatch(session, booking.id) is not None else "approved"


def _state_term(state: str) -> Term:
    from server.names import BOOKING_STATES

    return Term(state, BOOKING_STATES.get(state, state))


def cancel(session: Session, actor: Actor, booking_id: int, reason: str) -> VehicleBooking:
    """Cancel a booking (withdraw it while it waits): its standing dispatch is cancelled too, which
    frees the vehicle and the driver for the window. Not while the vehicle is out on it."""
    booking = for_change(session, booking_id)
    if booking.approval.state == ApprovalState.PENDING:
        approvals.withdraw(session, actor, booking.approval_id)  # the requester only: it says so
        return booking
    state = state_of(session, booking)
    if state not in ("approved", "dispatched"):
        raise IllegalTransition(N_("this booking request is %(state)s: it cannot be cancelled"),
                                state=_state_term(state))
    if actor.name != booking.requester and actor.role not in (*OFFICE, "admin"):
        raise Forbidden(N_("only the requester or the office may cancel a booking request"))
    why = supplies.clean_text(reason, N_("reason"), 2000)
    standing = standing_dispatch(session, booking.id)
    if standing is not None:
        refuse_if_out(session, standing)
    before = described(booking)
    now = utcnow()
    booking.cancelled_at, booking.cancelled_by, booking.cancel_reason = now, actor.name[:100], why
    if standing is not None:
        from server.services import dispatch

        was = dispatch.described(standing)
        standing.cancelled_at, standing.cancelled_by, standing.cancel_reason = now, actor.name[:100], why
        audit.change(session, actor, "dispatch.cancel", standing, was,
                     {**dispatch.facts(standing), "reason": why, "with_booking": booking.id})
    audit.change(session, actor, "booking.cancel", booking, before, {**facts(booking), "reason": why})
    return booking


def refuse_if_out(session: Session, dispatch: Dispatch) -> None:
    out = session.scalars(select(Trip.id).where(Trip.dispatch_id == dispatch.id, Trip.out_at.is_not(None),
                                                Trip.in_at.is_(None))).first()
    if out is not None:
        raise IllegalTransition(N_("the vehicle is out on this dispatch: record its return first"),
                                code="vehicle_out")


def listing(session: Session, state: str | None = None, department: str | None = None) -> Select[Any]:
    """Booking requests for keyset pages by id; ``state`` as ``state_of`` names them."""
    query = select(VehicleBooking).join(Approval, VehicleBooking.approval_id == Approval.id)
    if department:
        query = query.where(VehicleBooking.department == department[:100])
    if not state:
        return query
    if state not in STATES:
        raise Invalid(N_("unknown state %(state)s"), code="bad_filter", state=state[:40])
    if state in ("pending", "rejected", "withdrawn"):
        return query.where(Approval.state == state)
    query = query.where(Approval.state == ApprovalState.APPROVED.value)
    if state == "cancelled":
        return query.where(VehicleBooking.cancelled_at.is_not(None))
    dispatched = exists().where(Dispatch.booking_id == VehicleBooking.id, Dispatch.cancelled_at.is_(None))
    query = query.where(VehicleBooking.cancelled_at.is_(None))
    return query.where(dispatched if state == "dispatched" else ~dispatched)


def queue(session: Session, now: datetime | None = None) -> list[VehicleBooking]:
    """What the office has to dispatch: approved, not cancelled, not dispatched, not over yet;
    urgent requests first, then by when they start."""
    now = now or utcnow()
    urgent_first = (VehicleBooking.urgency != Urgency.URGENT.value)  # False (urgent) sorts first
    query = (listing(session, "approved").where(VehicleBooking.ends_at > now)
             .order_by(urgent_first, VehicleBooking.starts_at, VehicleBooking.id))
    return list(session.scalars(query))
