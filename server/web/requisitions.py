"""Requisitions (领用申请) in the browser: the request form, the list, the approver's decision, and reorder."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DecimalField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from server import settings_of
from server.auth import READERS, roles
from server.errors import DomainError
from server.i18n import N_
from server.models import Requisition, User
from server.services import approvals, notify, paging, requisitions, supplies, supply_reorder
from server.web.errors import fail
from server.web.forms import confirmation_page, show_domain_error
from server.web.nav import MenuItem

bp = Blueprint("requisitions", __name__, url_prefix="/supplies")
MENU = [MenuItem("requisitions.index", N_("Requisitions"), "storeroom"),
        MenuItem("requisitions.reorder", N_("Reorder"), "storeroom")]
REQUESTERS = ("storekeeper", "guard")


class RequisitionForm(FlaskForm):
    item = StringField(_l("Item (S- code)"), validators=[DataRequired(), Length(max=300)])
    quantity = IntegerField(_l("Quantity"), validators=[DataRequired(), NumberRange(1, supplies.MAX_QUANTITY)])
    department = StringField(_l("Department"), validators=[DataRequired(), Length(max=100)])
    purpose = TextAreaField(_l("Purpose"), validators=[DataRequired(), Length(max=2000)])


class DecisionForm(FlaskForm):
    quantity = IntegerField(_l("Approved quantity (leave as is to approve all)"),
                            validators=[Optional(), NumberRange(1, 100_000)])
    reason = TextAreaField(_l("Reason (required for a rejection)"), validators=[Length(max=2000)])


@bp.get("/requisitions/")
@roles(*READERS)
def index() -> Any:
    """Requisitions, newest first, with filters, and how many wait for me."""
    state, department = request.args.get("state") or None, request.args.get("department") or None
    try:
        page = paging.keyset_page(g.db, requisitions.listing(g.db, state, department), [Requisition.id],
                                  request.args.get("after"), True, 50)
    except DomainError as exc:
        fail(400, exc.localized())
    todo = approvals.waiting_for(g.db, g.actor.name, [requisitions.KIND])
    return render_template("requisitions/index.html", page=page, state=state or "", department=department or "",
                           todo=[requisitions.by_approval(g.db, a.id) for a in todo])


@bp.route("/requisitions/new", methods=["GET", "POST"])
@roles(*REQUESTERS)
def new() -> Any:
    """Ask for supplies beyond everyday use, or a valuable item."""
    form = RequisitionForm()
    if request.method == "GET":
        user = g.db.scalars(select(User).where(User.username == g.actor.name)).first()
        form.department.data = user.department if user else ""
        form.item.data = request.args.get("item", "")
    if form.validate_on_submit():
        data = requisitions.RequisitionIn(item=form.item.data or "", quantity=form.quantity.data or 0,
                                          department=form.department.data or "", purpose=form.purpose.data or "")
        try:
            made = requisitions.submit(g.db, g.actor, data, settings_of(current_app).principal_approval_above)
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, {"unknown_code": "item", "bad_code": "item", "bad_check": "item",
                                          "wrong_kind": "item", "bad_quantity": "quantity"})
        else:
            g.db.commit()
            flash(_("Requisition %(id)s submitted; it now waits for the leader in charge.", id=made.id))
            return redirect(url_for("requisitions.detail", requisition_id=made.id))
    return (render_template("requisitions/new.html", form=form,
                            limit=settings_of(current_app).principal_approval_above),
            422 if form.errors or form.form_errors else 200)


def _found(requisition_id: int) -> Requisition:
    try:
        return requisitions.by_id(g.db, requisition_id)
    except DomainError as exc:
        fail(404, exc.localized())


def _detail(found: Requisition, form: DecisionForm, status: int = 200) -> Any:
    return render_template("requisitions/detail.html", r=found, chain=found.approval, form=form,
                           may_decide=approvals.may_decide(g.db, g.actor.name, found.approval),
                           done=requisitions.fulfilment(g.db, found)), status


@bp.get("/requisitions/<int:requisition_id>")
@roles(*READERS)
def detail(requisition_id: int) -> Any:
    """One requisition: its approval steps and how much of it was picked up."""
    found = _found(requisition_id)
    return _detail(found, DecisionForm(quantity=found.approval.approved_quantity))


@bp.post("/requisitions/<int:requisition_id>/decision")
@roles(*READERS)
def decide(requisition_id: int) -> Any:
    """Approve (all or fewer) or reject with a reason."""
    found = _found(requisition_id)
    form = DecisionForm()
    if form.validate_on_submit():
        try:
            approvals.decide(g.db, g.actor, found.approval_id, request.form.get("decision", ""), form.quantity.data,
                             form.reason.data or "")
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, {"reason_required": "reason", "bad_quantity": "quantity"})
        else:
            g.db.commit()
            flash(_("Your decision is recorded."))
            return redirect(url_for("requisitions.detail", requisition_id=requisition_id))
    return _detail(_found(requisition_id), form, 422)


@bp.post("/requisitions/<int:requisition_id>/withdraw")
@roles(*REQUESTERS)
def withdraw(requisition_id: int) -> Any:
    """Take back a requisition that still waits."""
    found = _found(requisition_id)
    back = url_for("requisitions.detail", requisition_id=requisition_id)
    asked = confirmation_page(_("Withdraw requisition %(id)s (%(item)s)?", id=found.id, item=found.item.name), back)
    if asked is not None:
        return asked
    try:
        approvals.withdraw(g.db, g.actor, found.approval_id)
    except DomainError as exc:
        g.db.rollback()
        flash(exc.localized(), "error")
    else:
        g.db.commit()
        flash(_("The requisition was withdrawn."))
    return redirect(back)


class ReorderRequestForm(FlaskForm):
    department = StringField(_l("Department"), validators=[DataRequired(), Length(max=100)])
    category = SelectField(_l("Procurement category (office supplies)"), validators=[DataRequired()])
    quantity = IntegerField(_l("Quantity"), validators=[DataRequired(), NumberRange(1, supplies.MAX_QUANTITY)])
    estimated_unit_price = DecimalField(_l("Estimated unit price (CNY)"), places=2,
                                        validators=[DataRequired(), NumberRange(0.01, 1e11)])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])


@bp.get("/reorder")
@roles(*READERS)
def reorder() -> Any:
    """Items at or under their reorder level, since when (the notification), and their purchase request."""
    rows = supplies.reorder_list(g.db)
    settings = settings_of(current_app)
    keeper = g.actor.role in ("admin", "storekeeper")  # delivery errors may name the receiver's URL
    return render_template("requisitions/reorder.html", rows=rows,
                           asked=supply_reorder.requests_of(g.db, [item.id for item, _s, _a in rows]),
                           webhook=bool(settings.reorder_webhook_url), emails=settings.reorder_emails,
                           failing=notify.failing(g.db, 10, "supply.reorder") if keeper else [])


@bp.route("/reorder/<code>/request", methods=["GET", "POST"])
@roles("storekeeper")
def reorder_request(code: str) -> Any:
    """Turn a reorder into a purchase request (申购): the request form, filled in from the item."""
    try:
        item = supplies.item_by_code(g.db, code)
    except DomainError as exc:
        fail(404, exc.localized())
    form = ReorderRequestForm()
    form.category.choices = [c.name for c in supply_reorder.supply_categories(g.db)]
    stock = supplies.stock(g.db, item.id)
    if request.method == "GET":
        user = g.db.scalars(select(User).where(User.username == g.actor.name)).first()
        form.department.data = user.department if user else ""
        form.category.data = supply_reorder.default_category(g.db, item)
        form.quantity.data = item.reorder_quantity or None
        form.estimated_unit_price.data = supply_reorder.last_cost(g.db, item)
        form.reason.data = _("Reorder: %(stock)s %(unit)s in stock, at or under the reorder level %(level)s.",
                             stock=stock, unit=item.unit, level=item.reorder_level)
    if form.validate_on_submit():
        data = supply_reorder.ReorderIn(department=form.department.data or "", reason=form.reason.data or "",
                                        category=form.category.data or "", quantity=form.quantity.data,
                                        estimated_unit_price=form.estimated_unit_price.data)
        try:
            made = supply_reorder.request(g.db, g.actor, item.code, data,
                                          settings_of(current_app).principal_approval_above)
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, {"not_supplies": "category", "bad_quantity": "quantity",
                                          "bad_price": "estimated_unit_price", "required": "department"})
        else:
            g.db.commit()
            flash(_("Purchase request %(id)s made for %(item)s; it now waits for the leader in charge.", id=made.id,
                    item=item.name))
            return redirect(url_for("requests.detail", request_id=made.id))
    return (render_template("requisitions/reorder_request.html", form=form, item=item, stock=stock),
            422 if form.errors or form.form_errors else 200)
