"""Rows to JSON for the API and the web: the only place that knows both shapes."""

from __future__ import annotations

from typing import Any

from server.models import Asset, AssetEvent, AuditEntry, Location, Person


def location(row: Location) -> dict[str, Any]:
    return {"code": row.code, "name": row.name, "kind": row.kind}


def person(row: Person) -> dict[str, Any]:
    return {"code": row.code, "name": row.name, "department": row.department, "active": row.active}


def asset(row: Asset) -> dict[str, Any]:
    return {
        "code": row.code, "name": row.name, "category": row.category.name, "serial": row.serial,
        "status": row.status, "location": location(row.location) if row.location else None,
        "custodian": person(row.custodian) if row.custodian else None, "department": row.department,
        "price": str(row.price) if row.price is not None else None,
        "acquired_on": row.acquired_on.isoformat() if row.acquired_on else None,
        "purchase_line_id": row.purchase_line_id,
        "due_at": row.due_at.isoformat() if row.due_at else None,
        "updated_at": row.updated_at.isoformat(),
    }


def asset_event(row: AssetEvent) -> dict[str, Any]:
    return {
        "type": row.type, "at": row.at.isoformat(), "recorded_at": row.recorded_at.isoformat(),
        "actor": row.actor, "source": row.source, "kiosk": row.kiosk, "seq": row.seq,
        "event_id": row.kiosk_event_id, "from_status": row.from_status, "to_status": row.to_status,
        "from_location": row.from_location.code if row.from_location else None,
        "to_location": row.to_location.code if row.to_location else None,
        "reason": row.reason, "applied": row.applied, "data": row.data,
    }


def audit_entry(row: AuditEntry) -> dict[str, Any]:
    return {
        "id": row.id, "at": row.at.isoformat(), "actor": row.actor, "source": row.source, "action": row.action,
        "entity": row.entity, "entity_id": row.entity_id, "before": row.before, "after": row.after,
        "hash": row.hash,
    }


def plan_execution(row: Any) -> dict[str, Any]:
    """A plan line with what its purchases used (``services.plans.Execution``)."""
    line = row.line
    return {
        "ref": line.ref, "budget_year": line.budget_year, "department": line.department,
        "category": line.category.name, "method": line.method, "approval_ref": line.approval_ref,
        "approved_qty": line.approved_qty, "unit_price_cap": str(line.unit_price_cap),
        "approved_amount": str(line.approved_amount), "used_qty": row.used_qty, "used_amount": str(row.used_amount),
        "remaining_qty": row.remaining_qty, "remaining_amount": str(row.remaining_amount),
        "percent_used": str(row.percent_used),
    }


def approval(row: Any) -> dict[str, Any]:
    return {
        "id": row.id, "kind": row.kind, "department": row.department, "requester": row.requester,
        "amount": str(row.amount) if row.amount is not None else None, "quantity": row.quantity,
        "approved_quantity": row.approved_quantity, "levels": row.level_list, "step": row.step,
        "next_level": row.current_level, "state": row.state,
        "created_at": row.created_at.isoformat(), "decided_at": row.decided_at.isoformat() if row.decided_at else None,
        "decisions": [{"step": d.step, "level": d.level, "by": d.decided_by, "decision": d.decision,
                       "quantity": d.quantity, "reason": d.reason, "at": d.at.isoformat()} for d in row.decisions],
    }


def purchase_request(row: Any) -> dict[str, Any]:
    return {
        "id": row.id, "department": row.department, "requester": row.requester, "item": row.item,
        "category": row.category.name, "quantity": row.quantity,
        "estimated_unit_price": str(row.estimated_unit_price),
        "replaces": row.replaces.code if row.replaces else None, "reason": row.reason,
        "plan_line": row.plan_line.ref if row.plan_line else None, "purchase_id": row.purchase_id,
        "approval": approval(row.approval), "created_at": row.created_at.isoformat(),
    }


def supply_item(row: Any, stock: int) -> dict[str, Any]:
    return {
        "code": row.code, "name": row.name, "unit": row.unit, "category": row.category, "location": row.location,
        "reorder_level": row.reorder_level, "reorder_quantity": row.reorder_quantity, "valuable": row.valuable,
        "everyday_max": row.everyday_max, "unit_price": str(row.unit_price) if row.unit_price is not None else None,
        "stock": stock, "below_reorder": stock <= row.reorder_level,
    }


def supply_movement(row: Any) -> dict[str, Any]:
    return {
        "id": row.id, "kind": row.kind, "quantity": row.quantity, "at": row.at.isoformat(),
        "recorded_at": row.recorded_at.isoformat(), "actor": row.actor, "source": row.source,
        "person": person(row.person) if row.person else None, "department": row.department,
        "purpose": row.purpose, "conflict": row.conflict, "requisition": row.requisition_id,
        "purchase_line": row.purchase_line_id, "unit_cost": str(row.unit_cost) if row.unit_cost is not None else None,
        "stocktake": row.stocktake_id, "reverses": row.reverses_id,
    }


def requisition(row: Any, fulfilment: dict[str, Any]) -> dict[str, Any]:
    chain = row.approval
    return {
        "id": row.id, "item": {"code": row.item.code, "name": row.item.name, "unit": row.item.unit},
        "department": row.department, "requester": row.requester, "quantity": row.quantity, "purpose": row.purpose,
        "amount": str(chain.amount) if chain.amount is not None else None, "state": chain.state,
        "levels": chain.level_list, "waiting_for": chain.current_level, "fulfilment": fulfilment,
        "decisions": [{"level": d.level, "by": d.decided_by, "decision": d.decision, "quantity": d.quantity,
                       "reason": d.reason, "at": d.at.isoformat()} for d in chain.decisions],
        "created_at": row.created_at.isoformat(),
    }
