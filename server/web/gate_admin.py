"""The gate's pages beyond the desk (blueprint ``gate``): exit permits, the watchlist (admin), the alerts,
and the export of visits (admin, logged)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Response, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectChoice, SelectField, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, Length, Optional

from server.auth import READERS, roles
from server.errors import DomainError
from server.models import ExitPermit
from server.personal import policy
from server.services import exit_permits, gate_alerts, gate_documents, notify, paging, watchlist
from server.web.errors import fail
from server.web.forms import confirmation_page, show_domain_error
from server.web.gate import DESK
from server.web.parts import Routes

ISSUERS = ("storekeeper",)

routes = Routes()  # on the gate blueprint, put there by server.web.register


class PermitForm(FlaskForm):
    assets = TextAreaField(_l("Assets (A- codes, one a line or separated by commas)"),
                           validators=[DataRequired(), Length(max=10_000)])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])
    carrier = StringField(_l("Carrier"), validators=[DataRequired(), Length(max=200)])
    valid_day = DateField(_l("Valid until (day)"), validators=[DataRequired()])
    valid_time = TimeField(_l("Valid until (time)"), validators=[DataRequired()], default=time(18))
    loan = BooleanField(_l("A loan: the assets come back"))
    expected_return = DateField(_l("Expected back on"), validators=[Optional()])


class WatchForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=[SelectChoice("person", _l("Person")), SelectChoice("plate", _l("Plate"))])
    label = StringField(_l("Name or plate"), validators=[DataRequired(), Length(max=200)])
    aliases = TextAreaField(_l("Aliases (one a line)"), validators=[Optional(), Length(max=4000)])
    note = TextAreaField(_l("Note for the guard"), validators=[Optional(), Length(max=1000)])


# --- exit permits ---

@routes.get("/permits")
@roles(*READERS)
def permits() -> Any:
    """Exit permits, newest first, filtered by state; assets overdue from a loan above."""
    state = request.args.get("state") or None
    try:
        page = paging.keyset_page(g.db, exit_permits.listing(g.db, state), [ExitPermit.id],
                                  request.args.get("after"), True, 50)
    except DomainError as exc:
        flash(exc.localized(), "error")
        return redirect(url_for("gate.permits"))
    return render_template("gate/permits.html", page=page, state=state or "", overdue=exit_permits.overdue(g.db),
                           state_of=exit_permits.state_of)


@routes.route("/permits/new", methods=["GET", "POST"])
@roles(*ISSUERS)
def new_permit() -> Any:
    """Issue an exit permit for one or more assets."""
    form = PermitForm()
    if request.method == "GET":
        form.valid_day.data = policy(g.db).today()
        form.assets.data = request.args.get("asset", "")
    if form.validate_on_submit():
        assert form.valid_day.data and form.valid_time.data
        until = datetime.combine(form.valid_day.data, form.valid_time.data, policy(g.db).zone)
        tags = [t.strip() for chunk in (form.assets.data or "").splitlines() for t in chunk.split(",") if t.strip()]
        try:
            permit = exit_permits.issue(g.db, g.actor, exit_permits.PermitIn(
                assets=tags, reason=form.reason.data or "", carrier=form.carrier.data or "", valid_until=until,
                loan=bool(form.loan.data), expected_return=form.expected_return.data))
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, {"unknown_code": "assets", "bad_code": "assets", "bad_check": "assets",
                                          "wrong_kind": "assets", "bad_assets": "assets", "required": "reason",
                                          "bad_valid_until": "valid_day", "bad_expected_return": "expected_return"})
        else:
            g.db.commit()
            flash(_("Exit permit %(id)s issued.", id=permit.id), "ok")
            return redirect(url_for("gate.permit_page", permit_id=permit.id))
    return render_template("gate/permit_new.html", form=form), 422 if form.errors or form.form_errors else 200


@routes.get("/permits/<int:permit_id>")
@roles(*READERS)
def permit_page(permit_id: int) -> Any:
    """One exit permit: its assets, when each left and came back."""
    try:
        permit = exit_permits.get(g.db, permit_id)
    except DomainError:
        fail(404, _("There is no exit permit %(id)s.", id=permit_id))
    return render_template("gate/permit.html", permit=permit, state=exit_permits.state_of(permit))


@routes.post("/permits/<int:permit_id>/revoke")
@roles(*ISSUERS)
def revoke_permit(permit_id: int) -> Any:
    """Revoke an exit permit (after a confirmation)."""
    back = url_for("gate.permit_page", permit_id=permit_id)
    asked = confirmation_page(_("Revoke exit permit %(id)s?", id=permit_id), back,
                              _("Its assets will be refused at the gate."))
    if asked is not None:
        return asked
    try:
        exit_permits.revoke(g.db, g.actor, permit_id)
    except DomainError as exc:
        g.db.rollback()
        flash(exc.localized(), "error")
    else:
        g.db.commit()
        flash(_("Exit permit %(id)s revoked.", id=permit_id), "ok")
    return redirect(back)


# --- the watchlist (admin) ---

@routes.route("/watchlist", methods=["GET", "POST"])
@roles()
def watchlist_page() -> Any:
    """The watchlist: people with aliases, and plates. Kiosks get only salted hashes of it."""
    form = WatchForm()
    if form.validate_on_submit():
        aliases = [a.strip() for a in (form.aliases.data or "").splitlines() if a.strip()]
        try:
            watchlist.add(g.db, g.actor, form.kind.data or "", form.label.data or "", aliases, form.note.data or "")
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, {"bad_plate": "label", "bad_schema": "label", "too_long": "label",
                                          "too_many_aliases": "aliases"})
        else:
            g.db.commit()
            flash(_("Added to the watchlist."), "ok")
            return redirect(url_for("gate.watchlist_page"))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("gate/watchlist.html", form=form, entries=watchlist.entries(g.db)), status


@routes.post("/watchlist/<int:entry_id>/remove")
@roles()
def remove_watch(entry_id: int) -> Any:
    """Take an entry off the watchlist (after a confirmation)."""
    back = url_for("gate.watchlist_page")
    asked = confirmation_page(_("Remove this entry from the watchlist?"), back)
    if asked is not None:
        return asked
    try:
        watchlist.remove(g.db, g.actor, entry_id)
    except DomainError as exc:
        g.db.rollback()
        flash(exc.localized(), "error")
    else:
        g.db.commit()
        flash(_("Removed from the watchlist."), "ok")
    return redirect(back)


# --- alerts, notifications, export ---

@routes.get("/alerts")
@roles(*DESK)
def alerts() -> Any:
    """The gate's alerts: watchlist hits, refused exits, passes signed in twice; failing notifications."""
    kind = request.args.get("kind") or None
    if kind not in (None, *gate_alerts.KINDS):
        kind = None
    return render_template("gate/alerts.html", alerts=gate_alerts.recent(g.db, kind), kind=kind or "",
                           notifications=notify.recent(g.db) if g.actor.role == "admin" else [])


@routes.post("/alerts/<int:alert_id>/resolve")
@roles()
def resolve_alert(alert_id: int) -> Any:
    """Mark an alert as dealt with."""
    try:
        gate_alerts.resolve(g.db, g.actor, alert_id)
    except DomainError as exc:
        g.db.rollback()
        flash(exc.localized(), "error")
    else:
        g.db.commit()
    return redirect(request.form.get("next") or url_for("gate.alerts"))


@routes.get("/export.csv")
@roles()
def export() -> Any:
    """Visits from one day to another with the visitors' fields (admin only; every export is logged)."""
    zone = policy(g.db).zone
    try:
        start = date.fromisoformat(request.args.get("from", ""))
        end = date.fromisoformat(request.args.get("to", ""))
    except ValueError:
        flash(_("Give the first and the last day (YYYY-MM-DD)."), "error")
        return redirect(url_for("gate.visitors"))
    if end < start or end - start > timedelta(days=366):
        flash(_("The last day must follow the first, at most a year later."), "error")
        return redirect(url_for("gate.visitors"))
    data = gate_documents.visits_csv(g.db, g.actor, datetime.combine(start, time.min, zone),
                                     datetime.combine(end + timedelta(days=1), time.min, zone))
    g.db.commit()
    return Response(data, mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=visits-{start:%Y%m%d}-{end:%Y%m%d}.csv",
        "Cache-Control": "no-store"})
