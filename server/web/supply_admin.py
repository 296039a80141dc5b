"""The storekeeper's pages beyond the items (blueprint ``supplies``): the pickup conflicts to settle, and
which procurement categories are office supplies (received into stock, not made assets)."""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from server.auth import READERS, roles
from server.errors import DomainError
from server.services import supplies, supply_conflicts, supply_receipts
from server.web.errors import fail
from server.web.forms import attempt, show_domain_error
from server.web.parts import Routes
from server.web.supplies import KEEPERS

routes = Routes()  # on the supplies blueprint, put there by server.web.register


class SettleForm(FlaskForm):
    action = SelectField(_l("How"), choices=[SelectChoice("accept", _l("Accept: the ledger is right")),
                                             SelectChoice("adjust", _l("Adjust the stock to the shelf"))])
    delta = IntegerField(_l("Adjustment (+ or -), for adjust"),
                         validators=[Optional(), NumberRange(-supplies.MAX_QUANTITY, supplies.MAX_QUANTITY)])
    note = StringField(_l("Note (why)"), validators=[DataRequired(), Length(max=500)])


class CategoryForm(FlaskForm):
    category = HiddenField(validators=[DataRequired(), Length(max=100)])
    supplies = HiddenField(validators=[DataRequired(), Length(max=1)])


@routes.get("/conflicts")
@roles(*READERS)
def conflicts() -> Any:
    """Offline pickups that went below zero or lacked a requisition: open ones first, to settle."""
    state = request.args.get("state") or "open"
    if state not in supply_conflicts.STATES:
        fail(400, _("Unknown state."))
    return _conflicts_page(state)


def _settle_form(movement_id: int, formdata: Any = None) -> SettleForm:
    # A prefix per row: every form on the page has its own field ids (and labels that point at them).
    return SettleForm(formdata=formdata, prefix=f"c{movement_id}-")


def _conflicts_page(state: str, failed: SettleForm | None = None, failed_id: int = 0, status: int = 200) -> Any:
    rows = supply_conflicts.listing(g.db, state)
    forms = {c.movement.id: failed if failed is not None and c.movement.id == failed_id else _settle_form(c.movement.id)
             for c in rows if c.settlement is None}
    return render_template("supplies/conflicts.html", rows=rows, state=state, forms=forms), status


@routes.post("/conflicts/<int:movement_id>")
@roles(*KEEPERS)
def settle(movement_id: int) -> Any:
    """Settle one conflict: accept it with a note, or adjust the stock."""
    form = _settle_form(movement_id, request.form)
    if form.validate_on_submit():
        try:
            supply_conflicts.settle(g.db, g.actor, movement_id, form.action.data or "", form.note.data or "",
                                    form.delta.data)
        except DomainError as exc:
            g.db.rollback()
            if exc.status == 404:
                fail(404, exc.localized())
            show_domain_error(form, exc, {"bad_quantity": "delta", "insufficient_stock": "delta",
                                          "required": "note", "bad_action": "action"})
        else:
            g.db.commit()
            flash(_("Conflict of ledger line %(id)s settled.", id=movement_id))
            return redirect(url_for("supplies.conflicts"))
    return _conflicts_page("open", form, movement_id, 422)


@routes.get("/categories")
@roles(*READERS)
def categories() -> Any:
    """Which procurement categories are office supplies."""
    return render_template("supplies/categories.html", rows=supply_receipts.categories(g.db),
                           form=CategoryForm(formdata=None))


@routes.post("/categories")
@roles(*KEEPERS)
def mark_category() -> Any:
    """Mark a category as office supplies, or not (refused once a line of it was received the other way)."""
    form = CategoryForm()
    if not form.validate_on_submit() or form.supplies.data not in ("0", "1"):
        fail(400, _("Choose a category and whether it is office supplies."))
    if attempt(lambda: supply_receipts.mark_category(g.db, g.actor, form.category.data or "",
                                                     form.supplies.data == "1")):
        flash(_("Category %(name)s saved.", name=form.category.data))
    return redirect(url_for("supplies.categories"))
