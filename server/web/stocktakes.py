"""Stocktakes (盘点) in the browser: open one, the live page (counts moving as scans arrive, a focused
field for a USB scanner, a CSV of codes), resolve the lines, close, and the report."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import select
from wtforms import BooleanField, IntegerField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from server import names, settings_of
from server.auth import READERS, roles
from server.errors import DomainError
from server.exports import CSV_MIMETYPE
from server.i18n import N_
from server.models import Location, Stocktake
from server.services import approvals, stocktake_losses, stocktake_report, stocktake_supplies, stocktakes
from server.web.errors import fail
from server.web.forms import confirmation_page, show_domain_error
from server.web.nav import MenuItem

bp = Blueprint("stocktakes", __name__, url_prefix="/stocktakes")
MENU = [MenuItem("stocktakes.index", N_("Stocktakes"), "storeroom")]
SCANNERS = ("storekeeper",)


@bp.app_template_filter("stocktake_class")
def stocktake_class(code: object) -> str:
    return names.stocktake_class(code)


@bp.app_template_filter("resolution_name")
def resolution_name(code: object) -> str:
    return names.resolution(code)


class OpenForm(FlaskForm):
    scope = SelectField(_l("Scope"), choices=[SelectChoice("office", _l("Whole office")),
                                              SelectChoice("department", _l("Department")),
                                              SelectChoice("locations", _l("Locations"))])
    department = StringField(_l("Department"), validators=[Length(max=100)])
    locations = StringField(_l("Location codes, separated by spaces"), validators=[Length(max=20_000)])


class ScanForm(FlaskForm):
    code = StringField(_l("Asset code (scan)"), validators=[DataRequired(), Length(max=300)])
    location = StringField(_l("Where (location code)"), validators=[DataRequired(), Length(max=300)])


class CsvForm(FlaskForm):
    file = FileField(_l("CSV of codes (code,location per row)"))


class ResolveForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=64)])
    action = SelectField(_l("Action"), choices=[SelectChoice(k, _l(v)) for k, v in names.RESOLUTIONS.items()])
    location = StringField(_l("Location code (for a correction)"), validators=[Optional(), Length(max=300)])
    approval_ref = StringField(_l("Approval reference (for a loss; empty: ask through the approval chain)"),
                               validators=[Optional(), Length(max=100)])
    reason = StringField(_l("Reason (for ignoring)"), validators=[Optional(), Length(max=2000)])


class CloseForm(FlaskForm):
    force = BooleanField(_l("Close even with unresolved lines"))


class SupplyCountForm(FlaskForm):
    item = StringField(_l("Supply item (S- code)"), validators=[DataRequired(), Length(max=300)])
    counted = IntegerField(_l("Counted on the shelf"),
                           validators=[InputRequired(), NumberRange(0, stocktake_supplies.MAX_COUNT)])


class SignOffForm(FlaskForm):
    note = TextAreaField(_l("Note (optional)"), validators=[Length(max=2000)])


class LossDecisionForm(FlaskForm):
    """An approver's decision on a loss (one asset: no quantity to lower)."""

    reason = TextAreaField(_l("Reason (required for a rejection)"), validators=[Length(max=2000)])


@bp.route("/", methods=["GET", "POST"])
@roles(*READERS)
def index() -> Any:
    """Stocktakes, newest first; the admin opens one here."""
    form = OpenForm()
    if request.method == "POST":
        if g.actor.role != "admin":
            fail(403, _("Only an admin may open a stocktake."))
        if form.validate_on_submit():
            try:
                made = stocktakes.open_stocktake(g.db, g.actor, form.scope.data or "", form.department.data or "",
                                                 (form.locations.data or "").split())
            except DomainError as exc:
                g.db.rollback()
                show_domain_error(form, exc, {"required": "department", "unknown_code": "locations",
                                              "bad_code": "locations", "bad_check": "locations"})
            else:
                g.db.commit()
                flash(_("Stocktake %(id)s opened.", id=made.id))
                return redirect(url_for("stocktakes.page", stocktake_id=made.id))
    return render_template("stocktakes/index.html", rows=stocktakes.listing(g.db), form=form,
                           todo=stocktake_losses.waiting_for(g.db, g.actor.name)), \
        422 if form.errors or form.form_errors else 200


def _found(stocktake_id: int) -> Stocktake:
    try:
        return stocktakes.by_id(g.db, stocktake_id)
    except DomainError as exc:
        fail(404, exc.localized())


def _page(found: Stocktake, scan: ScanForm | None = None, resolve: ResolveForm | None = None,
          status: int = 200, supply: SupplyCountForm | None = None, sign: SignOffForm | None = None,
          loss_form: LossDecisionForm | None = None, failed_loss: int = 0) -> Any:
    cls = request.args.get("class") or "missing"
    if cls not in stocktakes.CLASSES:
        fail(400, _("Unknown class."))
    scan = scan or ScanForm(formdata=None, location=session.get("stocktake_location", ""))
    losses = stocktake_losses.losses(g.db, found)

    def may(chain: Any) -> bool:
        return found.state == "open" and approvals.may_decide(g.db, g.actor.name, chain)

    places = dict(g.db.execute(select(Location.id, Location.name)).all())
    return render_template(
        "stocktakes/page.html", st=found, counts=stocktakes.counts(g.db, found), cls=cls, places=places,
        lines=stocktakes.lines(g.db, found, cls, 500), scan=scan, csv_form=CsvForm(formdata=None),
        resolve=resolve or ResolveForm(formdata=None), close_form=CloseForm(formdata=None),
        unresolved=stocktakes.unresolved(g.db, found) if found.state == "open" else 0,
        supply=supply or SupplyCountForm(formdata=None), supplies=stocktake_supplies.lines(g.db, found),
        sign=sign or SignOffForm(formdata=None), losses=losses,
        loss_forms={loss.approval.id: loss_form if loss_form is not None and loss.approval.id == failed_loss
                    else _loss_form(loss.approval.id) for loss in losses if may(loss.approval)}), status


@bp.get("/<int:stocktake_id>")
@roles(*READERS)
def page(stocktake_id: int) -> Any:
    """The live page: counts per class, the scanner field, the lines of a class."""
    return _page(_found(stocktake_id))


@bp.get("/<int:stocktake_id>/counts")
@roles(*READERS)
def counts(stocktake_id: int) -> Any:
    """The counts alone (htmx refreshes them every few seconds while scans arrive)."""
    found = _found(stocktake_id)
    return render_template("stocktakes/_counts.html", st=found, counts=stocktakes.counts(g.db, found))


@bp.post("/<int:stocktake_id>/scan")
@roles(*SCANNERS)
def scan(stocktake_id: int) -> Any:
    """One code from the scanner field; the location is remembered for the next scan. Sent by the
    page's camera script (``HX-Request``), the answer is the result line alone, so the camera keeps running."""
    found = _found(stocktake_id)
    form = ScanForm()
    quiet = request.headers.get("HX-Request") == "true"
    if form.validate_on_submit():
        try:
            _row, cls = stocktakes.scan(g.db, g.actor, found.id, form.code.data or "", form.location.data or "")
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, {"bad_code": "code", "bad_check": "code", "wrong_kind": "code",
                                          "unknown_code": "location"})
        else:
            g.db.commit()
            session["stocktake_location"] = form.location.data
            message = _("%(code)s: %(cls)s", code=form.code.data, cls=names.stocktake_class(cls))
            if quiet:
                return render_template("stocktakes/_scan_result.html", message=message, level="ok", cls=cls), 201
            flash(message)
            return redirect(url_for("stocktakes.page", stocktake_id=found.id))
    if quiet:
        problems = [*form.form_errors, *(e for f in form for e in f.errors)]
        return render_template("stocktakes/_scan_result.html", message="; ".join(map(str, problems)),
                               level="error", cls=""), 422
    return _page(found, scan=form, status=422)


@bp.post("/<int:stocktake_id>/csv")
@roles(*SCANNERS)
def scan_csv(stocktake_id: int) -> Any:
    """Scans from a CSV file (code,location per row); all rows or none."""
    found = _found(stocktake_id)
    upload = request.files.get("file")
    raw = upload.read(20_000_000) if upload else b""
    try:
        count = stocktakes.scan_csv(g.db, g.actor, found.id, raw.decode("utf-8-sig", errors="replace"))
    except DomainError as exc:
        g.db.rollback()
        flash(exc.localized(), "error")
    else:
        g.db.commit()
        flash(_("%(count)s scans stored.", count=count))
    return redirect(url_for("stocktakes.page", stocktake_id=found.id))


@bp.post("/<int:stocktake_id>/resolve")
@roles()
def resolve(stocktake_id: int) -> Any:
    """Choose the resolution of one line."""
    found = _found(stocktake_id)
    form = ResolveForm()
    if form.validate_on_submit():
        try:
            stocktakes.resolve(g.db, g.actor, found.id, form.code.data or "", form.action.data or "",
                               form.location.data or "", form.approval_ref.data or "", form.reason.data or "",
                               settings_of(current_app).principal_approval_above)
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, {"approval_required": "approval_ref", "reason_required": "reason",
                                          "bad_action": "action", "unknown_code": "location"})
        else:
            g.db.commit()
            flash(_("Resolution saved."))
            where: dict[str, Any] = {"stocktake_id": found.id, "class": request.args.get("class")}
            return redirect(url_for("stocktakes.page", **where))
    return _page(found, resolve=form, status=422)


@bp.post("/<int:stocktake_id>/close")
@roles()
def close(stocktake_id: int) -> Any:
    """Apply the resolutions as asset events and lock the report."""
    found = _found(stocktake_id)
    form = CloseForm()
    back = url_for("stocktakes.page", stocktake_id=found.id)
    asked = confirmation_page(_("Close stocktake %(id)s and apply its resolutions?", id=found.id), back,
                              _("The moves and losses become asset events; the report is locked."))
    if asked is not None:
        return asked
    try:
        stocktakes.close(g.db, g.actor, found.id, bool(form.force.data))
    except DomainError as exc:
        g.db.rollback()
        flash(exc.localized(), "error")
    else:
        g.db.commit()
        flash(_("Stocktake %(id)s closed.", id=found.id))
    return redirect(back)


@bp.post("/<int:stocktake_id>/supply-count")
@roles(*SCANNERS)
def count_supply(stocktake_id: int) -> Any:
    """A supply item counted on the shelf (the ledger's stock now is kept beside it)."""
    found = _found(stocktake_id)
    form = SupplyCountForm()
    if form.validate_on_submit():
        try:
            line = stocktake_supplies.count(g.db, g.actor, found, form.item.data or "", form.counted.data or 0)
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, {"bad_code": "item", "bad_check": "item", "wrong_kind": "item",
                                          "unknown_code": "item", "counted_elsewhere": "item",
                                          "bad_quantity": "counted"})
        else:
            g.db.commit()
            flash(_("%(item)s counted: %(counted)s, the ledger says %(expected)s.", item=line.name,
                    counted=line.counted, expected=line.expected))
            return redirect(url_for("stocktakes.page", stocktake_id=found.id) + "#supplies")
    return _page(found, supply=form, status=422)


@bp.post("/<int:stocktake_id>/sign-off")
@roles()
def sign_off(stocktake_id: int) -> Any:
    """The admin signs the closed report off."""
    found = _found(stocktake_id)
    form = SignOffForm()
    if form.validate_on_submit():
        try:
            stocktake_report.sign_off(g.db, g.actor, found.id, form.note.data or "")
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc)
        else:
            g.db.commit()
            flash(_("The report of stocktake %(id)s is signed off.", id=found.id))
            return redirect(url_for("stocktakes.page", stocktake_id=found.id))
    return _page(found, sign=form, status=422)


@bp.get("/<int:stocktake_id>/report.<kind>")
@roles(*READERS)
def report(stocktake_id: int, kind: str) -> Any:
    """The report as CSV or PDF (in the reader's language)."""
    found = _found(stocktake_id)
    if kind == "pdf":
        data = stocktake_report.report_pdf(g.db, found, settings_of(current_app).org_name)
        mimetype = "application/pdf"
    elif kind == "csv":
        data, mimetype = stocktake_report.report_csv(g.db, found), CSV_MIMETYPE
    else:
        fail(404, _("There is no such report."))
    return Response(data, mimetype=mimetype, headers={
        "Content-Disposition": f"attachment; filename=stocktake-{found.id}.{kind}"})


def _loss_form(approval_id: int, formdata: Any = None) -> LossDecisionForm:
    return LossDecisionForm(formdata=formdata, prefix=f"l{approval_id}-")  # one per row: ids of their own


@bp.post("/<int:stocktake_id>/losses/<int:approval_id>/decision")
@roles(*READERS)
def decide_loss(stocktake_id: int, approval_id: int) -> Any:
    """An approver approves or rejects a loss (the chain checks who may)."""
    found = _found(stocktake_id)
    form = _loss_form(approval_id, request.form)
    if form.validate_on_submit():
        try:
            stocktake_losses.decide(g.db, g.actor, found, approval_id, request.form.get("decision", ""),
                                    form.reason.data or "")
        except DomainError as exc:
            g.db.rollback()
            if exc.status == 404:
                fail(404, exc.localized())
            show_domain_error(form, exc, {"reason_required": "reason"})
        else:
            g.db.commit()
            flash(_("Your decision is recorded."))
            return redirect(url_for("stocktakes.page", stocktake_id=found.id) + "#losses")
    return _page(found, loss_form=form, failed_loss=approval_id, status=422)
