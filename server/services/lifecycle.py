"""The asset life cycle beyond move/check-out/check-in: repair, disposal, transfers between
departments, custodian changes and maintenance records; the overdue list and the usage
log of controlled items.

Every action here is a ``Change`` applied by ``assets._apply``, the one function that
changes an asset: it checks ``assets.ALLOWED_FROM`` (illegal transitions are refused
with ``illegal_transition``), writes the asset event (who, when, where, why) and the
audit row. Nothing is deleted: a disposed asset and its code stay for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server import names
from server.audit import Actor
from server.errors import Invalid, Term
from server.i18n import N_
from server.models import Asset, AssetEvent, AssetStatus, Category, Person, utcnow
from server.services import directory, plans
from server.services.assets import Change, Outcome, _apply, asset_for_change, due_time

S = AssetStatus
DISPOSAL_REASONS = ("scrapped", "sold", "lost", "transferred_out")
STORE_KINDS = frozenset({"storeroom", "shelf", "bin"})


def _required(value: str | None, message: str, code: str, size: int = 100) -> str:
    """The text, stripped; ``message`` (a marked template with ``%(size)s``) when it is empty or too long."""
    text = (value or "").strip()
    if not text or len(text) > size:
        raise Invalid(message, code=code, size=size)
    return text


def send_to_repair(session: Session, actor: Actor, tag: str, vendor: str = "", location_code: str | None = None,
                   at: datetime | None = None, reason: str = "") -> Outcome:
    """in_storage or in_use -> under_repair; the custodian and any due time end here."""
    asset = asset_for_change(session, tag)
    location = directory.location_by_code(session, location_code) if location_code else None
    change = Change("asset.repair", S.UNDER_REPAIR, location, clear_custodian=True, clear_due=True)
    return _apply(session, actor, asset, change, at, reason, None, {"vendor": vendor.strip()[:200]})


def back_from_repair(session: Session, actor: Actor, tag: str, location_code: str | None = None,
                     at: datetime | None = None, reason: str = "") -> Outcome:
    """under_repair -> in_storage, into a storeroom (given, or where it was before)."""
    asset = asset_for_change(session, tag)
    location = directory.location_by_code(session, location_code) if location_code else None
    if location is not None and location.kind not in STORE_KINDS:
        raise Invalid(N_("back from repair goes to a storeroom, shelf or bin; %(location)s (%(name)s) is none "
                         "of these"), code="not_a_store", location=location.code, name=location.name)
    return _apply(session, actor, asset, Change("asset.repaired", S.IN_STORAGE, location), at, reason, None)


def dispose(session: Session, actor: Actor, tag: str, disposal_reason: str, approval_ref: str,
            at: datetime | None = None, note: str = "") -> Outcome:
    """Any live status -> disposed (scrapped, sold, lost, transferred_out), with its approval reference."""
    if disposal_reason not in DISPOSAL_REASONS:
        raise Invalid(N_("the disposal reason must be one of %(reasons)s"), code="bad_disposal_reason",
                      reasons=Term(", ".join(DISPOSAL_REASONS), *(names.DISPOSAL_REASONS[r] for r in DISPOSAL_REASONS)))
    approval = _required(approval_ref, N_("an approval reference for the disposal is required (1 to %(size)s "
                                          "characters)"), "approval_required")
    asset = asset_for_change(session, tag)
    change = Change("asset.dispose", S.DISPOSED, clear_location=True, clear_custodian=True, clear_due=True)
    return _apply(session, actor, asset, change, at, note, None,
                  {"disposal_reason": disposal_reason, "approval_ref": approval})


def transfer(session: Session, actor: Actor, tag: str, to_department: str, approval_ref: str = "",
             custodian_code: str | None = None, location_code: str | None = None, reason: str = "") -> Outcome:
    """Hand an asset to another department (调拨; optionally with its new custodian and place), with its
    approval reference, as a disposal needs one."""
    department = _required(to_department, N_("the department to transfer to is required (1 to %(size)s "
                                             "characters)"), "department_required")
    asset = asset_for_change(session, tag)
    if department == asset.department:
        raise Invalid(N_("%(asset)s belongs to %(department)s already"), code="same_department", asset=asset.code,
                      department=department)
    approval_ref = (approval_ref or "").strip()
    if not approval_ref or len(approval_ref) > 100:
        raise Invalid(N_("a transfer needs its approval reference (1 to 100 characters)"),
                      code="approval_required", field="approval_ref")
    person = directory.person_by_code(session, custodian_code) if custodian_code else None
    location = directory.location_by_code(session, location_code) if location_code else None
    change = Change("asset.transfer", None, location, person, department=department)
    return _apply(session, actor, asset, change, None, reason, None,
                  {"from_department": asset.department, "to_department": department,
                   "approval_ref": approval_ref})


def change_custodian(session: Session, actor: Actor, tag: str, person_code: str, reason: str = "") -> Outcome:
    """Name the person who answers for an asset, without moving it or changing its status."""
    person = directory.person_by_code(session, person_code)
    asset = asset_for_change(session, tag)
    previous = asset.custodian.code if asset.custodian else None
    return _apply(session, actor, asset, Change("asset.custodian", custodian=person), None, reason, None,
                  {"from_custodian": previous, "to_custodian": person.code})


def record_maintenance(session: Session, actor: Actor, tag: str, on: date, vendor: str, cost: Decimal | str,
                       description: str) -> Outcome:
    """A maintenance record (date, vendor, cost, description): history only, status and place unchanged."""
    amount = plans.money(cost, "cost")
    text = _required(description, N_("a description is required (1 to %(size)s characters)"),
                     "description_required", 1000)
    asset = asset_for_change(session, tag)
    return _apply(session, actor, asset, Change("asset.maintenance"), None, text, None,
                  {"date": on.isoformat(), "vendor": vendor.strip()[:200], "cost": str(amount),
                   "description": text})


# --- controlled items ---

@dataclass(frozen=True)
class Overdue:
    asset: Asset
    due_at: datetime
    late_by_hours: float


def overdue(session: Session, now: datetime | None = None, controlled_only: bool = False) -> list[Overdue]:
    """Assets checked out with a due time that has passed and not yet back, oldest due first."""
    now = now or utcnow()
    query = (select(Asset).where(Asset.due_at.is_not(None), Asset.due_at < now, Asset.status == S.IN_USE.value)
             .order_by(Asset.due_at, Asset.id))
    if controlled_only:
        query = query.join(Category, Asset.category_id == Category.id).where(Category.controlled.is_(True))
    out = []
    for asset in session.scalars(query).unique():
        assert asset.due_at is not None
        out.append(Overdue(asset, asset.due_at, round((now - asset.due_at).total_seconds() / 3600, 1)))
    return out


def usage_log(session: Session, since: datetime | None = None, until: datetime | None = None) -> list[dict[str, Any]]:
    """Every check-out of a controlled item: who, purpose, approval, due, when it came back and
    whether late. Built from the asset events (applied ones), in the order they happened."""
    query = (select(AssetEvent, Asset, Category)
             .join(Asset, AssetEvent.asset_id == Asset.id).join(Category, Asset.category_id == Category.id)
             .where(Category.controlled.is_(True), AssetEvent.applied.is_(True),
                    AssetEvent.type.in_(("asset.checkout", "asset.checkin", "asset.repair", "asset.dispose")))
             .order_by(AssetEvent.asset_id, AssetEvent.at, AssetEvent.id))
    people = {p.id: p for p in session.scalars(select(Person))}
    rows: list[dict[str, Any]] = []
    open_by_asset: dict[int, dict[str, Any]] = {}
    for event, asset, category in session.execute(query).unique():
        current = open_by_asset.pop(asset.id, None)
        if current is not None:  # any later event ends the check-out before it
            current["returned_at"] = event.at.isoformat()
            current["late"] = bool(current["_due"] and event.at > current["_due"])
        if event.type != "asset.checkout":
            continue
        person = people.get(event.custodian_id or 0)
        due = asset_due(event)
        row = {"asset": asset.code, "name": asset.name, "category": category.name, "out_at": event.at.isoformat(),
               "person": person.code if person else None, "person_name": person.name if person else None,
               "purpose": event.data.get("purpose", ""), "approval_ref": event.data.get("approval_ref", ""),
               "due_at": due.isoformat() if due else None, "returned_at": None, "late": None, "_due": due,
               "actor": event.actor, "source": event.source, "_out": event.at}
        rows.append(row)
        open_by_asset[asset.id] = row
    now = utcnow()
    for row in open_by_asset.values():
        row["late"] = bool(row["_due"] and now > row["_due"])
    kept = [r for r in rows if (since is None or r["_out"] >= since) and (until is None or r["_out"] < until)]
    kept.sort(key=lambda r: (r["_out"], r["asset"]))
    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in kept]


def asset_due(event: AssetEvent) -> datetime | None:
    raw = event.data.get("due")
    if not raw:
        return None
    parsed = datetime.fromisoformat(raw) if "T" in raw else date.fromisoformat(raw)
    return due_time(parsed)
