"""Procurement corrections on the web: void a purchase, amend a plan line, reverse an intake.

The rules are services/corrections.py's; each page asks for the reason and approval reference,
confirms, and puts a refusal beside its field. Roles are the REST routes' (server/api/corrections.py).
"""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, render_template, url_for
from flask_babel import gettext as _

from server.auth import roles
from server.errors import DomainError
from server.services import corrections, intake, plans, purchases
from server.web.errors import fail
from server.web.forms import confirmation_page, show_domain_error
from server.web.parts import Routes
from server.web.procurement_forms import AmendForm, ReverseForm, VoidForm

FIELDS = {"below_used": "approved_qty", "amount_above_cap": "approved_amount", "invalid": "approved_qty"}

routes = Routes()  # on the procurement blueprint, put there by server.web.register


def _or_404(load: Any, *args: Any) -> Any:
    try:
        return load(g.db, *args)
    except DomainError as exc:
        fail(404, exc.localized())


@routes.route("/purchases/<purchase_id>/void", methods=["GET", "POST"])
@roles("storekeeper")  # as POST /api/v1/purchases/<id>/void
def purchase_void(purchase_id: str) -> Any:
    """Void a purchase, with its reason and approval reference."""
    purchase = _or_404(purchases.get, purchase_id)
    back = url_for("procurement.purchase_page", purchase_id=purchase.id)
    form = VoidForm()
    if form.validate_on_submit():
        asked = confirmation_page(_("Void purchase %(id)s?", id=purchase.id), back,
                                  _("It stays in the records, marked voided; the plan gets its amount back."))
        if asked is not None:
            return asked
        try:
            corrections.void_purchase(g.db, g.actor, purchase.id, form.reason.data or "", form.approval_ref.data or "")
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, {"invalid": "approval_ref"})
        else:
            g.db.commit()
            flash(_("Purchase %(id)s is voided.", id=purchase.id), "ok")
            return redirect(back)
    return render_template("procurement/purchase_void.html", form=form, purchase=purchase,
                           pending=corrections.open_intakes(g.db, purchase.id)), 400 if form.errors else 200


@routes.route("/plans/<ref>/amend", methods=["GET", "POST"])
@roles()  # admin, as POST /api/v1/plans/<ref>/amendments
def plan_amend(ref: str) -> Any:
    """Amend a plan line's approved quantity or amount by an approved change."""
    line = _or_404(plans.line_by_ref, ref)
    back = url_for("procurement.plan_line", ref=line.ref)
    form = AmendForm()
    if form.validate_on_submit():
        try:
            corrections.amend_plan_line(g.db, g.actor, line.ref, form.approval_ref.data or "", form.approved_qty.data,
                                        form.approved_amount.data, form.reason.data or "")
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, FIELDS)
        else:
            g.db.commit()
            flash(_("Plan line %(ref)s is amended.", ref=line.ref), "ok")
            return redirect(back)
    [row] = plans.execution_of(g.db, [line])
    return render_template("procurement/plan_amend.html", form=form, row=row), 400 if form.errors else 200


@routes.route("/intakes/<intake_id>/reverse", methods=["GET", "POST"])
@roles("storekeeper")  # as POST /api/v1/intakes/<id>/reverse
def intake_reverse(intake_id: str) -> Any:
    """Reverse an intake whose assets have not been used: they are retired."""
    row = _or_404(intake.get, intake_id)
    back = url_for("procurement.intake_page", intake_id=row.id)
    form = ReverseForm()
    if form.validate_on_submit():
        asked = confirmation_page(_("Reverse intake %(id)s?", id=row.id), back,
                                  _("Its assets are retired; their codes are never used again."))
        if asked is not None:
            return asked
        try:
            corrections.reverse_intake(g.db, g.actor, row.id, form.reason.data or "")
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc)
        else:
            g.db.commit()
            flash(_("Intake %(id)s is reversed.", id=row.id), "ok")
            return redirect(back)
    return render_template("procurement/intake_reverse.html", form=form, intake=row,
                           used=corrections.used_assets(g.db, row.id)), 400 if form.errors else 200
