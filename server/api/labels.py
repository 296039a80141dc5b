"""REST: label PDFs for any list of codes, and for one asset."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, request
from pydantic import Field

from server import settings_of
from server.api import Body, accepts, bp
from server.auth import roles
from server.services import printing


class LabelsIn(Body):
    codes: list[str] = Field(min_length=1, max_length=printing.MAX_BATCH)
    template: str | None = None
    skip: int = Field(0, ge=0, le=1000)


def _pdf(codes: list[str], template: str | None, skip: int) -> Response:
    settings = settings_of(current_app)
    pdf = printing.render(g.db, g.actor, codes, org=settings.org_name, template=template or settings.label_template,
                          base_url=settings.label_base_url, skip=skip)
    g.db.commit()
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": 'inline; filename="labels.pdf"'})


@bp.post("/labels")
@roles("storekeeper")
@accepts(LabelsIn)
def labels_pdf(body: LabelsIn) -> Any:
    """A print-ready PDF of labels for the given codes (template and skip optional)."""
    return _pdf(body.codes, body.template, body.skip)


@bp.get("/assets/<code>/label.pdf")
@roles("storekeeper")
def asset_label(code: str) -> Any:
    """One asset's label as PDF (?template=, ?skip=): a reprint, recorded in the audit log."""
    try:
        skip = int(request.args.get("skip", 0))
    except ValueError:
        skip = 0
    return _pdf([code], request.args.get("template"), skip)
