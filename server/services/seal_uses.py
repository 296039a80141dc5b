"""Use requests (用印申请) and the uses recorded against them (用印登记).

A request names the seal, the document's title, how many copies, the organisation it goes to, the
purpose and the requesting department. Its approval chain is the shared one (``services.approvals``,
kind "seal_use"): the department's leader in charge, who may approve fewer copies than asked.

The custodian then records each use: which request, who stamped, when and how many copies. A use is
refused unless its request is approved, is for this seal, was approved before the stamping, and has
copies left (the sum of a request's uses never exceeds the copies approved); and unless the seal is
in service. The request's row is locked while its copies are counted, so two uses recorded at once
cannot both spend the last copies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from server import audit, names
from server.audit import Actor
from server.errors import Invalid, NotFound, RuleViolation, Term
from server.i18n import N_
from server.models import Approval, ApprovalState, Seal, SealUse, SealUseRequest, utcnow
from server.services import approvals, seals
from server.services.supplies import clean_text

KIND = "seal_use"
MAX_COPIES = 10_000
# A use may be recorded a little ahead of the server's clock (a slow PC clock), never further.
FUTURE_SLACK = timedelta(minutes=5)


@dataclass(frozen=True)
class UseRequestIn:
    seal: str  # A- code
    document_title: str
    copies: int
    recipient: str  # the organisation the document goes to
    purpose: str
    department: str


@dataclass(frozen=True)
class UseIn:
    request: int | None  # the approved use request this use draws on
    copies: int
    stamped_by: str = ""  # P- code of who stamped; empty: the seal's custodian
    at: datetime | None = None  # when it was stamped; None: now
    note: str = ""


def _copies(value: int) -> int:
    if not 1 <= value <= MAX_COPIES:
        raise Invalid(N_("the number of copies must be between 1 and %(most)s"), code="bad_copies", field="copies",
                      most=MAX_COPIES)
    return value


def submit(session: Session, actor: Actor, data: UseRequestIn, principal_above: Decimal) -> SealUseRequest:
    """Record a use request and open its approval chain (the leader in charge of the department)."""
    copies = _copies(data.copies)
    title = clean_text(data.document_title, N_("document title"), 300)
    recipient = clean_text(data.recipient, N_("recipient organisation"), 200)
    purpose = clean_text(data.purpose, N_("purpose"), 2000)
    department = clean_text(data.department, N_("department"), 100)
    seal = seals.by_code(session, data.seal)
    seals.in_use(seal, N_("used"))
    chain = approvals.open_chain(session, actor, KIND, department, None, copies, principal_above)
    made = SealUseRequest(seal_id=seal.id, department=department, requester=actor.name, document_title=title,
                          copies=copies, recipient=recipient, purpose=purpose, approval_id=chain.id)
    session.add(made)
    session.flush()
    audit.change(session, actor, "seal_use_request.submit", made, extra={"seal": seal.code, "approval": chain.id})
    return made


def by_id(session: Session, request_id: int, *, lock: bool = False) -> SealUseRequest:
    if lock:
        session.execute(select(SealUseRequest.id).where(SealUseRequest.id == request_id).with_for_update())
    stmt = select(SealUseRequest).where(SealUseRequest.id == request_id)
    found = session.scalars(stmt.execution_options(populate_existing=True) if lock else stmt).first()
    if found is None:
        raise NotFound(N_("there is no use request %(id)s"), id=request_id, field="request")
    return found


def by_approval(session: Session, approval_id: int) -> SealUseRequest:
    return session.scalars(select(SealUseRequest).where(SealUseRequest.approval_id == approval_id)).one()


def stamped(session: Session, request_id: int) -> int:
    """Copies stamped so far on a request."""
    return int(session.scalar(select(func.coalesce(func.sum(SealUse.copies), 0))
                              .where(SealUse.request_id == request_id)) or 0)


def fulfilment(session: Session, found: SealUseRequest) -> dict[str, int | None]:
    """Asked, approved (once the chain approved it), stamped so far, and left to stamp."""
    approved = found.approval.approved_quantity if found.approval.state == ApprovalState.APPROVED else None
    done = stamped(session, found.id)
    return {"asked": found.copies, "approved": approved, "stamped": done,
            "left": None if approved is None else max(approved - done, 0)}


def record_use(session: Session, actor: Actor, seal_code: str, data: UseIn) -> SealUse:
    """用印登记: the custodian records a use of the seal on an approved request."""
    copies = _copies(data.copies)
    note = clean_text(data.note, N_("note"), 1000, required=False)
    now = utcnow()
    at = data.at or now
    if at > now + FUTURE_SLACK:
        raise Invalid(N_("the time stamped is in the future"), code="bad_time", field="at")
    if data.request is None:
        raise RuleViolation(N_("a seal is used only on an approved use request: name the request"),
                            code="request_required", field="request")
    seal = seals.by_code(session, seal_code)
    request = by_id(session, data.request, lock=True)
    if request.seal_id != seal.id:
        raise RuleViolation(N_("use request %(id)s is for the seal %(other)s, not %(seal)s"),
                            code="request_for_other_seal", field="request", id=request.id, other=request.seal.code,
                            seal=seal.code)
    chain = request.approval
    if chain.state != ApprovalState.APPROVED:
        raise RuleViolation(N_("use request %(id)s is %(state)s: a seal is used only on an approved request"),
                            code="use_not_approved", field="request", id=request.id,
                            state=Term(chain.state, names.APPROVAL_STATES.get(chain.state, chain.state)))
    if chain.decided_at is not None and at < chain.decided_at:
        raise RuleViolation(N_("use request %(id)s was approved only after the time stamped"),
                            code="use_before_approval", field="at", id=request.id)
    seal = seals.lock(session, seal.id)
    seals.in_use(seal, N_("used"))
    approved, done = chain.approved_quantity or 0, stamped(session, request.id)
    if copies > approved - done:
        raise RuleViolation(N_("use request %(id)s was approved for %(approved)s copies and %(done)s are stamped: "
                               "%(copies)s more is too many"), code="copies_exceeded", field="copies",
                            id=request.id, approved=approved, done=done, copies=copies)
    stamper = seals.person(session, data.stamped_by, "stamped_by") if data.stamped_by else seal.custodian
    use = SealUse(request_id=request.id, seal_id=seal.id, copies=copies, stamped_by_id=stamper.id, at=at,
                  recorded_by=actor.name, source=actor.source, note=note)
    session.add(use)
    session.flush()
    # The seal is unchanged: its state goes with the use, which the audit row describes.
    audit.change(session, actor, "seal.use", seal, audit.state(seal), {
        "use": use.id, "request": request.id, "copies": copies, "stamped_by": stamper.code, "at": at.isoformat(),
        "document_title": request.document_title, "left": approved - done - copies, "note": note}, inserted=[use])
    return use


def listing(state: str | None = None, department: str | None = None, seal: Seal | None = None) -> Select[Any]:
    """Use requests for keyset pages by id; filters validated."""
    query = select(SealUseRequest).join(Approval, SealUseRequest.approval_id == Approval.id)
    if state:
        if state not in {s.value for s in ApprovalState}:
            raise Invalid(N_("unknown state %(state)s"), state=state[:40])
        query = query.where(Approval.state == state)
    if department:
        query = query.where(SealUseRequest.department == department[:100])
    if seal is not None:
        query = query.where(SealUseRequest.seal_id == seal.id)
    return query


def uses_of(session: Session, request_id: int) -> list[SealUse]:
    return list(session.scalars(select(SealUse).where(SealUse.request_id == request_id).order_by(SealUse.at,
                                                                                                  SealUse.id)))
