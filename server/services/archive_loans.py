"""Lending archives (借阅): the request, its approval, lending and return, overdue reminders.

A loan request names the volume, the borrower (P- code), the purpose and the due date; the loan
term of the volume's class bounds the due date (7, 14 or 30 days by default: ``archive_loan_terms``).
Its approval chain is the shared one (``services.approvals``, kind "archive_loan"), with levels
by the volume's confidentiality level: the archive manager (档案室负责人) always; the leader in
charge of the borrower's department too for a secret volume; and the principal leader for a
confidential or top-secret one. A confidential volume of a class that says so is read on site only:
a take-away request for it is refused (``on_site_only``).

Lending and return are scanned at a storeroom kiosk (``asset.checkout`` to the borrower's badge,
``asset.checkin``: ``services.ingest`` hands volumes to ``lend`` and ``give_back``) or recorded on
the web. Lending needs an approved request of that borrower for that volume (``no_loan_request``)
and a volume that is on its shelf (``volume_on_loan``). The asset's own check-out and check-in are
the same change, made through ``services.assets`` with the loan's due time, so the asset page,
its history and the overdue lists agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, object_session

from server import audit, names
from server.audit import Actor
from server.errors import IllegalTransition, Invalid, NotFound, RuleViolation, Term
from server.i18n import N_
from server.models import Approval, ApprovalLevel, ApprovalState, ArchiveLoan, ArchiveVolume, Asset, Person, utcnow
from server.services import approvals, archives, assets, notify

KIND = "archive_loan"
L = ApprovalLevel
LEVELS_BY_CONFIDENTIALITY: dict[str, list[str]] = {
    "public": [L.ARCHIVE_MANAGER.value],
    "internal": [L.ARCHIVE_MANAGER.value],
    "secret": [L.ARCHIVE_MANAGER.value, L.LEADER.value],
    "confidential": [L.ARCHIVE_MANAGER.value, L.LEADER.value, L.PRINCIPAL.value],
    "top_secret": [L.ARCHIVE_MANAGER.value, L.LEADER.value, L.PRINCIPAL.value],
}
STATES = ("pending", "approved", "out", "overdue", "returned", "expired", "rejected", "withdrawn")


@dataclass(frozen=True)
class LoanIn:
    volume: str  # A- code
    borrower: str  # P- code
    purpose: str
    due_on: date | None = None  # empty: the last day of the class's loan term (today for on-site reading)
    on_site: bool = False  # read in the reading room, not taken away


def on_site_only(volume: ArchiveVolume) -> bool:
    """Whether this volume may only be read on site: confidential, and its class says so."""
    return volume.confidentiality in archives.CONFIDENTIAL and volume.archive_class.on_site_only


def submit(session: Session, actor: Actor, data: LoanIn, now: datetime | None = None) -> ArchiveLoan:
    """Record a loan request and open its approval chain (levels by the volume's confidentiality)."""
    purpose = (data.purpose or "").strip()
    if not purpose or len(purpose) > 500:
        raise Invalid(N_("the purpose is required (1 to %(size)s characters)"), code="bad_purpose", size=500)
    volume = archives.volume_by_code(session, data.volume)
    if volume.asset.status == "disposed":
        raise IllegalTransition(N_("%(asset)s was destroyed"), asset=volume.asset.code)
    borrower = archives.borrower_by_code(session, data.borrower)
    on_site = bool(data.on_site)
    if not on_site and on_site_only(volume):
        raise RuleViolation(N_("%(asset)s is %(level)s and its class %(class)s is read on site only: ask for "
                               "on-site reading"), code="on_site_only", asset=volume.asset.code,
                            level=_level(volume), **{"class": volume.archive_class.name})
    due_on = _due_on(session, volume, data.due_on, on_site, now)
    levels = LEVELS_BY_CONFIDENTIALITY[volume.confidentiality]
    chain = approvals.open_chain(session, actor, KIND, borrower.department, None, None, Decimal(0), levels)
    loan = ArchiveLoan(asset_id=volume.asset_id, borrower_id=borrower.id, department=borrower.department,
                       purpose=purpose, on_site=on_site, due_on=due_on, requester=actor.name, approval_id=chain.id,
                       reminders=0)
    session.add(loan)
    session.flush()
    audit.change(session, actor, "archive_loan.submit", loan,
                 extra={"volume": volume.asset.code, "borrower": borrower.code, "approval": chain.id})
    return loan


def _level(volume: ArchiveVolume) -> Term:
    return Term(volume.confidentiality, names.CONFIDENTIALITY[volume.confidentiality])


def _due_on(session: Session, volume: ArchiveVolume, asked: date | None, on_site: bool,
            now: datetime | None) -> date:
    """The due date asked for, within the class's loan term from today; by default its last day."""
    today = archives.today(session, now)
    latest = today + timedelta(days=volume.archive_class.loan_days)
    due = asked or (today if on_site else latest)
    if not today <= due <= latest:
        raise Invalid(N_("the due date must be from %(today)s to %(latest)s: the loan term of the class %(class)s "
                         "is %(days)s days"), code="bad_due", today=today.isoformat(), latest=latest.isoformat(),
                      days=volume.archive_class.loan_days, **{"class": volume.archive_class.name})
    return due


def by_id(session: Session, loan_id: int) -> ArchiveLoan:
    found = session.get(ArchiveLoan, loan_id)
    if found is None:
        raise NotFound(N_("there is no loan request %(id)s"), id=loan_id)
    return found


def by_approval(session: Session, approval_id: int) -> ArchiveLoan:
    return session.scalars(select(ArchiveLoan).where(ArchiveLoan.approval_id == approval_id)).one()


def chain_of(loan: ArchiveLoan) -> int:
    """The id of the loan's approval, to decide or withdraw; a loan lent off line without a request
    has none, and nothing to decide."""
    if loan.approval_id is None:
        raise IllegalTransition(N_("loan %(id)s was lent at a kiosk off line without a request: there is nothing to "
                                   "decide"), id=loan.id)
    return loan.approval_id


def _chain_state(loan: ArchiveLoan) -> str | None:
    return loan.approval.state if loan.approval is not None else None


def state(loan: ArchiveLoan, now: datetime | None = None) -> str:
    """One of STATES: the approval's state until it is approved, then lent, overdue, returned, expired."""
    if loan.returned_at is not None:
        return "returned"
    if loan.lent_at is not None:
        return "overdue" if loan.due_at is not None and loan.due_at < (now or utcnow()) else "out"
    if loan.approval is None:  # only a lending made off line has none, and it is lent: never here
        return "out"
    chain = loan.approval.state
    if chain == ApprovalState.APPROVED:
        session = object_session(loan)
        today = archives.today(session, now) if session else (now or utcnow()).date()
        return "expired" if loan.due_on < today else "approved"
    return str(chain)


def late(loan: ArchiveLoan, now: datetime | None = None) -> bool:
    """Returned after its due time, or still out past it."""
    if loan.due_at is None or loan.lent_at is None:
        return False
    return (loan.returned_at or now or utcnow()) > loan.due_at


def listing(session: Session, state_: str | None = None, borrower: str | None = None,
            volume: str | None = None, now: datetime | None = None) -> Select[Any]:
    """Loan requests for keyset pages by id; ``state_`` one of STATES."""
    # An outer join: a loan lent off line without a request has no approval (``unrequested_loan``).
    query = select(ArchiveLoan).outerjoin(Approval, ArchiveLoan.approval_id == Approval.id)
    now = now or utcnow()
    if state_:
        if state_ not in STATES:
            raise Invalid(N_("unknown state %(state)s"), state=state_[:40])
        query = query.where(_state_clause(state_, now, archives.today(session, now)))
    if borrower:
        query = query.where(ArchiveLoan.borrower_id == archives.borrower_by_code(session, borrower).id)
    if volume:
        query = query.where(ArchiveLoan.asset_id == archives.volume_by_code(session, volume).asset_id)
    return query


def _state_clause(name: str, now: datetime, today: date) -> Any:
    lent, back = ArchiveLoan.lent_at.is_not(None), ArchiveLoan.returned_at.is_not(None)
    approved = (Approval.state == ApprovalState.APPROVED.value) & ArchiveLoan.lent_at.is_(None)
    passed = ArchiveLoan.due_on < today  # an approved request is lent up to its due date (``lend``)
    return {
        "returned": back,
        "out": lent & ~back & (ArchiveLoan.due_at >= now),
        "overdue": lent & ~back & (ArchiveLoan.due_at < now),
        "approved": approved & ~passed,
        "expired": approved & passed,
    }.get(name, Approval.state == name)


def current_loan(session: Session, asset_id: int) -> ArchiveLoan | None:
    """The loan a volume is out on (lent, not returned), if any."""
    return session.scalars(select(ArchiveLoan).where(ArchiveLoan.asset_id == asset_id, ArchiveLoan.lent_at.is_not(None),
                                                     ArchiveLoan.returned_at.is_(None))).first()


def lend(session: Session, actor: Actor, tag: str, borrower_code: str, *, at: datetime | None = None,
         origin: assets.KioskOrigin | None = None, loan_id: int | None = None) -> ArchiveLoan:
    """Hand a volume to its borrower against an approved request (the one given, or the borrower's
    oldest approved one for this volume). The volume's asset is checked out to the borrower."""
    volume = archives.volume_for_change(session, tag)  # locked: two lendings at once decide one after the other
    borrower = archives.borrower_by_code(session, borrower_code)
    check_on_shelf(session, volume)
    loan = approved_request(session, volume, borrower, loan_id, at)
    return hand_over(session, actor, volume, loan, at, origin)


def check_on_shelf(session: Session, volume: ArchiveVolume) -> None:
    """Refuse (``volume_on_loan``) a volume that is out on a loan: it must be returned first."""
    out = current_loan(session, volume.asset_id)
    if out is not None:
        raise RuleViolation(N_("%(asset)s is lent to %(borrower)s until %(due)s: it must be returned first"),
                            code="volume_on_loan", asset=volume.asset.code, borrower=out.borrower.name,
                            due=out.due_on.isoformat())


def hand_over(session: Session, actor: Actor, volume: ArchiveVolume, loan: ArchiveLoan, at: datetime | None,
              origin: assets.KioskOrigin | None) -> ArchiveLoan:
    """Lend the (locked) volume on ``loan``, whose rules were checked: the asset goes to the borrower."""
    at = at or utcnow()
    due = archives.today(session, at) if loan.on_site else loan.due_on
    assets.checkout(session, actor, volume.asset.code, loan.borrower.code, due=due, at=at, origin=origin,
                    purpose=loan.purpose, approval_ref=f"archive-loan-{loan.id}", volume_loan=True)
    before = audit.state(loan)
    loan.lent_at, loan.lent_by, loan.lent_source = at, actor.name, actor.source
    loan.due_at = assets.due_time(due)
    session.flush()
    audit.change(session, actor, "archive_loan.lend", loan, before,
                 {"volume": volume.asset.code, "borrower": loan.borrower.code})
    return loan


def unrequested_loan(session: Session, actor: Actor, volume: ArchiveVolume, borrower: Person,
                     at: datetime) -> ArchiveLoan:
    """The loan of a lending made at a kiosk while it was off line without an approved request: it
    happened, so it is a loan (returned, overdue and reminded like any other) without an approval,
    due at the end of the class's loan term from the day it was lent. ``archive_conflicts`` flags it."""
    due_on = archives.today(session, at) + timedelta(days=volume.archive_class.loan_days)
    loan = ArchiveLoan(asset_id=volume.asset_id, borrower_id=borrower.id, department=borrower.department,
                       purpose="", on_site=False, due_on=due_on, requester=actor.name, approval_id=None,
                       reminders=0)
    session.add(loan)
    session.flush()
    audit.change(session, actor, "archive_loan.unrequested", loan, None,
                 {"volume": volume.asset.code, "borrower": borrower.code})
    return loan


def approved_request(session: Session, volume: ArchiveVolume, borrower: Person, loan_id: int | None,
                     at: datetime | None) -> ArchiveLoan:
    """The approved, not yet lent request of ``borrower`` for ``volume``; refused with what is missing."""
    query = (select(ArchiveLoan).join(Approval, ArchiveLoan.approval_id == Approval.id)
             .where(ArchiveLoan.asset_id == volume.asset_id, ArchiveLoan.borrower_id == borrower.id,
                    ArchiveLoan.lent_at.is_(None)).order_by(ArchiveLoan.id))
    if loan_id is not None:
        query = query.where(ArchiveLoan.id == loan_id)
    found = list(session.scalars(query))
    approved = [r for r in found if _chain_state(r) == ApprovalState.APPROVED]
    today = archives.today(session, at)
    usable = [r for r in approved if r.due_on >= today]
    values = {"asset": volume.asset.code, "borrower": f"{borrower.name} ({borrower.code})"}
    if usable:
        return usable[0]
    if approved:
        raise RuleViolation(N_("the loan request %(id)s of %(borrower)s for %(asset)s was due back on %(due)s: ask "
                               "again"), code="no_loan_request", id=approved[0].id, due=approved[0].due_on.isoformat(),
                            **values)
    waiting = [r for r in found if _chain_state(r) == ApprovalState.PENDING]
    if waiting:
        raise RuleViolation(N_("the loan request %(id)s of %(borrower)s for %(asset)s is still awaiting approval"),
                            code="no_loan_request", id=waiting[0].id, **values)
    raise RuleViolation(N_("%(borrower)s has no approved loan request for %(asset)s"), code="no_loan_request",
                        **values)


def give_back(session: Session, actor: Actor, tag: str, location_code: str | None = None, *,
              at: datetime | None = None, origin: assets.KioskOrigin | None = None) -> ArchiveLoan:
    """A volume comes back (to its shelf, or where it is put): the loan ends, late or not."""
    volume = archives.volume_for_change(session, tag)
    return take_back(session, actor, volume, out_on(session, volume), location_code, at, origin)


def out_on(session: Session, volume: ArchiveVolume) -> ArchiveLoan:
    """The loan the volume is out on; refused (``not_on_loan``) when it is on its shelf."""
    loan = current_loan(session, volume.asset_id)
    if loan is None:
        raise RuleViolation(N_("%(asset)s is not out on loan"), code="not_on_loan", asset=volume.asset.code)
    return loan


def take_back(session: Session, actor: Actor, volume: ArchiveVolume, loan: ArchiveLoan, location_code: str | None,
              at: datetime | None, origin: assets.KioskOrigin | None) -> ArchiveLoan:
    assets.checkin(session, actor, volume.asset.code, location_code, at=at, origin=origin, volume_loan=True)
    before = audit.state(loan)
    loan.returned_at, loan.returned_by, loan.returned_source = at or utcnow(), actor.name, actor.source
    session.flush()
    audit.change(session, actor, "archive_loan.return", loan, before, {"volume": volume.asset.code,
                                                                       "late": late(loan)})
    return loan


def overdue(session: Session, now: datetime | None = None, limit: int = 5000) -> list[ArchiveLoan]:
    """Loans out past their due time, the longest overdue first."""
    query = (select(ArchiveLoan).where(ArchiveLoan.returned_at.is_(None), ArchiveLoan.due_at < (now or utcnow()))
             .order_by(ArchiveLoan.due_at, ArchiveLoan.id).limit(limit))
    return list(session.scalars(query))


def remind_overdue(session: Session, actor: Actor, now: datetime | None = None, every_days: float = 3.0) -> int:
    """Queue a reminder (the notification outbox) to each borrower whose loan is overdue and who was not
    reminded in the last ``every_days`` (never less than a day: at most one reminder a loan a day); returns
    how many loans were reminded. A borrower without an email address is reminded by the webhook only,
    when one is set; nothing queued means nothing recorded. The loans are locked (those another
    scheduler is reminding are skipped), so two schedulers at once remind a loan once."""
    now = now or utcnow()
    cutoff = now - timedelta(days=max(every_days, 1.0))
    due = (select(ArchiveLoan).where(ArchiveLoan.returned_at.is_(None), ArchiveLoan.due_at < now,
                                     or_(ArchiveLoan.reminded_at.is_(None), ArchiveLoan.reminded_at <= cutoff))
           .order_by(ArchiveLoan.due_at, ArchiveLoan.id)  # no limit: one with nowhere to send must not hide others
           .with_for_update(of=ArchiveLoan, skip_locked=True))
    reminded = 0
    for loan in session.scalars(due):
        asset: Asset = loan.volume.asset
        body = {"volume": asset.code, "title": asset.name, "borrower": loan.borrower.name,
                "borrower_code": loan.borrower.code, "due": loan.due_on.isoformat(),
                "days_late": max((now - loan.due_at).days, 0) if loan.due_at else 0, "loan": loan.id}
        if not notify.enqueue(session, "archive.overdue", body, email_to=loan.borrower.email):
            continue
        before = audit.state(loan)
        loan.reminded_at, loan.reminders = now, loan.reminders + 1
        audit.change(session, actor, "archive_loan.remind", loan, before, {"to": loan.borrower.code})
        reminded += 1
    session.flush()
    return reminded
