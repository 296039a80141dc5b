"""REST: corrections that keep history (void a purchase, amend a plan line, reverse an intake)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import g, jsonify
from pydantic import Field

from server.api import Body, accepts, bp
from server.auth import roles
from server.models import PlanLineAmendment
from server.services import corrections, plans, purchases


class VoidIn(Body):
    reason: str = Field(min_length=1, max_length=1000)
    approval_ref: str = Field(min_length=1, max_length=100)


class AmendIn(Body):
    approval_ref: str = Field(min_length=1, max_length=100)
    approved_qty: int | None = Field(None, ge=1)
    approved_amount: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2)
    reason: str = Field("", max_length=1000)


class ReverseIn(Body):
    reason: str = Field(min_length=1, max_length=1000)


def amendment(row: PlanLineAmendment) -> dict[str, Any]:
    return {"id": row.id, "old_qty": row.old_qty, "old_amount": str(row.old_amount), "new_qty": row.new_qty,
            "new_amount": str(row.new_amount), "approval_ref": row.approval_ref, "reason": row.reason,
            "actor": row.actor, "at": row.at.isoformat()}


@bp.post("/purchases/<purchase_id>/void")
@roles("storekeeper")
@accepts(VoidIn)
def void_purchase(body: VoidIn, purchase_id: str) -> Any:
    """Void a purchase (reason and approval reference): it stays, and no longer counts against the plan.
    Refused while it has intakes that are not reversed."""
    purchase = corrections.void_purchase(g.db, g.actor, purchase_id, body.reason, body.approval_ref)
    g.db.commit()
    return jsonify(purchases.describe(purchase))


@bp.get("/plans/<ref>/amendments")
@roles("storekeeper", "auditor")
def list_amendments(ref: str) -> Any:
    """A plan line's approved changes, oldest first, each with the values before and after."""
    line = plans.line_by_ref(g.db, ref)
    return jsonify(items=[amendment(a) for a in corrections.amendments(g.db, line.id)])


@bp.post("/plans/<ref>/amendments")
@roles()
@accepts(AmendIn)
def amend_plan_line(body: AmendIn, ref: str) -> Any:
    """Amend a plan line by an approved change (admin): new quantity and/or amount, never below used."""
    row = corrections.amend_plan_line(g.db, g.actor, ref, body.approval_ref, body.approved_qty,
                                      body.approved_amount, body.reason)
    g.db.commit()
    return jsonify(amendment(row)), 201


@bp.post("/intakes/<intake_id>/reverse")
@roles("storekeeper")
@accepts(ReverseIn)
def reverse_intake(body: ReverseIn, intake_id: str) -> Any:
    """Reverse an intake whose assets have not been used: they are retired, their codes never reused."""
    done = corrections.reverse_intake(g.db, g.actor, intake_id, body.reason)
    g.db.commit()
    return jsonify({"id": done.intake.id, "reversed_at": done.intake.reversed_at.isoformat()
                    if done.intake.reversed_at else None, "retired": done.codes})
