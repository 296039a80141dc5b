"""REST: seals (印章): the register, life-cycle steps, custodian, imprints, and the use register report.

Use requests, uses and take-outs are in ``api/seal_requests.py``. The rules are the services'
(``services.seals``, ``seal_imprints``, ``seal_register``); these views only translate.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from flask import Response, current_app, g, jsonify, request
from pydantic import Field

from server import params, settings_of
from server import seal_serialize as out
from server.api import Body, CodeText, DateParam, Param, accepts, bp, choice, query
from server.auth import READERS, roles
from server.errors import Invalid
from server.i18n import N_
from server.models import Seal, utcnow
from server.services import paging, seal_imprints, seal_register, seals

KEEPERS = ("storekeeper",)  # the office's custodians (and admin): register, steps, imprints, uses, take-outs
IMPRINT_READERS = ("storekeeper", "auditor")  # who may see an imprint (and admin); not the gate
REGISTER_READERS = ("storekeeper", "auditor")


class SealIn(Body):
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["official", "contract", "finance", "department"]
    department: str = Field(min_length=1, max_length=100)
    custodian: CodeText
    approval_ref: str = Field(min_length=1, max_length=100)
    made_on: date | None = None
    note: str = Field("", max_length=2000)


class SealStepIn(Body):
    action: Literal["enable", "suspend", "recall", "destroy"]
    approval_ref: str = Field(min_length=1, max_length=100)
    reason: str = Field("", max_length=1000)


class SealCustodianIn(Body):
    custodian: CodeText
    approval_ref: str = Field(min_length=1, max_length=100)
    reason: str = Field("", max_length=1000)


class SealRemakeIn(Body):
    approval_ref: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=1000)
    name: str = Field("", max_length=200)
    custodian: str = Field("", max_length=300)
    made_on: date | None = None
    note: str = Field("", max_length=2000)


def limit() -> int:
    return min(max(request.args.get("limit", 50, type=int), 1), 500)


def seal_json(seal: Seal) -> dict[str, Any]:
    return out.seal(seal, seal_imprints.current(g.db, seal), seals.open_takeout(g.db, seal))


@bp.get("/seals")
@roles(*READERS)
@query(choice("status", "Only seals in this state.", seals.STATUSES),
       choice("kind", "Only seals of this kind.", seals.KINDS), Param("department", "Only this department's seals."),
       Param("after", "The cursor of the page before (its `next`)."))
def list_seals() -> Any:
    """Seals by code, with filters; keyset pages (after=cursor)."""
    stmt = seals.listing(request.args.get("status"), request.args.get("kind"), request.args.get("department"))
    page = paging.keyset_page(g.db, stmt, [Seal.code], request.args.get("after"), False, limit())
    return jsonify(items=[seal_json(s) for s in page.items], next=page.next_cursor)


@bp.post("/seals")
@roles(*KEEPERS)
@accepts(SealIn)
def register_seal(body: SealIn) -> Any:
    """Register a seal as made (刻制), with its approval reference; its A- code is issued here."""
    made = seals.register(g.db, g.actor, seals.SealIn(**body.model_dump()))
    g.db.commit()
    return jsonify(seal_json(made)), 201


@bp.get("/seals/<code>")
@roles(*READERS)
def get_seal(code: str) -> Any:
    """One seal, with its history (registration, life-cycle steps, custodians, imprints)."""
    seal = seals.by_code(g.db, code)
    newer = seals.replaced_by(g.db, seal)
    return jsonify({**seal_json(seal), "replaced_by": newer.code if newer else None,
                    "history": [out.event(e) for e in seals.history(g.db, seal)]})


@bp.post("/seals/<code>/steps")
@roles(*KEEPERS)
@accepts(SealStepIn)
def seal_step(code: str, body: SealStepIn) -> Any:
    """A life-cycle step (enable, suspend, recall, destroy) with its approval reference."""
    seal = seals.step(g.db, g.actor, code, body.action, body.approval_ref, body.reason)
    g.db.commit()
    return jsonify(seal_json(seal))


@bp.post("/seals/<code>/custodian")
@roles(*KEEPERS)
@accepts(SealCustodianIn)
def seal_custodian(code: str, body: SealCustodianIn) -> Any:
    """Hand the seal to another custodian, with the approval reference."""
    seal = seals.change_custodian(g.db, g.actor, code, body.custodian, body.approval_ref, body.reason)
    g.db.commit()
    return jsonify(seal_json(seal))


@bp.post("/seals/<code>/remake")
@roles(*KEEPERS)
@accepts(SealRemakeIn)
def remake_seal(code: str, body: SealRemakeIn) -> Any:
    """Re-make (重新刻制) a suspended, recalled or destroyed seal: a new seal, made, that replaces it."""
    made = seals.remake(g.db, g.actor, code, seals.RemakeIn(**body.model_dump()))
    g.db.commit()
    return jsonify(seal_json(made)), 201


@bp.post("/seals/<code>/imprint")
@roles(*KEEPERS)
def upload_imprint(code: str) -> Any:
    """A new imprint: the request body is the image itself (Content-Type image/png or image/jpeg, at most 1 MiB)."""
    if request.mimetype not in ("image/png", "image/jpeg"):
        raise Invalid(N_("the imprint must be a PNG or JPEG image"), code="imprint_not_image")
    row = seal_imprints.upload(g.db, g.actor, code, request.get_data(cache=False))
    g.db.commit()
    return jsonify(seal_json(seals.by_code(g.db, code)) | {"imprint": {"id": row.id, "sha256": row.sha256}}), 201


upload_imprint._raw_body = ("image/png", "image/jpeg")  # type: ignore[attr-defined]


@bp.get("/seals/<code>/imprint")
@roles(*IMPRINT_READERS)
@query(Param("id", "An older imprint of the seal, by its id; without it, the current one."))
def get_imprint(code: str) -> Any:
    """The seal's imprint as PNG (custodians, auditors and admins only)."""
    seal = seals.by_code(g.db, code)
    wanted = request.args.get("id")
    row = seal_imprints.one(g.db, seal, _imprint_id(wanted))
    return imprint_response(row.data, f"{seal.code}-imprint-{row.id}.png")


def _imprint_id(raw: str | None) -> int | None:
    return None if not raw else params.whole_number(raw, "id", 1, 2**63 - 1)


def imprint_response(data: bytes, filename: str) -> Response:
    """An imprint as it is served everywhere: PNG, never cached, never sniffed, shown inline."""
    return Response(data, mimetype=seal_imprints.CONTENT_TYPE, headers={
        "Cache-Control": "private, no-store", "Content-Disposition": f'inline; filename="{filename}"',
        "X-Content-Type-Options": "nosniff"})


REGISTER_QUERY = (Param("seal", "Only this seal (its A- code)."), Param("department", "Only this department's uses."),
                  DateParam("since", "First day (office time zone)."),
                  DateParam("until", "Last day (office time zone), included."))


def register_filters() -> seal_register.Filters:
    since, until = REGISTER_QUERY[2], REGISTER_QUERY[3]
    assert isinstance(since, DateParam) and isinstance(until, DateParam)
    return seal_register.Filters(seal=request.args.get("seal") or None,
                                 department=request.args.get("department") or None, since=since.read(),
                                 until=until.read())


@bp.get("/seal-register")
@roles(*REGISTER_READERS)
@query(*REGISTER_QUERY, choice("format", "json (default), csv or pdf (the paper register).", ("json", "csv", "pdf")))
def seal_register_report() -> Any:
    """The use register by seal, department and period: JSON, CSV or the printable PDF."""
    fmt = request.args.get("format") or "json"
    if fmt not in ("json", "csv", "pdf"):
        raise Invalid(N_("the format must be json, csv or pdf"), code="bad_parameter")
    settings = settings_of(current_app)
    register = seal_register.build(g.db, register_filters(), settings.timezone)
    if fmt == "json":
        return jsonify(items=[_row(r) for r in register.rows], copies=register.copies)
    if fmt == "csv":
        data, mimetype, name = seal_register.csv_file(g.db, g.actor, register), "text/csv", "seal-register.csv"
    else:
        data = seal_register.pdf_file(g.db, g.actor, register, settings.org_name, utcnow())
        mimetype, name = "application/pdf", "seal-register.pdf"
    g.db.commit()
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename={name}",
                                                      "Cache-Control": "no-store"})


def _row(row: seal_register.Row) -> dict[str, Any]:
    return {"no": row.no, "at": row.at.isoformat(), "seal": {"code": row.seal_code, "name": row.seal_name,
                                                              "kind": row.seal_kind},
            "department": row.department, "document_title": row.document_title, "recipient": row.recipient,
            "purpose": row.purpose, "copies": row.copies, "approved_by": row.approved_by, "requester": row.requester,
            "stamped_by": row.stamped_by, "recorded_by": row.recorded_by, "request": row.request_id}
