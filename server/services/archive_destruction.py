"""Destroying archives (销毁): volumes past their retention period, a destruction list with its
approval, the destruction itself (who destroyed, who witnessed, how), and the list as a PDF.

A list (销毁清册) names volumes whose retention period has ended, none out on loan and none on
another open list; its approval chain is the shared one (kind "archive_destruction"): the archive
manager, then the principal leader. Once approved it is carried out: each volume's asset is
disposed of (reason "destroyed", the list as its approval reference), and the list records the
person who destroyed them, the witnesses (at least one, not that person), the method and the time.
The PDF is made from those records, in the reader's language, through the labels package's
documents (the CJK font, subset into the file), and each print is audited.
"""

from __future__ import annotations

import io
import re
from datetime import datetime
from decimal import Decimal

from flask_babel import format_datetime
from flask_babel import gettext as _
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from labels import documents
from server import audit, names
from server.audit import Actor
from server.errors import IllegalTransition, Invalid, NotFound, RuleViolation, Term
from server.i18n import N_
from server.models import (
    Approval,
    ApprovalLevel,
    ApprovalState,
    ArchiveDestruction,
    ArchiveDestructionItem,
    ArchiveVolume,
    AssetStatus,
    utcnow,
)
from server.services import approvals, archive_loans, archives
from server.services.assets import Change, _apply

KIND = "archive_destruction"
LEVELS = [ApprovalLevel.ARCHIVE_MANAGER.value, ApprovalLevel.PRINCIPAL.value]
MAX_VOLUMES = 1000
_SEPARATORS = re.compile(r"[、,，;；\n]+")
OPEN = (ApprovalState.PENDING.value, ApprovalState.APPROVED.value)


def on_open_list(session: Session, asset_ids: list[int]) -> dict[int, int]:
    """Volume -> the open list (waiting, or approved and not carried out) it is on."""
    query = (select(ArchiveDestructionItem.asset_id, ArchiveDestruction.id)
             .join(ArchiveDestruction, ArchiveDestructionItem.destruction_id == ArchiveDestruction.id)
             .join(Approval, ArchiveDestruction.approval_id == Approval.id)
             .where(ArchiveDestructionItem.asset_id.in_(asset_ids), Approval.state.in_(OPEN),
                    ArchiveDestruction.destroyed_at.is_(None)))
    return {asset_id: list_id for asset_id, list_id in session.execute(query)}


def destroyed_in(session: Session, asset_id: int) -> ArchiveDestruction | None:
    """The list a volume was destroyed by, if it was."""
    return session.scalars(select(ArchiveDestruction).join(
        ArchiveDestructionItem, ArchiveDestructionItem.destruction_id == ArchiveDestruction.id)
        .where(ArchiveDestructionItem.asset_id == asset_id, ArchiveDestruction.destroyed_at.is_not(None))).first()


def due(session: Session, now: datetime | None = None) -> list[ArchiveVolume]:
    """Volumes past their retention period and on no open list: what may be proposed for destruction."""
    past = archives.past_retention(session, archives.today(session, now))
    listed = on_open_list(session, [v.asset_id for v in past])
    return [v for v in past if v.asset_id not in listed]


def propose(session: Session, actor: Actor, codes: list[str], reason: str,
            now: datetime | None = None) -> ArchiveDestruction:
    """A destruction list of volumes past retention, with the appraisal's grounds; opens its approval."""
    grounds = (reason or "").strip()
    if not grounds or len(grounds) > 2000:
        raise Invalid(N_("the grounds for destruction are required (1 to %(size)s characters)"), code="bad_reason",
                      size=2000)
    wanted = [c.strip() for c in codes if c and c.strip()]
    if not 1 <= len(wanted) <= MAX_VOLUMES:
        raise Invalid(N_("a destruction list names 1 to %(most)s volumes"), code="bad_volumes", most=MAX_VOLUMES)
    today = archives.today(session, now)
    volumes: list[ArchiveVolume] = []
    for code in wanted:
        volume = archives.volume_for_change(session, code)
        if any(v.asset_id == volume.asset_id for v in volumes):
            raise Invalid(N_("%(asset)s is listed twice"), code="bad_volumes", asset=volume.asset.code)
        _destroyable(session, volume, today)
        volumes.append(volume)
    listed = on_open_list(session, [v.asset_id for v in volumes])
    for volume in volumes:
        if volume.asset_id in listed:
            raise RuleViolation(N_("%(asset)s is on destruction list %(id)s already"), code="in_destruction",
                                asset=volume.asset.code, id=listed[volume.asset_id])
    chain = approvals.open_chain(session, actor, KIND, "", None, len(volumes), Decimal(0), LEVELS)
    made = ArchiveDestruction(requester=actor.name, reason=grounds, approval_id=chain.id)
    made.items = [ArchiveDestructionItem(asset_id=v.asset_id, position=n) for n, v in enumerate(volumes, 1)]
    session.add(made)
    session.flush()
    audit.change(session, actor, "archive_destruction.propose", made,
                 extra={"volumes": [v.asset.code for v in volumes[:200]], "count": len(volumes),
                        "approval": chain.id}, inserted=made.items)
    return made


def _destroyable(session: Session, volume: ArchiveVolume, today: object) -> None:
    code = volume.asset.code
    if volume.retention_until is None:
        raise RuleViolation(N_("%(asset)s is kept permanently"), code="not_past_retention", asset=code)
    if volume.retention_until >= today:  # type: ignore[operator]
        raise RuleViolation(N_("%(asset)s is kept until %(until)s"), code="not_past_retention", asset=code,
                            until=volume.retention_until.isoformat())
    loan = archive_loans.current_loan(session, volume.asset_id)
    if loan is not None:
        raise RuleViolation(N_("%(asset)s is lent to %(borrower)s: it must be returned first"),
                            code="volume_on_loan", asset=code, borrower=loan.borrower.name)


def by_id(session: Session, destruction_id: int) -> ArchiveDestruction:
    found = session.get(ArchiveDestruction, destruction_id)
    if found is None:
        raise NotFound(N_("there is no destruction list %(id)s"), id=destruction_id)
    return found


def by_approval(session: Session, approval_id: int) -> ArchiveDestruction:
    return session.scalars(select(ArchiveDestruction).where(ArchiveDestruction.approval_id == approval_id)).one()


def state(found: ArchiveDestruction) -> str:
    return "destroyed" if found.destroyed_at is not None else str(found.approval.state)


def listing() -> Select[tuple[ArchiveDestruction]]:
    return select(ArchiveDestruction)


def witness_list(text: str) -> list[str]:
    """Names separated by 、 , ; or new lines."""
    return [name.strip() for name in _SEPARATORS.split(text or "") if name.strip()]


def carry_out(session: Session, actor: Actor, destruction_id: int, executor: str, witnesses: str, method: str,
              at: datetime | None = None) -> ArchiveDestruction:
    """Record an approved list as destroyed: by whom, witnessed by whom, how; each volume is disposed of."""
    who = (executor or "").strip()
    if not who or len(who) > 100:
        raise Invalid(N_("who destroyed the volumes is required (1 to %(size)s characters)"), code="bad_executor",
                      size=100)
    seen = witness_list(witnesses)
    joined = "、".join(seen)
    if not seen or len(joined) > 300 or any(len(w) > 100 for w in seen):
        raise Invalid(N_("at least one witness is required (names separated by commas, %(size)s characters in "
                         "all)"), code="bad_witnesses", size=300)
    if who in seen:
        raise Invalid(N_("%(name)s destroyed the volumes and cannot also witness it"), code="bad_witnesses", name=who)
    how = (method or "").strip()
    if not how or len(how) > 100:
        raise Invalid(N_("the method of destruction is required (1 to %(size)s characters)"), code="bad_method",
                      size=100)
    found = by_id(session, destruction_id)
    approvals.approval_for_change(session, found.approval_id)  # locked: the list is carried out once
    found = by_id(session, destruction_id)
    if found.destroyed_at is not None or found.approval.state != ApprovalState.APPROVED:
        raise IllegalTransition(N_("destruction list %(id)s is %(state)s: it cannot be carried out"),
                                id=found.id, state=Term(state(found), names.DESTRUCTION_STATES[state(found)]))
    at = at or utcnow()
    before = audit.state(found)
    for item in found.items:
        volume = archives.volume_for_change(session, item.volume.asset.code)
        loan = archive_loans.current_loan(session, volume.asset_id)
        if loan is not None:
            raise RuleViolation(N_("%(asset)s is lent to %(borrower)s: it must be returned first"),
                                code="volume_on_loan", asset=volume.asset.code, borrower=loan.borrower.name)
        change = Change("asset.dispose", AssetStatus.DISPOSED, clear_location=True, clear_custodian=True,
                        clear_due=True, archive=True)
        _apply(session, actor, volume.asset, change, at, found.reason[:1000], None,
               {"disposal_reason": "destroyed", "approval_ref": f"archive-destruction-{found.id}",
                "executor": who, "witnesses": joined})
    found.destroyed_at, found.executor, found.witnesses, found.method = at, who, joined, how
    found.recorded_by = actor.name
    session.flush()
    audit.change(session, actor, "archive_destruction.destroy", found, before)
    return found


def pdf(session: Session, actor: Actor, found: ArchiveDestruction, org: str) -> bytes:
    """The destruction list as it was carried out, an A4 table in the reader's language."""
    if found.destroyed_at is None:
        raise IllegalTransition(N_("destruction list %(id)s is %(state)s: its PDF records a destruction that was "
                                   "carried out"), id=found.id,
                                state=Term(state(found), names.DESTRUCTION_STATES[state(found)]))
    widths = ((_("No."), 10), (_("Asset code"), 28), (_("Archive reference"), 24), (_("Title"), 52),
              (_("Archive class"), 20), (_("Year"), 12), (_("Retention period"), 17), (_("Confidentiality level"), 17))
    columns = [documents.Column(title, width) for title, width in widths]
    rows = [[str(item.position), v.asset.code, v.reference or "", v.asset.name, v.archive_class.name, str(v.year),
             names.retention(v.retention), names.confidentiality(v.confidentiality)]
            for item in found.items for v in (item.volume,)]
    approved = "; ".join(f"{names.approval_level(d.level)} {d.decided_by} {format_datetime(d.at, 'yyyy-MM-dd')}"
                         for d in found.approval.decisions if d.decision == "approve")
    subtitle = _("List %(id)s · %(count)s volumes · approved by %(approved)s", id=found.id, count=len(rows),
                 approved=approved)
    footer = [
        _("Destroyed by: %(executor)s    Witnessed by: %(witnesses)s", executor=found.executor,
          witnesses=found.witnesses),
        _("Method: %(method)s    Destroyed at: %(at)s    Recorded by: %(by)s", method=found.method,
          at=format_datetime(found.destroyed_at, "yyyy-MM-dd HH:mm"), by=found.recorded_by),
        _("Grounds: %(reason)s", reason=found.reason)]
    buffer = io.BytesIO()
    title = _("Archive destruction list")
    documents.render_table(buffer, f"{org} {title}", subtitle, columns, rows, footer=footer)
    # Nothing changes: the list's state goes with the print, so it is still what the log describes last.
    audit.change(session, actor, "archive_destruction.print", found, audit.state(found), {"volumes": len(rows)})
    return buffer.getvalue()
