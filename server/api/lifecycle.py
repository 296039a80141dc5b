"""REST: the asset life cycle beyond move/check-out/check-in (repair, disposal, transfer,
custodian, maintenance). Each view translates and calls ``services.lifecycle``."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from flask import g
from pydantic import Field

from server.api import Body, CodeText, accepts, bp
from server.api.assets import committed_asset
from server.auth import roles
from server.services import lifecycle


class RepairIn(Body):
    vendor: str = Field("", max_length=200)
    location: CodeText | None = None
    reason: str = Field("", max_length=1000)


class RepairedIn(Body):
    location: CodeText | None = None
    reason: str = Field("", max_length=1000)


class DisposeIn(Body):
    reason: Literal["scrapped", "sold", "lost", "transferred_out"]
    approval_ref: str = Field(min_length=1, max_length=100)
    note: str = Field("", max_length=1000)


class TransferIn(Body):
    department: str = Field(min_length=1, max_length=100)
    approval_ref: str = Field(min_length=1, max_length=100)
    custodian: CodeText | None = None
    location: CodeText | None = None
    reason: str = Field("", max_length=1000)


class CustodianIn(Body):
    person: CodeText
    reason: str = Field("", max_length=1000)


class MaintenanceIn(Body):
    date: date
    vendor: str = Field("", max_length=200)
    cost: Decimal = Field(ge=0, max_digits=14, decimal_places=2)
    description: str = Field(min_length=1, max_length=1000)


@bp.post("/assets/<code>/repair")
@roles("storekeeper")
@accepts(RepairIn)
def repair_asset(code: str, body: RepairIn) -> Any:
    """Send an asset to repair (from in_storage or in_use)."""
    return committed_asset(lifecycle.send_to_repair(g.db, g.actor, code, body.vendor, body.location,
                                                    reason=body.reason))


@bp.post("/assets/<code>/repaired")
@roles("storekeeper")
@accepts(RepairedIn)
def repaired_asset(code: str, body: RepairedIn) -> Any:
    """Take an asset back from repair into storage."""
    return committed_asset(lifecycle.back_from_repair(g.db, g.actor, code, body.location, reason=body.reason))


@bp.post("/assets/<code>/dispose")
@roles("storekeeper")
@accepts(DisposeIn)
def dispose_asset(code: str, body: DisposeIn) -> Any:
    """Dispose of an asset (scrapped, sold, lost, transferred_out) with its approval reference."""
    return committed_asset(lifecycle.dispose(g.db, g.actor, code, body.reason, body.approval_ref, note=body.note))


@bp.post("/assets/<code>/transfer")
@roles("storekeeper")
@accepts(TransferIn)
def transfer_asset(code: str, body: TransferIn) -> Any:
    """Transfer an asset to another department (optionally a new custodian and place)."""
    return committed_asset(lifecycle.transfer(g.db, g.actor, code, body.department, body.approval_ref, body.custodian,
                                    body.location, body.reason))


@bp.post("/assets/<code>/custodian")
@roles("storekeeper")
@accepts(CustodianIn)
def asset_custodian(code: str, body: CustodianIn) -> Any:
    """Change who answers for an asset (P- code)."""
    return committed_asset(lifecycle.change_custodian(g.db, g.actor, code, body.person, body.reason))


@bp.post("/assets/<code>/maintenance")
@roles("storekeeper")
@accepts(MaintenanceIn)
def asset_maintenance(code: str, body: MaintenanceIn) -> Any:
    """Record maintenance done on an asset (date, vendor, cost, description)."""
    return committed_asset(lifecycle.record_maintenance(g.db, g.actor, code, body.date, body.vendor, body.cost,
                                              body.description))
