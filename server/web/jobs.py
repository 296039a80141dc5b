"""Long jobs on the web: a page that shows a job's progress until it is done, then its result.

The page polls a fragment every second with htmx; without JavaScript a ``<noscript>`` refresh reloads
the whole page instead. Nothing here waits for the job: each request reads its row and answers.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, render_template, send_file, url_for
from flask_babel import gettext as _

from server import names, settings_of
from server.auth import roles
from server.errors import DomainError
from server.models import Job
from server.services import jobs, plans
from server.web.errors import fail

bp = Blueprint("jobs", __name__)


@bp.app_template_filter("job_state")
def _job_state(code: object) -> str:
    return names.job_state(code)


@bp.app_template_filter("job_kind")
def _job_kind(code: object) -> str:
    return names.job_kind(code)


def _job(job_id: str) -> Job:
    try:
        job = jobs.get(g.db, g.actor, job_id)
    except DomainError:
        fail(404, _("There is no job %(id)s of yours.", id=job_id[:20]))
    g.db.commit()  # a job whose process died is marked failed as it is read
    return job


def _next_step(job: Job) -> str | None:
    """Where a finished job leads on from: a plan check to its preview, a plan import to the plan."""
    if job.state != "done":
        return None
    if job.kind == "plan_check":
        return url_for("procurement.import_preview", token=job.params["upload"], job=job.id)
    if job.kind == "plan_import":
        return url_for("procurement.plans")
    return None


def _context(job: Job) -> dict[str, Any]:
    result = job.result or {}
    return {"job": job, "percent": jobs.percent(job), "error": jobs.error_text(job), "next_url": _next_step(job),
            "has_file": jobs.result_path(settings_of(current_app).instance_path, job) is not None,
            "bad_rows": [plans.RowError(**e) for e in result.get("errors", [])],
            "finished": job.state in ("done", "failed")}


@bp.get("/jobs/<job_id>")
@roles("storekeeper")
def page(job_id: str) -> Any:
    """A job you started: progress while it runs, then its result or why it failed."""
    return render_template("jobs/page.html", **_context(_job(job_id)))


@bp.get("/jobs/<job_id>/progress")
@roles("storekeeper")
def progress(job_id: str) -> Any:
    """The progress part of the job's page (htmx polls it every second until the job ends)."""
    return render_template("jobs/_progress.html", **_context(_job(job_id)))


@bp.get("/jobs/<job_id>/result")
@roles("storekeeper")
def result(job_id: str) -> Any:
    """The file the job made."""
    job = _job(job_id)
    path = jobs.result_path(settings_of(current_app).instance_path, job)
    if path is None:
        fail(404, _("This job has no file to download (any more)."))
    return send_file(path, mimetype="application/pdf" if path.suffix == ".pdf" else None,
                     download_name=path.name.split("-", 1)[-1], as_attachment=True)
