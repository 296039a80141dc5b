"""Corrections that keep history: void a purchase, amend a plan line, reverse an intake.

Nothing is deleted. Each correction is one audited event and leaves its reason and approval
reference on the row it corrects (or, for an amendment, a row of its own holding the old and new
values). Figures follow at once because what a plan line has used is always summed from the
purchase lines of purchases that are not voided (``plans.usage_query``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from server import audit
from server.audit import Actor
from server.errors import Invalid, RuleViolation
from server.i18n import N_
from server.models import (
    Asset,
    AssetEvent,
    AssetStatus,
    Intake,
    PlanLine,
    PlanLineAmendment,
    Purchase,
    PurchaseLine,
    SupplyMovement,
    utcnow,
)
from server.services import intake as intake_service
from server.services import plans, purchases


def _required(value: str | None, what: str, size: int = 100) -> str:
    text = (value or "").strip()
    if not text or len(text) > size:
        raise Invalid(N_("%(field)s must be 1 to %(size)s characters"), field=what, size=size)
    return text


def _lock(session: Session, model: Any, row_id: int) -> None:
    """Serialise corrections of one row with purchases and intakes of it (SQLite is serialised already)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(model.id).where(model.id == row_id).with_for_update()).all()


# --- void a purchase ---

def open_intakes(session: Session, purchase_id: int) -> list[int]:
    """The intakes of a purchase's lines that are not reversed."""
    return list(session.scalars(select(Intake.id).join(PurchaseLine, Intake.purchase_line_id == PurchaseLine.id)
                                .where(PurchaseLine.purchase_id == purchase_id, Intake.reversed_at.is_(None))
                                .order_by(Intake.id)))


def void_purchase(session: Session, actor: Actor, purchase_id: str | int, reason: str,
                  approval_ref: str) -> Purchase:
    """Void a purchase: it stays, marked, and no longer counts against its plan lines."""
    reason = _required(reason, "reason", 1000)
    approval_ref = _required(approval_ref, "approval_ref")
    purchase = purchases.get(session, purchase_id)
    _lock(session, Purchase, purchase.id)
    session.refresh(purchase)
    if purchase.voided_at is not None:
        raise RuleViolation(N_("purchase %(id)s is voided already"), code="already_voided", id=purchase.id)
    pending = open_intakes(session, purchase.id)
    if pending:
        raise RuleViolation(N_("purchase %(id)s has intakes %(intakes)s; reverse them before voiding it"),
                            code="has_intakes", id=purchase.id, intakes=", ".join(map(str, pending)))
    # Receipts net of their reversals: supplies taken back (entered by mistake) leave nothing to void.
    stocked = session.scalar(select(func.coalesce(func.sum(SupplyMovement.quantity), 0))
                             .join(PurchaseLine, SupplyMovement.purchase_line_id == PurchaseLine.id)
                             .where(PurchaseLine.purchase_id == purchase.id,
                                    SupplyMovement.kind.in_(("receipt", "reversal"))))
    if stocked:  # its supplies are in the storeroom's ledger, which is never rewritten
        raise RuleViolation(N_("supplies of purchase %(id)s were received into stock; it cannot be voided"),
                            code="has_receipts", id=purchase.id)
    before = audit.state(purchase)
    purchase.voided_at, purchase.void_reason = utcnow(), reason
    purchase.void_approval_ref, purchase.voided_by = approval_ref, actor.name
    session.flush()
    audit.change(session, actor, "purchase.void", purchase, before, {
        "reason": reason, "approval_ref": approval_ref,
        "total": str(sum((li.amount for li in purchase.lines), Decimal("0.00")))})
    return purchase


# --- amend a plan line ---

def amend_plan_line(session: Session, actor: Actor, ref: str, approval_ref: str, approved_qty: Any = None,
                    approved_amount: Any = None, reason: str = "") -> PlanLineAmendment:
    """Change a plan line's approved quantity and/or amount by an approved change; never below what it
    has used, and never an amount above quantity x unit price cap."""
    approval_ref = _required(approval_ref, "approval_ref")
    if approved_qty in (None, "") and approved_amount in (None, ""):
        raise Invalid(N_("give a new approved quantity or amount"), field="approved_qty")
    line = plans.line_by_ref(session, ref)
    _lock(session, PlanLine, line.id)
    session.refresh(line)
    qty = line.approved_qty if approved_qty in (None, "") else plans.count(approved_qty, "approved_qty")
    amount = line.approved_amount if approved_amount in (None, "") else plans.money(approved_amount,
                                                                                    "approved_amount")
    [used] = plans.execution_of(session, [line])
    if qty < used.used_qty:
        raise RuleViolation(N_("plan line %(ref)s has used %(used)s units; the approved quantity cannot go down "
                               "to %(value)s"), code="below_used", ref=line.ref, used=used.used_qty, value=qty,
                            field="approved_qty")
    if amount < used.used_amount:
        raise RuleViolation(N_("plan line %(ref)s has used %(used)s; the approved amount cannot go down to "
                               "%(value)s"), code="below_used", ref=line.ref, used=used.used_amount, value=amount,
                            field="approved_amount")
    plans.check_amount_within_cap(qty, line.unit_price_cap, amount)
    if (qty, amount) == (line.approved_qty, line.approved_amount):
        raise Invalid(N_("the amendment changes nothing"), field="approved_qty")
    row = PlanLineAmendment(plan_line_id=line.id, old_qty=line.approved_qty, old_amount=line.approved_amount,
                            new_qty=qty, new_amount=amount, approval_ref=approval_ref,
                            reason=(reason or "").strip()[:1000], actor=actor.name)
    before = audit.state(line)
    line.approved_qty, line.approved_amount = qty, amount
    session.add(row)
    session.flush()
    audit.change(session, actor, "plan_line.amend", line, before,
                 {"approval_ref": approval_ref, "reason": row.reason, "amendment": row.id}, inserted=[row])
    return row


def amendments(session: Session, plan_line_id: int) -> list[PlanLineAmendment]:
    return list(session.scalars(select(PlanLineAmendment).where(PlanLineAmendment.plan_line_id == plan_line_id)
                                .order_by(PlanLineAmendment.id)))


# --- reverse an intake ---

@dataclass(frozen=True)
class Reversed:
    intake: Intake
    codes: list[str]


def used_assets(session: Session, intake_id: int) -> list[str]:
    """Codes of an intake's assets that have any event beyond their creation, or left the storeroom."""
    later = (select(AssetEvent.asset_id).where(AssetEvent.type != "asset.create").distinct().subquery())
    return list(session.scalars(
        select(Asset.code).where(Asset.intake_id == intake_id)
        .where((Asset.id.in_(select(later.c.asset_id))) | (Asset.status != AssetStatus.IN_STORAGE.value))
        .order_by(Asset.id)))


def reverse_intake(session: Session, actor: Actor, intake_id: str | int, reason: str) -> Reversed:
    """Reverse an intake whose assets have not been used: they are retired (codes kept, never reused)."""
    reason = _required(reason, "reason", 1000)
    row = intake_service.get(session, intake_id)
    _lock(session, PurchaseLine, row.purchase_line_id)
    session.refresh(row)
    if row.reversed_at is not None:
        raise RuleViolation(N_("intake %(id)s is reversed already"), code="already_reversed", id=row.id)
    used = used_assets(session, row.id)
    if used:
        raise RuleViolation(N_("intake %(id)s cannot be reversed: its assets %(codes)s have been used"),
                            code="assets_used", id=row.id, codes=", ".join(used[:5]))
    now = utcnow()
    events = []
    for asset in session.scalars(select(Asset).where(Asset.intake_id == row.id).order_by(Asset.id)):
        before = audit.state(asset)
        event = {"asset_id": asset.id, "type": "asset.retire", "at": now, "recorded_at": now, "actor": actor.name,
                 "source": actor.source, "from_status": AssetStatus.IN_STORAGE.value,
                 "to_status": AssetStatus.RETIRED.value, "from_location_id": asset.location_id, "reason": reason,
                 "applied": True, "data": {"intake": row.id}}
        asset.status, asset.location, asset.location_id = AssetStatus.RETIRED.value, None, None
        asset.state_at, asset.updated_at = now, now
        audit.change(session, actor, "asset.retire", asset, before, inserted=[(AssetEvent, event)])
        events.append(event)
    if events:
        session.execute(insert(AssetEvent), events)
    before = audit.state(row)
    row.reversed_at, row.reverse_reason, row.reversed_by = now, reason, actor.name
    codes = intake_service.codes_of(session, row.id)
    session.flush()
    audit.change(session, actor, "intake.reverse", row, before, {"codes": codes})
    return Reversed(row, codes)


def retired_count(session: Session, intake_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Asset).where(
        Asset.intake_id == intake_id, Asset.status == AssetStatus.RETIRED.value)) or 0
