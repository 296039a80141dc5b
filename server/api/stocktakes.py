"""REST: stocktakes (盘点): open, scan (one code or a CSV), counts and lines, resolve, close, report."""

from __future__ import annotations

from typing import Any, Literal

from flask import Response, g, jsonify, request
from pydantic import Field

from server.api import Body, CodeText, accepts, bp
from server.auth import READERS, roles
from server.services import stocktakes
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
            if found.state == "open" else None}


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
                             body.reason)
    g.db.commit()
    return jsonify(code=row.code, action=row.action, location_id=row.location_id), 201


@bp.post("/stocktakes/<int:stocktake_id>/close")
@roles()
@accepts(CloseIn)
def close(stocktake_id: int, body: CloseIn) -> Any:
    """Apply the resolutions as asset events and lock the report; force=true closes with unresolved lines."""
    stocktakes.close(g.db, g.actor, stocktake_id, body.force)
    g.db.commit()
    return jsonify(_out(stocktake_id))


@bp.get("/stocktakes/<int:stocktake_id>/report")
@roles(*READERS)
def report(stocktake_id: int) -> Any:
    """The report as CSV: counts per class and the lines with their resolutions."""
    text = stocktakes.report_csv(g.db, stocktakes.by_id(g.db, stocktake_id))
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=stocktake-{stocktake_id}.csv"})
