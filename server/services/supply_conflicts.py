"""Pickup conflicts: offline kiosk pickups that took stock below zero, or that needed an approved
requisition the kiosk could not check. They happened (the goods are gone), so they are stored and
kept in the ledger; the storekeeper (or the admin) settles each one here, once:

- ``accept``: the ledger is right as it stands (a receipt recorded late, a requisition approved
  since), with a note saying why;
- ``adjust``: the shelf says otherwise; an adjustment (``supplies.adjust``, a ledger line of its own,
  audited, refused below zero like any other) corrects the stock, its reason naming the conflict.

Nothing of the conflicting pickup is changed or deleted; the settlement is a row and an audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server import audit
from server.audit import Actor
from server.errors import AlreadyExists, Invalid, NotFound, RuleViolation
from server.i18n import N_
from server.models import SupplyConflictResolution, SupplyMovement
from server.services import supplies

ACTIONS = ("accept", "adjust")
STATES = ("open", "settled", "all")


@dataclass(frozen=True)
class Conflict:
    movement: SupplyMovement
    why: str  # below_zero | no_requisition
    settlement: SupplyConflictResolution | None


def _why(movement: SupplyMovement) -> str:
    if movement.requisition_id is None and supplies.needs_requisition(movement.item, -movement.quantity):
        return "no_requisition"
    return "below_zero"


def listing(session: Session, state: str = "open", limit: int = 500) -> list[Conflict]:
    """Conflicting pickups, newest first: still open, settled, or all."""
    if state not in STATES:
        raise Invalid(N_("the state must be open, settled or all"), code="bad_filter")
    query = (select(SupplyMovement, SupplyConflictResolution)
             .outerjoin(SupplyConflictResolution, SupplyConflictResolution.movement_id == SupplyMovement.id)
             .where(SupplyMovement.conflict.is_(True)))
    if state == "open":
        query = query.where(SupplyConflictResolution.id.is_(None))
    elif state == "settled":
        query = query.where(SupplyConflictResolution.id.is_not(None))
    rows = session.execute(query.order_by(SupplyMovement.id.desc()).limit(limit)).unique()
    return [Conflict(movement, _why(movement), settled) for movement, settled in rows]


def get(session: Session, movement_id: int) -> Conflict:
    movement = session.get(SupplyMovement, movement_id)
    if movement is None or not movement.conflict:
        raise NotFound(N_("there is no pickup conflict %(id)s"), id=movement_id)
    settled = session.scalars(select(SupplyConflictResolution).where(
        SupplyConflictResolution.movement_id == movement.id)).first()
    return Conflict(movement, _why(movement), settled)


def open_count(session: Session) -> int:
    """How many conflicting pickups wait to be settled."""
    return int(session.scalar(
        select(func.count()).select_from(SupplyMovement)
        .outerjoin(SupplyConflictResolution, SupplyConflictResolution.movement_id == SupplyMovement.id)
        .where(SupplyMovement.conflict.is_(True), SupplyConflictResolution.id.is_(None))) or 0)


def settle(session: Session, actor: Actor, movement_id: int, action: str, note: str,
           delta: int | None = None) -> SupplyConflictResolution:
    """Settle one conflicting pickup: accept it with a note, or correct the stock by an adjustment."""
    if action not in ACTIONS:
        raise Invalid(N_("the action must be accept or adjust"), code="bad_action")
    note = supplies.clean_text(note, N_("note"), 500)
    movement = session.get(SupplyMovement, movement_id)
    if movement is None:
        raise NotFound(N_("there is no ledger line %(id)s"), id=movement_id)
    if not movement.conflict:
        raise RuleViolation(N_("ledger line %(id)s is not a conflict"), code="not_a_conflict", id=movement_id)
    supplies.item_by_code(session, movement.item.code, lock=True)  # two settlements at once: one after the other
    done = session.scalars(select(SupplyConflictResolution).where(
        SupplyConflictResolution.movement_id == movement.id)).first()
    if done is not None:
        raise AlreadyExists(N_("the conflict of ledger line %(id)s was settled by %(who)s already"),
                            code="already_settled", id=movement_id, who=done.decided_by)
    adjustment = None
    if action == "adjust":
        if not delta:
            raise Invalid(N_("the adjustment must be between -100000 and 100000 and not zero"), code="bad_quantity")
        adjustment = supplies.adjust(session, actor, movement.item.code, delta,
                                     f"pickup conflict {movement.id}: {note}"[:500])
    row = SupplyConflictResolution(movement_id=movement.id, action=action, note=note,
                                   adjustment_id=adjustment.id if adjustment else None, decided_by=actor.name)
    session.add(row)
    session.flush()
    audit.record(session, actor, "supply.conflict_settle", "supply_conflict", movement.id, None,
                 {"item": movement.item.code, "movement": movement.id, "action": action, "note": note,
                  "adjustment": adjustment.id if adjustment else None, "delta": delta if adjustment else None},
                 inserted=[row])
    return row
