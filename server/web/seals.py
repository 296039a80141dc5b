"""Seals (印章) in the browser: the register list, a seal's page (imprint, life cycle, custodian, history,
its requests and take-outs), registering a seal, and the use register report with its CSV and PDF.

Use requests and take-outs have pages of their own (``web/seal_requests.py``). The roles are the
REST routes' (``server/api/seals.py``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage
from wtforms.fields.choices import SelectChoice

from server import names, params, settings_of
from server.api.seals import IMPRINT_READERS, KEEPERS, REGISTER_READERS, imprint_response
from server.auth import READERS, roles
from server.errors import DomainError
from server.i18n import N_
from server.models import Seal, SealTakeout, SealUseRequest, utcnow
from server.services import approvals, paging, seal_imprints, seal_register, seal_takeouts, seal_uses, seals
from server.web import seal_forms as forms
from server.web.errors import fail
from server.web.forms import confirmation_page
from server.web.nav import MenuItem

bp = Blueprint("seals", __name__)
MENU = [MenuItem("seals.index", N_("Seals"), "office", under=("seal_requests",))]


@bp.app_template_filter("seal_kind")
def seal_kind(code: object) -> str:
    return names.seal_kind(code)


@bp.app_template_filter("seal_status")
def seal_status(code: object) -> str:
    return names.seal_status(code)


@bp.app_template_filter("seal_action")
def seal_action(code: object) -> str:
    return names.seal_action(code)


@bp.app_template_filter("takeout_state")
def takeout_state(code: object) -> str:
    return names.takeout_state(code)


def office_time(value: datetime | None) -> datetime | None:
    """A time typed on a page is the office's local time."""
    if value is None:
        return None
    return value.replace(tzinfo=ZoneInfo(settings_of(current_app).timezone)).astimezone(UTC)


@bp.get("/seals/")
@roles(*READERS)
def index() -> Any:
    """Seals by code, with filters (state, kind, department)."""
    status, kind = request.args.get("status") or None, request.args.get("kind") or None
    department = request.args.get("department") or None
    try:
        page = paging.keyset_page(g.db, seals.listing(status, kind, department), [Seal.code],
                                  request.args.get("after"), False, 50)
    except DomainError as exc:
        fail(400, exc.localized())
    waiting = approvals.waiting_for(g.db, g.actor.name, [seal_uses.KIND, seal_takeouts.KIND])
    todo = [(seal_uses.by_approval(g.db, a.id) if a.kind == seal_uses.KIND else seal_takeouts.by_approval(g.db, a.id))
            for a in waiting]
    return render_template("seals/index.html", page=page, status=status or "", kind=kind or "",
                           department=department or "", overdue=seal_takeouts.overdue(g.db, limit=50), todo=todo)


def _file(field: Any) -> bytes | None:
    data = field.data
    # The whole file: the request itself is bounded by max_upload_bytes, and the refusal says its real size.
    return data.read() if isinstance(data, FileStorage) and data.filename else None


@bp.route("/seals/new", methods=["GET", "POST"])
@roles(*KEEPERS)
def new() -> Any:
    """Register a seal as made (刻制), with its approval reference and, if at hand, its imprint."""
    form = forms.SealForm()
    if form.validate_on_submit():
        data = seals.SealIn(name=form.name.data or "", kind=form.kind.data or "", department=form.department.data or "",
                            custodian=form.custodian.data or "", approval_ref=form.approval_ref.data or "",
                            made_on=form.made_on.data, note=form.note.data or "")
        try:
            made = seals.register(g.db, g.actor, data)
            imprint = _file(form.imprint)
            if imprint is not None:
                seal_imprints.upload(g.db, g.actor, made.code, imprint)
        except DomainError as exc:
            g.db.rollback()
            forms.show(form, exc)
        else:
            g.db.commit()
            flash(_("Seal %(code)s registered as made.", code=made.code))
            return redirect(url_for("seals.page", code=made.code))
    return render_template("seals/new.html", form=form), 422 if form.errors or form.form_errors else 200


def _seal(code: str) -> Seal:
    try:
        return seals.by_code(g.db, code)
    except DomainError as exc:
        fail(404, exc.localized())


def _page(seal: Seal, status: int = 200, **made: Any) -> Any:
    step = made.get("step") or forms.StepForm(formdata=None)
    possible = [s for s, (allowed, _to) in seals.STEPS.items() if seal.status in allowed]
    step.action.choices = [SelectChoice(s, names.seal_action(s)) for s in possible]
    requests = list(g.db.scalars(seal_uses.listing(seal=seal).order_by(SealUseRequest.id.desc()).limit(10)))
    trips = list(g.db.scalars(seal_takeouts.listing(seal=seal).order_by(SealTakeout.id.desc()).limit(10)))
    return render_template(
        "seals/page.html", seal=seal, imprint=seal_imprints.current(g.db, seal), history=seals.history(g.db, seal),
        imprints=seal_imprints.all_of(g.db, seal), out=seals.open_takeout(g.db, seal), possible=possible,
        step=step, custodian=made.get("custodian") or forms.CustodianForm(formdata=None),
        remake=made.get("remake") or forms.RemakeForm(formdata=None), may_remake=seal.status in seals.REMAKE_FROM,
        replaces=g.db.get(Seal, seal.replaces_id) if seal.replaces_id else None,
        replaced_by=seals.replaced_by(g.db, seal),
        upload=made.get("upload") or forms.ImprintForm(formdata=None), requests=requests, trips=trips,
        now=utcnow(), state_of=seal_takeouts.state), status


@bp.get("/seals/<code>")
@roles(*READERS)
def page(code: str) -> Any:
    """One seal: its facts, imprint, whether it is out, its history, requests and take-outs."""
    return _page(_seal(code))


@bp.post("/seals/<code>/steps")
@roles(*KEEPERS)
def step(code: str) -> Any:
    """A life-cycle step with its approval reference (destruction asks for a confirmation first)."""
    seal = _seal(code)
    form = forms.StepForm()
    if form.validate_on_submit():
        action = form.action.data or ""
        if action == "destroy":
            asked = confirmation_page(_("Destroy the seal %(code)s (%(name)s)? This is final.", code=seal.code,
                                        name=seal.name), url_for("seals.page", code=seal.code))
            if asked is not None:
                return asked
        try:
            seals.step(g.db, g.actor, seal.code, action, form.approval_ref.data or "", form.reason.data or "")
        except DomainError as exc:
            g.db.rollback()
            forms.show(form, exc)
        else:
            g.db.commit()
            flash(_("%(step)s: done.", step=names.seal_action(action)))
            return redirect(url_for("seals.page", code=seal.code))
    return _page(_seal(code), 422, step=form)


@bp.post("/seals/<code>/custodian")
@roles(*KEEPERS)
def custodian(code: str) -> Any:
    """Hand the seal to another custodian, with its approval reference."""
    seal = _seal(code)
    form = forms.CustodianForm()
    if form.validate_on_submit():
        try:
            seals.change_custodian(g.db, g.actor, seal.code, form.custodian.data or "", form.approval_ref.data or "",
                                   form.reason.data or "")
        except DomainError as exc:
            g.db.rollback()
            forms.show(form, exc)
        else:
            g.db.commit()
            flash(_("The custodian is changed."))
            return redirect(url_for("seals.page", code=seal.code))
    return _page(_seal(code), 422, custodian=form)


@bp.post("/seals/<code>/remake")
@roles(*KEEPERS)
def remake(code: str) -> Any:
    """Re-make (重新刻制) a seal that was lost or recalled: a new seal that replaces it."""
    seal = _seal(code)
    form = forms.RemakeForm()
    if form.validate_on_submit():
        data = seals.RemakeIn(approval_ref=form.approval_ref.data or "", reason=form.reason.data or "",
                              name=form.name.data or "", custodian=form.custodian.data or "", made_on=form.made_on.data)
        try:
            made = seals.remake(g.db, g.actor, seal.code, data)
        except DomainError as exc:
            g.db.rollback()
            forms.show(form, exc)
        else:
            g.db.commit()
            flash(_("Seal %(code)s re-made: it replaces %(old)s.", code=made.code, old=seal.code))
            return redirect(url_for("seals.page", code=made.code))
    return _page(_seal(code), 422, remake=form)


@bp.post("/seals/<code>/imprint")
@roles(*KEEPERS)
def upload(code: str) -> Any:
    """A new imprint image (PNG or JPEG); the old ones stay."""
    seal = _seal(code)
    form = forms.ImprintForm()
    if form.validate_on_submit():
        try:
            seal_imprints.upload(g.db, g.actor, seal.code, _file(form.imprint) or b"")
        except DomainError as exc:
            g.db.rollback()
            forms.show(form, exc)
        else:
            g.db.commit()
            flash(_("The imprint is saved."))
            return redirect(url_for("seals.page", code=seal.code))
    return _page(_seal(code), 422, upload=form)


@bp.get("/seals/<code>/imprint.png")
@roles(*IMPRINT_READERS)
def imprint(code: str) -> Any:
    """The seal's current imprint (custodians, auditors and admins only)."""
    return _imprint(code, None)


@bp.get("/seals/<code>/imprints/<int:imprint_id>.png")
@roles(*IMPRINT_READERS)
def old_imprint(code: str, imprint_id: int) -> Any:
    """One of the seal's imprints, current or older."""
    return _imprint(code, imprint_id)


def _imprint(code: str, imprint_id: int | None) -> Response:
    seal = _seal(code)
    try:
        row = seal_imprints.one(g.db, seal, imprint_id)
    except DomainError as exc:
        fail(404, exc.localized())
    return imprint_response(row.data, f"{seal.code}-imprint-{row.id}.png")


# --- the use register ---

def _filters() -> seal_register.Filters:
    since, until = request.args.get("since") or None, request.args.get("until") or None
    return seal_register.Filters(seal=request.args.get("seal") or None,
                                 department=(request.args.get("department") or "")[:100] or None,
                                 since=params.day(since, _("first day")) if since else None,
                                 until=params.day(until, _("last day")) if until else None)


@bp.get("/seal-register")
@roles(*REGISTER_READERS)
def register() -> Any:
    """The use register (用印登记簿) by seal, department and period, with its CSV and PDF."""
    error, register_ = None, None
    try:
        register_ = seal_register.build(g.db, _filters(), settings_of(current_app).timezone)
    except DomainError as exc:
        error = exc.localized()
    kept: dict[str, Any] = {k: request.args[k] for k in ("seal", "department", "since", "until")
                            if request.args.get(k)}
    files = {fmt: url_for("seals.register_file", fmt=fmt, **kept) for fmt in ("pdf", "csv")}
    return render_template("seals/register.html", register=register_, error=error, args=request.args,
                           files=files), 422 if error else 200


@bp.get("/seal-register.<fmt>")
@roles(*REGISTER_READERS)
def register_file(fmt: str) -> Any:
    """The register as CSV, or as the PDF to print (the paper register it replaces)."""
    if fmt not in ("csv", "pdf"):
        fail(404, _("There is no such file."))
    settings = settings_of(current_app)
    try:
        register_ = seal_register.build(g.db, _filters(), settings.timezone)
        if fmt == "csv":
            data, mimetype = seal_register.csv_file(g.db, g.actor, register_), "text/csv"
        else:
            data = seal_register.pdf_file(g.db, g.actor, register_, settings.org_name, utcnow())
            mimetype = "application/pdf"
    except DomainError as exc:
        g.db.rollback()
        fail(422, exc.localized())
    g.db.commit()
    return Response(data, mimetype=mimetype, headers={
        "Content-Disposition": f"attachment; filename=seal-register.{fmt}", "Cache-Control": "no-store"})
