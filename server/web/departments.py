"""Departments: the staff counts behind the per-head figures (admin keeps them)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange

from server.auth import roles
from server.i18n import N_
from server.services import departments, reports
from server.web.forms import attempt
from server.web.nav import MenuItem

bp = Blueprint("departments", __name__)
MENU = [MenuItem("departments.index", N_("Departments"), "system")]


class StaffForm(FlaskForm):
    name = StringField(_l("Department"), validators=[DataRequired(), Length(max=100)])
    staff_count = IntegerField(_l("Staff"), validators=[NumberRange(0, 1_000_000)])


@bp.get("/departments")
@roles(*reports.READERS)
def index() -> Any:
    """Departments and their staff counts; the admin may change them."""
    return render_template("departments.html", rows=departments.listing(g.db), form=StaffForm())


@bp.post("/departments")
@roles()
def save() -> Any:
    """Record or change one department's staff count."""
    form = StaffForm()
    if form.validate_on_submit() and attempt(
            lambda: departments.set_staff(g.db, g.actor, form.name.data or "", form.staff_count.data or 0),
            form, {"bad_staff_count": "staff_count", "required": "name"}):
        flash(_("Saved."))
        return redirect(url_for("departments.index"))
    return render_template("departments.html", rows=departments.listing(g.db), form=form), 422
