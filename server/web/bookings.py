"""Booking requests (用车申请) and dispatch (派车) in the browser: the request form, the list, the leader's
decision, the office's dispatch board (urgent first) with the free vehicles ordered by fit, cancellations."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, IntegerField, SelectChoice, SelectField, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from server import names, settings_of
from server.auth import READERS, roles
from server.errors import DomainError
from server.i18n import N_
from server.models import User, VehicleBooking, utcnow
from server.personal import policy
from server.services import approvals, bookings, dispatch, paging, vehicles
from server.web.errors import fail
from server.web.forms import confirmation_page, show_domain_error
from server.web.nav import MenuItem

bp = Blueprint("bookings", __name__, url_prefix="/bookings")
MENU = [MenuItem("bookings.index", N_("Vehicle bookings"), "office"),
        MenuItem("bookings.board", N_("Dispatch"), "office")]
REQUESTERS = ("storekeeper", "guard")
OFFICE = bookings.OFFICE
FIELD_FOR = {"bad_window": "start_day", "bad_passengers": "passengers", "bad_urgency": "urgency",
             "required": "purpose", "too_long": "purpose"}

for _name, _table in (("booking_state", names.booking_state), ("urgency_name", names.urgency),
                      ("fuel_name", names.fuel)):
    bp.add_app_template_filter(_table, _name)


class BookingForm(FlaskForm):
    department = StringField(_l("Department"), validators=[DataRequired(), Length(max=100)])
    purpose = TextAreaField(_l("Purpose"), validators=[DataRequired(), Length(max=2000)])
    destination = StringField(_l("Destination"), validators=[DataRequired(), Length(max=200)])
    passengers = IntegerField(_l("Passengers (besides the driver)"),
                              validators=[InputRequired(), NumberRange(0, bookings.MAX_PASSENGERS)], default=1)
    start_day = DateField(_l("From (day)"), validators=[DataRequired()])
    start_time = TimeField(_l("From (time)"), validators=[DataRequired()], default=time(9))
    end_day = DateField(_l("Until (day)"), validators=[Optional()])
    end_time = TimeField(_l("Until (time)"), validators=[DataRequired()], default=time(12))
    urgency = SelectField(_l("Urgency"), choices=[SelectChoice("normal", _l("Normal")),
                                                  SelectChoice("urgent", _l("Urgent"))])


class DecisionForm(FlaskForm):
    reason = TextAreaField(_l("Reason (required for a rejection)"), validators=[Length(max=2000)])


class DispatchForm(FlaskForm):
    vehicle = SelectField(_l("Vehicle"), validators=[DataRequired()], validate_choice=False)
    driver = SelectField(_l("Driver"), validators=[DataRequired()], validate_choice=False)


class CancelForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])


@bp.get("/")
@roles(*READERS)
def index() -> Any:
    """Booking requests, newest first, with filters, and those waiting for my approval."""
    state, department = request.args.get("state") or None, request.args.get("department") or None
    try:
        page = paging.keyset_page(g.db, bookings.listing(g.db, state, department), [VehicleBooking.id],
                                  request.args.get("after"), True, 50)
    except DomainError as exc:
        fail(400, exc.localized())
    todo = [bookings.by_approval(g.db, a.id) for a in approvals.waiting_for(g.db, g.actor.name, [bookings.KIND])]
    return render_template("bookings/index.html", page=page, state=state or "", department=department or "",
                           todo=todo, states=bookings.STATES, state_of=lambda b: bookings.state_of(g.db, b))


@bp.route("/new", methods=["GET", "POST"])
@roles(*REQUESTERS)
def new() -> Any:
    """Ask for a vehicle: department, purpose, passengers, destination, window and urgency."""
    form = BookingForm()
    if request.method == "GET":
        user = g.db.scalars(select(User).where(User.username == g.actor.name)).first()
        form.department.data = user.department if user else ""
        form.start_day.data = policy(g.db).today()
    if form.validate_on_submit():
        assert form.start_day.data and form.start_time.data and form.end_time.data
        zone = policy(g.db).zone
        start = datetime.combine(form.start_day.data, form.start_time.data, zone)
        end = datetime.combine(form.end_day.data or form.start_day.data, form.end_time.data, zone)
        data = bookings.BookingIn(form.department.data or "", form.purpose.data or "", form.passengers.data or 0,
                                  form.destination.data or "", start, end, form.urgency.data or "normal")
        try:
            made = bookings.submit(g.db, g.actor, data, settings_of(current_app).principal_approval_above)
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, FIELD_FOR)
        else:
            g.db.commit()
            flash(_("Booking request %(id)s submitted; it now waits for the leader in charge.", id=made.id), "ok")
            return redirect(url_for("bookings.detail", booking_id=made.id))
    return render_template("bookings/new.html", form=form), 422 if form.errors or form.form_errors else 200


def _found(booking_id: int) -> VehicleBooking:
    try:
        return bookings.by_id(g.db, booking_id)
    except DomainError as exc:
        fail(404, exc.localized())


def _dispatch_form(found: VehicleBooking, form: DispatchForm | None = None) -> tuple[DispatchForm, list[Any]]:
    """The dispatch form with the vehicles free for the booking's window, best fit first, and their free drivers."""
    form = form or DispatchForm()
    free = vehicles.free_vehicles(g.db, found.starts_at, found.ends_at, found.passengers)
    pools = vehicles.free_drivers_of(g.db, [f.vehicle.id for f in free], found.starts_at, found.ends_at)
    rows = [(f, pools.get(f.vehicle.id, [])) for f in free]
    form.vehicle.choices = [(f.vehicle.plate, f"{f.vehicle.plate} · {f.vehicle.asset.name} · "
                             f"{_('%(n)s seats', n=f.vehicle.seats)}") for f, _d in rows]
    drivers = {p.code: p for _f, people in rows for p in people}
    form.driver.choices = [(code, f"{p.name} ({code})") for code, p in sorted(drivers.items(),
                                                                             key=lambda kv: kv[1].name)]
    return form, rows


def _detail(found: VehicleBooking, decision: DecisionForm | None = None, form: DispatchForm | None = None,
            status: int = 200) -> Any:
    state, office = bookings.state_of(g.db, found), g.actor.role in (*OFFICE, "admin")
    # Only the office dispatches: only it pays for finding the free vehicles.
    dispatch_form, free = _dispatch_form(found, form) if office and state == "approved" and \
        found.ends_at > utcnow() else (None, [])
    return render_template("bookings/detail.html", b=found, chain=found.approval, state=state,
                           form=decision or DecisionForm(), dispatch_form=dispatch_form, free=free,
                           standing=bookings.standing_dispatch(g.db, found.id), cancel_form=CancelForm(),
                           may_decide=approvals.may_decide(g.db, g.actor.name, found.approval), office=office), status


@bp.get("/<int:booking_id>")
@roles(*READERS)
def detail(booking_id: int) -> Any:
    """One booking request: its approval, its dispatch, and for the office the free vehicles by fit."""
    return _detail(_found(booking_id))


@bp.post("/<int:booking_id>/decision")
@roles(*READERS)
def decide(booking_id: int) -> Any:
    """Approve, or reject with a reason (the leader in charge of the department)."""
    found = _found(booking_id)
    form = DecisionForm()
    if form.validate_on_submit():
        try:
            approvals.decide(g.db, g.actor, found.approval_id, request.form.get("decision", ""), None,
                             form.reason.data or "")
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, {"reason_required": "reason"})
        else:
            g.db.commit()
            flash(_("Your decision is recorded."), "ok")
            return redirect(url_for("bookings.detail", booking_id=booking_id))
    return _detail(_found(booking_id), decision=form, status=422)


@bp.post("/<int:booking_id>/dispatch")
@roles(*OFFICE)
def assign(booking_id: int) -> Any:
    """Assign a vehicle and a driver; a double booking is refused with the clashing window."""
    found = _found(booking_id)
    form = DispatchForm()
    if bookings.state_of(g.db, found) == "approved":
        _dispatch_form(found, form)
    if form.validate_on_submit():
        try:
            made = dispatch.assign(g.db, g.actor, booking_id, form.vehicle.data or "", form.driver.data or "")
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, {"driver_busy": "driver", "not_a_driver": "driver",
                                          "vehicle_busy": "vehicle", "too_few_seats": "vehicle",
                                          "vehicle_unusable": "vehicle", "unknown_code": "vehicle"})
        else:
            g.db.commit()
            flash(_("Dispatched: %(plate)s, driver %(driver)s.", plate=made.vehicle.plate, driver=made.driver.name),
                  "ok")
            return redirect(url_for("bookings.detail", booking_id=booking_id))
    return _detail(_found(booking_id), form=form, status=409 if form.form_errors or form.errors else 422)


@bp.post("/<int:booking_id>/cancel")
@roles(*REQUESTERS)
def cancel(booking_id: int) -> Any:
    """Cancel (or withdraw) a booking request, after a confirmation: its vehicle and driver are free again."""
    found = _found(booking_id)
    back = url_for("bookings.detail", booking_id=booking_id)
    form = CancelForm()
    if not form.validate_on_submit():
        flash(_("Say why the booking request is cancelled."), "error")
        return redirect(back)
    asked = confirmation_page(_("Cancel booking request %(id)s (%(destination)s)?", id=found.id,
                                destination=found.destination), back,
                              _("Its vehicle and driver become free for the window."))
    if asked is not None:
        return asked
    try:
        bookings.cancel(g.db, g.actor, booking_id, form.reason.data or "")
    except DomainError as exc:
        g.db.rollback()
        flash(exc.localized(), "error")
    else:
        g.db.commit()
        flash(_("Booking request %(id)s is cancelled.", id=booking_id), "ok")
    return redirect(back)


@bp.post("/dispatches/<int:dispatch_id>/cancel")
@roles(*OFFICE)
def cancel_dispatch(dispatch_id: int) -> Any:
    """Take a dispatch back (after a confirmation): the request waits for another vehicle."""
    try:
        found = dispatch.get(g.db, dispatch_id)
    except DomainError as exc:
        fail(404, exc.localized())
    back = url_for("bookings.detail", booking_id=found.booking_id)
    form = CancelForm()
    if not form.validate_on_submit():
        flash(_("Say why the dispatch is cancelled."), "error")
        return redirect(back)
    asked = confirmation_page(_("Cancel the dispatch of %(plate)s?", plate=found.vehicle.plate), back)
    if asked is not None:
        return asked
    try:
        dispatch.cancel(g.db, g.actor, dispatch_id, form.reason.data or "")
    except DomainError as exc:
        g.db.rollback()
        flash(exc.localized(), "error")
    else:
        g.db.commit()
        flash(_("The dispatch is cancelled; the request waits for another vehicle."), "ok")
    return redirect(back)


@bp.get("/board")
@roles(*OFFICE)
def board() -> Any:
    """The dispatch board: approved requests waiting for a vehicle (urgent first), today's dispatches, and
    vehicles still out after their window."""
    now = utcnow()
    return render_template("bookings/board.html", queue=bookings.queue(g.db, now),
                           today=dispatch.upcoming(g.db, now - timedelta(hours=12), 36),
                           overdue=dispatch.overdue(g.db, now))
