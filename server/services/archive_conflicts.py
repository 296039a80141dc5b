"""Archive lendings and returns scanned at a kiosk while it was off line that broke a rule it could not
check: stored and flagged for the archive manager, never refused ("nothing is lost", PROTOCOL.md section 4).

A kiosk off line lends and takes back volumes on the spot; by the time its events arrive they have
happened. So an event made off line that the rules would refuse is kept, as the supply pickups below
zero are (``supply_conflicts``), and the refusal is recorded with it as a conflict:

- a lending without an approved request of that borrower (``no_loan_request``) is a loan all the same,
  without an approval (``archive_loans.unrequested_loan``): returned, overdue and reminded like any other;
- a lending of a volume that is out on another loan (``volume_on_loan``) changes nothing: the volume
  cannot be on two loans, and which one is true is for the manager to find out;
- a return of a volume that is not out (``not_on_loan``) changes nothing either.

The same events made on line are refused with those reasons, as are any made on the web or the API:
there the person at the desk sees the refusal before handing anything over. What counts as off line is
the consumer's (``services.ingest``: an unsynchronised clock, or an event older than 5 minutes).

The archive manager (the ``archive_manager`` approver grant), a storekeeper or the admin settles each
conflict once, with a note; the settlement is audited and nothing of the conflict is changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server import audit
from server.audit import Actor
from server.errors import AlreadyExists, Forbidden, Invalid, NotFound, RuleViolation
from server.i18n import N_
from server.models import ApprovalLevel, ArchiveConflict, ArchiveLoan, ArchiveVolume, Person, utcnow
from server.services import approvals, archive_loans, archives, assets

LEND_CONFLICTS = ("no_loan_request", "volume_on_loan")
RETURN_CONFLICTS = ("not_on_loan",)
STATES = ("open", "settled", "all")
SETTLERS = ("admin", "storekeeper")  # and whoever holds the archive manager's grant


@dataclass(frozen=True)
class AtKiosk:
    """What a kiosk's lending or return came to: the loan it made or ended, and the conflict, if any."""

    loan: ArchiveLoan | None
    conflict: ArchiveConflict | None


def lend_at_kiosk(session: Session, actor: Actor, tag: str, borrower_code: str, *, at: datetime,
                  origin: assets.KioskOrigin, offline: bool) -> AtKiosk:
    """A kiosk's lending: by the rules of ``archive_loans.lend``; made off line, a broken rule is a conflict."""
    volume = archives.volume_for_change(session, tag)  # locked, as in archive_loans.lend
    borrower = archives.borrower_by_code(session, borrower_code)
    try:
        archive_loans.check_on_shelf(session, volume)
        loan = archive_loans.approved_request(session, volume, borrower, None, at)
    except RuleViolation as refusal:  # nothing was written yet: the checks come before every change
        if not offline or refusal.code not in LEND_CONFLICTS:
            raise
        if refusal.code == "volume_on_loan":
            out = archive_loans.current_loan(session, volume.asset_id)
            return AtKiosk(None, _record(session, actor, "lend", refusal, volume, borrower, out, at, origin))
        made = archive_loans.unrequested_loan(session, actor, volume, borrower, at)
        archive_loans.hand_over(session, actor, volume, made, at, origin)
        return AtKiosk(made, _record(session, actor, "lend", refusal, volume, borrower, made, at, origin))
    return AtKiosk(archive_loans.hand_over(session, actor, volume, loan, at, origin), None)


def return_at_kiosk(session: Session, actor: Actor, tag: str, location_code: str | None, *, at: datetime,
                    origin: assets.KioskOrigin, offline: bool) -> AtKiosk:
    """A kiosk's return: by the rules of ``archive_loans.give_back``; made off line, a volume that is not
    out is a conflict (its lending may still be in another kiosk's outbox, or was never scanned)."""
    volume = archives.volume_for_change(session, tag)
    try:
        loan = archive_loans.out_on(session, volume)
    except RuleViolation as refusal:
        if not offline or refusal.code not in RETURN_CONFLICTS:
            raise
        last = session.scalars(select(ArchiveLoan).where(ArchiveLoan.asset_id == volume.asset_id,
                                                         ArchiveLoan.lent_at.is_not(None))
                               .order_by(ArchiveLoan.lent_at.desc(), ArchiveLoan.id.desc()).limit(1)).first()
        return AtKiosk(None, _record(session, actor, "return", refusal, volume, None, last, at, origin))
    return AtKiosk(archive_loans.take_back(session, actor, volume, loan, location_code, at, origin), None)


def _record(session: Session, actor: Actor, kind: str, refusal: RuleViolation, volume: ArchiveVolume,
            borrower: Person | None, loan: ArchiveLoan | None, at: datetime,
            origin: assets.KioskOrigin) -> ArchiveConflict:
    values = {k: v if isinstance(v, int | float) else str(v) for k, v in refusal.params.items()}
    row = ArchiveConflict(kind=kind, reason=refusal.code, message=refusal.template, message_values=values,
                          asset_id=volume.asset_id, borrower_id=borrower.id if borrower else None,
                          loan_id=loan.id if loan else None, kiosk=origin.kiosk, kiosk_event_id=origin.event_id,
                          at=at)
    session.add(row)
    session.flush()
    audit.change(session, actor, f"archive_conflict.{kind}", row, None,
                 {"volume": volume.asset.code, "message_text": refusal.message})
    return row


def describe(row: ArchiveConflict) -> str:
    """What rule the event broke, in the reader's language (the refusal it would have had on line)."""
    from flask_babel import gettext  # in a request: the reader's language

    return gettext(row.message) % row.message_values if row.message_values else gettext(row.message)


def summary(row: ArchiveConflict | None) -> str:
    """The conflict for a kiosk's ack (English; the kiosk words the reason ``conflict`` itself)."""
    return f"{row.reason}: {row.message % row.message_values}"[:500] if row is not None else ""


def listing(session: Session, state: str = "open", limit: int = 500) -> list[ArchiveConflict]:
    """Conflicts, newest first: still open, settled, or all."""
    if state not in STATES:
        raise Invalid(N_("the state must be open, settled or all"), code="bad_filter")
    query = select(ArchiveConflict)
    if state == "open":
        query = query.where(ArchiveConflict.settled_at.is_(None))
    elif state == "settled":
        query = query.where(ArchiveConflict.settled_at.is_not(None))
    return list(session.scalars(query.order_by(ArchiveConflict.id.desc()).limit(limit)))


def of_loan(session: Session, loan_id: int) -> list[ArchiveConflict]:
    return list(session.scalars(select(ArchiveConflict).where(ArchiveConflict.loan_id == loan_id)
                                .order_by(ArchiveConflict.id)))


def open_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(ArchiveConflict)
                              .where(ArchiveConflict.settled_at.is_(None))) or 0)


def may_settle(session: Session, actor: Actor) -> bool:
    """The archive manager (an approver grant for all departments), a storekeeper or the admin."""
    return actor.role in SETTLERS or approvals.holds(session, actor.name, ApprovalLevel.ARCHIVE_MANAGER.value)


def settle(session: Session, actor: Actor, conflict_id: int, note: str) -> ArchiveConflict:
    """Settle one conflict with a note saying what was found (the volume's whereabouts, a loan put right)."""
    text = (note or "").strip()
    if not text or len(text) > 500:
        raise Invalid(N_("a note of 1 to %(size)s characters is required"), code="note_required", size=500)
    if not may_settle(session, actor):
        raise Forbidden(N_("only the archive manager, a storekeeper or the admin settles archive conflicts"))
    session.execute(select(ArchiveConflict.id).where(ArchiveConflict.id == conflict_id).with_for_update())
    row = session.scalars(select(ArchiveConflict).where(ArchiveConflict.id == conflict_id)
                          .execution_options(populate_existing=True)).first()
    if row is None:
        raise NotFound(N_("there is no archive conflict %(id)s"), id=conflict_id)
    if row.settled_at is not None:
        raise AlreadyExists(N_("archive conflict %(id)s was settled by %(who)s already"), code="already_settled",
                            id=conflict_id, who=row.settled_by)
    before = audit.state(row)
    row.settled_at, row.settled_by, row.note = utcnow(), actor.name, text
    session.flush()
    audit.change(session, actor, "archive_conflict.settle", row, before)
    return row
