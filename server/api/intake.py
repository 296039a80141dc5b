"""REST: receiving a purchase line into stock, and the labels of what was received."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from flask import Response, current_app, g, jsonify, request, url_for
from pydantic import Field

from server import settings_of
from server.api import Body, accepts, bp
from server.api.jobs import accepted
from server.auth import roles
from server.models import Intake, Job
from server.services import intake, job_tasks, printing


class IntakeIn(Body):
    purchase_line: int = Field(ge=1)
    request_key: str = Field(min_length=1, max_length=64)
    location: str = Field(min_length=1, max_length=40)
    quantity: int | None = Field(None, ge=1, le=printing.MAX_BATCH)
    serials: list[Annotated[str, Field(max_length=100)] | None] | None = Field(None, max_length=printing.MAX_BATCH)
    received_on: date | None = None
    name: str | None = Field(None, max_length=200)


def _out(row: Intake, codes: list[str], replay: bool) -> dict[str, Any]:
    return {"id": row.id, "request_key": row.request_key, "purchase_line": row.purchase_line_id,
            "quantity": row.quantity, "received_on": row.received_on.isoformat(), "codes": codes, "replay": replay,
            "labels": url_for("api.intake_labels", intake_id=str(row.id))}


@bp.post("/intakes")
@roles("storekeeper")
@accepts(IntakeIn)
def receive(body: IntakeIn) -> Any:
    """Receive a purchase line: one asset per unit, in storage; the same request_key again is a no-op."""
    got = intake.receive(g.db, g.actor, body.purchase_line, body.request_key, body.location, body.quantity,
                         body.serials, body.received_on, body.name)
    g.db.commit()
    return jsonify(_out(got.intake, got.codes, got.replay)), 200 if got.replay else 201


@bp.get("/intakes/<intake_id>")
@roles("storekeeper", "auditor")
def get_intake(intake_id: str) -> Any:
    """One intake and the codes it made."""
    row = intake.get(g.db, intake_id)
    return jsonify(_out(row, intake.codes_of(g.db, row.id), False))


@bp.get("/intakes/<intake_id>/labels.pdf")
@roles("storekeeper")
def intake_labels(intake_id: str) -> Any:
    """The labels of every asset an intake made, as one print-ready PDF (recorded in the audit log;
    ?template= optional); more than 500 labels: 202 and the job that makes the PDF."""
    settings = settings_of(current_app)
    row = intake.get(g.db, intake_id)
    made = job_tasks.labels_now_or_later(g.db, settings, g.actor, intake.codes_of(g.db, row.id),
                                         request.args.get("template") or settings.label_template)
    if isinstance(made, Job):
        return accepted(made)
    g.db.commit()
    return Response(made, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="intake-{row.id}-labels.pdf"'})
