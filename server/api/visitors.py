"""REST: visitor passes, signing in and out, who is on site, the printed pass, the roll call, the export.

Every route calls the same service as the web's gate pages (services.visitors, services.visits,
services.gate_documents). A refusal at the gate still leaves its alert (``refused``).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any, Literal, NoReturn

from flask import Response, current_app, g, jsonify, request
from pydantic import AwareDatetime, Field

from server import gate_serialize as out
from server import params, settings_of
from server.api import Body, accepts, bp
from server.auth import roles
from server.errors import DomainError, Invalid
from server.i18n import N_
from server.models import VisitorPass
from server.personal import policy
from server.services import gate_alerts, gate_documents, paging, visitors, visits
from server.services.visitors import VisitorIn

HOSTS = ("storekeeper", "guard")  # who pre-registers visitors (admin always may)
DESK = ("guard",)  # who runs the gate desk


class VisitorBody(Body):
    name: str = Field(min_length=1, max_length=200)
    host: str = Field(min_length=1, max_length=40, description="P- code of the person visited")
    organisation: str = Field("", max_length=200)
    purpose: str = Field("", max_length=200)
    id_last4: str | None = Field(None, max_length=4, pattern=r"^[0-9A-Za-z]{4}$",
                                 description="kept only when the office's setting asks for it")
    plate: str | None = Field(None, max_length=20)

    def details(self) -> VisitorIn:
        return VisitorIn(name=self.name, host=self.host, organisation=self.organisation, purpose=self.purpose,
                         id_last4=self.id_last4, plate=self.plate)


class PreRegisterIn(VisitorBody):
    valid_from: AwareDatetime
    valid_until: AwareDatetime


class WalkInIn(VisitorBody):
    # a blank pass from the gate's stack; leave out to have a new one issued
    pass_: str | None = Field(None, alias="pass", max_length=40)
    sign_in: bool = True


class SignInIn(Body):
    plate: str | None = Field(None, max_length=20)
    admit_watchlisted: bool = False  # admin only: the office decided to let the visitor in


class RevokeIn(Body):
    reason: str = Field(min_length=1, max_length=1000)


class PassDecisionIn(Body):
    decision: Literal["approve", "reject"]
    reason: str = Field("", max_length=2000)


class BlankIn(Body):
    count: int = Field(ge=1, le=500)


def refused(exc: DomainError) -> NoReturn:
    """Roll the refused change back, keep what a gate refusal leaves for the admin, then answer the error."""
    g.db.rollback()
    gate_alerts.keep(g.db, exc)
    g.db.commit()
    raise exc


def _pass_json(row: VisitorPass, with_visits: bool = True) -> dict[str, Any]:
    return out.visitor_pass(visitors.view(g.db, row, with_visits))


@bp.post("/visitors")
@roles(*HOSTS)
@accepts(PreRegisterIn)
def preregister(body: PreRegisterIn) -> Any:
    """Pre-register a visitor: a V- pass valid in the window (pending approval for the configured purposes)."""
    row = visitors.register(g.db, g.actor, body.details(), body.valid_from, body.valid_until)
    g.db.commit()
    return jsonify(_pass_json(row)), 201


@bp.post("/visitors/walk-in")
@roles(*DESK)
@accepts(WalkInIn)
def walk_in(body: WalkInIn) -> Any:
    """Register a walk-in at the gate (valid to the end of the day) and sign them in unless sign_in is false."""
    try:
        row = visitors.walk_in(g.db, g.actor, body.details(), code=visitors.normal_code(body.pass_)
                               if body.pass_ else None)
        if body.sign_in:
            visits.sign_in(g.db, g.actor, row.code, origin=visits.Origin("api"))
    except DomainError as exc:
        refused(exc)
    g.db.commit()
    return jsonify(_pass_json(row)), 201


@bp.post("/visitors/blank")
@roles(*DESK)
@accepts(BlankIn)
def blank_passes(body: BlankIn) -> Any:
    """Issue blank passes for the gate's stack (walk-ins at a kiosk); print them with /visitors/passes.pdf."""
    made = visitors.issue_blank(g.db, g.actor, body.count)
    g.db.commit()
    return jsonify(codes=made), 201


def _day_arg(name: str) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    day = params.day(raw, name)  # bounded years: 9999-12-31 plus a day would overflow
    return datetime.combine(day, time.min, policy(g.db).zone)


@bp.get("/visitors")
@roles(*DESK)
def search_visitors() -> Any:
    """Passes by ?name= (exact, any way of writing it), ?plate=, ?host= (P- code), ?code=, ?from=, ?to= (dates)."""
    to = _day_arg("to")
    query = visitors.search(g.db, name=request.args.get("name"), plate=request.args.get("plate"),
                            host=request.args.get("host"), code=request.args.get("code"),
                            day_from=_day_arg("from"), day_to=to + timedelta(days=1) if to else None)
    page = paging.keyset_page(g.db, query, [VisitorPass.valid_from, VisitorPass.id], request.args.get("after"), True,
                              min(max(request.args.get("limit", 50, type=int), 1), 500))
    return jsonify(items=[_pass_json(row, with_visits=False) for row in page.items], next=page.next_cursor)


@bp.get("/visitors/on-site")
@roles(*DESK)
def on_site() -> Any:
    """Everyone on site now, oldest first, with their vehicles."""
    rows = visits.on_site(g.db)
    return jsonify(items=[out.on_site(row) for row in rows], count=len(rows))


@bp.get("/visitors/expected")
@roles(*DESK)
def expected() -> Any:
    """Pre-registered visitors expected today and not on site yet."""
    return jsonify(items=[_pass_json(row, with_visits=False) for row in visitors.expected(g.db)])


@bp.get("/visitors/roll-call.pdf")
@roles(*DESK)
def roll_call() -> Any:
    """The roll call for an evacuation: everyone on site now, as a printable PDF."""
    pdf = gate_documents.roll_call_pdf(g.db, g.actor, settings_of(current_app).org_name)
    g.db.commit()
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": "inline; filename=roll-call.pdf", "Cache-Control": "no-store"})


@bp.get("/visitors/export.csv")
@roles()
def export_visits() -> Any:
    """Visits signed in from ?from= to ?to= (dates, both included) with the visitors' fields (admin; logged)."""
    start, end = _day_arg("from"), _day_arg("to")
    if start is None or end is None or end < start or end - start > timedelta(days=366):
        raise Invalid(N_("give from and to, at most a year apart"), code="bad_filter")
    data = gate_documents.visits_csv(g.db, g.actor, start, end + timedelta(days=1))
    g.db.commit()
    return Response(data, mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=visits-{start:%Y%m%d}-{end:%Y%m%d}.csv",
        "Cache-Control": "no-store"})


@bp.get("/visitors/approvals")
@roles("storekeeper", "guard", "auditor")
def visit_approvals() -> Any:
    """Passes whose approval waits for the caller's decision."""
    return jsonify(items=[_pass_json(row, with_visits=False) for row in visitors.waiting_for(g.db, g.actor.name)])


@bp.get("/visitors/<code>")
@roles(*DESK)
def get_pass(code: str) -> Any:
    """One pass with its visits."""
    return jsonify(_pass_json(visitors.pass_by_code(g.db, code)))


@bp.get("/visitors/<code>/qr.png")
@roles(*HOSTS)
def pass_qr(code: str) -> Any:
    """The pass's QR as a PNG, to send to the visitor."""
    row = visitors.pass_by_code(g.db, code)
    return Response(gate_documents.qr_png(row.code, settings_of(current_app).label_base_url), mimetype="image/png")


@bp.get("/visitors/<code>/pass.pdf")
@roles(*HOSTS)
def pass_pdf(code: str) -> Any:
    """The printable pass (name, host, window, QR)."""
    row = visitors.pass_by_code(g.db, code)
    settings = settings_of(current_app)
    pdf = gate_documents.pass_pdf(g.db, g.actor, [row], settings.org_name, settings.label_base_url)
    g.db.commit()
    return Response(pdf, mimetype="application/pdf", headers={"Cache-Control": "no-store"})


@bp.post("/visitors/<code>/sign-in")
@roles(*DESK)
@accepts(SignInIn)
def sign_in(code: str, body: SignInIn) -> Any:
    """Sign a visitor in with their pass (refused with the reason when the pass may not enter now)."""
    try:
        done = visits.sign_in(g.db, g.actor, code, origin=visits.Origin("api"), plate=body.plate,
                              admit_watchlisted=body.admit_watchlisted)
    except DomainError as exc:
        refused(exc)
    g.db.commit()
    return jsonify({**out.visit(done.visit), "conflict": done.conflict})


@bp.post("/visitors/<code>/sign-out")
@roles(*DESK)
def sign_out(code: str) -> Any:
    """Sign a visitor out."""
    done = visits.sign_out(g.db, g.actor, code, origin=visits.Origin("api"))
    g.db.commit()
    return jsonify({"pass": done.visitor_pass.code, "closed": done.closed, "corrected": done.corrected})


@bp.post("/visitors/<code>/revoke")
@roles(*HOSTS)
@accepts(RevokeIn)
def revoke(code: str, body: RevokeIn) -> Any:
    """Revoke a pass: every gate refuses it from now on."""
    row = visitors.revoke(g.db, g.actor, code, body.reason)
    g.db.commit()
    return jsonify(_pass_json(row))


@bp.post("/visitors/<code>/decision")
@roles("storekeeper", "guard", "auditor")
@accepts(PassDecisionIn)
def decide(code: str, body: PassDecisionIn) -> Any:
    """The leader in charge approves or rejects a pass whose purpose needs approval."""
    row = visitors.decide(g.db, g.actor, code, body.decision, body.reason)
    g.db.commit()
    return jsonify(_pass_json(row))

