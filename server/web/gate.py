"""The gate (门岗) in the browser: the guard's desk, walk-ins, pre-registration, passes, visitors, on site.

The desk is made for speed: one big field that the scanner types into (focused on every load), the
result in large type, who is on site (refreshed every second by htmx; a plain link without script),
who is expected today, and the alerts. Every action calls the same service as the REST API. Exit
permits, the watchlist and the alerts are in ``server.web.gate_admin`` (same blueprint).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, StringField, TimeField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from contract import codes
from server import names, settings_of
from server.auth import allowed_roles, roles
from server.errors import DomainError
from server.i18n import N_
from server.models import VisitorPass
from server.personal import policy
from server.services import exit_permits, gate_alerts, gate_documents, notify, paging, visitors, visits
from server.services.visitors import VisitorIn
from server.web.errors import fail
from server.web.forms import confirmation_page, show_domain_error
from server.web.nav import MenuItem

bp = Blueprint("gate", __name__, url_prefix="/gate")
MENU = [MenuItem("gate.desk", N_("Gate desk"), "gate"),
        MenuItem("gate.preregister", N_("Pre-register a visitor"), "gate"),
        MenuItem("gate.visitors", N_("Visitors"), "gate"), MenuItem("gate.permits", N_("Exit permits"), "gate"),
        MenuItem("gate.watchlist_page", N_("Watchlist"), "gate")]
DESK = ("guard",)
HOSTS = ("storekeeper", "guard")
FIELD_FOR = {"bad_schema": "name", "too_long": "name", "bad_plate": "plate", "unknown_code": "host",
             "bad_code": "host", "bad_check": "host", "wrong_kind": "host", "bad_id_last4": "id_last4",
             "bad_window": "day"}

def can(endpoint: str) -> bool:
    """Whether the signed-in person's role may use ``endpoint``: templates ask this instead of repeating
    the roles a view declares (server.auth)."""
    actor = getattr(g, "actor", None)
    allowed = allowed_roles(current_app.view_functions[endpoint]) or frozenset()
    return actor is not None and actor.role in allowed


bp.add_app_template_global(can)

for _name, _table in (("pass_status", names.pass_status), ("pass_kind", names.pass_kind),
                      ("signout_kind", names.signout_kind), ("gate_alert", names.gate_alert),
                      ("permit_state", names.permit_state), ("gate_reason", names.gate_reason)):
    bp.add_app_template_filter(_table, _name)


class ScanForm(FlaskForm):
    code = StringField(_l("Scan a visitor pass or an asset"), validators=[DataRequired(), Length(max=300)])
    admit = BooleanField()  # the admin's "admit although on the watchlist" button sends it


class VisitorForm(FlaskForm):
    name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    organisation = StringField(_l("Organisation"), validators=[Optional(), Length(max=200)])
    host = StringField(_l("Host (P- code)"), validators=[DataRequired(), Length(max=300)])
    purpose = StringField(_l("Purpose"), validators=[Optional(), Length(max=200)])
    plate = StringField(_l("Plate"), validators=[Optional(), Length(max=20)])
    id_last4 = StringField(_l("ID number, last 4"), validators=[
        Optional(), Regexp(r"^[0-9A-Za-z]{4}$", message=_l("The last 4 letters or digits only"))])

    def details(self) -> VisitorIn:
        return VisitorIn(name=self.name.data or "", host=self.host.data or "",
                         organisation=self.organisation.data or "", purpose=self.purpose.data or "",
                         id_last4=self.id_last4.data or None, plate=self.plate.data or None)


class WalkInForm(VisitorForm):
    blank = StringField(_l("Blank pass from the stack (V- code; empty: a new pass)"),
                        validators=[Optional(), Length(max=300)])


class PreRegisterForm(VisitorForm):
    day = DateField(_l("Day"), validators=[DataRequired()])
    start = TimeField(_l("From"), validators=[DataRequired()], default=time(9))
    end = TimeField(_l("Until"), validators=[DataRequired()], default=time(17))


class RevokeForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=1000)])


def _keep_refusal(exc: DomainError) -> None:
    """After a refusal: roll back, keep what a gate refusal leaves for the admin."""
    g.db.rollback()
    gate_alerts.keep(g.db, exc)
    g.db.commit()


def _refusal_text(exc: DomainError) -> str:
    return f"{names.gate_reason(exc.code)}: {exc.localized()}" if exc.code in names.GATE_REASONS else exc.localized()


# --- the desk ---

@bp.get("/")
@roles(*DESK)
def desk() -> Any:
    """The guard's desk: scan field, on site now, expected today, alerts, automatic sign-outs since yesterday."""
    zone = policy(g.db).zone
    since = datetime.combine(datetime.now(zone).date() - timedelta(days=1), time(12), zone)
    expected = visitors.expected(g.db)
    return render_template(
        "gate/desk.html", form=ScanForm(), on_site=visits.on_site(g.db), expected=expected,
        views={row.code: visitors.view(g.db, row) for row in expected},
        alerts=gate_alerts.open_alerts(g.db, 20), automatic=visits.automatic_since(g.db, since),
        failing=notify.failing(g.db, 10) if can("gate.export") else [],
        admit=request.args.get("admit") if can("gate.watchlist_page") else None)


@bp.get("/on-site/rows")
@roles(*DESK)
def on_site_rows() -> Any:
    """The on-site table alone (the desk polls it every second)."""
    return render_template("gate/_on_site.html", on_site=visits.on_site(g.db))


@bp.post("/scan")
@roles(*DESK)
def scan() -> Any:
    """One scan at the desk: a visitor pass signs in or out, an asset leaves or comes back, or a refusal."""
    form = ScanForm()
    if not form.validate_on_submit():
        flash(_("Scan or type a code first."), "error")
        return redirect(url_for("gate.desk"))
    text = form.code.data or ""
    try:
        kind = codes.parse(text).kind
    except codes.CodeError:
        flash(_("Not an AssetGate code: %(text)s", text=text.strip()[:60]), "error")
        return redirect(url_for("gate.desk"))
    handler = SCANS.get(kind)
    if handler is None:
        flash(_("Scan a visitor pass (V-) or an asset (A-) here."), "error")
        return redirect(url_for("gate.desk"))
    return handler(text, bool(form.admit.data))


def _scan_pass(text: str, admit: bool) -> Any:
    try:
        done = visits.desk_scan(g.db, g.actor, text, admit_watchlisted=admit)
    except DomainError as exc:
        _keep_refusal(exc)
        flash(_refusal_text(exc), "error")
        wanted = exc.code == "on_watchlist" and g.actor.role == "admin"
        return redirect(url_for("gate.desk", admit=codes.normalize(text) if wanted else None))
    g.db.commit()
    view = visitors.view(g.db, done.visitor_pass)
    if done.action == "signout":
        flash(_("Signed out: %(name)s (%(code)s)", name=view.name, code=view.code), "ok")
    elif done.conflict:
        flash(_("Signed in with a conflict: %(name)s (%(code)s); an admin will review it", name=view.name,
                code=view.code), "warning")
    else:
        flash(_("Signed in: %(name)s (%(code)s), visiting %(host)s", name=view.name, code=view.code,
                host=view.host_name), "ok")
    return redirect(url_for("gate.desk"))


def _scan_asset(text: str, admit: bool) -> Any:
    try:
        done = exit_permits.at_gate(g.db, g.actor, text)
    except DomainError as exc:
        _keep_refusal(exc)
        flash(_refusal_text(exc), "error")
        return redirect(url_for("gate.desk"))
    g.db.commit()
    if done.action == "return":
        flash(_("Back from a loan: %(code)s %(name)s (exit permit %(permit)s)", code=done.asset_code,
                name=done.asset_name, permit=done.permit.id), "ok")
    else:
        flash(_("May leave: %(code)s %(name)s, exit permit %(permit)s, carried by %(carrier)s", code=done.asset_code,
                name=done.asset_name, permit=done.permit.id, carrier=done.permit.carrier), "ok")
    return redirect(url_for("gate.desk"))


SCANS = {codes.Kind.VISITOR: _scan_pass, codes.Kind.ASSET: _scan_asset}


@bp.route("/walk-in", methods=["GET", "POST"])
@roles(*DESK)
def walk_in() -> Any:
    """Register a walk-in and sign them in; the pass is printed or shown."""
    form = WalkInForm()
    if form.validate_on_submit():
        try:
            blank = visitors.normal_code(form.blank.data) if form.blank.data else None
            row = visitors.walk_in(g.db, g.actor, form.details(), code=blank)
            visits.sign_in(g.db, g.actor, row.code)
        except DomainError as exc:
            _keep_refusal(exc)
            show_domain_error(form, exc, {**FIELD_FOR, "bad_code": "blank", "bad_check": "blank",
                                          "wrong_kind": "blank"} if form.blank.data else FIELD_FOR)
        else:
            g.db.commit()
            flash(_("Signed in: %(name)s (%(code)s)", name=form.name.data, code=row.code), "ok")
            return redirect(url_for("gate.pass_page", code=row.code))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("gate/walk_in.html", form=form, ask_id=policy(g.db).keep_id_last4), status


@bp.route("/passes/new", methods=["GET", "POST"])
@roles(*HOSTS)
def preregister() -> Any:
    """A host pre-registers a visitor: the pass (QR and printable PDF) is valid only in its window."""
    form = PreRegisterForm()
    if request.method == "GET":
        form.day.data = policy(g.db).today()
    if form.validate_on_submit():
        assert form.day.data and form.start.data and form.end.data
        start, end = visitors.window_of_day(g.db, form.day.data, form.start.data, form.end.data)
        try:
            row = visitors.register(g.db, g.actor, form.details(), start, end)
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, FIELD_FOR)
        else:
            g.db.commit()
            flash(_("Visitor pass %(code)s made.", code=row.code), "ok")
            return redirect(url_for("gate.pass_page", code=row.code))
    purposes = sorted(policy(g.db).approval_purposes)
    status = 422 if form.errors or form.form_errors else 200
    return render_template("gate/preregister.html", form=form, ask_id=policy(g.db).keep_id_last4,
                           purposes=purposes), status


def _pass_or_404(code: str) -> VisitorPass:
    try:
        return visitors.pass_by_code(g.db, code)
    except DomainError:
        fail(404, _("There is no visitor pass with the code %(code)s.", code=code[:40]))


@bp.get("/passes/<code>")
@roles("storekeeper", "guard", "auditor")  # the approver of a visit may hold any role
def pass_page(code: str) -> Any:
    """One pass: the visitor, the window, the QR, its visits; revoke, approve."""
    row = _pass_or_404(code)
    from server.services import approvals

    may_decide = row.approval is not None and approvals.may_decide(g.db, g.actor.name, row.approval)
    return render_template("gate/pass.html", p=visitors.view(g.db, row, with_visits=True), revoke_form=RevokeForm(),
                           may_decide=may_decide)


@bp.get("/passes/<code>/qr.png")
@roles(*HOSTS)
def pass_qr(code: str) -> Any:
    """The pass's QR, to send to the visitor."""
    row = _pass_or_404(code)
    png = gate_documents.qr_png(row.code, settings_of(current_app).label_base_url)
    return Response(png, mimetype="image/png", headers={"Cache-Control": "no-store",
                                                        "Content-Disposition": f"inline; filename={row.code}.png"})


@bp.get("/passes/<code>/pass.pdf")
@roles(*HOSTS)
def pass_pdf(code: str) -> Any:
    """The printable pass."""
    row = _pass_or_404(code)
    settings = settings_of(current_app)
    pdf = gate_documents.pass_pdf(g.db, g.actor, [row], settings.org_name, settings.label_base_url)
    g.db.commit()
    return Response(pdf, mimetype="application/pdf", headers={"Cache-Control": "no-store"})


@bp.post("/passes/<code>/revoke")
@roles(*HOSTS)
def revoke_pass(code: str) -> Any:
    """Revoke a pass (after a confirmation): every gate refuses it from now on."""
    row = _pass_or_404(code)
    back = url_for("gate.pass_page", code=row.code)
    form = RevokeForm()
    if not form.validate_on_submit():
        flash(_("Give the reason for revoking the pass."), "error")
        return redirect(back)
    asked = confirmation_page(_("Revoke visitor pass %(code)s?", code=row.code), back,
                              _("The visitor will be refused at every gate."))
    if asked is not None:
        return asked
    try:
        visitors.revoke(g.db, g.actor, row.code, form.reason.data or "")
    except DomainError as exc:
        g.db.rollback()
        flash(exc.localized(), "error")
    else:
        g.db.commit()
        flash(_("Visitor pass %(code)s revoked.", code=row.code), "ok")
    return redirect(back)


@bp.post("/passes/<code>/decision")
@roles("storekeeper", "guard", "auditor")
def decide_pass(code: str) -> Any:
    """The leader in charge approves or rejects a pass whose purpose needs approval."""
    row = _pass_or_404(code)
    decision = request.form.get("decision", "")
    try:
        visitors.decide(g.db, g.actor, row.code, decision, request.form.get("reason", ""))
    except DomainError as exc:
        g.db.rollback()
        flash(exc.localized(), "error")
    else:
        g.db.commit()
        flash(_("Your decision is recorded."), "ok")
    return redirect(url_for("gate.pass_page", code=row.code))


@bp.get("/approvals")
@roles("storekeeper", "guard", "auditor")
def approvals_todo() -> Any:
    """Visits waiting for my approval (the leader in charge of the host's department)."""
    rows = visitors.waiting_for(g.db, g.actor.name)
    return render_template("gate/approvals.html", views=[visitors.view(g.db, row) for row in rows])


# --- visitors: search and history, on site, roll call ---

def _day(name: str) -> date | None:
    raw = request.args.get(name) or ""
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        flash(_("Dates are written YYYY-MM-DD."), "error")
        return None


@bp.get("/visitors", endpoint="visitors")
@roles(*DESK)
def visitors_page() -> Any:
    """Search passes by name (any way of writing it), plate, host, code and days; each with its visits."""
    zone = policy(g.db).zone
    start, end = _day("from"), _day("to")
    filters = {k: request.args.get(k, "").strip() for k in ("name", "plate", "host", "code")}
    try:
        query = visitors.search(
            g.db, name=filters["name"] or None, plate=filters["plate"] or None, host=filters["host"] or None,
            code=filters["code"] or None, day_from=datetime.combine(start, time.min, zone) if start else None,
            day_to=datetime.combine(end + timedelta(days=1), time.min, zone) if end else None)
        page = paging.keyset_page(g.db, query, [VisitorPass.valid_from, VisitorPass.id], request.args.get("after"),
                                  True, 50)
    except DomainError as exc:
        flash(exc.localized(), "error")
        return redirect(url_for("gate.visitors"))
    views = [visitors.view(g.db, row, with_visits=True) for row in page.items]
    return render_template("gate/visitors.html", page=page, views=views, filters=filters,
                           start=start.isoformat() if start else "", end=end.isoformat() if end else "")


@bp.get("/on-site")
@roles(*DESK)
def on_site() -> Any:
    """Everyone on site now, with their vehicles; the roll call to print."""
    return render_template("gate/on_site.html", on_site=visits.on_site(g.db))


@bp.get("/roll-call.pdf")
@roles(*DESK)
def roll_call() -> Any:
    """The roll call for an evacuation, as a printable PDF."""
    pdf = gate_documents.roll_call_pdf(g.db, g.actor, settings_of(current_app).org_name)
    g.db.commit()
    return Response(pdf, mimetype="application/pdf", headers={"Cache-Control": "no-store",
                                                              "Content-Disposition": "inline; filename=roll-call.pdf"})
