"""The trip log (出车记录) in the browser: every trip, one trip with its corrections and costs, a trip entered
late by hand, an odometer correction, a cost, and the gate's vehicle log (official, visitors', unknown)."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectChoice, SelectField, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from server import names
from server.auth import READERS, roles
from server.errors import DomainError
from server.i18n import N_
from server.models import Trip, VehiclePassage
from server.personal import policy
from server.services import paging, trips, vehicle_gate
from server.web.errors import fail
from server.web.forms import show_domain_error
from server.web.nav import MenuItem

bp = Blueprint("trips", __name__, url_prefix="/trips")
MENU = [MenuItem("trips.index", N_("Trip log"), "office"),
        MenuItem("trips.passages", N_("Vehicles at the gate"), "gate")]  # the gate's vehicle log
KEEPERS = ("storekeeper",)
GATE_READERS = ("guard", "auditor")  # visitors' plates are personal: the gate and the auditors (and admin)
KM = [InputRequired(), NumberRange(0, 9_999_999)]
FIELD_FOR = {"bad_odometer": "odometer_out", "bad_trip": "in_day", "trip_overlap": "out_day", "unknown_code": "vehicle",
             "bad_plate": "vehicle", "bad_code": "driver", "bad_check": "driver", "wrong_kind": "driver",
             "too_long": "purpose"}

for _name, _table in (("cost_kind", names.cost_kind), ("passage_kind", names.passage_kind),
                      ("direction_name", names.direction)):
    bp.add_app_template_filter(_table, _name)


class TripForm(FlaskForm):
    vehicle = StringField(_l("Vehicle (plate or A- code)"), validators=[DataRequired(), Length(max=32)])
    out_day = DateField(_l("Left on"), validators=[DataRequired()])
    out_time = TimeField(_l("Left at"), validators=[DataRequired()], default=time(9))
    in_day = DateField(_l("Back on"), validators=[Optional()])
    in_time = TimeField(_l("Back at"), validators=[DataRequired()], default=time(12))
    odometer_out = IntegerField(_l("Odometer when it left (km)"), validators=KM)
    odometer_in = IntegerField(_l("Odometer when it came back (km)"), validators=KM)
    driver = StringField(_l("Driver (P- code)"), validators=[Optional(), Length(max=300)])
    department = StringField(_l("Department"), validators=[Optional(), Length(max=100)])
    purpose = TextAreaField(_l("Purpose"), validators=[Optional(), Length(max=2000)])


class CorrectionForm(FlaskForm):
    side = SelectField(_l("Reading"), choices=[SelectChoice("out", _l("When it left")),
                                               SelectChoice("in", _l("When it came back"))])
    odometer = IntegerField(_l("Correct reading (km)"), validators=KM)
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])


class CostForm(FlaskForm):
    vehicle = StringField(_l("Vehicle (plate or A- code)"), validators=[DataRequired(), Length(max=32)])
    kind = SelectField(_l("Kind of cost"), choices=[SelectChoice(code, _l(label))
                                                    for code, label in names.COST_KINDS.items()])
    amount = StringField(_l("Amount (yuan)"), validators=[DataRequired(), Length(max=20)])
    spent_on = DateField(_l("Paid on"), validators=[DataRequired()])
    trip = IntegerField(_l("Trip number (optional)"), validators=[Optional(), NumberRange(1, 2**62)])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=2000)])


@bp.get("/")
@roles(*READERS)
def index() -> Any:
    """Every trip, newest first; only those without a dispatch on request."""
    no_dispatch = request.args.get("no_dispatch") == "1"
    try:
        log = paging.keyset_page(g.db, trips.log(g.db, None, no_dispatch), list(trips.LOG_KEYS),
                                 request.args.get("after"), True, 50)
    except DomainError as exc:
        fail(400, exc.localized())
    return render_template("vehicles/trips.html", log=log, no_dispatch=no_dispatch, distance=trips.distance)


@bp.route("/new", methods=["GET", "POST"])
@roles(*KEEPERS)
def new() -> Any:
    """Enter a whole trip by hand, however late: it goes where its time and readings belong."""
    form = TripForm()
    if request.method == "GET":
        form.vehicle.data = request.args.get("vehicle", "")
        form.out_day.data = policy(g.db).today()
    if form.validate_on_submit():
        assert form.out_day.data and form.out_time.data and form.in_time.data
        zone = policy(g.db).zone
        data = trips.TripIn(form.vehicle.data or "", datetime.combine(form.out_day.data, form.out_time.data, zone),
                            datetime.combine(form.in_day.data or form.out_day.data, form.in_time.data, zone),
                            form.odometer_out.data or 0, form.odometer_in.data or 0, form.driver.data or None,
                            form.department.data or "", form.purpose.data or "")
        try:
            made = trips.record(g.db, g.actor, data)
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, FIELD_FOR)
        else:
            g.db.commit()
            flash(_("Trip %(id)s is in the trip log.", id=made.id), "ok")
            return redirect(url_for("trips.trip_page", trip_id=made.id))
    return render_template("vehicles/trip_new.html", form=form), 422 if form.errors or form.form_errors else 200


def _trip(trip_id: int) -> Trip:
    try:
        return trips.get(g.db, trip_id)
    except DomainError as exc:
        fail(404, exc.localized())


def _trip_page(found: Trip, form: CorrectionForm | None = None, status: int = 200) -> Any:
    return render_template("vehicles/trip.html", t=found, corrections=trips.corrections(g.db, found.id),
                           costs=list(g.db.scalars(trips.costs(g.db, trip_id=found.id))),
                           form=form or CorrectionForm(), distance=trips.distance(found)), status


@bp.get("/<int:trip_id>")
@roles(*READERS)
def trip_page(trip_id: int) -> Any:
    """One trip: out and back, readings, dispatch, driver, its corrections and costs."""
    return _trip_page(_trip(trip_id))


@bp.post("/<int:trip_id>/correct")
@roles(*KEEPERS)
def correct(trip_id: int) -> Any:
    """Correct an odometer reading of the trip: a correction of its own, with its reason, audited."""
    found = _trip(trip_id)
    form = CorrectionForm()
    if form.validate_on_submit():
        try:
            trips.correct(g.db, g.actor, found.id, form.side.data or "", form.odometer.data or 0,
                          form.reason.data or "")
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, {"bad_odometer": "odometer", "unchanged": "odometer", "bad_side": "side",
                                          "required": "reason"})
        else:
            g.db.commit()
            flash(_("The reading is corrected."), "ok")
            return redirect(url_for("trips.trip_page", trip_id=found.id))
    return _trip_page(_trip(trip_id), form, 422)


@bp.route("/costs/new", methods=["GET", "POST"])
@roles(*KEEPERS)
def new_cost() -> Any:
    """Record fuel, tolls, parking or maintenance for a vehicle (and one of its trips)."""
    form = CostForm()
    if request.method == "GET":
        form.vehicle.data = request.args.get("vehicle", "")
        form.trip.data = request.args.get("trip", type=int)
        form.spent_on.data = policy(g.db).today()
    if form.validate_on_submit():
        assert form.spent_on.data
        data = trips.CostIn(form.vehicle.data or "", form.kind.data or "", form.amount.data or "", form.spent_on.data,
                            form.trip.data, form.note.data or "")
        try:
            made = trips.record_cost(g.db, g.actor, data)
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, {"unknown_code": "vehicle", "bad_plate": "vehicle", "bad_kind": "kind",
                                          "bad_amount": "amount", "invalid": "amount", "bad_day": "spent_on",
                                          "bad_trip": "trip"})
        else:
            g.db.commit()
            flash(_("The cost is recorded."), "ok")
            return redirect(url_for("vehicles.page", plate=form.vehicle.data) if made.trip_id is None
                            else url_for("trips.trip_page", trip_id=made.trip_id))
    return render_template("vehicles/cost_new.html", form=form), 422 if form.errors or form.form_errors else 200


@bp.get("/gate")
@roles(*GATE_READERS)
def passages() -> Any:
    """Vehicles through the gate, newest first: official ones with their trip, visitors' and unknown ones."""
    kind, conflicts = request.args.get("kind") or None, request.args.get("conflicts") == "1"
    try:
        page = paging.keyset_page(g.db, vehicle_gate.passages(g.db, kind, conflicts),
                                  [VehiclePassage.at, VehiclePassage.id], request.args.get("after"), True, 50)
    except DomainError as exc:
        fail(400, exc.localized())
    return render_template("vehicles/passages.html", page=page, kind=kind or "", conflicts=conflicts,
                           plate_of=lambda row: vehicle_gate.shown_plate(g.db, row))
