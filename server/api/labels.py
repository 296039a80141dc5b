"""REST: label PDFs for any list of codes, and for one asset."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g
from pydantic import Field

from server import settings_of
from server.api import Body, CodeText, IntParam, Param, accepts, bp, query
from server.api.jobs import accepted
from server.auth import roles
from server.models import Job
from server.services import job_tasks, printing


class LabelsIn(Body):
    codes: list[CodeText] = Field(min_length=1, max_length=printing.MAX_BATCH)
    template: str | None = Field(None, max_length=40)
    skip: int = Field(0, ge=0, le=1000)


def _pdf(codes: list[str], template: str | None, skip: int) -> Any:
    """The PDF, or for more than jobs.LABELS_INLINE_MAX labels 202 and the job that makes it."""
    settings = settings_of(current_app)
    made = job_tasks.labels_now_or_later(g.db, settings, g.actor, codes, template or settings.label_template, skip)
    if isinstance(made, Job):
        return accepted(made)
    g.db.commit()
    return Response(made, mimetype="application/pdf",
                    headers={"Content-Disposition": 'inline; filename="labels.pdf"'})


@bp.post("/labels")
@roles("storekeeper")
@accepts(LabelsIn)
def labels_pdf(body: LabelsIn) -> Any:
    """A print-ready PDF of labels for the given codes (template and skip optional); more than 500 labels:
    202 and a job (GET its URL until it is done, then its result_url)."""
    return _pdf(body.codes, body.template, body.skip)


SKIP = IntParam("skip", "Label positions to leave empty on a partly used sheet.", low=0, high=1000, default=0)
TEMPLATE = Param("template", "Label template (default: the setting label_template).")


@bp.get("/assets/<code>/label.pdf")
@roles("storekeeper")
@query(TEMPLATE, SKIP)
def asset_label(code: str) -> Any:
    """One asset's label as PDF (?template=, ?skip=): a reprint, recorded in the audit log."""
    return _pdf([code], TEMPLATE.raw(), SKIP.read() or 0)
