"""Archive conflicts in the browser: lendings and returns scanned at a kiosk while it was off line that
broke a rule (``services.archive_conflicts``). They happened and are kept; the archive manager (or a
storekeeper, or the admin) settles each one with a note."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from server import names
from server.auth import roles
from server.errors import DomainError
from server.models import ArchiveConflict
from server.services import archive_conflicts, archives
from server.web.errors import fail
from server.web.forms import show_domain_error

bp = Blueprint("archive_conflicts", __name__, url_prefix="/archives/conflicts")
bp.add_app_template_filter(names.archive_conflict, "archive_conflict")


@bp.app_template_filter("archive_conflict_text")
def conflict_text(row: ArchiveConflict) -> str:
    """The rule the event broke, in the reader's words."""
    return archive_conflicts.describe(row)


class SettleForm(FlaskForm):
    note = StringField(_l("Note (what was found, what was done)"), validators=[DataRequired(), Length(max=500)])


def _form(conflict_id: int, formdata: Any = None) -> SettleForm:
    # A prefix per row: every form on the page has its own field ids (and labels that point at them).
    return SettleForm(formdata=formdata, prefix=f"c{conflict_id}-")


def _page(state: str, failed: SettleForm | None = None, failed_id: int = 0, status: int = 200) -> Any:
    rows = archive_conflicts.listing(g.db, state)
    forms = {r.id: failed if failed is not None and r.id == failed_id else _form(r.id)
             for r in rows if r.settled_at is None}
    return render_template("archives/conflicts.html", rows=rows, state=state, forms=forms,
                           may_settle=archive_conflicts.may_settle(g.db, g.actor)), status


@bp.get("/")
@roles(*archives.READERS)
def index() -> Any:
    """Lendings and returns made off line against the rules: open ones first, to settle."""
    state = request.args.get("state") or "open"
    if state not in archive_conflicts.STATES:
        fail(400, _("Unknown state."))
    return _page(state)


@bp.post("/<int:conflict_id>")
@roles(*archives.READERS)  # the service admits the archive manager, a storekeeper or the admin
def settle(conflict_id: int) -> Any:
    """Settle one conflict with a note."""
    form = _form(conflict_id, request.form)
    if form.validate_on_submit():
        try:
            archive_conflicts.settle(g.db, g.actor, conflict_id, form.note.data or "")
        except DomainError as exc:
            g.db.rollback()
            if exc.status in (403, 404):
                fail(exc.status, exc.localized())
            show_domain_error(form, exc, {"note_required": "note"})
        else:
            g.db.commit()
            flash(_("Archive conflict %(id)s settled.", id=conflict_id))
            return redirect(url_for("archive_conflicts.index"))
    return _page("open", form, conflict_id, 422)
