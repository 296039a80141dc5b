"""The ledger as the audit log describes it: which tables, which of their fields, in one place.

Two kinds of tables:

- **Entities**, whose rows change (an asset's status, a purchase voided). Every change writes one
  audit row with ``entity`` and ``entity_id`` (the row's key) whose ``after`` holds at least the
  fields listed here (``state``); a row deleted on purpose gets ``after`` = None. The newest
  audit row of each entity is what the table must hold now.
- **History**, whose rows never change once written (an asset's event, a kiosk event, a purchase
  line). Each is described once, in ``inserted`` of the audit row that made it, and points back at
  that row with ``audit_hash``.

``server.audit.reconcile`` compares the tables with this. Values are compared in one normal form
(``normal``): times as UTC ISO text, dates ISO, money as text with its column's scale, secrets
(password and token hashes) as a SHA-256 of them. Tables not listed are not the ledger: logs,
caches, queues and derived indexes (docs/audit.md lists them and why).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, LargeBinary, Numeric, inspect
from sqlalchemy.orm import Mapper

from server import models as m

Normal = Callable[[Any], Any]


@dataclass(frozen=True)
class Entity:
    model: type[Any]
    name: str  # the audit rows' ``entity``
    key: str  # the column whose text is their ``entity_id``; "a/b": two columns, their texts joined by "/"
    fields: tuple[str, ...]
    secrets: tuple[str, ...] = ()  # compared as a SHA-256 of the value, never shown

    @property
    def table(self) -> str:
        return str(self.model.__tablename__)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self.key.split("/"))

    def id_of(self, values: Mapping[str, Any]) -> str:
        """The ``entity_id`` of a row (a mapping of its columns)."""
        return "/".join(str(values[name]) for name in self.keys)


@dataclass(frozen=True)
class History:
    model: type[Any]
    fields: tuple[str, ...]
    order: tuple[str, ...] = field(default=("id",))  # rows and descriptions of one audit row pair up in this order

    @property
    def table(self) -> str:
        return str(self.model.__tablename__)

    @property
    def described_order(self) -> bool:
        """Whether descriptions carry the order columns (else they are in the order the rows were made)."""
        return all(name in self.fields for name in self.order)


ENTITIES: tuple[Entity, ...] = (
    Entity(m.Asset, "asset", "code", ("code", "name", "category_id", "serial", "status", "location_id", "custodian_id",
                                      "department", "purchase_line_id", "intake_id", "price", "acquired_on",
                                      "due_at")),
    Entity(m.Category, "category", "id", ("name", "controlled", "supplies", "vehicle")),
    Entity(m.Location, "location", "code", ("code", "name", "kind", "parent_id")),
    Entity(m.Person, "person", "code", ("code", "name", "department", "active", "email")),
    Entity(m.Kiosk, "kiosk", "name", ("name", "mode", "location_id", "revoked_at")),
    Entity(m.User, "user", "username", ("username", "role", "active", "department"), ("password_hash",)),
    Entity(m.ApiToken, "api_token", "id", ("name", "role", "revoked_at", "expires_at"), ("token_hash",)),
    Entity(m.Department, "department", "name", ("name", "staff_count")),
    Entity(m.ApproverGrant, "approver_grant", "id", ("user_id", "level", "department")),
    Entity(m.Approval, "approval", "id", ("kind", "department", "requester", "amount", "quantity",
                                          "approved_quantity", "levels", "step", "state", "decided_at")),
    Entity(m.PlanLine, "plan_line", "ref", ("ref", "budget_year", "department", "category_id", "approved_qty",
                                            "unit_price_cap", "approved_amount", "method", "approval_ref")),
    Entity(m.Purchase, "purchase", "id", ("supplier", "purchased_on", "method", "reference", "method_exception_ref",
                                          "free_kind", "free_approval_ref", "actor", "voided_at", "void_reason",
                                          "void_approval_ref", "voided_by")),
    Entity(m.Intake, "intake", "id", ("request_key", "purchase_line_id", "quantity", "location_id", "received_on",
                                      "actor", "reversed_at", "reverse_reason", "reversed_by")),
    Entity(m.PurchaseRequest, "purchase_request", "id", ("department", "requester", "item", "category_id",
                                                         "quantity", "estimated_unit_price", "reason",
                                                         "replaces_asset_id", "approval_id", "plan_line_id",
                                                         "purchase_id")),
    Entity(m.SupplyItem, "supply", "code", ("code", "name", "unit", "category", "location", "reorder_level",
                                            "reorder_quantity", "valuable", "everyday_max", "unit_price")),
    Entity(m.Requisition, "requisition", "id", ("item_id", "department", "requester", "quantity", "purpose",
                                                "approval_id")),
    Entity(m.Stocktake, "stocktake", "id", ("scope", "department", "location_ids", "state", "opened_by",
                                            "closed_by", "closed_at", "forced")),
    Entity(m.StocktakeResolution, "stocktake_resolution", "id", ("stocktake_id", "code", "action", "location_id",
                                                                 "approval_ref", "reason", "decided_by",
                                                                 "applied")),
    Entity(m.VisitorPass, "visitor_pass", "code", ("code", "kind", "status", "host_id", "purpose", "valid_from",
                                                   "valid_until", "approval_id", "created_by", "revoked_at",
                                                   "revoked_by", "revoke_reason")),
    Entity(m.Visit, "visit", "id", ("pass_id", "signed_in_at", "in_source", "in_actor", "in_event_id",
                                    "signed_out_at", "out_kind", "out_source", "out_event_id", "conflict")),
    Entity(m.ExitPermit, "exit_permit", "id", ("reason", "carrier", "valid_until", "loan", "expected_return",
                                               "issued_by", "revoked_at", "revoked_by")),
    Entity(m.ExitPermitAsset, "exit_permit_asset", "id", ("permit_id", "asset_id", "exited_at", "exit_source",
                                                          "returned_at", "return_source")),
    Entity(m.WatchlistEntry, "watchlist_entry", "id", ("kind", "created_by", "removed_at", "removed_by")),
    # The office's registers: the fleet, bookings and dispatches, the trip log; seals; archives.
    Entity(m.Vehicle, "vehicle", "plate", ("asset_id", "plate", "seats", "fuel", "initial_odometer", "odometer",
                                           "registered_by", "active")),
    Entity(m.VehicleDriver, "vehicle_driver", "vehicle_id/person_id", ("vehicle_id", "person_id", "added_by")),
    Entity(m.VehicleBooking, "vehicle_booking", "id", ("department", "requester", "purpose", "passengers",
                                                       "destination", "starts_at", "ends_at", "urgency", "approval_id",
                                                       "cancelled_at", "cancelled_by", "cancel_reason")),
    Entity(m.Dispatch, "vehicle_dispatch", "id", ("booking_id", "vehicle_id", "driver_id", "starts_at", "ends_at",
                                                  "dispatched_by", "cancelled_at", "cancelled_by", "cancel_reason")),
    Entity(m.Trip, "vehicle_trip", "id", ("vehicle_id", "dispatch_id", "driver_id", "department", "purpose", "out_at",
                                          "in_at", "odometer_out", "odometer_in", "source", "late", "conflict",
                                          "recorded_by")),
    Entity(m.Seal, "seal", "code", ("code", "name", "kind", "department", "custodian_id", "status", "made_on",
                                    "note", "replaces_id")),
    Entity(m.SealUseRequest, "seal_use_request", "id", ("seal_id", "department", "requester", "document_title",
                                                        "copies", "recipient", "purpose", "approval_id")),
    Entity(m.SealTakeout, "seal_takeout", "id", ("seal_id", "department", "requester", "carrier_id", "purpose",
                                                 "destination", "due_at", "approval_id", "out_at", "out_by",
                                                 "out_source", "returned_at", "returned_by", "return_source")),
    Entity(m.ArchiveClass, "archive_class", "code", ("code", "name", "loan_days", "on_site_only")),
    Entity(m.ArchiveVolume, "archive_volume", "asset_id", ("asset_id", "kind", "reference", "class_id", "year",
                                                           "retention", "retention_until", "confidentiality",
                                                           "parent_id")),
    Entity(m.ArchiveLoan, "archive_loan", "id", ("asset_id", "borrower_id", "department", "purpose", "on_site",
                                                 "due_on", "requester", "approval_id", "lent_at", "lent_by",
                                                 "lent_source", "due_at", "returned_at", "returned_by",
                                                 "returned_source", "reminded_at", "reminders")),
    Entity(m.ArchiveConflict, "archive_conflict", "id", ("kind", "reason", "message", "message_values", "asset_id",
                                                         "borrower_id", "loan_id", "kiosk", "kiosk_event_id", "at",
                                                         "settled_at", "settled_by", "note")),
    Entity(m.ArchiveDestruction, "archive_destruction", "id", ("requester", "reason", "approval_id", "destroyed_at",
                                                               "executor", "witnesses", "method", "recorded_by")),
)

HISTORY: tuple[History, ...] = (
    History(m.AssetEvent, ("asset_id", "type", "at", "actor", "source", "kiosk", "seq", "kiosk_event_id",
                           "from_status", "to_status", "from_location_id", "to_location_id", "custodian_id",
                           "reason", "applied", "data")),
    History(m.KioskEvent, ("kiosk", "id", "seq", "boot", "type", "actor", "at", "synced", "data"), ("kiosk", "id")),
    History(m.PurchaseLine, ("purchase_id", "plan_line_id", "category_id", "description", "quantity", "unit_price",
                             "amount")),
    History(m.PlanLineAmendment, ("plan_line_id", "old_qty", "old_amount", "new_qty", "new_amount", "approval_ref",
                                  "reason", "actor")),
    History(m.SupplyMovement, ("item_id", "kind", "quantity", "at", "actor", "source", "person_id", "department",
                               "purpose", "kiosk_event_id", "conflict", "requisition_id")),
    History(m.ApprovalDecision, ("approval_id", "step", "level", "decided_by", "decision", "quantity", "reason")),
    History(m.StocktakeScan, ("stocktake_id", "code", "asset_id", "location_id", "at", "actor", "source",
                              "kiosk_event_id")),
    History(m.StocktakeSupplyCount, ("stocktake_id", "item_id", "counted", "expected", "at", "actor", "source")),
    History(m.SupplyConflictResolution, ("movement_id", "action", "note", "adjustment_id", "decided_by")),
    History(m.SupplyReorderRequest, ("item_id", "purchase_request_id", "alert_id", "actor")),
    History(m.OdometerCorrection, ("trip_id", "side", "before", "after", "reason", "corrected_by", "corrected_at")),
    History(m.VehicleCost, ("vehicle_id", "trip_id", "kind", "amount", "spent_on", "note", "recorded_by")),
    # Not the sealed plate of a visitor's car, nor when it was purged: the retention purge empties those.
    History(m.VehiclePassage, ("direction", "kind", "at", "vehicle_id", "plate", "pass_code", "odometer", "trip_id",
                               "dispatch_id", "source", "actor", "kiosk_event_id", "conflict", "note")),
    History(m.SealEvent, ("seal_id", "action", "from_status", "to_status", "approval_ref", "reason", "actor", "source",
                          "at")),
    History(m.SealImprint, ("seal_id", "data", "sha256", "width", "height", "uploaded_by")),  # the image as a digest
    History(m.SealUse, ("request_id", "seal_id", "copies", "stamped_by_id", "at", "recorded_by", "source", "note")),
    History(m.ArchiveDestructionItem, ("destruction_id", "asset_id", "position"), ("destruction_id", "asset_id")),
)

# Every other table, and why it is not the ledger (docs/audit.md; a test holds every table to one of the two lists).
NOT_LEDGER: dict[str, str] = {
    "audit_log": "the log itself",
    "issued_codes": "derived: the registry of codes drawn",
    "stocktake_expected": "derived: a frozen copy made by one INSERT ... SELECT",
    "watchlist_keys": "derived: blind indexes rebuilt on key rotation",
    "supply_alerts": "derived: reorder alerts raised from the movements",
    "gate_alerts": "a queue with its own retention",
    "notifications": "a queue with its own retention",
    "rejected_messages": "a log with its own retention",
    "rejected_log_drops": "a counter of the rejected log",
    "idempotency_keys": "a cache of replies",
    "sign_in_failures": "a log of failed sign-ins",
    "jobs": "a queue",
    "service_heartbeats": "liveness",
}

BY_MODEL: dict[type[Any], Entity | History] = {**{e.model: e for e in ENTITIES}, **{h.model: h for h in HISTORY}}
BY_ENTITY: dict[str, Entity] = {e.name: e for e in ENTITIES}
HISTORY_BY_TABLE: dict[str, History] = {h.table: h for h in HISTORY}
BASELINE_ENTITY = "ledger_table"  # ``assetgate audit baseline``: the digest of a table's rows from before the chain


# --- normal forms ---

def _time(value: Any) -> Any:
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is UTC:  # nearly every value: the cheap way
        return value.isoformat(timespec="microseconds")
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="microseconds")


def _day(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _money(scale: int) -> Normal:
    quantum = Decimal(1).scaleb(-scale)

    def normal(value: Any) -> Any:
        return None if value is None else format(Decimal(str(value)).quantize(quantum), "f")

    return normal


def _digest(value: Any) -> Any:
    return None if value is None else "sha256:" + hashlib.sha256(bytes(value)).hexdigest()


def _flag(value: Any) -> Any:
    return None if value is None else bool(value)


def _text(value: Any) -> Any:
    # StrEnum members are str already; anything else (an int given to a text column) as text.
    if value is None or type(value) is str:
        return value
    return value if isinstance(value, str | int | float) else str(value)


def secret(value: Any) -> Any:
    return None if value is None else "sha256:" + hashlib.sha256(str(value).encode()).hexdigest()[:32]


_NORMALS: dict[str, tuple[tuple[str, Normal | None], ...]] = {}
_DEFAULTED: dict[str, frozenset[str]] = {}


def normals(model: type[Any]) -> tuple[tuple[str, Normal | None], ...]:
    """(field, normal form) for each reconciled field of ``model``'s table (None: the value as it is)."""
    found = _NORMALS.get(model.__tablename__)
    if found is None:
        found = _NORMALS[model.__tablename__] = _make_normals(model)
    return found


def _make_normals(model: type[Any]) -> tuple[tuple[str, Normal | None], ...]:
    spec = BY_MODEL[model]
    columns = model.__table__.c
    out: list[tuple[str, Normal | None]] = []
    for name in spec.fields:
        kind = columns[name].type
        normal: Normal | None
        if isinstance(getattr(kind, "impl", kind), DateTime):  # UTCDateTime decorates a DateTime
            normal = _time
        elif isinstance(kind, Date):
            normal = _day
        elif isinstance(kind, Numeric) and kind.scale is not None:
            normal = _money(kind.scale)
        elif isinstance(kind, Boolean):
            normal = _flag
        elif isinstance(kind, JSON):
            normal = None
        elif isinstance(kind, LargeBinary):  # an image: its digest, not a megabyte in every audit row
            normal = _digest
        else:
            normal = _text if kind.python_type is str else None
        out.append((name, normal))
    if isinstance(spec, Entity):
        out += [(name, secret) for name in spec.secrets]
    return tuple(out)


def normal_of(model: type[Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """The reconciled fields of a row (a mapping of column values), in normal form."""
    out = {}
    for name, normal in normals(model):
        value = values.get(name)
        out[name] = value if normal is None else normal(value)
    return out


def state(obj: Any) -> dict[str, Any]:
    """What an entity's audit ``after`` must hold: its reconciled fields, in normal form."""
    values = obj.__dict__  # loaded attributes; a field not loaded yet is read through getattr
    out = {}
    for name, normal in normals(type(obj)):
        value = values[name] if name in values else getattr(obj, name)
        out[name] = value if normal is None else normal(value)
    return out


def entity_of(obj: Any) -> tuple[str, str]:
    """(entity, entity_id) of an entity object."""
    spec = BY_MODEL[type(obj)]
    assert isinstance(spec, Entity), f"{type(obj).__name__} is not an audited entity"
    return spec.name, "/".join(str(getattr(obj, name)) for name in spec.keys)


def complete(spec: Entity, after: Mapping[str, Any]) -> bool:
    """Whether an audit row's ``after`` describes every reconciled field (one written before its table or
    field joined the ledger does not: ``assetgate audit baseline`` describes such records again)."""
    return all(name in after for name, _ in normals(spec.model))


_FIELD_SETS: dict[str, frozenset[str]] = {}


def _field_set(model: type[Any]) -> frozenset[str]:
    found = _FIELD_SETS.get(model.__tablename__)
    if found is None:
        found = _FIELD_SETS[model.__tablename__] = frozenset(BY_MODEL[model].fields)
    return found


def _defaulted(model: type[Any]) -> frozenset[str]:
    found = _DEFAULTED.get(model.__tablename__)
    if found is None:
        mapper: Mapper[Any] = inspect(model)
        found = _DEFAULTED[model.__tablename__] = frozenset(
            c.key for c in mapper.columns if c.default is not None or c.server_default is not None)
    return found


def describe(model: type[Any], row: Any) -> dict[str, Any]:
    """A history row as its audit row describes it (an ORM object or the dict ``bulk`` inserts). A
    field the database would fill in (a column default) must be given: else what is described
    would not be what is stored."""
    if isinstance(row, dict):
        if not row.keys() >= _field_set(model):  # a set comparison in C: nearly always true
            missing = [name for name in BY_MODEL[model].fields if name not in row and name in _defaulted(model)]
            if missing:
                raise ValueError(f"{model.__tablename__} row described without {', '.join(missing)}")
        return normal_of(model, row)
    values = {name: getattr(row, name) for name, _ in normals(model)}
    unset = [name for name, value in values.items() if value is None and name in _defaulted(model)]
    if unset:
        raise ValueError(f"{model.__tablename__} row described before {', '.join(unset)} was set (flush first)")
    return normal_of(model, values)
