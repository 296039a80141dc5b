"""The procurement pages' forms, and putting a service's refusal beside the field it is about.

Field names are the REST bodies' (server/api/procurement.py, intake.py), so a service error that names
its ``field`` (and, for a purchase, its ``line``) lands beside the same input on the page.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from server.errors import DomainError
from server.services import purchases

REQUIRED = _l("Please fill this in.")
MAX_LINES = 20


class ImportForm(FlaskForm):
    file = FileField(_l("Plan file (CSV or XLSX)"), validators=[FileRequired(REQUIRED)])


class ConfirmImportForm(FlaskForm):
    skip_bad = BooleanField(_l("Import the good rows and leave out the bad ones"))


class PurchaseLineForm(Form):
    plan_line = StringField(_l("Plan line"), validators=[InputRequired(REQUIRED), Length(max=40)])
    category = SelectField(_l("Procurement category"), validators=[InputRequired(REQUIRED)])
    quantity = IntegerField(_l("Quantity"), validators=[
        InputRequired(REQUIRED), NumberRange(1, 1_000_000, _l("Between 1 and 1,000,000."))])
    unit_price = DecimalField(_l("Unit price (yuan)"), places=2, validators=[
        InputRequired(REQUIRED), NumberRange(Decimal(0), message=_l("Not below 0."))])
    description = StringField(_l("Description"), validators=[Optional(), Length(max=200)])


class PurchaseForm(FlaskForm):
    supplier = StringField(_l("Supplier"), validators=[InputRequired(REQUIRED), Length(max=200)])
    purchased_on = DateField(_l("Purchase date"), validators=[InputRequired(REQUIRED)], default=date.today)
    method = SelectField(_l("Procurement method"), validators=[InputRequired(REQUIRED)])
    reference = StringField(_l("Invoice or contract number"), validators=[InputRequired(REQUIRED), Length(max=100)])
    method_exception_ref = StringField(_l("Approval reference of a method exception (only when the method differs "
                                          "from the plan's)"), validators=[Optional(), Length(max=100)])
    free_kind = SelectField(_l("Donation or free transfer-in (only these may have a unit price of 0)"),
                            choices=[SelectChoice("", _l("No: a purchase")), SelectChoice("donation", _l("Donation")),
                                     SelectChoice("free_transfer_in", _l("Free transfer-in"))],
                            validators=[Optional()])
    free_approval_ref = StringField(_l("Approval reference of the donation or transfer-in"),
                                    validators=[Optional(), Length(max=100)])
    lines = FieldList(FormField(PurchaseLineForm), min_entries=1, max_entries=MAX_LINES)
    add_line = SubmitField(_l("Add a line"))
    save = SubmitField(_l("Record the purchase"))


class IntakeForm(FlaskForm):
    # Not limited to the choices shown: a line received in full since (a form sent twice) is for the
    # service to answer (the same request key: the first intake again).
    purchase_line = SelectField(_l("Purchase line"), coerce=int, validate_choice=False,
                                validators=[InputRequired(REQUIRED)])
    location = SelectField(_l("Storeroom, shelf or bin"), validators=[InputRequired(REQUIRED)])
    quantity = IntegerField(_l("Quantity (empty: every unit left)"), validators=[
        Optional(), NumberRange(1, 20_000, _l("Between 1 and 20,000."))])
    serials = TextAreaField(_l("Serial numbers, one per unit and line (optional)"))
    received_on = DateField(_l("Received on"), validators=[InputRequired(REQUIRED)], default=date.today)
    name = StringField(_l("Asset name (empty: the purchase line's description)"),
                       validators=[Optional(), Length(max=200)])
    request_key = HiddenField()


class LabelsForIntakeForm(FlaskForm):
    template = StringField(_l("Template"))
    skip = IntegerField(_l("Labels already used on the first sheet"), default=0,
                        validators=[Optional(), NumberRange(0, 1000)])


def purchase_lines(form: PurchaseForm) -> tuple[list[purchases.LineIn], list[int]]:
    """The lines filled in completely and without a field error (the ones the plan can judge), and
    each one's entry on the form."""
    out: list[purchases.LineIn] = []
    entries: list[int] = []
    for index, entry in enumerate(form.lines.entries):
        sub = entry.form
        if any(field.errors for field in sub) or not (sub.plan_line.data or "").strip() or sub.quantity.data is None:
            continue
        out.append(purchases.LineIn((sub.plan_line.data or "").strip(), sub.category.data or "",
                                    sub.quantity.data, sub.unit_price.data or Decimal(0),
                                    (sub.description.data or "").strip()))
        entries.append(index)
    return out, entries


def place_error(form: FlaskForm, exc: DomainError, entries: list[int] | None = None) -> None:
    """Each refusal beside its field: a plan refusal names every broken rule with its line and field."""
    if isinstance(exc, purchases.PlanRefused):
        for violation in exc.violations:
            _put(form, violation.field, violation.line, violation.localized(), entries)
    else:
        line = exc.params.get("line") if isinstance(form, PurchaseForm) else None
        _put(form, exc.params.get("field"), line, exc.localized(), entries)


def _put(form: FlaskForm, name: str | None, line: int | None, message: str, entries: list[int] | None) -> None:
    target: Any = None
    if line is not None and entries and 1 <= line <= len(entries) and name:
        target = getattr(form.lines.entries[entries[line - 1]].form, name, None)
    elif name:
        target = getattr(form, name, None)
    if target is None:
        form.form_errors.append(message)
    else:
        target.errors = [*target.errors, message]


def forget_empty(form: Any) -> None:
    """While a form is being filled in, say nothing about the fields still empty."""
    for field in form:
        if isinstance(field, FieldList):
            for entry in field.entries:
                forget_empty(entry.form)
        elif not any((value or "").strip() for value in (field.raw_data or [])):
            field.errors = []


def drop_blank_lines(form: PurchaseForm) -> None:
    """Lines left empty (an added line not used) are not lines: leave them out before validating."""
    def blank(entry: Any) -> bool:
        sub = entry.form
        return not any((value or "").strip() for field in (sub.plan_line, sub.quantity, sub.unit_price, sub.description)
                       for value in (field.raw_data or []))

    kept = [entry for entry in form.lines.entries if not blank(entry)] or form.lines.entries[:1]
    form.lines.entries = kept
    form.lines.last_index = max(int(entry.name.rsplit("-", 1)[-1]) for entry in kept)


class VoidForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[InputRequired(REQUIRED), Length(max=1000)])
    approval_ref = StringField(_l("Approval reference"), validators=[InputRequired(REQUIRED), Length(max=100)])


class AmendForm(FlaskForm):
    approved_qty = IntegerField(_l("New approved quantity"), validators=[
        Optional(), NumberRange(1, 10_000_000, _l("Between 1 and 10,000,000."))])
    approved_amount = DecimalField(_l("New approved amount (yuan)"), places=2, validators=[
        Optional(), NumberRange(Decimal(0), message=_l("Not below 0."))])
    approval_ref = StringField(_l("Approval reference"), validators=[InputRequired(REQUIRED), Length(max=100)])
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=1000)])


class ReverseForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[InputRequired(REQUIRED), Length(max=1000)])
