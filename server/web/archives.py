"""Archives (档案) in the browser: the volumes and files, filing one, a volume's page, the classes, and
the lending desk where a volume is lent or returned by its code (as at a storeroom kiosk).

Loans are in ``archive_loans``, destruction lists in ``archive_destruction``; every rule is the
services' (archives, archive_loans), and their refusals are shown beside the field they concern.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from server import names, settings_of
from server.auth import roles
from server.errors import DomainError
from server.i18n import N_
from server.models import ArchiveLoan, ArchiveVolume
from server.services import archive_destruction, archive_loans, archives, paging
from server.web.errors import fail
from server.web.forms import attempt, show_domain_error
from server.web.nav import MenuItem

bp = Blueprint("archives", __name__, url_prefix="/archives")
# Loans and destruction lists have no entries of their own: the archive's pages lead there.
MENU = [MenuItem("archives.index", N_("Archives"), "office", under=("archive_loans", "archive_destruction"))]
KEEPERS = ("storekeeper",)
# Which form field a service's refusal is about, by its code.
VOLUME_ERRORS = {"bad_title": "title", "unknown_class": "class_code", "bad_year": "year", "bad_retention": "retention",
                 "bad_confidentiality": "confidentiality", "not_a_shelf": "shelf", "bad_kind": "kind",
                 "bad_reference": "reference", "reference_taken": "reference", "bad_parent": "parent",
                 "bad_code": "shelf", "bad_check": "shelf", "wrong_kind": "shelf"}
DESK_ERRORS = {"no_loan_request": "borrower", "volume_on_loan": "volume", "not_on_loan": "volume",
               "not_a_volume": "volume", "illegal_transition": "volume"}

for _filter, _table in (("volume_kind", names.volume_kind), ("retention", names.retention),
                        ("confidentiality", names.confidentiality), ("loan_state", names.loan_state),
                        ("destruction_state", names.destruction_state)):
    bp.add_app_template_filter(_table, _filter)


@bp.app_template_filter("loan_state_of")
def loan_state_of(loan: ArchiveLoan) -> str:
    """A loan's state, in words."""
    return names.loan_state(archive_loans.state(loan))


def _choices(table: dict[str, str], codes: tuple[str, ...] | list[str]) -> list[SelectChoice]:
    return [SelectChoice(code, _l(table[code])) for code in codes]


class VolumeForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    kind = SelectField(_l("Kind"), choices=_choices(names.VOLUME_KINDS, archives.KINDS))
    class_code = SelectField(_l("Archive class"), validators=[DataRequired()])
    year = IntegerField(_l("Year of the records"), validators=[DataRequired(), NumberRange(1900, 2200)])
    retention = SelectField(_l("Retention period"), choices=_choices(names.RETENTIONS, list(archives.RETENTIONS)))
    confidentiality = SelectField(_l("Confidentiality level"),
                                  choices=_choices(names.CONFIDENTIALITY, archives.LEVELS))
    shelf = StringField(_l("Shelf (L- code)"), validators=[DataRequired(), Length(max=300)])
    reference = StringField(_l("Archive reference (optional)"), validators=[Length(max=60)])
    parent = StringField(_l("Filed in volume (A- code, files only)"), validators=[Length(max=300)])


class ClassForm(FlaskForm):
    code = StringField(_l("Class code"), validators=[DataRequired(), Length(max=20)])
    name = StringField(_l("Class name"), validators=[DataRequired(), Length(max=100)])
    loan_days = SelectField(_l("Loan term (days)"), coerce=int)
    on_site_only = BooleanField(_l("Its confidential volumes are read on site only"))


class RetentionForm(FlaskForm):
    retention = SelectField(_l("New retention period"), choices=_choices(names.RETENTIONS, list(archives.RETENTIONS)))
    reason = StringField(_l("Appraisal (why it is kept longer)"), validators=[DataRequired(), Length(max=1000)])


class DeskForm(FlaskForm):
    volume = StringField(_l("Volume (A- code)"), validators=[DataRequired(), Length(max=300)])
    borrower = StringField(_l("Borrower (badge, P- code; empty to record a return)"), validators=[Length(max=300)])
    location = StringField(_l("Put back at (L- code; empty: its shelf)"), validators=[Optional(), Length(max=300)])


@bp.get("/")
@roles(*archives.READERS)
def index() -> Any:
    """Volumes and files, newest first; filters class, confidentiality level and title or reference."""
    args = {k: request.args.get(k, "") for k in ("class", "confidentiality", "q")}
    try:
        stmt = archives.listing(g.db, args["class"] or None, args["confidentiality"] or None, args["q"] or None)
        page = paging.keyset_page(g.db, stmt, [ArchiveVolume.asset_id], request.args.get("after"), True, 50)
    except DomainError as exc:
        fail(400, exc.localized())
    return render_template("archives/index.html", page=page, args=args, classes=archives.classes(g.db),
                           levels=archives.LEVELS)


@bp.route("/new", methods=["GET", "POST"])
@roles(*KEEPERS)
def new() -> Any:
    """File a volume or file: its A- code is issued, then its label can be printed."""
    form = VolumeForm()
    form.class_code.choices = [SelectChoice(c.code, f"{c.code} {c.name}") for c in archives.classes(g.db)]
    if request.method == "GET" and request.args.get("shelf"):
        form.shelf.data = request.args["shelf"]
    if form.validate_on_submit():
        data = archives.VolumeIn(title=form.title.data or "", class_code=form.class_code.data or "",
                                 year=form.year.data or 0, retention=form.retention.data or "",
                                 confidentiality=form.confidentiality.data or "", shelf=form.shelf.data or "",
                                 kind=form.kind.data or "", reference=form.reference.data or "",
                                 parent=form.parent.data or "")
        made: list[ArchiveVolume] = []
        if attempt(lambda: made.append(archives.create_volume(g.db, g.actor, data)), form, VOLUME_ERRORS):
            code = made[0].asset.code
            flash(_("%(code)s filed. Print its QR label now.", code=code))
            return redirect(url_for("archives.volume", code=code))
    if not form.class_code.choices:
        form.form_errors.append(_("There is no archive class yet: an admin adds the classes first."))
    return render_template("archives/new.html", form=form), 422 if form.errors or form.form_errors else 200


def _found(code: str) -> ArchiveVolume:
    try:
        return archives.volume_by_code(g.db, code)
    except DomainError as exc:
        fail(404, exc.localized())


def _volume_page(code: str, retention: RetentionForm, status: int = 200) -> Any:
    volume = _found(code)
    loans = list(g.db.scalars(archive_loans.listing(g.db, volume=volume.asset.code).order_by(ArchiveLoan.id.desc())
                              .limit(50)))
    return render_template("archives/volume.html", v=volume, loans=loans, retention=retention,
                           current=archive_loans.current_loan(g.db, volume.asset_id),
                           destroyed=archive_destruction.destroyed_in(g.db, volume.asset_id),
                           parent=g.db.get(ArchiveVolume, volume.parent_id) if volume.parent_id else None,
                           on_site_only=archive_loans.on_site_only(volume)), status


@bp.get("/<code>")
@roles(*archives.READERS)
def volume(code: str) -> Any:
    """One volume or file: its class, retention, level and shelf; its loans; its label."""
    return _volume_page(code, RetentionForm(formdata=None))


@bp.post("/<code>/retention")
@roles(*KEEPERS)
def retention(code: str) -> Any:
    """Keep a volume longer after an appraisal."""
    form = RetentionForm()
    if form.validate_on_submit():
        data = (form.retention.data or "", form.reason.data or "")
        if attempt(lambda: archives.extend_retention(g.db, g.actor, code, *data), form,
                   {"bad_retention": "retention", "reason_required": "reason"}):
            flash(_("The retention period was extended."))
            return redirect(url_for("archives.volume", code=code))
    return _volume_page(code, form, 422)


def _class_form(formdata: Any = None) -> ClassForm:
    form = ClassForm(formdata=formdata) if formdata is not None else ClassForm()
    form.loan_days.choices = [SelectChoice(d, _("%(days)s days", days=d)) for d in settings_of(current_app).loan_terms]
    return form


@bp.route("/classes", methods=["GET", "POST"])
@roles()
def classes() -> Any:
    """The archive classes (admin): each with its loan term and whether its confidential volumes stay on site."""
    form = _class_form()
    if request.method == "POST" and form.validate_on_submit():
        data = archives.ClassIn(form.code.data or "", form.name.data or "", form.loan_days.data or 0,
                                bool(form.on_site_only.data))
        if attempt(lambda: archives.create_class(g.db, g.actor, data, settings_of(current_app).loan_terms), form,
                   {"bad_code": "code", "class_exists": "code", "bad_name": "name", "bad_loan_days": "loan_days"}):
            flash(_("Class %(code)s added.", code=data.code.strip().upper()))
            return redirect(url_for("archives.classes"))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("archives/classes.html", form=form, rows=archives.classes(g.db)), status


@bp.post("/classes/<code>")
@roles()
def update_class(code: str) -> Any:
    """Change a class's name, loan term or on-site rule."""
    form = _class_form(request.form)
    form.code.data = code  # the code stays
    if form.validate_on_submit():
        data = archives.ClassIn(code, form.name.data or "", form.loan_days.data or 0, bool(form.on_site_only.data))
        if attempt(lambda: archives.update_class(g.db, g.actor, code, data, settings_of(current_app).loan_terms)):
            flash(_("Class %(code)s changed.", code=code))
    else:
        flash(" ".join(e for errors in form.errors.values() for e in errors), "error")
    return redirect(url_for("archives.classes"))


@bp.route("/desk", methods=["GET", "POST"])
@roles(*KEEPERS)
def desk() -> Any:
    """Lend or return by scanning: a volume and a badge lends (against an approved request), a volume alone
    records its return, as the storeroom kiosk does."""
    form = DeskForm()
    if form.validate_on_submit():
        code, borrower, location = form.volume.data or "", (form.borrower.data or "").strip(), form.location.data
        try:
            if borrower:
                loan = archive_loans.lend(g.db, g.actor, code, borrower)
                message = _("%(code)s lent to %(name)s, due back %(due)s.", code=loan.volume.asset.code,
                            name=loan.borrower.name, due=loan.due_on.isoformat())
            else:
                loan = archive_loans.give_back(g.db, g.actor, code, location or None)
                message = _("%(code)s returned by %(name)s.", code=loan.volume.asset.code, name=loan.borrower.name)
                if archive_loans.late(loan):
                    message += " " + _("It came back late.")
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, DESK_ERRORS)
        else:
            g.db.commit()
            flash(message)
            return redirect(url_for("archives.desk"))
    return render_template("archives/desk.html", form=form), 422 if form.errors or form.form_errors else 200
