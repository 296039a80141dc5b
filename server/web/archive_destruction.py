"""Destroying archives (销毁) in the browser: the volumes past retention to pick from, the destruction lists,
one list with its approval steps, carrying it out (who destroyed, who witnessed, how), and its PDF."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from server import settings_of
from server.auth import roles
from server.errors import DomainError
from server.models import ArchiveDestruction
from server.services import approvals, archive_destruction, archives, paging
from server.web.errors import fail
from server.web.forms import attempt, confirmation_page

bp = Blueprint("archive_destruction", __name__, url_prefix="/archives/destruction")
KEEPERS = ("storekeeper",)
PRINTERS = ("storekeeper", "auditor")


class ProposeForm(FlaskForm):
    reason = TextAreaField(_l("Grounds (the appraisal's opinion)"), validators=[DataRequired(), Length(max=2000)])


class DecisionForm(FlaskForm):
    reason = TextAreaField(_l("Reason (required for a rejection)"), validators=[Length(max=2000)])


class CarryOutForm(FlaskForm):
    executor = StringField(_l("Destroyed by"), validators=[DataRequired(), Length(max=100)])
    witnesses = StringField(_l("Witnessed by (names, separated by commas)"), validators=[DataRequired(),
                                                                                       Length(max=300)])
    method = StringField(_l("Method (e.g. shredding)"), validators=[DataRequired(), Length(max=100)])


def _index(form: ProposeForm, status: int = 200) -> Any:
    try:
        page = paging.keyset_page(g.db, archive_destruction.listing(), [ArchiveDestruction.id],
                                  request.args.get("after"), True, 50)
    except DomainError as exc:
        fail(400, exc.localized())
    return render_template("archives/destruction.html", page=page, due=archive_destruction.due(g.db), form=form,
                           picked=set(request.form.getlist("volumes"))), status


@bp.get("/")
@roles(*archives.READERS)
def index() -> Any:
    """Volumes past retention on no list yet (to pick for a new list), and the destruction lists."""
    return _index(ProposeForm(formdata=None))


@bp.post("/")
@roles(*KEEPERS)
def propose() -> Any:
    """A destruction list of the volumes picked, with the grounds: it goes to the archive manager."""
    form = ProposeForm()
    codes = request.form.getlist("volumes")
    if form.validate_on_submit():
        made: list[ArchiveDestruction] = []
        if attempt(lambda: made.append(archive_destruction.propose(g.db, g.actor, codes, form.reason.data or "")),
                   form, {"bad_reason": "reason"}):
            flash(_("Destruction list %(id)s submitted; it now waits for the archive manager.", id=made[0].id))
            return redirect(url_for("archive_destruction.detail", destruction_id=made[0].id))
    return _index(form, 422)


def _found(destruction_id: int) -> ArchiveDestruction:
    try:
        return archive_destruction.by_id(g.db, destruction_id)
    except DomainError as exc:
        fail(404, exc.localized())


def _detail(found: ArchiveDestruction, decision: DecisionForm, carry: CarryOutForm, status: int = 200) -> Any:
    return render_template("archives/destruction_list.html", d=found, chain=found.approval, form=decision,
                           carry=carry, state=archive_destruction.state(found),
                           may_decide=approvals.may_decide(g.db, g.actor.name, found.approval)), status


@bp.get("/<int:destruction_id>")
@roles(*archives.READERS)
def detail(destruction_id: int) -> Any:
    """One list: its volumes, approval steps and, once carried out, who destroyed them and who witnessed."""
    return _detail(_found(destruction_id), DecisionForm(formdata=None), CarryOutForm(formdata=None))


@bp.post("/<int:destruction_id>/decision")
@roles(*archives.READERS)
def decide(destruction_id: int) -> Any:
    """Approve, or reject with a reason."""
    found = _found(destruction_id)
    form = DecisionForm()
    if form.validate_on_submit():
        decision, reason = request.form.get("decision", ""), form.reason.data or ""
        if attempt(lambda: approvals.decide(g.db, g.actor, found.approval_id, decision, None, reason), form,
                   {"reason_required": "reason"}):
            flash(_("Your decision is recorded."))
            return redirect(url_for("archive_destruction.detail", destruction_id=destruction_id))
    return _detail(_found(destruction_id), form, CarryOutForm(formdata=None), 422)


@bp.post("/<int:destruction_id>/withdraw")
@roles(*KEEPERS)
def withdraw(destruction_id: int) -> Any:
    """Take back a list that still waits."""
    found = _found(destruction_id)
    back = url_for("archive_destruction.detail", destruction_id=destruction_id)
    asked = confirmation_page(_("Withdraw destruction list %(id)s?", id=found.id), back)
    if asked is not None:
        return asked
    if attempt(lambda: approvals.withdraw(g.db, g.actor, found.approval_id)):
        flash(_("The destruction list was withdrawn."))
    return redirect(back)


@bp.post("/<int:destruction_id>/carry-out")
@roles(*KEEPERS)
def carry_out(destruction_id: int) -> Any:
    """Record the approved list as destroyed; asks for confirmation first (it cannot be undone)."""
    found = _found(destruction_id)
    form = CarryOutForm()
    if form.validate_on_submit():
        back = url_for("archive_destruction.detail", destruction_id=destruction_id)
        asked = confirmation_page(_("Record destruction list %(id)s (%(count)s volumes) as destroyed?", id=found.id,
                                    count=len(found.items)), back,
                                  _("The volumes are recorded as destroyed for good; this cannot be undone."))
        if asked is not None:
            return asked
        data = (form.executor.data or "", form.witnesses.data or "", form.method.data or "")
        if attempt(lambda: archive_destruction.carry_out(g.db, g.actor, destruction_id, *data), form,
                   {"bad_executor": "executor", "bad_witnesses": "witnesses", "bad_method": "method"}):
            flash(_("Destruction list %(id)s is recorded as destroyed; print it and have it signed.", id=found.id))
            return redirect(back)
    return _detail(_found(destruction_id), DecisionForm(formdata=None), form, 422)


@bp.get("/<int:destruction_id>.pdf")
@roles(*PRINTERS)
def pdf(destruction_id: int) -> Any:
    """The destruction list as carried out, in the reader's language (each print is audited)."""
    found = _found(destruction_id)
    try:
        body = archive_destruction.pdf(g.db, g.actor, found, settings_of(current_app).org_name)
    except DomainError as exc:
        g.db.rollback()
        fail(409, exc.localized())
    g.db.commit()
    return Response(body, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="archive-destruction-{found.id}.pdf"'})
