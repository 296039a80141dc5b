"""REST: long jobs (a big label PDF, a big plan import). The request that starts one answers 202 with
the job's URL; GET it for state and progress, then fetch its result."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, jsonify, send_file, url_for
from flask_babel import gettext as _

from server import settings_of
from server.api import bp, error
from server.auth import roles
from server.models import Job
from server.names import job_state as job_state_name
from server.services import jobs, plans


def job_json(job: Job) -> dict[str, Any]:
    result = dict(job.result or {})
    if "errors" in result:  # rows a plan job refused, in the reader's language
        result["errors"] = [{"row": e["row"], "ref": e["ref"], "code": e["code"],
                             "message": plans.RowError(**e).localized()} for e in result["errors"]]
    has_file = jobs.result_path(settings_of(current_app).instance_path, job) is not None
    return {
        "id": job.id, "kind": job.kind, "state": job.state, "done": min(job.done, job.total), "total": job.total,
        "percent": jobs.percent(job), "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "result": result or None,
        "error": {"code": job.error["code"], "message": jobs.error_text(job)} if job.error else None,
        "url": url_for("api.get_job", job_id=str(job.id)),
        "result_url": url_for("api.job_result", job_id=str(job.id)) if has_file else None,
    }


def accepted(job: Job) -> Any:
    """The answer to a request that became a job: 202, the job, and its URL in Location."""
    body = job_json(job)
    return jsonify(body), 202, {"Location": body["url"]}


@bp.get("/jobs/<job_id>")
@roles("storekeeper")
def get_job(job_id: str) -> Any:
    """A job you started (admins: any job): state (queued, running, done, failed), progress, result."""
    job = jobs.get(g.db, g.actor, job_id)
    g.db.commit()  # a job whose process died is marked failed as it is read
    return jsonify(job_json(job))


@bp.get("/jobs/<job_id>/result")
@roles("storekeeper")
def job_result(job_id: str) -> Any:
    """The file a finished job made (a label PDF); 409 while it is not done."""
    job = jobs.get(g.db, g.actor, job_id)
    g.db.commit()
    path = jobs.result_path(settings_of(current_app).instance_path, job)
    if path is None:
        return error("not_ready", _("Job %(id)s is %(state)s and has no file to download.", id=job.id,
                                    state=job_state_name(job.state)), 409)
    return send_file(path, mimetype="application/pdf" if path.suffix == ".pdf" else None,
                     download_name=path.name.split("-", 1)[-1], as_attachment=True)
