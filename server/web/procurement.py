"""Procurement: the approved plan with what is used and left, its import (preview first), purchases
checked against the plan as they are typed, and intake ending in the labels.

Every rule is the services' (plans, purchases, intake, printing); these views only read the forms,
call them and put their refusals beside the fields. Who may open what is the REST routes' roles.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from server import names, settings_of
from server.api.procurement import PLAN_READERS
from server.auth import roles
from server.errors import DomainError
from server.i18n import N_
from server.models import Category, Job, PlanLine, Purchase
from server.services import corrections, intake, job_tasks, jobs, plan_files, plans, purchases, uploads
from server.services.paging import keyset_page
from server.web.errors import fail
from server.web.labels import template_choices
from server.web.nav import MenuItem
from server.web.procurement_forms import (
    ConfirmImportForm,
    ImportForm,
    IntakeForm,
    LabelsForIntakeForm,
    PurchaseForm,
    drop_blank_lines,
    forget_empty,
    place_error,
    purchase_lines,
)

bp = Blueprint("procurement", __name__, url_prefix="/procurement")
MENU = [MenuItem("procurement.plans", N_("Procurement plans"), "procurement"),
        MenuItem("procurement.intake_new", N_("Intake"), "procurement")]
INTAKE_READERS = ("storekeeper", "auditor")  # as GET /api/v1/intakes/<id>
PAGE_SIZE = 50
PLAN_SORTS: dict[str, Any] = {"ref": PlanLine.ref, "year": PlanLine.budget_year, "department": PlanLine.department,
              "amount": PlanLine.approved_amount}
PREVIEW_GOOD_ROWS = 20


# --- the plan ---

def _year_arg() -> int | None:
    raw = request.args.get("year") or ""
    if not raw:
        return None
    if not raw.isdigit():
        fail(400, _("The budget year must be a number."))
    return int(raw)


@bp.get("/plans", endpoint="plans")
@roles(*PLAN_READERS)
def plans_page() -> Any:
    """Plan lines with used and remaining quantity and amount (filters: year, department, category)."""
    sort = request.args.get("sort", "ref") if request.args.get("sort") in PLAN_SORTS else "ref"
    direction = "desc" if request.args.get("dir") == "desc" else "asc"
    stmt = select(PlanLine)
    year, department, category = _year_arg(), request.args.get("department"), request.args.get("category")
    if year is not None:
        stmt = stmt.where(PlanLine.budget_year == year)
    if department:
        stmt = stmt.where(PlanLine.department == department)
    if category:
        stmt = stmt.join(Category, PlanLine.category_id == Category.id).where(Category.name == category)
    try:
        keys: list[Any] = [PLAN_SORTS[sort], PlanLine.id]
        page = keyset_page(g.db, stmt, keys, request.args.get("after"), direction == "desc", PAGE_SIZE)
    except DomainError as exc:
        fail(400, exc.localized())
    return render_template("procurement/plans.html", rows=plans.execution_of(g.db, page.items),
                           next_cursor=page.next_cursor, sort=sort, direction=direction,
                           choices=plans.filter_choices(g.db), year=year, department=department, category=category)


@bp.get("/plans/<ref>")
@roles(*PLAN_READERS)
def plan_line(ref: str) -> Any:
    """One plan line: its limits, what is used and left, and the purchase lines that drew on it."""
    try:
        line = plans.line_by_ref(g.db, ref)
    except DomainError as exc:
        fail(404, exc.localized())
    [row] = plans.execution_of(g.db, [line])
    return render_template("procurement/plan_line.html", row=row,
                           purchase_lines=purchases.lines_of_plan(g.db, line.id),
                           amendments=corrections.amendments(g.db, line.id))


# --- importing a plan: upload, preview (nothing stored), confirm ---

@bp.route("/plans/import", methods=["GET", "POST"])
@roles()  # admin, as POST /api/v1/plans/import
def import_upload() -> Any:
    """Upload an approved plan (CSV or XLSX); the next page shows every bad row before anything is stored."""
    form = ImportForm()
    if form.validate_on_submit():
        settings = settings_of(current_app)
        upload = form.file.data
        token = uploads.save(settings.instance_path, upload.read(), upload.filename or "")
        try:
            checked = job_tasks.plan_check_now_or_later(g.db, settings, g.actor, token)
        except DomainError as exc:
            uploads.remove(settings.instance_path, token)
            form.file.errors = [*form.file.errors, exc.localized()]
        else:
            if isinstance(checked, Job):
                return redirect(url_for("jobs.page", job_id=checked.id))
            return redirect(url_for("procurement.import_preview", token=token))
    status = 422 if form.errors else 200
    return render_template("procurement/import.html", form=form, inline_max=jobs.PLAN_ROWS_INLINE_MAX), status


@bp.get("/plans/template")
@roles(*PLAN_READERS)  # as GET /api/v1/plans/template
def plan_template() -> Any:
    """The plan file template, headers in Chinese or English (?lang=zh|en, ?format=xlsx|csv)."""
    try:
        data, name, mime = plan_files.template(request.args.get("lang", "zh"), request.args.get("format", "xlsx"))
    except DomainError as exc:
        fail(400, exc.localized())
    return Response(data, mimetype=mime, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _preview_data(token: str) -> dict[str, Any]:
    """What the preview shows: from the checking job's result (a big file) or checked here and now."""
    settings = settings_of(current_app)
    job_id = request.args.get("job")
    if job_id:
        try:
            job = jobs.get(g.db, g.actor, job_id)
        except DomainError as exc:
            fail(404, exc.localized())
        if job.kind != "plan_check" or job.params.get("upload") != token or job.state != "done" or not job.result:
            fail(404, _("This check of the plan is not finished or belongs to another file."))
        result = job.result
        return {"rows": result["rows"], "good": result["good"], "bad": result["bad"], "good_lines": [],
                "errors": [plans.RowError(**e) for e in result["errors"]]}
    try:
        checked = job_tasks.plan_check_now_or_later(g.db, settings, g.actor, token)
    except DomainError as exc:
        fail(404, exc.localized())
    if isinstance(checked, Job):  # a big file reached without its job (an old link): check it again
        return {"job": checked}
    good, errors = checked
    return {"rows": len(good) + len(errors), "good": len(good), "bad": len(errors), "errors": errors,
            "good_lines": good[:PREVIEW_GOOD_ROWS]}


@bp.route("/plans/import/<token>", methods=["GET", "POST"])
@roles()
def import_preview(token: str) -> Any:
    """The preview of an upload: every bad row and the first good ones; nothing is stored until confirmed."""
    form = ConfirmImportForm()
    if form.validate_on_submit():
        return _import(token, bool(form.skip_bad.data))
    data = _preview_data(token)
    if "job" in data:
        return redirect(url_for("jobs.page", job_id=data["job"].id))
    return render_template("procurement/import_preview.html", form=form, token=token, **data)


def _import(token: str, skip_bad: bool) -> Any:
    settings = settings_of(current_app)
    try:
        source = uploads.path(settings.instance_path, token)
        report = job_tasks.plan_import_now_or_later(g.db, settings, g.actor, source.read_bytes(), source.name,
                                                    skip_bad, token)
    except DomainError as exc:
        fail(422, exc.localized())
    if isinstance(report, Job):
        return redirect(url_for("jobs.page", job_id=report.id))
    if not report.ok:
        g.db.rollback()
        flash(_("%(bad)s rows are bad; nothing was imported", bad=len(report.errors)), "error")
        return render_template("procurement/import_preview.html", form=ConfirmImportForm(), token=token,
                               rows=report.good + len(report.errors), good=report.good, bad=len(report.errors),
                               errors=report.errors, good_lines=[]), 422
    g.db.commit()
    flash(_("%(count)s plan lines imported.", count=len(report.imported)), "ok")
    return redirect(url_for("procurement.plans"))


# --- purchases ---

@bp.get("/purchases")
@roles(*PLAN_READERS)
def purchase_list() -> Any:
    """Purchases, newest first."""
    stmt = select(Purchase).options(selectinload(Purchase.lines))
    try:
        keys: list[Any] = [Purchase.id]
        page = keyset_page(g.db, stmt, keys, request.args.get("after"), True, PAGE_SIZE)
    except DomainError as exc:
        fail(400, exc.localized())
    return render_template("procurement/purchases.html", purchases=page.items, next_cursor=page.next_cursor)


@bp.get("/purchases/<purchase_id>")
@roles(*PLAN_READERS)
def purchase_page(purchase_id: str) -> Any:
    """One purchase and its lines, with how much of each is received."""
    try:
        purchase = purchases.get(g.db, purchase_id)
    except DomainError as exc:
        fail(404, exc.localized())
    received = {line.id: intake.received_count(g.db, line.id) for line in purchase.lines}
    return render_template("procurement/purchase.html", purchase=purchase, received=received)


def _purchase_form() -> PurchaseForm:
    form = PurchaseForm()
    form.method.choices = [(code, names.method(code)) for code in plans.METHODS]
    categories = [(name, name) for name in g.db.scalars(select(Category.name).order_by(Category.name))]
    for entry in form.lines.entries:
        entry.form.category.choices = categories
    if request.method == "GET" and request.args.get("plan_line"):  # "record a purchase" from a plan line
        _start_from_plan_line(form, request.args["plan_line"])
    return form


def _start_from_plan_line(form: PurchaseForm, ref: str) -> None:
    try:
        line = plans.line_by_ref(g.db, ref)
    except DomainError:
        return
    form.method.data = line.method
    first = form.lines.entries[0].form
    first.plan_line.data, first.category.data = line.ref, line.category.name


def _check(form: PurchaseForm) -> None:
    """The same rule as the save (purchases.validate, writing nothing); its refusals go beside the fields."""
    lines, entries = purchase_lines(form)
    if not lines:
        return
    try:
        purchases.validate(g.db, form.supplier.data or "", form.method.data or "", form.reference.data or "",
                           lines, form.method_exception_ref.data, purchased_on=form.purchased_on.data,
                           free_kind=form.free_kind.data, free_approval_ref=form.free_approval_ref.data)
    except DomainError as exc:
        place_error(form, exc, entries)


def _hints(form: PurchaseForm) -> dict[str, plans.Execution]:
    """What is left of each plan line named on the form (shown beside it)."""
    refs = {(entry.form.plan_line.data or "").strip() for entry in form.lines.entries}
    found = list(g.db.scalars(select(PlanLine).where(PlanLine.ref.in_(refs - {""}))).unique())
    return {row.line.ref: row for row in plans.execution_of(g.db, found)}


def _show_purchase(form: PurchaseForm, status: int = 200) -> Any:
    known = list(g.db.scalars(select(PlanLine.ref).order_by(PlanLine.budget_year.desc(), PlanLine.ref).limit(1000)))
    return render_template("procurement/purchase_form.html", form=form, hints=_hints(form),
                           plan_refs=known), status


@bp.route("/purchases/new", methods=["GET", "POST"])
@roles("storekeeper")  # as POST /api/v1/purchases
def purchase_new() -> Any:
    """Record a purchase. Each line is checked against its plan line as it is typed (htmx) and on saving."""
    form = _purchase_form()
    if request.method == "GET":
        return _show_purchase(form)
    drop_blank_lines(form)
    if form.add_line.data:
        form.lines.append_entry()
        form.lines.entries[-1].form.category.choices = form.lines.entries[0].form.category.choices
        return _show_purchase(form)
    valid = form.validate()
    lines, entries = purchase_lines(form)
    try:
        if not valid or len(lines) != len(form.lines.entries):
            _check(form)  # the plan's verdict too, beside the lines it can judge
            return _show_purchase(form, 422)
        purchase = purchases.record(g.db, g.actor, form.supplier.data, form.purchased_on.data, form.method.data,
                                    form.reference.data, lines, form.method_exception_ref.data,
                                    form.free_kind.data, form.free_approval_ref.data)
    except DomainError as exc:
        g.db.rollback()
        place_error(form, exc, entries)
        return _show_purchase(form, 422)
    g.db.commit()
    flash(_("Purchase %(id)s recorded.", id=purchase.id), "ok")
    return redirect(url_for("procurement.purchase_page", purchase_id=purchase.id))


@bp.post("/purchases/check")
@roles("storekeeper")
def purchase_check() -> Any:
    """htmx, as the purchase form is typed: every field's errors and every line's plan hint, swapped in
    out of band; nothing is written. Fields still empty are left alone."""
    form = _purchase_form()
    drop_blank_lines(form)
    form.validate()
    _check(form)
    forget_empty(form)
    return render_template("procurement/_purchase_check.html", form=form, hints=_hints(form))


# --- intake ---

def _intake_form() -> IntakeForm:
    form = IntakeForm()
    form.purchase_line.choices = [
        (line.id, _("%(id)s · %(category)s · %(description)s · %(left)s of %(quantity)s left to receive",
                    id=line.id, category=line.category.name, description=line.description or line.plan_line.ref,
                    left=left, quantity=line.quantity))
        for line, left in intake.open_lines(g.db)]
    form.location.choices = [(loc.code, f"{loc.name} ({loc.code})") for loc in intake.storerooms(g.db)]
    if request.method == "GET":
        form.request_key.data = uuid.uuid4().hex  # one per form shown: sending it twice receives once
        if request.args.get("line", "").isdigit():
            form.purchase_line.data = int(request.args["line"])
    return form


@bp.route("/intake", methods=["GET", "POST"])
@roles("storekeeper")  # as POST /api/v1/intakes
def intake_new() -> Any:
    """Receive a purchase line into a storeroom: one asset per unit; the next page prints their labels."""
    form = _intake_form()
    if form.validate_on_submit():
        serials = [s.strip() for s in (form.serials.data or "").splitlines()] if form.serials.data else None
        quantity = form.quantity.data if form.quantity.data is not None else (len(serials) if serials else None)
        try:
            got = intake.receive(g.db, g.actor, form.purchase_line.data, form.request_key.data or "",
                                 form.location.data, quantity, serials, form.received_on.data, form.name.data or None)
        except DomainError as exc:
            g.db.rollback()
            place_error(form, exc)
        else:
            g.db.commit()
            if not got.replay:
                flash(_("%(count)s assets received.", count=len(got.codes)), "ok")
            return redirect(url_for("procurement.intake_page", intake_id=got.intake.id))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("procurement/intake_form.html", form=form), status


@bp.get("/intakes/<intake_id>")
@roles(*INTAKE_READERS)
def intake_page(intake_id: str) -> Any:
    """One intake: the codes it made, and its labels as a PDF."""
    try:
        row = intake.get(g.db, intake_id)
    except DomainError as exc:
        fail(404, exc.localized())
    return render_template("procurement/intake.html", intake=row, codes=intake.codes_of(g.db, row.id),
                           line=purchases.line(g.db, row.purchase_line_id), form=LabelsForIntakeForm(),
                           templates=template_choices(), default_template=settings_of(current_app).label_template,
                           inline_max=jobs.LABELS_INLINE_MAX)


@bp.post("/intakes/<intake_id>/labels")
@roles("storekeeper")  # as GET /api/v1/intakes/<id>/labels.pdf
def intake_labels(intake_id: str) -> Any:
    """The labels of every asset the intake made: the PDF, or for a big intake the job that makes it."""
    form = LabelsForIntakeForm()
    settings = settings_of(current_app)
    try:
        row = intake.get(g.db, intake_id)
        made = job_tasks.labels_now_or_later(g.db, settings, g.actor, intake.codes_of(g.db, row.id),
                                             form.template.data or settings.label_template, form.skip.data or 0)
    except DomainError as exc:
        flash(exc.localized(), "error")
        return redirect(url_for("procurement.intake_page", intake_id=intake_id))
    if isinstance(made, Job):
        return redirect(url_for("jobs.page", job_id=made.id))
    g.db.commit()
    return Response(made, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="intake-{row.id}-labels.pdf"'})
