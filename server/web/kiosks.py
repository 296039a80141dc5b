"""Kiosks: their state, enrolment with the config bundle as a download, revocation, the rejected log.

Enrolment and revocation go through ``services.kiosks`` like the CLI, then rewrite the broker's
password and ACL files from the database. The bundle holds the kiosk's broker password, shown
once: it is made in memory and sent in the answer page itself, never stored on the server.
"""

from __future__ import annotations

import base64
from typing import Any

from flask import Blueprint, current_app, flash, g, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import InputRequired

from server import broker, names, settings_of
from server.auth import roles
from server.errors import DomainError
from server.i18n import N_
from server.models import utcnow
from server.services import kiosks
from server.web.errors import fail
from server.web.forms import confirmation_page, show_domain_error
from server.web.nav import MenuItem

bp = Blueprint("kiosks", __name__)
MENU = [MenuItem("kiosks.index", N_("Kiosks"), "system")]
KIOSK_READERS = ("auditor",)
ENROL_FIELDS = {"bad_kiosk_id": "name", "already_exists": "name", "bad_mode": "mode",
                "unknown_location": "location"}


class EnrolForm(FlaskForm):
    name = StringField(_l("Kiosk id"), validators=[InputRequired(message=_l("Fill this in."))],
                       render_kw={"maxlength": 32, "autocomplete": "off"})
    mode = SelectField(_l("Mode"), choices=[], validate_choice=False)  # the service says what is wrong
    location = StringField(_l("Location code (optional)"), render_kw={"maxlength": 40})


@bp.get("/kiosks")
@roles(*KIOSK_READERS)
def index() -> Any:
    """Every kiosk: state, waiting events, last seen, mode and location."""
    return render_template("kiosks/index.html", rows=kiosks.overview(g.db))


def _sync_broker() -> None:
    """Rewrite the broker's files after a committed change, and say so when that cannot be done."""
    outcome = broker.sync(g.db, settings_of(current_app))
    if outcome == "failed":
        flash(_("The broker's files could not be written: run `assetgate kiosk broker-files` on the server "
                "(the server's log says why)."), "error")
    elif outcome == "not-configured":
        flash(_("The broker's password and ACL files are not configured: add the kiosk to the broker by hand "
                "(docs/kiosk-enrolment.md)."), "warning")


@bp.route("/kiosks/enrol", methods=["GET", "POST"])
@roles()
def enrol() -> Any:
    """Enrol a kiosk; the answer page offers its config bundle (with its broker password) once."""
    form = EnrolForm()
    form.mode.choices = [(mode, names.kiosk_mode(mode)) for mode in kiosks.MODES]
    if form.validate_on_submit():
        settings = settings_of(current_app)
        try:
            kiosk, password = kiosks.enroll(g.db, g.actor, (form.name.data or "").strip(), form.mode.data or "",
                                            (form.location.data or "").strip() or None,
                                            kiosks.reserved_names(settings))
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, ENROL_FIELDS)
        else:
            bundle = broker.bundle_zip(settings, kiosk, password)
            g.db.commit()
            _sync_broker()
            page = make_response(render_template("kiosks/enrolled.html", kiosk=kiosk, bundle=base64.b64encode(
                bundle).decode(), filename=f"kiosk-{kiosk.name}.zip"))
            page.headers["Cache-Control"] = "no-store"  # it holds the broker password, shown once
            return page
    return render_template("kiosks/enrol.html", form=form), 422 if form.is_submitted() else 200


@bp.post("/kiosks/<name>/revoke")
@roles()
def revoke(name: str) -> Any:
    """Revoke a kiosk (after a confirmation step): its broker login goes and its events are refused."""
    try:
        kiosks.kiosk_by_name(g.db, name)
    except DomainError as exc:
        fail(404, exc.localized())
    confirm = confirmation_page(_("Revoke the kiosk %(name)s?", name=name), url_for("kiosks.index"),
                                _("Its broker login goes at once and its events are refused from now on. "
                                  "Enrolling it again makes a new bundle."))
    if confirm is not None:
        return confirm
    try:
        kiosks.revoke(g.db, g.actor, name, utcnow())
    except DomainError as exc:
        flash(exc.localized(), "error")
        return redirect(url_for("kiosks.index"))
    g.db.commit()
    flash(_("The kiosk %(name)s is revoked.", name=name))
    _sync_broker()
    return redirect(url_for("kiosks.index"))


@bp.get("/kiosks/rejected")
@roles(*KIOSK_READERS)
def rejected() -> Any:
    """The messages the server refused, newest first, with their reasons; by kiosk and reason."""
    kiosk, reason = request.args.get("kiosk", "").strip(), request.args.get("reason", "")
    try:
        page = kiosks.rejected_page(g.db, kiosk or None, reason or None, request.args.get("after"))
    except DomainError as exc:
        fail(400, exc.localized())
    return render_template("kiosks/rejected.html", page=page, kiosk=kiosk, reason=reason,
                           reasons=list(names.REASONS), kiosk_names=[r.kiosk.name for r in kiosks.overview(g.db)])
