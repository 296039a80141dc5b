"""Purchase requests (申购) in the browser: submit, follow, decide (the approver's to-do), link, approvers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DecimalField, IntegerField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from server import settings_of
from server.auth import READERS, roles
from server.errors import DomainError
from server.i18n import N_
from server.models import Category, PurchaseRequest, User
from server.services import approvals, paging, purchase_requests
from server.web.forms import attempt, confirmation_page, show_domain_error
from server.web.nav import MenuItem

bp = Blueprint("requests", __name__, url_prefix="/requests")
MENU = [MenuItem("requests.index", N_("Purchase requests"), "procurement"),
        MenuItem("requests.approvers", N_("Approvers"), "system")]
REQUESTERS = ("storekeeper", "guard")


class RequestForm(FlaskForm):
    department = StringField(_l("Department"), validators=[DataRequired(), Length(max=100)])
    item = StringField(_l("Item"), validators=[DataRequired(), Length(max=200)])
    category = SelectField(_l("Category"), validators=[DataRequired()])
    quantity = IntegerField(_l("Quantity"), validators=[DataRequired(), NumberRange(1, 100_000)])
    estimated_unit_price = DecimalField(_l("Estimated unit price (CNY)"), places=2,
                                        validators=[DataRequired(), NumberRange(Decimal("0.01"), Decimal("1e12"))])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])
    replaces = StringField(_l("Replaces asset (code, optional)"), validators=[Optional(), Length(max=40)])


class DecisionForm(FlaskForm):
    quantity = IntegerField(_l("Approved quantity (leave as is to approve all)"),
                            validators=[Optional(), NumberRange(1, 100_000)])
    reason = TextAreaField(_l("Reason (required for a rejection)"), validators=[Length(max=2000)])


class LinkForm(FlaskForm):
    plan_line = StringField(_l("Plan line ref"), validators=[Optional(), Length(max=40)])
    purchase_id = IntegerField(_l("Purchase number"), validators=[Optional(), NumberRange(1, 2**31 - 1)])


class GrantForm(FlaskForm):
    username = SelectField(_l("User"), validators=[DataRequired()])
    level = SelectField(_l("Level"), choices=[SelectChoice("leader", _l("Leader in charge")),
                                              SelectChoice("principal", _l("Principal leader")),
                                              SelectChoice("archive_manager", _l("Archive manager"))])
    department = StringField(_l("Department (empty: all departments)"), validators=[Length(max=100)])


@bp.get("/")
@roles(*READERS)
def index() -> Any:
    """Requests with filters, newest first, and how many wait for me."""
    state, department = request.args.get("state") or None, request.args.get("department") or None
    try:
        query = purchase_requests.listing(g.db, state, department)
        page = paging.keyset_page(g.db, query, [PurchaseRequest.id], request.args.get("after"), True, 50)
    except DomainError as exc:
        flash(exc.localized(), "error")
        return redirect(url_for("requests.index"))
    todo = len(approvals.waiting_for(g.db, g.actor.name, [purchase_requests.KIND]))
    return render_template("requests/index.html", page=page, state=state or "", department=department or "",
                           todo=todo)


@bp.route("/new", methods=["GET", "POST"])
@roles(*REQUESTERS)
def new() -> Any:
    """Submit a purchase request."""
    form = RequestForm()
    form.category.choices = [(c, c) for c in g.db.scalars(select(Category.name).order_by(Category.name))]
    if request.method == "GET":
        user = g.db.scalars(select(User).where(User.username == g.actor.name)).first()
        form.department.data = user.department if user else ""
    if form.validate_on_submit():
        data = purchase_requests.RequestIn(
            department=form.department.data or "", item=form.item.data or "", category=form.category.data or "",
            quantity=form.quantity.data or 0, estimated_unit_price=form.estimated_unit_price.data or Decimal(0),
            reason=form.reason.data or "", replaces=form.replaces.data or None)
        try:
            made = purchase_requests.submit(g.db, g.actor, data, settings_of(current_app).principal_approval_above)
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, {"unknown_code": "replaces", "bad_code": "replaces", "bad_check": "replaces",
                                          "bad_quantity": "quantity", "bad_price": "estimated_unit_price"})
        else:
            g.db.commit()
            flash(_("Request %(id)s submitted; it now waits for the leader in charge.", id=made.id))
            return redirect(url_for("requests.detail", request_id=made.id))
    limit = settings_of(current_app).principal_approval_above
    return render_template("requests/new.html", form=form, limit=limit), 422 if form.errors or form.form_errors else 200


@bp.get("/<int:request_id>")
@roles(*READERS)
def detail(request_id: int) -> Any:
    """One request: what was asked, where its approval stands, what each approver decided."""
    found = _found(request_id)
    return _detail_page(found, DecisionForm(quantity=found.approval.approved_quantity), LinkForm())


def _found(request_id: int) -> PurchaseRequest:
    from server.web.errors import fail

    try:
        return purchase_requests.by_id(g.db, request_id)
    except DomainError as exc:
        fail(404, exc.localized())


def _detail_page(found: PurchaseRequest, decision_form: DecisionForm, link_form: LinkForm, status: int = 200) -> Any:
    return render_template(
        "requests/detail.html", r=found, chain=found.approval, decision_form=decision_form, link_form=link_form,
        may_decide=approvals.may_decide(g.db, g.actor.name, found.approval),
        fulfilled=purchase_requests.fulfilled_quantity(g.db, found)), status


@bp.post("/<int:request_id>/decision")
@roles(*READERS)
def decide(request_id: int) -> Any:
    """Approve (all or fewer) or reject with a reason."""
    found = _found(request_id)
    form = DecisionForm()
    decision = request.form.get("decision", "")
    if form.validate_on_submit() and attempt(
            lambda: approvals.decide(g.db, g.actor, found.approval_id, decision, form.quantity.data,
                                     form.reason.data or ""),
            form, {"reason_required": "reason", "bad_quantity": "quantity"}):
        flash(_("Your decision is recorded."))
        return redirect(url_for("requests.detail", request_id=request_id))
    return _detail_page(_found(request_id), form, LinkForm(), 422)


@bp.post("/<int:request_id>/withdraw")
@roles(*REQUESTERS)
def withdraw(request_id: int) -> Any:
    """Take back a request that still waits."""
    found = _found(request_id)
    back = url_for("requests.detail", request_id=request_id)
    asked = confirmation_page(_("Withdraw request %(id)s (%(item)s)?", id=found.id, item=found.item), back)
    if asked is not None:
        return asked
    if attempt(lambda: approvals.withdraw(g.db, g.actor, found.approval_id)):
        flash(_("The request was withdrawn."))
    return redirect(back)


@bp.post("/<int:request_id>/link")
@roles("storekeeper")
def link(request_id: int) -> Any:
    """Tie an approved request to its plan line and/or purchase."""
    form = LinkForm()
    if form.validate_on_submit() and attempt(
            lambda: purchase_requests.link(g.db, g.actor, request_id, form.plan_line.data or None,
                                           form.purchase_id.data),
            form, {"unknown_plan_line": "plan_line", "category_mismatch": "plan_line"}):
        flash(_("Linked."))
        return redirect(url_for("requests.detail", request_id=request_id))
    found = _found(request_id)
    return _detail_page(found, DecisionForm(quantity=found.approval.approved_quantity), form, 422)


@bp.get("/todo")
@roles(*READERS)
def todo() -> Any:
    """Requests waiting for my decision."""
    waiting = approvals.waiting_for(g.db, g.actor.name, [purchase_requests.KIND])
    rows = [(a, purchase_requests.by_approval(g.db, a.id)) for a in waiting]
    return render_template("requests/todo.html", rows=rows)


@bp.route("/approvers", methods=["GET", "POST"])
@roles()
def approvers() -> Any:
    """Who may approve what (admin)."""
    form = GrantForm()
    form.username.choices = [(u, u) for u in g.db.scalars(select(User.username).where(User.active.is_(True))
                                                          .order_by(User.username))]
    if form.validate_on_submit() and attempt(
            lambda: approvals.grant(g.db, g.actor, form.username.data or "", form.level.data or "",
                                    form.department.data or ""), form):
        flash(_("Approver added."))
        return redirect(url_for("requests.approvers"))
    return render_template("requests/approvers.html", form=form, grants=approvals.grants(g.db))


@bp.post("/approvers/<int:grant_id>/revoke")
@roles()
def revoke(grant_id: int) -> Any:
    """Take an approver grant away (after a confirmation)."""
    back = url_for("requests.approvers")
    asked = confirmation_page(_("Remove this approver grant?"), back)
    if asked is not None:
        return asked
    if attempt(lambda: approvals.revoke_grant(g.db, g.actor, grant_id)):
        flash(_("Approver removed."))
    return redirect(back)
