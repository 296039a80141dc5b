"""The fleet (公务用车) in the browser: the vehicles, one vehicle's page (drivers, trip log, costs), registering
a vehicle and which categories are vehicle categories. The trip log's own pages are in ``server.web.trips``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from server import names
from server.auth import READERS, roles
from server.errors import DomainError
from server.i18n import N_
from server.models import Vehicle, VehicleCost
from server.services import dispatch, gate_alerts, paging, trips, vehicles
from server.web.errors import fail
from server.web.forms import show_domain_error
from server.web.nav import MenuItem

bp = Blueprint("vehicles", __name__, url_prefix="/vehicles")
MENU = [MenuItem("vehicles.index", N_("Official vehicles"), "office")]
KEEPERS = ("storekeeper",)
FUEL_CHOICES = [SelectChoice(code, _l(label)) for code, label in names.FUELS.items()]
FIELD_FOR = {"bad_plate": "plate", "plate_taken": "plate", "bad_seats": "seats", "bad_fuel": "fuel",
             "bad_odometer": "odometer", "bad_drivers": "drivers", "unknown_code": "asset", "bad_code": "asset",
             "bad_check": "asset", "wrong_kind": "asset", "not_a_vehicle_category": "asset",
             "already_exists": "asset", "illegal_transition": "asset"}


def codes_in(text: str | None) -> list[str]:
    """Codes typed one a line or separated by commas or spaces."""
    return [c for chunk in (text or "").replace(",", " ").replace("，", " ").split() if (c := chunk.strip())]


class VehicleForm(FlaskForm):
    asset = StringField(_l("Asset (A- code)"), validators=[DataRequired(), Length(max=300)])
    plate = StringField(_l("Plate"), validators=[DataRequired(), Length(max=32)])
    seats = IntegerField(_l("Seats (the driver's included)"), validators=[InputRequired(), NumberRange(1, 60)],
                         default=5)
    fuel = SelectField(_l("Fuel type"), choices=FUEL_CHOICES)
    odometer = IntegerField(_l("Odometer (km)"), validators=[InputRequired(), NumberRange(0, 9_999_999)])
    drivers = TextAreaField(_l("Permitted drivers (P- codes)"), validators=[Optional(), Length(max=5000)])


class EditForm(FlaskForm):
    seats = IntegerField(_l("Seats (the driver's included)"), validators=[InputRequired(), NumberRange(1, 60)])
    fuel = SelectField(_l("Fuel type"), choices=FUEL_CHOICES)
    active = BooleanField(_l("In the fleet (may be dispatched)"))


class DriversForm(FlaskForm):
    drivers = TextAreaField(_l("Permitted drivers (P- codes)"), validators=[Optional(), Length(max=5000)])


class CategoryForm(FlaskForm):
    name = StringField(_l("Asset category"), validators=[DataRequired(), Length(max=100)])


@bp.get("/")
@roles(*READERS)
def index() -> Any:
    """The fleet: every vehicle with its seats, fuel, odometer and status; vehicles out after their window."""
    rows = vehicles.fleet(g.db)
    alerts = [a for a in gate_alerts.open_alerts(g.db) if a.kind in ("no_dispatch", "vehicle_conflict")]
    return render_template("vehicles/index.html", rows=rows, overdue=dispatch.overdue(g.db), alerts=alerts)


@bp.route("/new", methods=["GET", "POST"])
@roles(*KEEPERS)
def new() -> Any:
    """Register an asset of a vehicle category in the fleet; mark a category as a vehicle category."""
    form, category_form = VehicleForm(), CategoryForm(prefix="category")
    if request.method == "GET":
        form.asset.data = request.args.get("asset", "")
    if form.validate_on_submit():
        data = vehicles.VehicleIn(form.asset.data or "", form.plate.data or "", form.seats.data or 0,
                                  form.fuel.data or "", form.odometer.data or 0, codes_in(form.drivers.data))
        try:
            made = vehicles.register(g.db, g.actor, data)
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, FIELD_FOR)
        else:
            g.db.commit()
            flash(_("%(plate)s is in the fleet.", plate=made.plate), "ok")
            return redirect(url_for("vehicles.page", plate=made.plate))
    return render_template("vehicles/new.html", form=form, category_form=category_form,
                           categories=vehicles.vehicle_categories(g.db)), 422 if form.errors or form.form_errors \
        else 200


@bp.post("/categories")
@roles(*KEEPERS)
def mark_category() -> Any:
    """Make a category a vehicle category: its assets may join the fleet."""
    form = CategoryForm(prefix="category")
    if form.validate_on_submit():
        try:
            vehicles.mark_category(g.db, g.actor, form.name.data or "")
        except DomainError as exc:
            g.db.rollback()
            flash(exc.localized(), "error")
        else:
            g.db.commit()
            flash(_("%(name)s is a vehicle category.", name=form.name.data), "ok")
    else:
        flash(_("Name the category."), "error")
    return redirect(url_for("vehicles.new"))


def _vehicle(plate: str) -> Vehicle:
    try:
        return vehicles.by_plate(g.db, plate)
    except DomainError as exc:
        fail(404, exc.localized())


def _page(found: Vehicle, edit: EditForm | None = None, drivers: DriversForm | None = None, status: int = 200) -> Any:
    try:
        log = paging.keyset_page(g.db, trips.log(g.db, found.plate), list(trips.LOG_KEYS), request.args.get("after"),
                                 True, 25)
    except DomainError as exc:
        fail(400, exc.localized())
    costs = list(g.db.scalars(trips.costs(g.db, found.plate).order_by(VehicleCost.id.desc()).limit(20)))
    edit = edit or EditForm(seats=found.seats, fuel=found.fuel, active=found.active)
    drivers = drivers or DriversForm(drivers="\n".join(d.person.code for d in found.drivers))
    return render_template("vehicles/page.html", v=found, log=log, costs=costs, edit=edit, drivers_form=drivers,
                           distance=trips.distance), status


@bp.get("/<plate>")
@roles(*READERS)
def page(plate: str) -> Any:
    """One vehicle: its facts, permitted drivers, trip log (newest first) and costs."""
    return _page(_vehicle(plate))


@bp.post("/<plate>/edit")
@roles(*KEEPERS)
def edit(plate: str) -> Any:
    """Change seats or fuel, or take the vehicle out of the fleet."""
    found = _vehicle(plate)
    form = EditForm()
    if form.validate_on_submit():
        try:
            vehicles.update(g.db, g.actor, found.plate, form.seats.data, form.fuel.data, bool(form.active.data))
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, FIELD_FOR)
        else:
            g.db.commit()
            flash(_("Saved."), "ok")
            return redirect(url_for("vehicles.page", plate=found.plate))
    return _page(_vehicle(plate), edit=form, status=422)


@bp.post("/<plate>/drivers")
@roles(*KEEPERS)
def set_drivers(plate: str) -> Any:
    """Replace the pool of permitted drivers."""
    found = _vehicle(plate)
    form = DriversForm()
    if form.validate_on_submit():
        try:
            vehicles.set_drivers(g.db, g.actor, found.plate, codes_in(form.drivers.data))
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, {**FIELD_FOR, "unknown_code": "drivers", "bad_code": "drivers",
                                          "bad_check": "drivers", "wrong_kind": "drivers"})
        else:
            g.db.commit()
            flash(_("The permitted drivers are saved."), "ok")
            return redirect(url_for("vehicles.page", plate=found.plate))
    return _page(_vehicle(plate), drivers=form, status=422)
