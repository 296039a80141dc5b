"""Use requests (用印申请) and take-outs (印章外带) in the browser: the lists (with what waits for my
decision), the request forms, each request's page with its approval steps and decision form, and the
custodian's records: a use on an approved request, a seal out and back. The roles are the REST
routes' (``server/api/seal_requests.py``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from server import settings_of
from server.api.seal_requests import REQUESTERS
from server.api.seals import KEEPERS
from server.auth import READERS, roles
from server.errors import DomainError
from server.models import SealTakeout, SealUseRequest, User, utcnow
from server.services import approvals, paging, seal_takeouts, seal_uses
from server.web import seal_forms as forms
from server.web.errors import fail
from server.web.forms import confirmation_page
from server.web.seals import office_time

bp = Blueprint("seal_requests", __name__)
# No menu entries of their own: the seal list (menu 印章) leads here and lists what waits for my decision.


def _department() -> str:
    user = g.db.scalars(select(User).where(User.username == g.actor.name)).first()
    return user.department if user else ""


def _page_of(stmt: Any, key: Any) -> Any:
    try:
        return paging.keyset_page(g.db, stmt, [key], request.args.get("after"), True, 50)
    except DomainError as exc:
        fail(400, exc.localized())


# --- use requests ---

@bp.get("/seal-requests/")
@roles(*READERS)
def index() -> Any:
    """Use requests, newest first, with filters, and those waiting for my decision."""
    state, department = request.args.get("state") or None, request.args.get("department") or None
    try:
        stmt = seal_uses.listing(state, department)
    except DomainError as exc:
        fail(400, exc.localized())
    todo = approvals.waiting_for(g.db, g.actor.name, [seal_uses.KIND])
    return render_template("seals/requests.html", page=_page_of(stmt, SealUseRequest.id), state=state or "",
                           department=department or "", todo=[seal_uses.by_approval(g.db, a.id) for a in todo])


@bp.route("/seal-requests/new", methods=["GET", "POST"])
@roles(*REQUESTERS)
def new() -> Any:
    """Ask to use a seal on a document."""
    form = forms.UseRequestForm()
    if request.method == "GET":
        form.department.data, form.seal.data = _department(), request.args.get("seal", "")[:300]
    if form.validate_on_submit():
        data = seal_uses.UseRequestIn(seal=form.seal.data or "", document_title=form.document_title.data or "",
                                      copies=form.copies.data or 0, recipient=form.recipient.data or "",
                                      purpose=form.purpose.data or "", department=form.department.data or "")
        try:
            made = seal_uses.submit(g.db, g.actor, data, settings_of(current_app).principal_approval_above)
        except DomainError as exc:
            g.db.rollback()
            forms.show(form, exc)
        else:
            g.db.commit()
            flash(_("Use request %(id)s submitted; it now waits for the leader in charge.", id=made.id))
            return redirect(url_for("seal_requests.detail", request_id=made.id))
    return render_template("seals/request_new.html", form=form), 422 if form.errors or form.form_errors else 200


def _request(request_id: int) -> SealUseRequest:
    try:
        return seal_uses.by_id(g.db, request_id)
    except DomainError as exc:
        fail(404, exc.localized())


def _detail(found: SealUseRequest, status: int = 200, **made: Any) -> Any:
    decision = made.get("decision") or forms.DecisionForm(formdata=None, quantity=found.approval.approved_quantity)
    return render_template("seals/request.html", r=found, chain=found.approval, form=decision,
                           use_form=made.get("use") or forms.UseForm(formdata=None),
                           may_decide=approvals.may_decide(g.db, g.actor.name, found.approval),
                           done=seal_uses.fulfilment(g.db, found), uses=seal_uses.uses_of(g.db, found.id)), status


@bp.get("/seal-requests/<int:request_id>")
@roles(*READERS)
def detail(request_id: int) -> Any:
    """One use request: its approval steps, copies approved and stamped, its uses."""
    return _detail(_request(request_id))


@bp.post("/seal-requests/<int:request_id>/decision")
@roles(*READERS)
def decide(request_id: int) -> Any:
    """Approve (all copies or fewer) or reject with a reason."""
    found = _request(request_id)
    form = forms.DecisionForm()
    if form.validate_on_submit():
        try:
            approvals.decide(g.db, g.actor, found.approval_id, request.form.get("decision", ""), form.quantity.data,
                             form.reason.data or "")
        except DomainError as exc:
            g.db.rollback()
            _decision_error(form, exc)
        else:
            g.db.commit()
            flash(_("Your decision is recorded."))
            return redirect(url_for("seal_requests.detail", request_id=request_id))
    return _detail(_request(request_id), 422, decision=form)


def _decision_error(form: Any, exc: DomainError) -> None:
    field = {"reason_required": "reason", "bad_quantity": "quantity"}.get(exc.code)
    target = getattr(form, field, None) if field else None
    if target is not None:
        target.errors = [*target.errors, exc.localized()] if isinstance(target.errors, list) else [exc.localized()]
    else:
        form.form_errors.append(exc.localized())


def _withdraw(approval_id: int, summary: str, back: str) -> Any:
    asked = confirmation_page(summary, back)
    if asked is not None:
        return asked
    try:
        approvals.withdraw(g.db, g.actor, approval_id)
    except DomainError as exc:
        g.db.rollback()
        flash(exc.localized(), "error")
    else:
        g.db.commit()
        flash(_("The request was withdrawn."))
    return redirect(back)


@bp.post("/seal-requests/<int:request_id>/withdraw")
@roles(*REQUESTERS)
def withdraw(request_id: int) -> Any:
    """Take back a use request that still waits."""
    found = _request(request_id)
    return _withdraw(found.approval_id, _("Withdraw use request %(id)s (%(title)s)?", id=found.id,
                                          title=found.document_title),
                     url_for("seal_requests.detail", request_id=request_id))


@bp.post("/seal-requests/<int:request_id>/uses")
@roles(*KEEPERS)
def record_use(request_id: int) -> Any:
    """用印登记: the custodian records the stamping (copies within what is left of the approval)."""
    found = _request(request_id)
    form = forms.UseForm()
    if form.validate_on_submit():
        data = seal_uses.UseIn(request=found.id, copies=form.copies.data or 0, stamped_by=form.stamped_by.data or "",
                               at=office_time(form.at.data), note=form.note.data or "")
        try:
            seal_uses.record_use(g.db, g.actor, found.seal.code, data)
        except DomainError as exc:
            g.db.rollback()
            forms.show(form, exc)
        else:
            g.db.commit()
            flash(_("The use is recorded in the register."))
            return redirect(url_for("seal_requests.detail", request_id=request_id))
    return _detail(_request(request_id), 422, use=form)


# --- take-outs ---

@bp.get("/seal-takeouts/")
@roles(*READERS)
def takeouts() -> Any:
    """Take-outs, newest first, by state; the overdue ones first of all; those waiting for my decision."""
    state = request.args.get("state") or None
    try:
        stmt = seal_takeouts.listing(state)
    except DomainError as exc:
        fail(400, exc.localized())
    todo = approvals.waiting_for(g.db, g.actor.name, [seal_takeouts.KIND])
    now = utcnow()
    return render_template("seals/takeouts.html", page=_page_of(stmt, SealTakeout.id), state=state or "",
                           overdue=seal_takeouts.overdue(g.db, now, 100), now=now, state_of=seal_takeouts.state,
                           todo=[seal_takeouts.by_approval(g.db, a.id) for a in todo])


@bp.route("/seal-takeouts/new", methods=["GET", "POST"])
@roles(*REQUESTERS)
def new_takeout() -> Any:
    """Ask to take a seal out of the office."""
    form = forms.TakeoutForm()
    if request.method == "GET":
        form.department.data, form.seal.data = _department(), request.args.get("seal", "")[:300]
    if form.validate_on_submit():
        due = office_time(form.due_at.data)
        assert due is not None
        data = seal_takeouts.TakeoutIn(seal=form.seal.data or "", carrier=form.carrier.data or "",
                                       destination=form.destination.data or "", purpose=form.purpose.data or "",
                                       due_at=due, department=form.department.data or "")
        try:
            made = seal_takeouts.submit(g.db, g.actor, data, settings_of(current_app).principal_approval_above)
        except DomainError as exc:
            g.db.rollback()
            forms.show(form, exc)
        else:
            g.db.commit()
            flash(_("Take-out request %(id)s submitted; it now waits for the leader in charge.", id=made.id))
            return redirect(url_for("seal_requests.takeout", takeout_id=made.id))
    return render_template("seals/takeout_new.html", form=form), 422 if form.errors or form.form_errors else 200


def _takeout(takeout_id: int) -> SealTakeout:
    try:
        return seal_takeouts.by_id(g.db, takeout_id)
    except DomainError as exc:
        fail(404, exc.localized())


def _takeout_page(found: SealTakeout, status: int = 200, **made: Any) -> Any:
    now = utcnow()
    return render_template(
        "seals/takeout.html", t=found, chain=found.approval, state=seal_takeouts.state(found, now),
        form=made.get("decision") or forms.TakeoutDecisionForm(formdata=None),
        carrier_form=made.get("carrier") or forms.CarrierForm(formdata=None, carrier=found.carrier.code),
        may_decide=approvals.may_decide(g.db, g.actor.name, found.approval)), status


@bp.get("/seal-takeouts/<int:takeout_id>")
@roles(*READERS)
def takeout(takeout_id: int) -> Any:
    """One take-out: approval steps, when it went out and came back."""
    return _takeout_page(_takeout(takeout_id))


@bp.post("/seal-takeouts/<int:takeout_id>/decision")
@roles(*READERS)
def decide_takeout(takeout_id: int) -> Any:
    """Approve or reject (with a reason) a take-out."""
    found = _takeout(takeout_id)
    form = forms.TakeoutDecisionForm()
    if form.validate_on_submit():
        try:
            approvals.decide(g.db, g.actor, found.approval_id, request.form.get("decision", ""), None,
                             form.reason.data or "")
        except DomainError as exc:
            g.db.rollback()
            _decision_error(form, exc)
        else:
            g.db.commit()
            flash(_("Your decision is recorded."))
            return redirect(url_for("seal_requests.takeout", takeout_id=takeout_id))
    return _takeout_page(_takeout(takeout_id), 422, decision=form)


@bp.post("/seal-takeouts/<int:takeout_id>/withdraw")
@roles(*REQUESTERS)
def withdraw_takeout(takeout_id: int) -> Any:
    """Take back a take-out request that still waits."""
    found = _takeout(takeout_id)
    return _withdraw(found.approval_id, _("Withdraw take-out request %(id)s (%(seal)s)?", id=found.id,
                                          seal=found.seal.name),
                     url_for("seal_requests.takeout", takeout_id=takeout_id))


@bp.post("/seal-takeouts/<int:takeout_id>/out")
@roles(*KEEPERS)
def hand_out(takeout_id: int) -> Any:
    """The seal leaves with its carrier (the kiosk's check-out scan does the same)."""
    found = _takeout(takeout_id)
    form = forms.CarrierForm()
    if form.validate_on_submit():
        try:
            seal_takeouts.take_out(g.db, g.actor, found.seal.code, form.carrier.data or "")
        except DomainError as exc:
            g.db.rollback()
            forms.show(form, exc)
        else:
            g.db.commit()
            flash(_("The seal is out of the office."))
            return redirect(url_for("seal_requests.takeout", takeout_id=takeout_id))
    return _takeout_page(_takeout(takeout_id), 422, carrier=form)


@bp.post("/seal-takeouts/<int:takeout_id>/back")
@roles(*KEEPERS)
def hand_back(takeout_id: int) -> Any:
    """The seal is back (the kiosk's check-in scan does the same)."""
    found = _takeout(takeout_id)
    try:
        seal_takeouts.bring_back(g.db, g.actor, found.seal.code)
    except DomainError as exc:
        g.db.rollback()
        flash(exc.localized(), "error")
    else:
        g.db.commit()
        flash(_("The seal is back in the office."))
    return redirect(url_for("seal_requests.takeout", takeout_id=takeout_id))
