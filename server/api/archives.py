"""REST: the archives (档案): classes, volumes and files, loans (借阅) with their approval chain, lending
and return, and destruction lists (销毁清册) with their PDF. The rules are the services' (archives,
archive_loans, archive_destruction); this module only reads bodies and writes JSON."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from flask import Response, current_app, g, jsonify, request
from pydantic import Field

from server import archive_serialize as out
from server import settings_of
from server.api import Body, CodeText, IntParam, Param, accepts, bp, query
from server.auth import roles
from server.models import ArchiveDestruction, ArchiveLoan, ArchiveVolume
from server.services import approvals, archive_conflicts, archive_destruction, archive_loans, archives, paging

KEEPERS = ("storekeeper",)  # file volumes, lend and return them, propose and carry out destructions
REQUESTERS = ("storekeeper",)  # ask for a loan on a borrower's behalf (not the gate: archives.READERS)
PRINTERS = ("storekeeper", "auditor")  # the destruction list PDF
AFTER = Param("after", "The `next` cursor of the page before.", {"type": "string", "maxLength": 512})
LIMIT = IntParam("limit", "Page size.", low=1, high=500, default=50)


class ArchiveClassIn(Body):
    code: str = Field(min_length=1, max_length=20)
    name: str = Field(min_length=1, max_length=100)
    loan_days: int = Field(ge=1, le=365)
    on_site_only: bool = False


class ArchiveClassChange(Body):
    name: str = Field(min_length=1, max_length=100)
    loan_days: int = Field(ge=1, le=365)
    on_site_only: bool = False


class ArchiveVolumeIn(Body):
    title: str = Field(min_length=1, max_length=200)
    class_code: str = Field(alias="class", min_length=1, max_length=20)
    year: int = Field(ge=1900, le=2200)
    retention: Literal["permanent", "30y", "10y"]
    confidentiality: Literal["public", "internal", "secret", "confidential", "top_secret"]
    shelf: CodeText
    kind: Literal["volume", "file"] = "volume"
    reference: str = Field("", max_length=60)
    parent: str = Field("", max_length=300)


class ArchiveRetentionIn(Body):
    retention: Literal["permanent", "30y", "10y"]
    reason: str = Field(min_length=1, max_length=1000)


class ArchiveLoanIn(Body):
    volume: CodeText
    borrower: CodeText
    purpose: str = Field(min_length=1, max_length=500)
    due_on: date | None = None
    on_site: bool = False


class ArchiveDecisionIn(Body):
    decision: Literal["approve", "reject"]
    reason: str = Field("", max_length=2000)


class ArchiveLendIn(Body):
    borrower: CodeText


class ArchiveReturnIn(Body):
    location: str | None = Field(None, max_length=300)


class ArchiveDestructionIn(Body):
    volumes: list[CodeText] = Field(min_length=1, max_length=archive_destruction.MAX_VOLUMES)
    reason: str = Field(min_length=1, max_length=2000)


class ArchiveSettleIn(Body):
    note: str = Field(min_length=1, max_length=500)


class ArchiveCarryOutIn(Body):
    executor: str = Field(min_length=1, max_length=100)
    witnesses: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(min_length=1, max_length=10)
    method: str = Field(min_length=1, max_length=100)


def _page(stmt: Any, key: Any) -> paging.Page[Any]:
    return paging.keyset_page(g.db, stmt, [key], AFTER.raw(), True, LIMIT.read() or 50)


# --- classes ---

@bp.get("/archives/classes")
@roles(*archives.READERS)
def list_archive_classes() -> Any:
    """Archive classes with their loan term and on-site rule, by code."""
    return jsonify(items=[out.archive_class(c) for c in archives.classes(g.db)],
                   loan_terms=list(settings_of(current_app).loan_terms))


@bp.post("/archives/classes")
@roles()
@accepts(ArchiveClassIn)
def create_archive_class(body: ArchiveClassIn) -> Any:
    """A class of records; its loan term is one of ``archive_loan_terms`` (7, 14 or 30 days by default)."""
    made = archives.create_class(g.db, g.actor, archives.ClassIn(**body.model_dump()),
                                 settings_of(current_app).loan_terms)
    g.db.commit()
    return jsonify(out.archive_class(made)), 201


@bp.post("/archives/classes/<code>")
@roles()
@accepts(ArchiveClassChange)
def update_archive_class(code: str, body: ArchiveClassChange) -> Any:
    """Change a class's name, loan term or on-site rule."""
    found = archives.update_class(g.db, g.actor, code, archives.ClassIn(code, **body.model_dump()),
                                  settings_of(current_app).loan_terms)
    g.db.commit()
    return jsonify(out.archive_class(found))


# --- volumes ---

@bp.get("/archives/volumes")
@roles(*archives.READERS)
@query(Param("class", "Only this class (code)."), Param("confidentiality", "Only this level."),
       Param("q", "Title contains, or the archive reference is."), AFTER, LIMIT)
def list_archive_volumes() -> Any:
    """Volumes and files, newest first; keyset pages (pass `next` as `after`)."""
    stmt = archives.listing(g.db, request.args.get("class"), request.args.get("confidentiality"),
                            request.args.get("q"))
    page = _page(stmt, ArchiveVolume.asset_id)
    return jsonify(items=[out.volume(v) for v in page.items], next=page.next_cursor)


@bp.post("/archives/volumes")
@roles(*KEEPERS)
@accepts(ArchiveVolumeIn)
def create_archive_volume(body: ArchiveVolumeIn) -> Any:
    """File a volume or file: its A- code is issued (print its QR label through /labels)."""
    made = archives.create_volume(g.db, g.actor, archives.VolumeIn(**body.model_dump()))
    g.db.commit()
    return jsonify(out.volume(made)), 201


@bp.get("/archives/volumes/<code>")
@roles(*archives.READERS)
def get_archive_volume(code: str) -> Any:
    """One volume or file, with the loan it is out on (if any)."""
    volume = archives.volume_by_code(g.db, code)
    return jsonify(out.volume(volume, archive_loans.current_loan(g.db, volume.asset_id)))


@bp.post("/archives/volumes/<code>/retention")
@roles(*KEEPERS)
@accepts(ArchiveRetentionIn)
def extend_archive_retention(code: str, body: ArchiveRetentionIn) -> Any:
    """An appraisal keeps the volume longer (the retention period only grows)."""
    volume = archives.extend_retention(g.db, g.actor, code, body.retention, body.reason)
    g.db.commit()
    return jsonify(out.volume(volume))


@bp.post("/archives/volumes/<code>/lend")
@roles(*KEEPERS)
@accepts(ArchiveLendIn)
def lend_archive_volume(code: str, body: ArchiveLendIn) -> Any:
    """Hand the volume to the borrower: needs their approved loan request (409/422 with the reason)."""
    loan = archive_loans.lend(g.db, g.actor, code, body.borrower)
    g.db.commit()
    return jsonify(out.loan(loan))


@bp.post("/archives/volumes/<code>/return")
@roles(*KEEPERS)
@accepts(ArchiveReturnIn)
def return_archive_volume(code: str, body: ArchiveReturnIn) -> Any:
    """The volume comes back (to its shelf unless a location is given); the loan ends."""
    loan = archive_loans.give_back(g.db, g.actor, code, body.location or None)
    g.db.commit()
    return jsonify(out.loan(loan))


# --- loans ---

@bp.get("/archives/loans")
@roles(*archives.READERS)
@query(Param("state", "pending, approved, out, overdue, returned, expired, rejected or withdrawn."),
       Param("borrower", "Only this borrower (P- code)."), Param("volume", "Only this volume (A- code)."),
       AFTER, LIMIT)
def list_archive_loans() -> Any:
    """Loan requests and loans, newest first; keyset pages."""
    stmt = archive_loans.listing(g.db, request.args.get("state"), request.args.get("borrower"),
                                 request.args.get("volume"))
    page = _page(stmt, ArchiveLoan.id)
    return jsonify(items=[out.loan(loan) for loan in page.items], next=page.next_cursor)


@bp.post("/archives/loans")
@roles(*REQUESTERS)
@accepts(ArchiveLoanIn)
def request_archive_loan(body: ArchiveLoanIn) -> Any:
    """Ask for a loan: the due date within the class's term; levels by the volume's confidentiality."""
    loan = archive_loans.submit(g.db, g.actor, archive_loans.LoanIn(**body.model_dump()))
    g.db.commit()
    return jsonify(out.loan(loan)), 201


@bp.get("/archives/loans/<int:loan_id>")
@roles(*archives.READERS)
def get_archive_loan(loan_id: int) -> Any:
    """One loan request: its approval steps and whether it is out, back or overdue."""
    return jsonify(out.loan(archive_loans.by_id(g.db, loan_id)))


@bp.post("/archives/loans/<int:loan_id>/decision")
@roles(*archives.READERS)
@accepts(ArchiveDecisionIn)
def decide_archive_loan(loan_id: int, body: ArchiveDecisionIn) -> Any:
    """Approve, or reject with a reason: only an approver of the step may."""
    loan = archive_loans.by_id(g.db, loan_id)
    approvals.decide(g.db, g.actor, archive_loans.chain_of(loan), body.decision, None, body.reason)
    g.db.commit()
    return jsonify(out.loan(loan))


@bp.post("/archives/loans/<int:loan_id>/withdraw")
@roles(*REQUESTERS)
def withdraw_archive_loan(loan_id: int) -> Any:
    """The requester takes back a request still waiting."""
    loan = archive_loans.by_id(g.db, loan_id)
    approvals.withdraw(g.db, g.actor, archive_loans.chain_of(loan))
    g.db.commit()
    return jsonify(out.loan(loan))


@bp.post("/archives/loans/<int:loan_id>/lend")
@roles(*KEEPERS)
def lend_archive_loan(loan_id: int) -> Any:
    """Lend the volume of this approved request to its borrower."""
    loan = archive_loans.by_id(g.db, loan_id)
    lent = archive_loans.lend(g.db, g.actor, loan.volume.asset.code, loan.borrower.code, loan_id=loan.id)
    g.db.commit()
    return jsonify(out.loan(lent))


# --- destruction ---

@bp.get("/archives/destruction-due")
@roles(*archives.READERS)
def list_archive_destruction_due() -> Any:
    """Volumes past their retention period and on no open destruction list."""
    return jsonify(items=[out.volume(v) for v in archive_destruction.due(g.db)])


@bp.get("/archives/destructions")
@roles(*archives.READERS)
@query(AFTER, LIMIT)
def list_archive_destructions() -> Any:
    """Destruction lists, newest first; keyset pages."""
    page = _page(archive_destruction.listing(), ArchiveDestruction.id)
    return jsonify(items=[out.destruction(d) for d in page.items], next=page.next_cursor)


@bp.post("/archives/destructions")
@roles(*KEEPERS)
@accepts(ArchiveDestructionIn)
def propose_archive_destruction(body: ArchiveDestructionIn) -> Any:
    """A destruction list of volumes past retention, with the grounds; opens its approval."""
    made = archive_destruction.propose(g.db, g.actor, body.volumes, body.reason)
    g.db.commit()
    return jsonify(out.destruction(made)), 201


@bp.get("/archives/destructions/<int:destruction_id>")
@roles(*archives.READERS)
def get_archive_destruction(destruction_id: int) -> Any:
    """One destruction list: its volumes, approval and, once carried out, who destroyed and witnessed."""
    return jsonify(out.destruction(archive_destruction.by_id(g.db, destruction_id)))


@bp.post("/archives/destructions/<int:destruction_id>/decision")
@roles(*archives.READERS)
@accepts(ArchiveDecisionIn)
def decide_archive_destruction(destruction_id: int, body: ArchiveDecisionIn) -> Any:
    """Approve, or reject with a reason: only an approver of the step may."""
    found = archive_destruction.by_id(g.db, destruction_id)
    approvals.decide(g.db, g.actor, found.approval_id, body.decision, None, body.reason)
    g.db.commit()
    return jsonify(out.destruction(found))


@bp.post("/archives/destructions/<int:destruction_id>/withdraw")
@roles(*KEEPERS)
def withdraw_archive_destruction(destruction_id: int) -> Any:
    """The requester takes back a list still waiting."""
    found = archive_destruction.by_id(g.db, destruction_id)
    approvals.withdraw(g.db, g.actor, found.approval_id)
    g.db.commit()
    return jsonify(out.destruction(found))


@bp.post("/archives/destructions/<int:destruction_id>/carry-out")
@roles(*KEEPERS)
@accepts(ArchiveCarryOutIn)
def carry_out_archive_destruction(destruction_id: int, body: ArchiveCarryOutIn) -> Any:
    """Record the approved list as destroyed: by whom, witnessed by whom (not the same person), how."""
    found = archive_destruction.carry_out(g.db, g.actor, destruction_id, body.executor, "、".join(body.witnesses),
                                          body.method)
    g.db.commit()
    return jsonify(out.destruction(found))


@bp.get("/archives/destructions/<int:destruction_id>/pdf")
@roles(*PRINTERS)
def archive_destruction_pdf(destruction_id: int) -> Any:
    """The destruction list as carried out, a PDF in the caller's language (each print is audited)."""
    found = archive_destruction.by_id(g.db, destruction_id)
    pdf = archive_destruction.pdf(g.db, g.actor, found, settings_of(current_app).org_name)
    g.db.commit()
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="archive-destruction-{found.id}.pdf"'})



# --- conflicts: lendings and returns made at a kiosk off line against the rules ---

@bp.get("/archives/conflicts")
@roles(*archives.READERS)
@query(Param("state", "open (default), settled or all."))
def list_archive_conflicts() -> Any:
    """Off-line lendings and returns that broke a rule, newest first (at most 500)."""
    rows = archive_conflicts.listing(g.db, request.args.get("state") or "open")
    return jsonify(items=[out.conflict(row) for row in rows])


@bp.post("/archives/conflicts/<int:conflict_id>/settle")
@roles(*archives.READERS)  # the service admits the archive manager, a storekeeper or the admin
@accepts(ArchiveSettleIn)
def settle_archive_conflict(conflict_id: int, body: ArchiveSettleIn) -> Any:
    """Settle a conflict once, with a note."""
    row = archive_conflicts.settle(g.db, g.actor, conflict_id, body.note)
    g.db.commit()
    return jsonify(out.conflict(row))
