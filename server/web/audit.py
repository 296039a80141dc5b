"""Audit log: browse it with filters and keyset pages, and run the integrity check from the page.

The check is ``server.audit.verify`` (the keyed chain, the checkpoints outside the database, and the
ledger against the log, on one snapshot); this page renders whatever report it returns generically
(its scalar fields as facts, each list of findings as a table), so the checker can grow new kinds
of findings without this page knowing them.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext

from server import settings_of
from server.auth import roles
from server.errors import DomainError
from server.i18n import N_
from server.models import Job
from server.services import auditlog, job_tasks, jobs
from server.web.errors import fail
from server.web.nav import MenuItem

bp = Blueprint("audit", __name__)
MENU = [MenuItem("audit.index", N_("Audit log"), "system")]
AUDIT_READERS = ("auditor",)

# Names of the check's report fields a person reads; a field not named here is shown as it is.
LABELS = {
    "rows": N_("Rows checked"),
    "broken_at": N_("First broken row"),
    "problem": N_("Problem"),
    "findings": N_("Findings"),
    "findings_omitted": N_("Further findings not listed"),
    "legacy_rows": N_("Rows from before the keyed chain"),
    "head": N_("Newest row"),
    "checkpoints_checked": N_("Checkpoints compared"),
    "ledger_rows": N_("Ledger records compared"),
    "legacy_described": N_("Ledger records described only before the keyed chain (not compared)"),
    "seconds": N_("Seconds taken"),
    "table": N_("Table"),
    "row": N_("Record"),
    "field": N_("Field"),
    "found": N_("Found"),
    "expected": N_("Expected"),
    "audit_row": N_("Audit row"),
}


def label(name: str) -> str:
    return gettext(LABELS[name]) if name in LABELS else name


def _compact(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


@bp.get("/audit")
@roles(*AUDIT_READERS)
def index() -> Any:
    """The audit log, newest first: by actor, action (or family, e.g. "user"), entity, time range."""
    values = {name: request.args.get(name, "") for name in (*auditlog.TEXT_FILTERS, "since", "until")}
    try:
        flt = auditlog.parse_filter(request.args)
        page = auditlog.browse(g.db, flt, settings_of(current_app).timezone, request.args.get("after"))
    except DomainError as exc:
        errors = {exc.code.removeprefix("bad_"): exc.localized()}
        return render_template("audit/index.html", values=values, errors=errors, rows=[], page=None), 422
    rows = [(entry, _compact(entry.before), _compact(entry.after)) for entry in page.items]
    return render_template("audit/index.html", values=values, errors={}, rows=rows, page=page)


def _as_dict(item: Any) -> dict[str, Any]:
    if callable(getattr(item, "as_dict", None)):
        return dict(item.as_dict())
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return dataclasses.asdict(item)
    return dict(item) if isinstance(item, dict) else {"": item}


def describe(report: Any) -> dict[str, Any]:
    """Any report: ok or not, its plain fields (facts) and its lists (tables with their columns)."""
    data = _as_dict(report)
    ok = bool(data.pop("ok", getattr(report, "ok", False)))
    facts, tables = [], []
    for name, value in data.items():
        if isinstance(value, list | tuple):
            rows = [_as_dict(item) for item in value]
            columns = list(dict.fromkeys(key for row in rows for key in row))
            cells = [[_shown(key, row.get(key)) for key in columns] for row in rows]
            tables.append({"name": label(name), "columns": [label(c) for c in columns], "rows": cells})
        elif value not in (None, ""):
            facts.append((label(name), _shown(name, value)))
    return {"ok": ok, "facts": facts, "tables": tables}


def _shown(name: str, value: Any) -> str:
    text = _compact(value)
    return gettext(text) if name == "problem" and text else text  # translated where the checker marks it


@bp.route("/audit/check", methods=["GET", "POST"])
@roles(*AUDIT_READERS)
def check() -> Any:
    """Run the audit log's integrity check (GET shows the button; POST runs it and shows the findings)."""
    if request.method == "GET":
        return render_template("audit/check.html", result=None)
    try:  # one read-only snapshot, in a transaction of its own; a big log: a job (minutes, not a request)
        outcome = job_tasks.audit_check_now_or_later(g.db, settings_of(current_app), g.actor)
    except DomainError as exc:  # too many long jobs running
        return render_template("audit/check.html", result=None, refused=exc.localized()), 409
    if isinstance(outcome, Job):
        return redirect(url_for("audit.check_job", job_id=outcome.id), 303)
    return render_template("audit/check.html", result=describe(outcome))


@bp.get("/audit/check/<job_id>")
@roles(*AUDIT_READERS)
def check_job(job_id: str) -> Any:
    """The check of a big log, run as a job: its progress until it is done, then its findings."""
    try:
        job = jobs.get(g.db, g.actor, job_id)
    except DomainError:
        fail(404, gettext("There is no job %(id)s of yours.", id=job_id[:20]))
    g.db.commit()  # a job whose process died is marked failed as it is read
    result = describe(job.result) if job.state == "done" and job.result else None
    return render_template("audit/check.html", result=result, job=job, percent=jobs.percent(job),
                           error=jobs.error_text(job))
