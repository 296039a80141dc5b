"""The forms of the asset life-cycle actions on the web, one per action.

They check the shape of the input only (lengths, numbers, dates); whether an action is allowed
and what it needs (an approval for a disposal, purpose and due time for a controlled item) is
decided by the services, whose refusals the view puts beside the field they are about.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, DateTimeLocalField, DecimalField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from server.i18n import N_
from server.names import DISPOSAL_REASONS

REQUIRED = _l("Fill this in.")


def _clean(value: str | None) -> str:
    """A text field's value: never None (a field left out of the request), without outer blanks."""
    return (value or "").strip()


def _length(size: int) -> Length:
    return Length(max=size, message=_l("At most %(max)d characters."))  # WTForms fills in max


def _text(label: Any, size: int) -> StringField:
    return StringField(label, [Optional(), _length(size)], filters=[_clean])


def _reason() -> TextAreaField:
    return TextAreaField(_l("Reason"), [Optional(), _length(1000)], filters=[_clean])


def _location(label: Any, required: bool = False) -> StringField:
    checks = [DataRequired(REQUIRED)] if required else [Optional()]
    return StringField(label, [*checks, _length(120)], filters=[_clean],
                       render_kw={"list": "location-codes", "autocomplete": "off"})


def _person(label: Any, required: bool = False) -> StringField:
    checks = [DataRequired(REQUIRED)] if required else [Optional()]
    return StringField(label, [*checks, _length(120)], filters=[_clean],
                       render_kw={"list": "person-codes", "autocomplete": "off"})


class MoveForm(FlaskForm):
    to = _location(_l("To location (L- code, scan or type)"), required=True)
    reason = _reason()


class CheckoutForm(FlaskForm):
    to = _person(_l("To person (P- code, scan or type)"), required=True)
    due = DateTimeLocalField(_l("Due back"), [Optional()], invalid_value_message=_l("Not a valid date and time."))
    purpose = _text(_l("Purpose"), 500)
    approval_ref = _text(_l("Approval reference"), 100)
    reason = _reason()


class CheckinForm(FlaskForm):
    location = _location(_l("Back to location (L- code; empty: where it is)"))
    reason = _reason()


class RepairForm(FlaskForm):
    vendor = _text(_l("Repairer"), 200)
    location = _location(_l("Location while under repair (L- code; empty: where it is)"))
    reason = _reason()


class RepairedForm(FlaskForm):
    location = _location(_l("Back to storeroom, shelf or bin (L- code; empty: where it is)"))
    reason = _reason()


class MaintenanceForm(FlaskForm):
    on = DateField(_l("Date"), [InputRequired(REQUIRED)], invalid_value_message=_l("Not a valid date."))
    vendor = _text(_l("Done by"), 200)
    cost = DecimalField(_l("Cost (yuan)"), [InputRequired(REQUIRED), NumberRange(min=0, message=_l(
        "The cost must not be negative."))], places=2, invalid_value_message=_l("Not a valid amount."),
                        render_kw={"inputmode": "decimal"})
    description = TextAreaField(_l("What was done"), [Optional(), _length(1000)], filters=[_clean])


class TransferForm(FlaskForm):
    department = _text(_l("To department"), 100)
    approval_ref = _text(_l("Approval reference"), 100)
    custodian = _person(_l("New custodian (P- code, optional)"))
    location = _location(_l("New location (L- code, optional)"))
    reason = _reason()


class CustodianForm(FlaskForm):
    person = _person(_l("Custodian (P- code, scan or type)"), required=True)
    reason = _reason()


class DisposeForm(FlaskForm):
    reason = SelectField(_l("Disposal reason"), choices=[SelectChoice(code, _l(name))
                                                             for code, name in DISPOSAL_REASONS.items()])
    approval_ref = _text(_l("Approval reference"), 100)
    note = TextAreaField(_l("Note"), [Optional(), _length(1000)], filters=[_clean])


# Shown on the confirmation step of a disposal.
DISPOSAL_WARNING = N_("Disposal is final: the asset can never be used, moved or checked out again. "
                      "Its code and history are kept.")
