"""REST: stocktakes (盘点): open, scan (one code or a CSV), counts and lines, resolve, close, report."""

from __future__ import annotations

from typing import Any, Literal

from flask import Response, current_app, g, jsonify, request
from pydantic import Field

from server import settings_of
from server.api import Body, CodeText, accepts, bp, choice, query
from server.auth import READERS, roles
from server.exports import CSV_MIMETYPE
from server.services import reports, stocktake_losses, stocktake_report, stocktake_supplies, stocktakes
from server.services.stocktake_supplies import SupplyLine
from server.services.stocktakes import Line

SCANNERS = ("storekeeper",)


class OpenIn(Body):
    scope: Literal["office", "department", "locations"]
    department: str = Field("", max_length=100)
    locations: list[CodeText] = Field(default_factory=list, max_length=1000)


class ScanIn(Body):
    code: str = Field(min_length=1, max_length=300)
    location: str = Field(min_length=1, max_length=300)


class ResolveIn(Body):
    code: str = Field(min_length=1, max_length=64)
    action: Literal["move", "lost", "correct", "ignore"]
    location: str = Field("", max_length=300)
    approval_ref: str = Field("", max_length=100)
    reason: str = Field("", max_length=2000)


class CloseIn(Body):
    force: bool = False


class SupplyCountIn(Body):
    item: str = Field(min_length=1, max_length=300, description="S- code")
    counted: int = Field(ge=0, le=stocktake_supplies.MAX_COUNT)


class LossDecisionIn(Body):
    decision: Literal["approve", "reject"]
    reason: str = Field("", max_length=2000)


class SignOffIn(Body):
    note: str = Field("", max_length=2000)


REPORT_FORMAT = choice("format", "csv (the default) or pdf (for people, in the reader's language)", ("csv", "pdf"))


def line_json(line: Line) -> dict[str, Any]:
    return {"code": line.code, "name": line.name, "class": line.cls,
            "expected_location_id": line.expected_location_id, "seen_location_id": line.seen_location_id,
            "seen_at": line.seen_at.isoformat() if line.seen_at else None}


def _out(stocktake_id: int) -> dict[str, Any]:
    found = stocktakes.by_id(g.db, stocktake_id)
    return {"id": found.id, "scope": found.scope, "department": found.department, "state": found.state,
            "opened_by": found.opened_by, "opened_at": found.opened_at.isoformat(), "closed_by": found.closed_by,
            "closed_at": found.closed_at.isoformat() if found.closed_at else None, "forced": found.forced,
            "counts": stocktakes.counts(g.db, found), "unresolved": stocktakes.unresolved(g.db, found)
            if found.state == "open" else None,
            "supplies": [supply_json(x) for x in stocktake_supplies.lines(g.db, found)],
            "losses": [{"code": loss.code, "approval": loss.approval.id, "state": loss.approval.state,
                        "waiting_for": loss.approval.current_level}
                       for loss in stocktake_losses.losses(g.db, found)],
            "signed_off_by": found.signed_off_by,
            "signed_off_at": found.signed_off_at.isoformat() if found.signed_off_at else None}


def supply_json(line: SupplyLine) -> dict[str, Any]:
    return {"item": line.code, "name": line.name, "unit": line.unit, "counted": line.counted,
            "ledger_at_count": line.expected, "difference": line.difference, "at": line.at.isoformat(),
            "by": line.actor}


@bp.post("/stocktakes")
@roles()
@accepts(OpenIn)
def open_stocktake(body: OpenIn) -> Any:
    """Open a stocktake of a scope (admin); its expected set is frozen now."""
    made = stocktakes.open_stocktake(g.db, g.actor, body.scope, body.department, body.locations)
    g.db.commit()
    return jsonify(_out(made.id)), 201


@bp.get("/stocktakes/<int:stocktake_id>")
@roles(*READERS)
def get_stocktake(stocktake_id: int) -> Any:
    """A stocktake with its counts per class; ?lines=<class> adds up to 1000 lines of that class."""
    out = _out(stocktake_id)
    cls = request.args.get("lines")
    if cls:
        out["lines"] = [line_json(x) for x in stocktakes.lines(g.db, stocktakes.by_id(g.db, stocktake_id), cls)]
    return jsonify(out)


@bp.post("/stocktakes/<int:stocktake_id>/scans")
@roles(*SCANNERS)
@accepts(ScanIn)
def scan(stocktake_id: int, body: ScanIn) -> Any:
    """One sighting: an asset code seen at a location; answers its class."""
    _row, cls = stocktakes.scan(g.db, g.actor, stocktake_id, body.code, body.location)
    g.db.commit()
    return jsonify({"class": cls, "counts": _out(stocktake_id)["counts"]}), 201


@bp.post("/stocktakes/<int:stocktake_id>/scans.csv")
@roles(*SCANNERS)
def scan_csv(stocktake_id: int) -> Any:
    """Sightings from a CSV body (code,location per row); all rows or none."""
    count = stocktakes.scan_csv(g.db, g.actor, stocktake_id, request.get_data(as_text=True))
    g.db.commit()
    return jsonify(stored=count, counts=_out(stocktake_id)["counts"]), 201


@bp.post("/stocktakes/<int:stocktake_id>/resolutions")
@roles()
@accepts(ResolveIn)
def resolve(stocktake_id: int, body: ResolveIn) -> Any:
    """Choose how one discrepancy is resolved (admin); applied at closing."""
    row = stocktakes.resolve(g.db, g.actor, stocktake_id, body.code, body.action, body.location, body.approval_ref,
                             body.reason, settings_of(current_app).principal_approval_above)
    g.db.commit()
    return jsonify(code=row.code, action=row.action, location_id=row.location_id, approval=row.approval_id), 201


@bp.post("/stocktakes/<int:stocktake_id>/losses/<int:approval_id>/decision")
@roles(*READERS)
@accepts(LossDecisionIn)
def decide_loss(stocktake_id: int, approval_id: int, body: LossDecisionIn) -> Any:
    """Approve or reject a loss asked through the approval chain: only an approver of the step may."""
    chain = stocktake_losses.decide(g.db, g.actor, stocktakes.by_id(g.db, stocktake_id), approval_id, body.decision,
                                    body.reason)
    g.db.commit()
    return jsonify(approval=chain.id, state=chain.state, waiting_for=chain.current_level)


@bp.post("/stocktakes/<int:stocktake_id>/close")
@roles()
@accepts(CloseIn)
def close(stocktake_id: int, body: CloseIn) -> Any:
    """Apply the resolutions as asset events and lock the report; force=true closes with unresolved lines."""
    stocktakes.close(g.db, g.actor, stocktake_id, body.force)
    g.db.commit()
    return jsonify(_out(stocktake_id))


@bp.post("/stocktakes/<int:stocktake_id>/supply-counts")
@roles(*SCANNERS)
@accepts(SupplyCountIn)
def count_supply(stocktake_id: int, body: SupplyCountIn) -> Any:
    """A supply item counted on the shelf; the ledger's stock now is kept beside it. Closing turns the
    difference into a stocktake movement."""
    line = stocktake_supplies.count(g.db, g.actor, stocktakes.by_id(g.db, stocktake_id), body.item, body.counted)
    g.db.commit()
    return jsonify(supply_json(line)), 201


@bp.post("/stocktakes/<int:stocktake_id>/sign-off")
@roles()
@accepts(SignOffIn)
def sign_off(stocktake_id: int, body: SignOffIn) -> Any:
    """The admin signs the closed stocktake's report off (once)."""
    stocktake_report.sign_off(g.db, g.actor, stocktake_id, body.note)
    g.db.commit()
    return jsonify(_out(stocktake_id))


@bp.get("/stocktakes/<int:stocktake_id>/report")
@roles(*READERS)
@query(REPORT_FORMAT)
def report(stocktake_id: int) -> Any:
    """The report: counts per class, the lines with their resolutions, the supply count; CSV or PDF."""
    kind = request.args.get("format") or "csv"
    reports.check_choice("format", kind, ("csv", "pdf"))
    found = stocktakes.by_id(g.db, stocktake_id)
    if kind == "pdf":
        data = stocktake_report.report_pdf(g.db, found, settings_of(current_app).org_name)
        return Response(data, mimetype="application/pdf", headers={
            "Content-Disposition": f"attachment; filename=stocktake-{stocktake_id}.pdf"})
    return Response(stocktake_report.report_csv(g.db, found), mimetype=CSV_MIMETYPE, headers={
        "Content-Disposition": f"attachment; filename=stocktake-{stocktake_id}.csv"})
