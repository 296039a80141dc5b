"""The seal pages' forms. They check the shape of the input only (lengths, numbers, dates, a file
chosen); what is allowed is the services' decision, whose refusals the views put beside the field
they name (``field`` in the refusal's values)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, DateTimeLocalField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from server import names
from server.errors import DomainError
from server.services import seal_uses, seals

REQUIRED = _l("Fill this in.")


def _clean(value: str | None) -> str:
    return (value or "").strip()


def _text(label: Any, size: int, required: bool = True, area: bool = False) -> Any:
    checks = [DataRequired(REQUIRED)] if required else [Optional()]
    kind = TextAreaField if area else StringField
    return kind(label, [*checks, Length(max=size, message=_l("At most %(max)d characters."))], filters=[_clean])


def _badge(label: Any, required: bool = True) -> StringField:
    checks = [DataRequired(REQUIRED)] if required else [Optional()]
    return StringField(label, [*checks, Length(max=300, message=_l("At most %(max)d characters."))],
                       filters=[_clean], render_kw={"autocomplete": "off"})


def _copies(label: Any) -> IntegerField:
    return IntegerField(label, [DataRequired(REQUIRED), NumberRange(1, seal_uses.MAX_COPIES)])


class SealForm(FlaskForm):
    name = _text(_l("Seal name"), 200)
    kind = SelectField(_l("Kind of seal"), choices=[SelectChoice(k, _l(v)) for k, v in names.SEAL_KINDS.items()],
                       validate_choice=False)
    department = _text(_l("Department"), 100)
    custodian = _badge(_l("Custodian (badge, P- code)"))
    made_on = DateField(_l("Date made"), [Optional()], format="%Y-%m-%d")
    approval_ref = _text(_l("Approval reference"), 100)
    note = _text(_l("Note"), 2000, required=False, area=True)
    imprint = FileField(_l("Imprint (PNG or JPEG, at most 1 MB)"))


class StepForm(FlaskForm):
    action = SelectField(_l("Life-cycle step"), validate_choice=False,
                         choices=[SelectChoice(k, _l(names.SEAL_ACTIONS[k])) for k in seals.STEPS])
    approval_ref = _text(_l("Approval reference"), 100)
    reason = _text(_l("Reason"), 1000, required=False, area=True)


class CustodianForm(FlaskForm):
    custodian = _badge(_l("New custodian (badge, P- code)"))
    approval_ref = _text(_l("Approval reference"), 100)
    reason = _text(_l("Reason"), 1000, required=False, area=True)


class RemakeForm(FlaskForm):
    approval_ref = _text(_l("Approval reference"), 100)
    reason = _text(_l("Why it is re-made (lost, recalled...)"), 1000, area=True)
    name = _text(_l("Name of the new seal (empty: the same)"), 200, required=False)
    custodian = _badge(_l("Custodian of the new seal (badge; empty: the same)"), required=False)
    made_on = DateField(_l("Date made"), [Optional()], format="%Y-%m-%d")


class ImprintForm(FlaskForm):
    imprint = FileField(_l("Imprint (PNG or JPEG, at most 1 MB)"), [FileRequired(REQUIRED)])


class UseRequestForm(FlaskForm):
    seal = _badge(_l("Seal (its code)"))
    document_title = _text(_l("Document title"), 300)
    copies = _copies(_l("Copies"))
    recipient = _text(_l("Recipient organisation"), 200)
    purpose = _text(_l("Purpose"), 2000, area=True)
    department = _text(_l("Department"), 100)


class DecisionForm(FlaskForm):
    quantity = IntegerField(_l("Copies approved (leave as is to approve all)"),
                            [Optional(), NumberRange(1, seal_uses.MAX_COPIES)])
    reason = TextAreaField(_l("Reason (required for a rejection)"), [Length(max=2000)])


class TakeoutDecisionForm(FlaskForm):
    reason = TextAreaField(_l("Reason (required for a rejection)"), [Length(max=2000)])


class UseForm(FlaskForm):
    copies = _copies(_l("Copies stamped"))
    stamped_by = _badge(_l("Stamped by (badge; empty: the custodian)"), required=False)
    at = DateTimeLocalField(_l("Stamped at (empty: now)"), [Optional()],
                            invalid_value_message=_l("Not a valid date and time."))
    note = _text(_l("Note"), 1000, required=False)


class TakeoutForm(FlaskForm):
    seal = _badge(_l("Seal (its code)"))
    carrier = _badge(_l("Carried by (badge, P- code)"))
    destination = _text(_l("Destination"), 200)
    purpose = _text(_l("Purpose"), 2000, area=True)
    due_at = DateTimeLocalField(_l("Due back"), [DataRequired(REQUIRED)],
                                invalid_value_message=_l("Not a valid date and time."))
    department = _text(_l("Department"), 100)


class CarrierForm(FlaskForm):
    carrier = _badge(_l("Carrier's badge (scan or type)"))


def show(form: FlaskForm, exc: DomainError) -> None:
    """A refusal beside the field it names (``field``), or above the form."""
    name = exc.params.get("field")
    target = form._fields.get(str(name)) if name else None
    if target is not None:
        target.errors = [*target.errors, exc.localized()] if isinstance(target.errors, list) else [exc.localized()]
    else:
        form.form_errors.append(exc.localized())
