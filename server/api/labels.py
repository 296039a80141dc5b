"""REST: label PDFs for any list of codes, and for one asset."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g
from pydantic import Field

from server import settings_of
from server.api import Body, CodeText, IntParam, Param, accepts, bp, query
from server.auth import roles
from server.services import printing


class LabelsIn(Body):
    codes: list[CodeText] = Field(min_length=1, max_length=printing.MAX_BATCH)
    template: str | None = Field(None, max_length=40)
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


SKIP = IntParam("skip", "Label positions to leave empty on a partly used sheet.", low=0, high=1000, default=0)
TEMPLATE = Param("template", "Label template (default: the setting label_template).")


@bp.get("/assets/<code>/label.pdf")
@roles("storekeeper")
@query(TEMPLATE, SKIP)
def asset_label(code: str) -> Any:
    """One asset's label as PDF (?template=, ?skip=): a reprint, recorded in the audit log."""
    return _pdf([code], TEMPLATE.raw(), SKIP.read() or 0)
