"""REST: decision reports as JSON, or CSV with ?format=csv (queries in docs/reports.md)."""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, request

from server.api import YEAR, Param, bp, choice, query
from server.auth import roles
from server.services import reports

REPORT_READERS = ("storekeeper", "auditor")


@bp.get("/reports")
@roles(*REPORT_READERS)
def list_reports() -> Any:
    """The names of the reports."""
    return jsonify(items=list(reports.REPORTS))


@bp.get("/reports/<name>")
@roles(*REPORT_READERS)
@query(choice("period", "spend: per month, quarter or year.", reports.PERIODS), YEAR,
       choice("by", "assets: counted per this.", reports.ASSET_DIMENSIONS),
       Param("controlled", "overdue: 1 for controlled items only."),
       choice("format", "csv for CSV instead of JSON.", ("json", "csv")))
def get_report(name: str) -> Any:
    """One report (spend ?period=&year=, spend-by-method, plan-execution, assets ?by=, bought-per-year,
    overdue ?controlled=1, usage-log); ?format=csv for CSV."""
    report = reports.build(g.db, name, dict(request.args))
    if request.args.get("format") == "csv":
        return Response(report.as_csv(), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{report.name}.csv"'})
    return jsonify(report.as_json())
