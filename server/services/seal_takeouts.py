"""Taking a seal out of the office (印章外带): a controlled check-out with an approval, a due time and
a return scan.

A take-out request names the seal, who carries it (a P- badge), where it goes, what for, and when it
is due back; its approval chain is the shared one (kind "seal_takeout": the leader in charge of the
department). One approved request is one trip:

* **out** (``take_out``): the seal's QR label and the carrier's badge scanned at the storeroom kiosk
  (``asset.checkout`` with ``tag`` = the seal's code, ``to`` = the carrier), or recorded on the web.
  Refused with ``no_takeout_approval`` unless an approved, unused request of this seal names this
  carrier and is not past its due time; refused with ``illegal_transition`` when the seal is not in
  service or is out already. The request's due time governs (a kiosk's ``due`` is not used).
* **back** (``bring_back``): ``asset.checkin`` of the seal's code, or the web. Refused when the seal
  is not out.

The seal's row is locked while this is decided, so two scans at once cannot both take it out.
Out and not back after the due time is overdue: listed on the dashboard and the take-out pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, select
from sqlalchemy.orm import Session

from server import audit
from server.audit import Actor
from server.errors import IllegalTransition, Invalid, NotFound, RuleViolation
from server.i18n import N_
from server.models import Approval, ApprovalState, Seal, SealTakeout, utcnow
from server.services import approvals, seals
from server.services.supplies import clean_text

KIND = "seal_takeout"
LONGEST = timedelta(days=30)
FUTURE_SLACK = timedelta(minutes=5)  # a return recorded a little ahead of the server's clock, never further
STATES = ("pending", "rejected", "withdrawn", "approved", "out", "overdue", "returned")


@dataclass(frozen=True)
class TakeoutIn:
    seal: str  # A- code
    carrier: str  # P- code of who takes it out
    destination: str
    purpose: str
    due_at: datetime  # aware; when it must be back
    department: str


def _due(due_at: datetime, now: datetime) -> datetime:
    if due_at.tzinfo is None:
        raise Invalid(N_("the due time needs a time zone"), code="bad_due", field="due_at")
    if not now < due_at <= now + LONGEST:
        raise Invalid(N_("the seal must be due back after now and within %(days)s days"), code="bad_due",
                      field="due_at", days=LONGEST.days)
    return due_at


def submit(session: Session, actor: Actor, data: TakeoutIn, principal_above: Decimal) -> SealTakeout:
    """Ask to take a seal out; its chain opens (the leader in charge of the department)."""
    due = _due(data.due_at, utcnow())
    destination = clean_text(data.destination, N_("destination"), 200)
    purpose = clean_text(data.purpose, N_("purpose"), 2000)
    department = clean_text(data.department, N_("department"), 100)
    carrier = seals.person(session, data.carrier, "carrier")
    seal = seals.by_code(session, data.seal)
    seals.in_use(seal, N_("taken out"))
    chain = approvals.open_chain(session, actor, KIND, department, None, None, principal_above)
    made = SealTakeout(seal_id=seal.id, department=department, requester=actor.name, carrier_id=carrier.id,
                       purpose=purpose, destination=destination, due_at=due, approval_id=chain.id)
    session.add(made)
    session.flush()
    audit.change(session, actor, "seal_takeout.submit", made, extra={"seal": seal.code, "carrier": carrier.code,
                                                                     "approval": chain.id})
    return made


def by_id(session: Session, takeout_id: int) -> SealTakeout:
    found = session.get(SealTakeout, takeout_id)
    if found is None:
        raise NotFound(N_("there is no take-out %(id)s"), id=takeout_id)
    return found


def by_approval(session: Session, approval_id: int) -> SealTakeout:
    return session.scalars(select(SealTakeout).where(SealTakeout.approval_id == approval_id)).one()


def state(found: SealTakeout, now: datetime | None = None) -> str:
    """pending, rejected, withdrawn; approved (not out yet), out, overdue, returned."""
    if found.approval.state != ApprovalState.APPROVED:
        return found.approval.state
    if found.out_at is None:
        return "approved"
    if found.returned_at is not None:
        return "returned"
    return "overdue" if found.due_at < (now or utcnow()) else "out"


def _refusal(session: Session, seal: Seal, carrier_id: int, at: datetime) -> RuleViolation:
    """Why no approved take-out lets this carrier take this seal out now, as precisely as can be said."""
    waiting = list(session.scalars(
        select(SealTakeout).join(Approval, SealTakeout.approval_id == Approval.id)
        .where(SealTakeout.seal_id == seal.id, SealTakeout.out_at.is_(None),
               Approval.state == ApprovalState.APPROVED.value).order_by(SealTakeout.due_at)))
    mine = [t for t in waiting if t.carrier_id == carrier_id]
    if mine:
        return RuleViolation(N_("the approved take-out %(id)s of %(seal)s ended at %(due)s"),
                             code="no_takeout_approval", id=mine[-1].id, seal=seal.code,
                             due=mine[-1].due_at.isoformat(timespec="minutes"))
    if waiting:
        return RuleViolation(N_("the approved take-out %(id)s of %(seal)s is for %(person)s, not this person"),
                             code="no_takeout_approval", id=waiting[0].id, seal=seal.code,
                             person=waiting[0].carrier.name)
    return RuleViolation(N_("%(seal)s may leave the office only on an approved take-out request"),
                         code="no_takeout_approval", seal=seal.code)


def take_out(session: Session, actor: Actor, seal_code: str, carrier_code: str,
             at: datetime | None = None) -> SealTakeout:
    """The seal leaves the office with its carrier, on their approved take-out request."""
    carrier = seals.person(session, carrier_code, "carrier")
    seal = seals.by_code(session, seal_code, lock=True)
    at = at or utcnow()
    seals.in_use(seal, N_("taken out"))
    out = seals.open_takeout(session, seal)
    if out is not None:
        raise IllegalTransition(N_("%(seal)s is out of the office already (take-out %(id)s, %(person)s)"),
                                seal=seal.code, id=out.id, person=out.carrier.name)
    found = session.scalars(
        select(SealTakeout).join(Approval, SealTakeout.approval_id == Approval.id)
        .where(SealTakeout.seal_id == seal.id, SealTakeout.out_at.is_(None), SealTakeout.carrier_id == carrier.id,
               SealTakeout.due_at > at, Approval.state == ApprovalState.APPROVED.value)
        .order_by(SealTakeout.due_at, SealTakeout.id).limit(1)).first()
    if found is None:
        raise _refusal(session, seal, carrier.id, at)
    before = audit.state(found)
    found.out_at, found.out_by, found.out_source = at, actor.name, actor.source
    session.flush()
    audit.change(session, actor, "seal.takeout", found, before, {"seal": seal.code, "carrier": carrier.code})
    return found


def bring_back(session: Session, actor: Actor, seal_code: str, at: datetime | None = None) -> SealTakeout:
    """The seal is back in the office: its open take-out ends (late if after the due time)."""
    now = utcnow()
    if at is not None and at > now + FUTURE_SLACK:
        raise Invalid(N_("the time of the return is in the future"), code="bad_time", field="at")
    seal = seals.by_code(session, seal_code, lock=True)
    found = seals.open_takeout(session, seal)
    if found is None:
        raise IllegalTransition(N_("%(seal)s is not out of the office: there is nothing to return"), seal=seal.code)
    assert found.out_at is not None
    before = audit.state(found)
    # A return scanned on a clock behind the one that scanned it out still comes after it.
    found.returned_at = max(at or now, found.out_at)
    found.returned_by, found.return_source = actor.name, actor.source
    session.flush()
    audit.change(session, actor, "seal.return", found, before,
                 {"seal": seal.code, "late": found.returned_at > found.due_at})
    return found


def _state_filter(wanted: str, now: datetime) -> Any:
    approved = Approval.state == ApprovalState.APPROVED.value
    return {
        "approved": and_(approved, SealTakeout.out_at.is_(None)),
        "out": and_(approved, SealTakeout.out_at.is_not(None), SealTakeout.returned_at.is_(None)),
        "overdue": and_(approved, SealTakeout.out_at.is_not(None), SealTakeout.returned_at.is_(None),
                        SealTakeout.due_at < now),
        "returned": and_(approved, SealTakeout.returned_at.is_not(None)),
    }.get(wanted, Approval.state == wanted)


def listing(wanted: str | None = None, seal: Seal | None = None, now: datetime | None = None) -> Select[Any]:
    """Take-outs for keyset pages by id; ``wanted`` one of STATES ("out" includes the overdue)."""
    query = select(SealTakeout).join(Approval, SealTakeout.approval_id == Approval.id)
    if wanted:
        if wanted not in STATES:
            raise Invalid(N_("unknown state %(state)s"), state=wanted[:40])
        query = query.where(_state_filter(wanted, now or utcnow()))
    if seal is not None:
        query = query.where(SealTakeout.seal_id == seal.id)
    return query


def overdue(session: Session, now: datetime | None = None, limit: int = 500) -> list[SealTakeout]:
    """Seals out past their due time, the longest overdue first."""
    query = listing("overdue", now=now).order_by(SealTakeout.due_at, SealTakeout.id).limit(limit)
    return list(session.scalars(query))

