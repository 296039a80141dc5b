"""REST: procurement plan lines (one by one or a whole plan from CSV/XLSX) and purchases."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from flask import Response, current_app, g, jsonify, request
from flask_babel import gettext as _
from pydantic import Field

from server import serialize, settings_of
from server.api import LIMIT, OFFSET, YEAR, Body, Param, accepts, bp, error, page_args, query
from server.api.jobs import accepted
from server.auth import roles
from server.models import Job
from server.services import job_tasks, plan_files, plans, purchases

PLAN_READERS = ("storekeeper", "auditor")
Method = Literal["online_inquiry", "self_purchase", "framework_agreement", "public_tender", "other"]


class PlanLineIn(Body):
    ref: str = Field(min_length=1, max_length=40)
    budget_year: int = Field(ge=2000, le=2200)
    department: str = Field(min_length=1, max_length=100)
    category: str = Field(min_length=1, max_length=100)
    approved_qty: int = Field(ge=1)
    unit_price_cap: Decimal = Field(ge=0, max_digits=14, decimal_places=2)
    approved_amount: Decimal = Field(ge=0, max_digits=14, decimal_places=2)
    method: Method
    approval_ref: str = Field(min_length=1, max_length=100)


class PurchaseLineIn(Body):
    plan_line: str = Field(min_length=1, max_length=40)
    category: str = Field(min_length=1, max_length=100)
    quantity: int = Field(ge=1, le=1_000_000)
    unit_price: Decimal = Field(ge=0, max_digits=14, decimal_places=2)
    description: str = Field("", max_length=200)


class PurchaseIn(Body):
    supplier: str = Field(min_length=1, max_length=200)
    purchased_on: date
    method: Method
    reference: str = Field(min_length=1, max_length=100)
    method_exception_ref: str | None = Field(None, max_length=100)
    free_kind: Literal["donation", "free_transfer_in"] | None = None
    free_approval_ref: str | None = Field(None, max_length=100)
    lines: list[PurchaseLineIn] = Field(min_length=1, max_length=500)


@bp.get("/plans")
@roles(*PLAN_READERS)
@query(YEAR, Param("department", "Only this department."), Param("category", "Only this category."))
def list_plan_lines() -> Any:
    """Plan lines with used and remaining quantity and amount (?year=, ?department=, ?category=)."""
    rows = plans.execution(g.db, YEAR.read(), request.args.get("department"), request.args.get("category"))
    return jsonify(items=[serialize.plan_execution(r) for r in rows],
                   by_category=[{k: str(v) if isinstance(v, Decimal) else v for k, v in t.items()}
                                for t in plans.by_category(rows)])


@bp.post("/plans")
@roles()
@accepts(PlanLineIn)
def create_plan_line(body: PlanLineIn) -> Any:
    """Add one approved plan line (admin)."""
    line = plans.create_line(g.db, g.actor, body.model_dump())
    g.db.commit()
    return jsonify(serialize.plan_execution(plans.Execution(line, 0, Decimal("0.00")))), 201


@bp.get("/plans/<ref>")
@roles(*PLAN_READERS)
def get_plan_line(ref: str) -> Any:
    """One plan line with what is used and what remains."""
    line = plans.line_by_ref(g.db, ref)
    rows = [r for r in plans.execution(g.db, line.budget_year) if r.line.id == line.id]
    return jsonify(serialize.plan_execution(rows[0]))


@bp.get("/plans/template")
@roles(*PLAN_READERS)
def plan_template() -> Any:
    """The plan file template with one example row: ?lang=zh (Chinese headers and method) or en, ?format=xlsx
    or csv (UTF-8 with a BOM, which Excel opens correctly)."""
    data, name, mime = plan_files.template(request.args.get("lang", "zh"), request.args.get("format", "xlsx"))
    return Response(data, mimetype=mime, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.post("/plans/import")
@roles()
@query(Param("skip_bad", "1: import the good rows even when some are bad."))
def import_plan() -> Any:
    """Import an approved plan from CSV or XLSX (a `file` upload or the raw body); ?skip_bad=1 imports
    the good rows when some are bad, otherwise nothing is imported and every bad row is reported.
    More than 2,000 rows: 202 and the job that imports them (its result has the same report)."""
    upload = request.files.get("file")
    data, name = (upload.read(), upload.filename or "") if upload else (request.get_data(), "")
    if not data:
        return error("bad_file", "send the plan as a `file` upload or as the request body", 400)
    skip_bad = request.args.get("skip_bad", "").lower() in {"1", "true", "yes"}
    report = job_tasks.plan_import_now_or_later(g.db, settings_of(current_app), g.actor, data, name, skip_bad)
    if isinstance(report, Job):
        return accepted(report)
    body = {"imported": report.imported, "errors": [{"row": e.row, "ref": e.ref, "code": e.code,
                                                     "message": e.localized()} for e in report.errors]}
    if not report.ok:
        g.db.rollback()
        return jsonify(error={"code": "bad_rows", "message": _("%(bad)s rows are bad; nothing was imported",
                                                               bad=len(report.errors))}, **body), 422
    g.db.commit()
    return jsonify(body), 201


@bp.get("/purchases")
@roles(*PLAN_READERS)
@query(LIMIT, OFFSET)
def list_purchases() -> Any:
    """Purchases, newest first."""
    limit, offset = page_args()
    rows, total = purchases.list_purchases(g.db, limit, offset)
    return jsonify(items=[purchases.describe(p) for p in rows], total=total, limit=limit, offset=offset)


@bp.post("/purchases")
@roles("storekeeper")
@accepts(PurchaseIn)
def create_purchase(body: PurchaseIn) -> Any:
    """Record a purchase; refused (rule_violation codes) when it breaks the plan, saying by how much, when its
    date is outside the plan line's budget year or in the future, or when a unit price is 0 and the purchase is
    not a donation or free transfer-in (free_kind) with its approval reference (free_approval_ref)."""
    lines = [purchases.LineIn(**li.model_dump()) for li in body.lines]
    purchase = purchases.record(g.db, g.actor, body.supplier, body.purchased_on, body.method, body.reference,
                                lines, body.method_exception_ref, body.free_kind, body.free_approval_ref)
    g.db.commit()
    return jsonify(purchases.describe(purchase)), 201


@bp.get("/purchases/<purchase_id>")
@roles(*PLAN_READERS)
def get_purchase(purchase_id: str) -> Any:
    """One purchase and its lines."""
    return jsonify(purchases.describe(purchases.get(g.db, purchase_id)))
