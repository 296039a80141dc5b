"""Supplies in the browser: the list with stock, each item with its ledger, and the movements."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DecimalField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from server import names
from server.auth import READERS, roles
from server.errors import DomainError
from server.i18n import N_, fmt_money
from server.models import SupplyItem, SupplyMovement
from server.services import paging, supplies, supply_conflicts, supply_receipts
from server.web.errors import fail
from server.web.forms import confirmation_page, show_domain_error
from server.web.nav import MenuItem

bp = Blueprint("supplies", __name__, url_prefix="/supplies")
MENU = [MenuItem("supplies.index", N_("Supplies"), "storeroom"),
        MenuItem("supplies.conflicts", N_("Pickup conflicts"), "storeroom")]
KEEPERS = ("storekeeper",)
QUANTITY = [DataRequired(), NumberRange(1, supplies.MAX_QUANTITY)]
# Code errors may be about the item or the badge: their message names the code, above the form.
CODE_ERRORS = {"insufficient_stock": "quantity", "bad_quantity": "quantity", "requisition_required": "requisition",
               "requisition_not_approved": "requisition", "requisition_exceeded": "requisition"}


@bp.app_template_filter("movement_kind")
def movement_kind(code: object) -> str:
    return names.movement_kind(code)


class ItemForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    unit = StringField(_l("Unit"), validators=[DataRequired(), Length(max=20)])
    category = StringField(_l("Category"), validators=[Length(max=100)])
    location = StringField(_l("Storeroom location"), validators=[Length(max=100)])
    reorder_level = IntegerField(_l("Reorder level"), default=0, validators=[NumberRange(0, 1_000_000)])
    reorder_quantity = IntegerField(_l("Reorder quantity"), default=0, validators=[NumberRange(0, 1_000_000)])
    valuable = BooleanField(_l("Valuable (always needs a requisition)"))
    everyday_max = IntegerField(_l("Most per pickup without a requisition (empty: no limit)"),
                                validators=[Optional(), NumberRange(0, 1_000_000)])
    unit_price = DecimalField(_l("Unit price (CNY)"), places=2, validators=[Optional(), NumberRange(0, 1e11)])


class PickupForm(FlaskForm):
    item = StringField(_l("Item (S- code)"), validators=[DataRequired(), Length(max=300)])
    taker = StringField(_l("Taken by (badge, P- code)"), validators=[DataRequired(), Length(max=300)])
    department = StringField(_l("Department (empty: the taker's)"), validators=[Length(max=100)])
    quantity = IntegerField(_l("Quantity"), validators=QUANTITY)
    purpose = StringField(_l("Purpose"), validators=[Length(max=200)])
    requisition = IntegerField(_l("Requisition number (empty: the department's approved one, if needed)"),
                               validators=[Optional(), NumberRange(1, 2**31 - 1)])


class ReceiptForm(FlaskForm):
    # Not limited to the choices shown: a line received in full since (a form sent twice) is for the
    # service to answer (the same request key: the first receipt again).
    purchase_line = SelectField(_l("Purchase line (office supplies)"), coerce=int, validate_choice=False,
                                validators=[DataRequired()])
    quantity = IntegerField(_l("Quantity received (empty: all that is left of the line)"),
                            validators=[Optional(), NumberRange(1, supplies.MAX_QUANTITY)])
    note = StringField(_l("Note"), validators=[Length(max=500)])
    request_key = HiddenField()


def receipt_form(formdata: Any = None) -> ReceiptForm:
    """The receipt form with the supply purchase lines that still have units to receive."""
    form = ReceiptForm(formdata=formdata)
    form.purchase_line.choices = [
        SelectChoice(line.id, _("No. %(id)s: %(category)s %(what)s, %(left)s left at %(price)s", id=line.id,
                                category=line.category.name, what=line.description, left=left,
                                price=fmt_money(line.unit_price)))
        for line, left in supply_receipts.open_lines(g.db)]
    if formdata is None:
        form.request_key.data = uuid.uuid4().hex  # one per form shown: sending it twice receives once
    return form


class AdjustmentForm(FlaskForm):
    delta = IntegerField(_l("Change (+ or -)"), validators=[DataRequired(), NumberRange(-supplies.MAX_QUANTITY,
                                                                                         supplies.MAX_QUANTITY)])
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=500)])


class ReversalForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=500)])


@bp.get("/")
@roles(*READERS)
def index() -> Any:
    """Items with their stock; filters category and below the reorder level."""
    category, below = request.args.get("category") or None, request.args.get("below_reorder") == "1"
    try:
        page = paging.keyset_page(g.db, supplies.listing(g.db, category, below), [SupplyItem.code],
                                  request.args.get("after"), False, 50)
    except DomainError as exc:
        fail(400, exc.localized())
    stock = supplies.stocks_of(g.db, [i.id for i in page.items])
    return render_template("supplies/index.html", page=page, stock=stock, category=category or "", below=below,
                           conflicts=supply_conflicts.open_count(g.db))


@bp.route("/new", methods=["GET", "POST"])
@roles(*KEEPERS)
def new() -> Any:
    """A new supply item; its S- code is issued here."""
    form = ItemForm()
    if form.validate_on_submit():
        data = supplies.ItemIn(name=form.name.data or "", unit=form.unit.data or "", category=form.category.data or "",
                               location=form.location.data or "", reorder_level=form.reorder_level.data or 0,
                               reorder_quantity=form.reorder_quantity.data or 0, valuable=bool(form.valuable.data),
                               everyday_max=form.everyday_max.data, unit_price=form.unit_price.data)
        try:
            item = supplies.create_item(g.db, g.actor, data)
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, {"bad_level": "reorder_level"})
        else:
            g.db.commit()
            flash(_("Supply item %(code)s created.", code=item.code))
            return redirect(url_for("supplies.item_page", code=item.code))
    return render_template("supplies/new.html", form=form), 422 if form.errors or form.form_errors else 200


@bp.get("/<code>")
@roles(*READERS)
def item_page(code: str) -> Any:
    """One item: its stock and its ledger, newest first."""
    return _item_page(code, receipt_form(), AdjustmentForm(formdata=None))


def _item_page(code: str, receipt: ReceiptForm, adjustment: AdjustmentForm, status: int = 200) -> Any:
    try:
        item = supplies.item_by_code(g.db, code)
        page = paging.keyset_page(g.db, supplies.ledger(item), [SupplyMovement.id], request.args.get("after"),
                                  True, 50)
    except DomainError as exc:
        fail(404, exc.localized())
    reversed_ids = supply_receipts.reversed_among(g.db, [m.id for m in page.items])
    return render_template("supplies/item.html", item=item, stock=supplies.stock(g.db, item.id), page=page,
                           receipt=receipt, adjustment=adjustment, reversed_ids=reversed_ids), status


@bp.post("/<code>/receipts")
@roles(*KEEPERS)
def receive(code: str) -> Any:
    """Stock received from a purchase line of office supplies."""
    form = receipt_form(request.form)
    if form.validate_on_submit():
        try:
            supply_receipts.receive(g.db, g.actor, code, form.purchase_line.data or 0, form.quantity.data,
                                    form.note.data or "", form.request_key.data or None)
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, {"bad_quantity": "quantity", "intake_exceeded": "quantity",
                                          "not_supplies": "purchase_line", "purchase_voided": "purchase_line",
                                          "unknown_purchase_line": "purchase_line"})
        else:
            g.db.commit()
            flash(_("Receipt recorded."))
            return redirect(url_for("supplies.item_page", code=code))
    return _item_page(code, form, AdjustmentForm(formdata=None), 422)


@bp.route("/<code>/receipts/<receipt_id>/reverse", methods=["GET", "POST"])
@roles(*KEEPERS)
def reverse_receipt(code: str, receipt_id: str) -> Any:
    """Reverse a receipt entered by mistake, with its reason, after a confirmation."""
    try:
        item = supplies.item_by_code(g.db, code)
        receipt = supply_receipts.receipt_of(g.db, item, receipt_id)
    except DomainError as exc:
        fail(404, exc.localized())
    back = url_for("supplies.item_page", code=item.code)
    form = ReversalForm()
    if form.validate_on_submit():
        asked = confirmation_page(_("Reverse receipt %(id)s: %(quantity)s %(unit)s of %(item)s?", id=receipt.id,
                                    quantity=receipt.quantity, unit=item.unit, item=item.name), back,
                                  _("The units leave the stock; the receipt stays in the ledger, marked reversed."))
        if asked is not None:
            return asked
        try:
            supply_receipts.reverse(g.db, g.actor, item.code, receipt.id, form.reason.data or "")
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, {"required": "reason", "too_long": "reason"})
        else:
            g.db.commit()
            flash(_("Receipt %(id)s is reversed.", id=receipt.id), "ok")
            return redirect(back)
    status = 422 if form.errors or form.form_errors else 200
    done = supply_receipts.reversal_of(g.db, receipt.id)
    return render_template("supplies/reverse.html", form=form, item=item, receipt=receipt,
                           stock=supplies.stock(g.db, item.id), done=done), status


@bp.post("/<code>/adjustments")
@roles(*KEEPERS)
def adjust(code: str) -> Any:
    """A correction with its reason."""
    form = AdjustmentForm()
    if form.validate_on_submit():
        try:
            supplies.adjust(g.db, g.actor, code, form.delta.data or 0, form.reason.data or "")
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, {"bad_quantity": "delta", "insufficient_stock": "delta",
                                          "required": "reason"})
        else:
            g.db.commit()
            flash(_("Adjustment recorded."))
            return redirect(url_for("supplies.item_page", code=code))
    return _item_page(code, receipt_form(), form, 422)


@bp.route("/pickup", methods=["GET", "POST"])
@roles(*KEEPERS)
def pickup() -> Any:
    """Record a pickup: the item, who took it, for which department, how many, what for."""
    form = PickupForm()
    if request.method == "GET" and request.args.get("item"):
        form.item.data = request.args["item"]
    if form.validate_on_submit():
        data = supplies.PickupIn(item=form.item.data or "", quantity=form.quantity.data or 0,
                                 taker=form.taker.data or "", purpose=form.purpose.data or "",
                                 department=form.department.data or "", requisition=form.requisition.data)
        try:
            movement = supplies.pickup(g.db, g.actor, data)
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, CODE_ERRORS)
        else:
            g.db.commit()
            flash(_("Pickup recorded: %(quantity)s %(unit)s of %(item)s.", quantity=-movement.quantity,
                    unit=movement.item.unit, item=movement.item.name))
            return redirect(url_for("supplies.item_page", code=movement.item.code))
    return render_template("supplies/pickup.html", form=form), 422 if form.errors or form.form_errors else 200
