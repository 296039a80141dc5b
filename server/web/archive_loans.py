"""Archive loans (借阅) in the browser: the request form, the list with the approver's to-do, and one loan
with its approval steps, the decision, and lending and return."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from server.auth import roles
from server.errors import DomainError
from server.models import ArchiveLoan
from server.services import approvals, archive_conflicts, archive_loans, archives, paging
from server.web.errors import fail
from server.web.forms import attempt, confirmation_page
from server.web.nav import can

bp = Blueprint("archive_loans", __name__, url_prefix="/archives/loans")
KEEPERS = ("storekeeper",)
REQUESTERS = ("storekeeper",)  # on a borrower's behalf; not the gate (archives.READERS)
LOAN_ERRORS = {"bad_purpose": "purpose", "bad_due": "due_on", "on_site_only": "on_site", "not_a_volume": "volume",
               "illegal_transition": "volume", "wrong_kind": "volume"}


class LoanForm(FlaskForm):
    volume = StringField(_l("Volume (A- code)"), validators=[DataRequired(), Length(max=300)])
    borrower = StringField(_l("Borrower (badge, P- code)"), validators=[DataRequired(), Length(max=300)])
    purpose = TextAreaField(_l("Purpose"), validators=[DataRequired(), Length(max=500)])
    on_site = BooleanField(_l("Read on site (in the reading room), not taken away"))
    due_on = DateField(_l("Due date (empty: the last day of the class's loan term)"), validators=[Optional()])


class DecisionForm(FlaskForm):
    reason = TextAreaField(_l("Reason (required for a rejection)"), validators=[Length(max=2000)])


@bp.get("/")
@roles(*archives.READERS)
def index() -> Any:
    """Loan requests and loans, newest first, by state and borrower; and what waits for my approval."""
    state, borrower = request.args.get("state") or None, request.args.get("borrower") or None
    try:
        page = paging.keyset_page(g.db, archive_loans.listing(g.db, state, borrower), [ArchiveLoan.id],
                                  request.args.get("after"), True, 50)
    except DomainError as exc:
        fail(400, exc.localized())
    todo = [archive_loans.by_approval(g.db, a.id) for a in approvals.waiting_for(g.db, g.actor.name,
                                                                                   [archive_loans.KIND])]
    return render_template("archives/loans.html", page=page, state=state or "", borrower=borrower or "", todo=todo,
                           states=archive_loans.STATES)


@bp.route("/new", methods=["GET", "POST"])
@roles(*REQUESTERS)
def new() -> Any:
    """Ask for a loan on a borrower's behalf: who, what for, until when, on site or taken away."""
    form = LoanForm()
    if request.method == "GET":
        form.volume.data = request.args.get("volume", "")
    if form.validate_on_submit():
        due: date | None = form.due_on.data
        data = archive_loans.LoanIn(volume=form.volume.data or "", borrower=form.borrower.data or "",
                                    purpose=form.purpose.data or "", due_on=due, on_site=bool(form.on_site.data))
        made: list[ArchiveLoan] = []
        errors = {**LOAN_ERRORS, "unknown_code": "borrower" if _is_volume(data.volume) else "volume",
                  "bad_code": "borrower", "bad_check": "borrower"}
        if attempt(lambda: made.append(archive_loans.submit(g.db, g.actor, data)), form, errors):
            flash(_("Loan request %(id)s submitted; it now waits for the archive manager.", id=made[0].id))
            return redirect(url_for("archive_loans.detail", loan_id=made[0].id))
    return render_template("archives/loan_new.html", form=form), 422 if form.errors or form.form_errors else 200


def _is_volume(code: str) -> bool:
    try:
        archives.volume_by_code(g.db, code)
    except DomainError:
        return False
    return True


def _found(loan_id: int) -> ArchiveLoan:
    try:
        return archive_loans.by_id(g.db, loan_id)
    except DomainError as exc:
        fail(404, exc.localized())


def _detail(loan: ArchiveLoan, form: DecisionForm, status: int = 200) -> Any:
    return render_template("archives/loan.html", loan=loan, chain=loan.approval, form=form,
                           conflicts=archive_conflicts.of_loan(g.db, loan.id),
                           state=archive_loans.state(loan), late=archive_loans.late(loan),
                           may_decide=loan.approval is not None and approvals.may_decide(g.db, g.actor.name,
                                                                                         loan.approval),
                           may_lend=can("archive_loans.lend")), status


@bp.get("/<int:loan_id>")
@roles(*archives.READERS)
def detail(loan_id: int) -> Any:
    """One loan: the request, its approval steps, and whether it is out, back or overdue."""
    return _detail(_found(loan_id), DecisionForm(formdata=None))


@bp.post("/<int:loan_id>/decision")
@roles(*archives.READERS)
def decide(loan_id: int) -> Any:
    """Approve, or reject with a reason."""
    loan = _found(loan_id)
    form = DecisionForm()
    if form.validate_on_submit():
        decision, reason = request.form.get("decision", ""), form.reason.data or ""
        if attempt(lambda: approvals.decide(g.db, g.actor, archive_loans.chain_of(loan), decision, None, reason), form,
                   {"reason_required": "reason"}):
            flash(_("Your decision is recorded."))
            return redirect(url_for("archive_loans.detail", loan_id=loan_id))
    return _detail(_found(loan_id), form, 422)


@bp.post("/<int:loan_id>/withdraw")
@roles(*REQUESTERS)
def withdraw(loan_id: int) -> Any:
    """Take back a request that still waits."""
    loan = _found(loan_id)
    back = url_for("archive_loans.detail", loan_id=loan_id)
    asked = confirmation_page(_("Withdraw loan request %(id)s (%(title)s)?", id=loan.id, title=loan.volume.asset.name),
                              back)
    if asked is not None:
        return asked
    if attempt(lambda: approvals.withdraw(g.db, g.actor, archive_loans.chain_of(loan))):
        flash(_("The loan request was withdrawn."))
    return redirect(back)


@bp.post("/<int:loan_id>/lend")
@roles(*KEEPERS)
def lend(loan_id: int) -> Any:
    """Hand the volume over to the borrower of this approved request."""
    loan = _found(loan_id)
    code, borrower = loan.volume.asset.code, loan.borrower.code
    if attempt(lambda: archive_loans.lend(g.db, g.actor, code, borrower, loan_id=loan_id)):
        flash(_("%(code)s lent to %(name)s.", code=code, name=loan.borrower.name))
    return redirect(url_for("archive_loans.detail", loan_id=loan_id))


@bp.post("/<int:loan_id>/return")
@roles(*KEEPERS)
def give_back(loan_id: int) -> Any:
    """The volume of this loan is back on its shelf."""
    loan = _found(loan_id)
    if loan.lent_at is None or loan.returned_at is not None:
        flash(_("Loan %(id)s is not out.", id=loan_id), "error")
    elif attempt(lambda: archive_loans.give_back(g.db, g.actor, loan.volume.asset.code)):
        flash(_("%(code)s returned.", code=loan.volume.asset.code))
    return redirect(url_for("archive_loans.detail", loan_id=loan_id))
