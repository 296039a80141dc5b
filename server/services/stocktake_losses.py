"""A missing asset marked lost in a stocktake, approved through the approval chain.

The admin resolves a missing line as ``lost`` either with the approval reference of a document the
office already has (as a disposal takes), or without one: then the loss asks the shared approval
chain (``services.approvals``, kind ``stocktake_loss``): the leader in charge of the asset's
department, and the principal leader above ``principal_approval_above`` by the asset's price.
Until the chain approves, the line counts as unresolved (closing refuses unless forced, and a forced
close does not apply it); a rejected loss is unresolved again, to be resolved another way. Closing
applies an approved loss as ``lifecycle.dispose(..., "lost", "approval <id>")``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.audit import Actor
from server.errors import IllegalTransition, NotFound
from server.i18n import N_
from server.models import Approval, ApprovalState, Asset, Stocktake, StocktakeResolution
from server.services import approvals

KIND = "stocktake_loss"


def ask(session: Session, actor: Actor, asset_code: str, principal_above: Decimal) -> Approval:
    """Open the approval chain of one loss (the asset's department and price decide the levels)."""
    asset = session.scalars(select(Asset).where(Asset.code == asset_code)).first()
    department = asset.department if asset is not None else ""
    price = asset.price if asset is not None else None
    return approvals.open_chain(session, actor, KIND, department, price, None, principal_above)


def let_go(session: Session, actor: Actor, approval_id: int | None) -> None:
    """A loss resolved otherwise: its chain, still waiting, is withdrawn when the actor asked it."""
    if approval_id is None:
        return
    chain = session.get(Approval, approval_id)
    if chain is not None and chain.state == ApprovalState.PENDING.value and chain.requester == actor.name:
        approvals.withdraw(session, actor, approval_id)


def approval_ref(approval_id: int) -> str:
    return f"approval {approval_id}"


@dataclass(frozen=True)
class Loss:
    code: str
    approval: Approval


def losses(session: Session, stocktake: Stocktake) -> list[Loss]:
    """The stocktake's losses asked through the chain, by code, with where each stands."""
    rows = session.execute(select(StocktakeResolution.code, Approval)
                           .join(Approval, Approval.id == StocktakeResolution.approval_id)
                           .where(StocktakeResolution.stocktake_id == stocktake.id,
                                  StocktakeResolution.action == "lost")
                           .order_by(StocktakeResolution.code)).unique()
    return [Loss(code, chain) for code, chain in rows]


def decide(session: Session, actor: Actor, stocktake: Stocktake, approval_id: int, decision: str,
           reason: str = "") -> Approval:
    """An approver's decision on one of this stocktake's losses (the chain's own rules apply)."""
    if stocktake.state != "open":
        raise IllegalTransition(N_("stocktake %(id)s is closed"), code="stocktake_closed", id=stocktake.id)
    if approval_id not in {loss.approval.id for loss in losses(session, stocktake)}:
        raise NotFound(N_("stocktake %(id)s has no loss waiting for approval %(approval)s"), id=stocktake.id,
                       approval=approval_id)
    return approvals.decide(session, actor, approval_id, decision, None, reason)


def waiting_for(session: Session, username: str) -> list[tuple[int, str, Approval]]:
    """The losses whose next decision is this user's: (stocktake, asset code, chain)."""
    chains = {a.id: a for a in approvals.waiting_for(session, username, [KIND])}
    if not chains:
        return []
    rows = session.execute(select(StocktakeResolution.stocktake_id, StocktakeResolution.code,
                                  StocktakeResolution.approval_id)
                           .where(StocktakeResolution.approval_id.in_(list(chains)))
                           .order_by(StocktakeResolution.stocktake_id, StocktakeResolution.code))
    return [(st, code, chains[chain]) for st, code, chain in rows if chain is not None]
