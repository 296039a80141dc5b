"""The approval chain (审批): one request, the levels it needs in order, one decision at a time.

Every kind of request that needs approval (purchase requests here; requisitions, archive loans and
destructions, vehicle bookings, seal use) opens one ``Approval`` and lets this module decide it, so the
rules are written once:

* the leader in charge (分管领导) of the request's department approves first; above the office's
  threshold (``principal_approval_above``) the principal leader (主要领导) approves after; a kind may
  name its levels itself (archive loans: the archive manager, 档案室负责人, then higher levels for
  confidential volumes);
* an approver holds a grant for the level, for the department or for all departments;
* nobody approves their own request;
* an approver may approve, reject with a reason, or approve a smaller quantity; a later step may
  lower the quantity again, never raise it; a rejection ends the chain;
* every decision is a row and an audit entry; nothing is overwritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from server import audit
from server.audit import Actor
from server.errors import AlreadyExists, Forbidden, IllegalTransition, Invalid, NotFound, Term
from server.i18n import N_
from server.models import (
    Approval,
    ApprovalDecision,
    ApprovalLevel,
    ApprovalState,
    ApproverGrant,
    User,
    utcnow,
)

L = ApprovalLevel
DECISIONS = ("approve", "reject")


def levels_for(amount: Decimal | None, principal_above: Decimal) -> list[str]:
    """The levels a request needs, in order: the leader in charge, and the principal leader above the threshold."""
    levels = [L.LEADER.value]
    if amount is not None and amount > principal_above:
        levels.append(L.PRINCIPAL.value)
    return levels


def open_chain(session: Session, actor: Actor, kind: str, department: str, amount: Decimal | None,
               quantity: int | None, principal_above: Decimal, levels: Sequence[str] | None = None) -> Approval:
    """Start the chain of a new request made by ``actor``. ``levels`` (in order) when the kind decides them
    itself (an archive loan by the volume's confidentiality level); else they follow from the amount."""
    chosen = list(levels) if levels is not None else levels_for(amount, principal_above)
    if not chosen or any(level not in set(L) for level in chosen):
        raise ValueError(f"approval levels must be some of {', '.join(L)}: {chosen}")  # a caller's bug
    approval = Approval(kind=kind, department=department, requester=actor.name, amount=amount, quantity=quantity,
                        approved_quantity=quantity, levels=",".join(chosen), step=0,
                        state=ApprovalState.PENDING.value)
    session.add(approval)
    session.flush()
    audit.change(session, actor, "approval.open", approval)
    return approval


def _state_name(state: str) -> Term:
    from server.names import APPROVAL_STATES

    return Term(APPROVAL_STATES.get(state, state))


def approval_for_change(session: Session, approval_id: int) -> Approval:
    """The approval, locked for the decision (two approvers clicking at once decide one after the other)."""
    locked = session.scalars(select(Approval.id).where(Approval.id == approval_id).with_for_update()).first()
    if locked is None:
        raise NotFound(N_("there is no approval %(id)s"), id=approval_id)
    session.expire_all()
    approval = session.get(Approval, approval_id)
    assert approval is not None
    return approval


def may_decide(session: Session, username: str, approval: Approval) -> bool:
    """Whether ``username`` may take the next decision on ``approval`` (for showing the form)."""
    level = approval.current_level
    return level is not None and username != approval.requester and _holds(session, username, level,
                                                                               approval.department)


def holds(session: Session, username: str, level: str, department: str = "") -> bool:
    """Whether ``username`` (an active user) approves at ``level`` for ``department``; "" asks for a grant
    for all departments (the archive manager's, who settles the archive's conflicts)."""
    return _holds(session, username, level, department)


def _holds(session: Session, username: str, level: str, department: str) -> bool:
    return session.scalars(
        select(ApproverGrant.id).join(User, ApproverGrant.user_id == User.id)
        .where(User.username == username, User.active.is_(True), ApproverGrant.level == level,
               or_(ApproverGrant.department == "", ApproverGrant.department == department))).first() is not None


def decide(session: Session, actor: Actor, approval_id: int, decision: str, quantity: int | None = None,
           reason: str = "") -> Approval:
    """Take the next decision of a chain; returns the approval as it stands after it."""
    if decision not in DECISIONS:
        raise Invalid(N_("the decision must be approve or reject"))
    reason = reason.strip()
    approval = approval_for_change(session, approval_id)
    level = approval.current_level
    if level is None:
        raise IllegalTransition(N_("this request is %(state)s: there is nothing left to decide"),
                                state=_state_name(approval.state))
    if actor.name == approval.requester:
        raise Forbidden(N_("nobody may approve their own request"))
    if not _holds(session, actor.name, level, approval.department):
        raise Forbidden(N_("you are not an approver at this step for the department %(department)s"),
                        department=approval.department)
    if decision == "reject" and not reason:
        raise Invalid(N_("a rejection needs a reason"), code="reason_required")
    new_quantity = _decided_quantity(approval, decision, quantity)
    before = audit.state(approval)
    made = ApprovalDecision(step=approval.step, level=level, decided_by=actor.name, decision=decision,
                            quantity=new_quantity, reason=reason, at=utcnow())
    approval.decisions.append(made)
    approval.approved_quantity = new_quantity
    if decision == "reject":
        approval.state, approval.decided_at = ApprovalState.REJECTED.value, utcnow()
    elif approval.step + 1 >= len(approval.level_list):
        approval.state, approval.decided_at = ApprovalState.APPROVED.value, utcnow()
        approval.step += 1
    else:
        approval.step += 1
    session.flush()
    audit.change(session, actor, f"approval.{decision}", approval, before, {"reason": reason}, inserted=[made])
    return approval


def _decided_quantity(approval: Approval, decision: str, quantity: int | None) -> int | None:
    if decision == "reject" or quantity is None or approval.approved_quantity is None:
        return approval.approved_quantity
    if not 1 <= quantity <= approval.approved_quantity:
        raise Invalid(N_("the approved quantity must be between 1 and %(most)s"), code="bad_quantity",
                      most=approval.approved_quantity)
    return quantity


def withdraw(session: Session, actor: Actor, approval_id: int) -> Approval:
    """The requester takes back a request that is still waiting."""
    approval = approval_for_change(session, approval_id)
    if approval.state != ApprovalState.PENDING:
        raise IllegalTransition(N_("this request is %(state)s: there is nothing left to decide"),
                                state=_state_name(approval.state))
    if actor.name != approval.requester:
        raise Forbidden(N_("only the requester may withdraw a request"))
    before = audit.state(approval)
    approval.state, approval.decided_at = ApprovalState.WITHDRAWN.value, utcnow()
    audit.change(session, actor, "approval.withdraw", approval, before)
    return approval


def waiting_for(session: Session, username: str, kinds: Sequence[str] | None = None) -> list[Approval]:
    """The to-do list: pending approvals whose next step this user may decide."""
    grants = session.execute(select(ApproverGrant.level, ApproverGrant.department).join(
        User, ApproverGrant.user_id == User.id).where(User.username == username, User.active.is_(True))).all()
    if not grants:
        return []
    query = select(Approval).where(Approval.state == ApprovalState.PENDING.value, Approval.requester != username)
    if kinds:
        query = query.where(Approval.kind.in_(kinds))
    pending = session.scalars(query.order_by(Approval.created_at)).all()
    return [a for a in pending if any(level == a.current_level and department in ("", a.department)
                                      for level, department in grants)]


def grant(session: Session, actor: Actor, username: str, level: str, department: str = "") -> ApproverGrant:
    """Let a user approve at a level, for one department or ("") all."""
    if level not in {lv.value for lv in L}:
        from server.names import APPROVAL_LEVELS

        raise Invalid(N_("the level must be one of %(levels)s"), code="bad_level",
                      levels=Term(", ".join(L), *(APPROVAL_LEVELS[lv] for lv in L)))
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(N_("there is no user %(name)s"), name=username[:80])
    department = department.strip()[:100]
    exists = session.scalars(select(ApproverGrant).where(ApproverGrant.user_id == user.id, ApproverGrant.level == level,
                                                         ApproverGrant.department == department)).first()
    if exists:
        raise AlreadyExists(N_("%(name)s is already an approver at this level for this department"), name=username)
    row = ApproverGrant(user_id=user.id, level=level, department=department)
    session.add(row)
    session.flush()
    audit.change(session, actor, "approver.grant", row, extra={"user": username})
    return row


def revoke_grant(session: Session, actor: Actor, grant_id: int) -> None:
    row = session.get(ApproverGrant, grant_id)
    if row is None:
        raise NotFound(N_("there is no approver grant %(id)s"), id=grant_id)
    audit.removal(session, actor, "approver.revoke", row, {"user": row.user.username})
    session.delete(row)


def grants(session: Session) -> list[ApproverGrant]:
    return list(session.scalars(select(ApproverGrant).order_by(ApproverGrant.department, ApproverGrant.level)))
