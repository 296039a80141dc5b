"""REST: decision reports as JSON, or as a file with ?format=csv or ?format=xlsx (queries in docs/reports.md).

The files have the same columns and rows as the JSON: column keys as headers and codes as they are
(the web's downloads name them in the reader's language instead).
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, request

from server import exports
from server.api import YEAR, Param, bp, choice, query
from server.auth import roles
from server.services import reports

REPORT_READERS = reports.READERS
FORMATS = ("json", "csv", "xlsx")


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
       Param("from", "first day included (YYYY-MM-DD): spend, spend-by-method, usage-log, maintenance-cost, "
             "spend-by-department, requests."),
       Param("to", "last day included (YYYY-MM-DD), the same reports."),
       choice("format", "csv or xlsx for a file instead of JSON.", FORMATS))
def get_report(name: str) -> Any:
    """One report (spend ?period=&year=, spend-by-method, plan-execution, assets ?by=, bought-per-year,
    overdue ?controlled=1, usage-log); ?format=csv or ?format=xlsx for a file."""
    fmt = request.args.get("format") or "json"
    reports.check_choice("format", fmt, FORMATS)
    args = {k: v for k, v in request.args.items() if k != "format"}
    report = reports.build(g.db, name, args)
    if fmt == "json":
        return jsonify(report.as_json())
    rows = [[row.get(key) for key in report.columns] for row in report.rows]
    if fmt == "csv":
        body, mimetype = exports.to_csv(report.columns, rows), exports.CSV_MIMETYPE
    else:
        kinds = [report.column(key).kind for key in report.columns]
        body, mimetype = exports.to_xlsx(report.name, report.columns, rows, kinds), exports.XLSX_MIMETYPE
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{report.name}.{fmt}"'})
