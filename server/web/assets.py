"""Assets: the search (where assets are listed), the asset page (QR code, every field, history),
the life-cycle actions taken from it, and the pages of a location and of a person, which is
where the ``/c/L-...`` and ``/c/P-...`` codes of labels and badges land.

Reading is open to every role; the actions to the storekeeper (and the admin), as in the API.
Each view calls the same services as the API and only translates.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import segno
from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contract import codes
from server import names, settings_of
from server.audit import Actor
from server.auth import READERS, allowed_roles, roles
from server.db import read_only
from server.errors import DomainError
from server.i18n import N_, fmt_date, fmt_datetime
from server.i18n import gettext as _
from server.models import AssetStatus, Category, Location, Person
from server.services import asset_facts, asset_search, assets, lifecycle
from server.services.assets import ALLOWED_FROM, Outcome
from server.web import asset_forms as forms
from server.web.errors import fail
from server.web.forms import confirmation_page, show_domain_error
from server.web.nav import MenuItem

bp = Blueprint("assets", __name__)
MENU = [MenuItem("assets.index", N_("Asset search"), "assets")]
PAGE_SIZE = 25  # rows of a list page; each costs ~0.2 ms of CPU to render (links, money, dates)
DATALIST_MAX = 500  # codes offered while typing; beyond that people scan or type the code


@bp.app_template_global()
def can(endpoint: str) -> bool:
    """Whether the signed-in person's role may use a view: the view's own ``@roles`` decide."""
    actor = getattr(g, "actor", None)
    view = current_app.view_functions.get(endpoint)
    return actor is not None and view is not None and actor.role in (allowed_roles(view) or frozenset())


@bp.app_template_global("kv")
def kv(label: str, value: Any) -> str:
    """ "Label: value" in the reader's language (a Python function: a Jinja macro per line cost more)."""
    return _("%(label)s: %(value)s", label=label, value=value)


@bp.app_template_filter("action_name")
def action_name(code: str) -> str:
    return names.action(code)


@bp.app_template_filter("location_kind_name")
def location_kind_name(code: str) -> str:
    return names.location_kind(code)


@bp.app_template_filter("source_name")
def source_name(code: str) -> str:
    return names.source(code)


@bp.app_template_filter("iso_time")
def iso_time(text: str) -> str:
    """A date or time kept as ISO text in an event's data, in the reader's format (as given if it is not one)."""
    try:
        return fmt_datetime(datetime.fromisoformat(text)) if "T" in text else fmt_date(date.fromisoformat(text))
    except (TypeError, ValueError):
        return str(text)


@bp.app_template_filter("disposal_reason_name")
def disposal_reason_name(code: str) -> str:
    return names.disposal_reason(code)


# --- the search ---

CATEGORY_NAMES = select(Category.name).order_by(Category.name)  # made once: building a statement costs

@bp.get("/assets")
@roles(*READERS)
@read_only
def index() -> Any:
    """Search assets by code, serial, name, status, category, location and custodian; sort; page on."""
    args = request.args
    text = args.get("q", "").strip()
    filters = asset_search.Filters(text, args.get("status") or None, args.get("category") or None,
                                   args.get("location") or None, args.get("custodian") or None)
    sort, direction = args.get("sort", "code"), args.get("dir", "asc")
    page, problem = None, None
    try:
        match = asset_search.resolve(g.db, text) if text else None
        if match is not None:  # a scanned or typed code, or a serial: straight to its page
            return redirect(_page_of(match))
        if direction not in ("asc", "desc"):
            problem = _("Sort either up or down.")
        else:  # resolved already: the text can only be part of a name
            named = dataclasses.replace(filters, q="", name=text)
            page = asset_search.search(g.db, named, sort, direction == "desc", args.get("after"), PAGE_SIZE)
    except DomainError as exc:
        problem = exc.localized()
    categories = g.db.scalars(CATEGORY_NAMES).all()
    html = render_template("assets/search.html", filters=filters, page=page, sort=sort, direction=direction,
                           problem=problem, categories=categories, statuses=asset_search.STATUSES)
    return html, 200 if problem is None else 422


def _page_of(match: asset_search.Match) -> str:
    endpoint = {"asset": "assets.page", "location": "assets.location_page", "person": "assets.person_page"}
    return url_for(endpoint[match.kind], code=match.code)


# --- the asset page ---

@bp.get("/assets/<code>")
@roles(*READERS)
@read_only
def page(code: str) -> Any:
    """One asset: QR code, every field, where it came from, maintenance cost, history, actions."""
    asset, origin = _asset_or_404(code, asset_facts.asset_and_origin)
    after = request.args.get("after")
    history = _or_422(lambda: asset_facts.history_page(g.db, asset, after))
    actions = [a for a in ACTIONS if AssetStatus(asset.status) in ALLOWED_FROM[a]]
    cost = asset_facts.maintenance_cost(g.db, asset, None if after else history)
    return render_template("assets/page.html", asset=asset, history=history, actions=actions,
                           origin=origin, qr=_qr_svg(asset.code), maintenance_cost=cost)


def _asset_or_404(code: str, read: Callable[[Session, str], Any] = assets.asset_by_code) -> Any:
    try:
        return read(g.db, code)
    except DomainError:
        fail(404, _("There is no asset with the code %(code)s.", code=code[:40]))


def _or_422(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except DomainError as exc:
        fail(422, exc.localized())


def _qr_svg(code: str) -> str:
    """The QR code of the asset's label (the same text as the printed one), as inline SVG."""
    return _qr_of(codes.label_text(code, settings_of(current_app).label_base_url))


@lru_cache(maxsize=2048)
def _qr_of(text: str) -> str:
    # One fixed mask: scoring all eight to pick the best took 3 ms of the page's ~12 ms of CPU, and
    # a screen shows the symbol sharp and flat. (The printed label keeps segno's best mask.)
    svg: str = segno.make(text, error="m", micro=False, mask=0).svg_inline(scale=5, title=text, svgclass="qr")
    return svg


# --- the actions ---

@dataclass(frozen=True)
class Action:
    form: type[FlaskForm]
    run: Callable[[Session, Actor, str, Any], Outcome]
    errors: dict[str, str] = field(default_factory=dict)  # refusal code -> field it is about
    code_fields: dict[str, codes.Kind] = field(default_factory=dict)  # fields holding L-/P- codes
    confirm: bool = False  # final: a confirmation step first


def _office_time(value: datetime | None) -> datetime | None:
    """A time typed on the page is the office's local time."""
    if value is None:
        return None
    return value.replace(tzinfo=ZoneInfo(settings_of(current_app).timezone)).astimezone(UTC)


# What each form calls: the same service functions as the REST routes (server/api/assets.py, lifecycle.py).

def _move(db: Session, who: Actor, code: str, f: Any) -> Outcome:
    return assets.move(db, who, code, f.to.data, reason=f.reason.data)


def _checkout(db: Session, who: Actor, code: str, f: Any) -> Outcome:
    return assets.checkout(db, who, code, f.to.data, _office_time(f.due.data), reason=f.reason.data,
                           purpose=f.purpose.data, approval_ref=f.approval_ref.data)


def _checkin(db: Session, who: Actor, code: str, f: Any) -> Outcome:
    return assets.checkin(db, who, code, f.location.data or None, reason=f.reason.data)


def _repair(db: Session, who: Actor, code: str, f: Any) -> Outcome:
    return lifecycle.send_to_repair(db, who, code, f.vendor.data, f.location.data or None, reason=f.reason.data)


def _repaired(db: Session, who: Actor, code: str, f: Any) -> Outcome:
    return lifecycle.back_from_repair(db, who, code, f.location.data or None, reason=f.reason.data)


def _maintenance(db: Session, who: Actor, code: str, f: Any) -> Outcome:
    return lifecycle.record_maintenance(db, who, code, f.on.data, f.vendor.data, f.cost.data, f.description.data)


def _transfer(db: Session, who: Actor, code: str, f: Any) -> Outcome:
    return lifecycle.transfer(db, who, code, f.department.data, f.approval_ref.data, f.custodian.data or None,
                              f.location.data or None, f.reason.data)


def _custodian(db: Session, who: Actor, code: str, f: Any) -> Outcome:
    return lifecycle.change_custodian(db, who, code, f.person.data, f.reason.data)


def _dispose(db: Session, who: Actor, code: str, f: Any) -> Outcome:
    return lifecycle.dispose(db, who, code, f.reason.data, f.approval_ref.data, note=f.note.data)


L, P = codes.Kind.LOCATION, codes.Kind.PERSON
ACTIONS: dict[str, Action] = {  # in the order the asset page offers them
    "move": Action(forms.MoveForm, _move, code_fields={"to": L}),
    "checkout": Action(forms.CheckoutForm, _checkout, {"approval_required": "approval_ref"}, {"to": P}),
    "checkin": Action(forms.CheckinForm, _checkin, code_fields={"location": L}),
    "repair": Action(forms.RepairForm, _repair, code_fields={"location": L}),
    "repaired": Action(forms.RepairedForm, _repaired, {"not_a_store": "location"}, {"location": L}),
    "maintenance": Action(forms.MaintenanceForm, _maintenance,
                          {"description_required": "description", "invalid": "cost"}),
    "transfer": Action(forms.TransferForm, _transfer,
                       {"department_required": "department", "same_department": "department"},
                       {"custodian": P, "location": L}),
    "custodian": Action(forms.CustodianForm, _custodian, code_fields={"person": P}),
    "dispose": Action(forms.DisposeForm, _dispose, {"approval_required": "approval_ref",
                                                     "bad_disposal_reason": "reason"}, confirm=True),
}


@bp.route("/assets/<code>/do/<action>", methods=["GET", "POST"])
@roles("storekeeper")
def act(code: str, action: str) -> Any:
    """One life-cycle action on an asset: its form, then the change (disposal: after a confirmation)."""
    spec = ACTIONS.get(action)
    if spec is None:
        fail(404, _("There is no such action."))
    asset = _asset_or_404(code)
    form = spec.form()
    blocked = AssetStatus(asset.status) not in ALLOWED_FROM[action]
    if not blocked and form.validate_on_submit() and _codes_exist(form, spec):
        try:
            if spec.confirm and request.form.get("confirmed") != "1":
                spec.run(g.db, g.actor, asset.code, form)  # a trial: refusals show now, beside their fields
                g.db.rollback()
                return confirmation_page(_confirm_summary(action, asset, form), url_for("assets.page", code=asset.code),
                                         _(forms.DISPOSAL_WARNING))
            spec.run(g.db, g.actor, asset.code, form)
            g.db.commit()
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, spec.errors)
        else:
            flash(_("Done: %(action)s, %(code)s.", action=names.action(action), code=asset.code), "ok")
            return redirect(url_for("assets.page", code=asset.code))
    status = 409 if blocked else 422 if request.method == "POST" else 200
    return render_template("assets/action.html", asset=asset, action=action, form=form, blocked=blocked,
                           **_datalists(g.db)), status


def _codes_exist(form: FlaskForm, spec: Action) -> bool:
    """A location or person code that is misread or names nothing: said beside its field."""
    fine = True
    for name, kind in spec.code_fields.items():
        target = getattr(form, name)
        if not target.data:
            continue
        try:
            found = (asset_search.location if kind == codes.Kind.LOCATION else asset_search.person)(g.db, target.data)
        except DomainError as exc:
            target.errors = [*target.errors, exc.localized()]
            fine = False
        else:
            target.data = found.code  # the canonical form of a scanned URL or lower-case code
    return fine


def _confirm_summary(action: str, asset: Any, form: Any) -> str:
    return _("Dispose of %(code)s %(name)s: %(reason)s, approval reference %(ref)s?", code=asset.code,
             name=asset.name, reason=names.disposal_reason(form.reason.data), ref=form.approval_ref.data)


# --- a location's and a person's assets (what /c/L-... and /c/P-... open) ---

@bp.get("/locations/<code>/assets")
@roles(*READERS)
@read_only
def location_page(code: str) -> Any:
    """A location and the assets there."""
    try:
        place = asset_search.location(g.db, code)
    except DomainError:
        fail(404, _("There is no location with the code %(code)s.", code=code[:40]))
    parent = g.db.get(Location, place.parent_id) if place.parent_id else None
    return _listing("assets/location.html", asset_search.Filters(location=place.code), place=place, parent=parent)


@bp.get("/people/<code>/assets")
@roles(*READERS)
@read_only
def person_page(code: str) -> Any:
    """A person and the assets in their custody."""
    try:
        who = asset_search.person(g.db, code)
    except DomainError:
        fail(404, _("There is no person with the code %(code)s.", code=code[:40]))
    return _listing("assets/person.html", asset_search.Filters(custodian=who.code), person=who)


def _listing(template: str, filters: asset_search.Filters, **context: Any) -> Any:
    sort, direction = request.args.get("sort", "code"), request.args.get("dir", "asc")
    page = _or_422(lambda: asset_search.search(g.db, filters, sort, direction == "desc", request.args.get("after"),
                                               PAGE_SIZE))
    return render_template(template, page=page, sort=sort, direction=direction, **context)


def _datalists(db: Session) -> dict[str, Any]:
    """Location and person codes offered while typing (skipped when there are too many to list)."""
    lists: dict[str, Any] = {}
    for key, model in (("location_codes", Location), ("person_codes", Person)):
        many = db.scalar(select(func.count()).select_from(select(model.id).limit(DATALIST_MAX + 1).subquery()))
        query = select(model.code, model.name).order_by(model.name, model.id)
        if model is Person:
            query = query.where(Person.active.is_(True))
        lists[key] = db.execute(query).all() if (many or 0) <= DATALIST_MAX else []
    return lists
