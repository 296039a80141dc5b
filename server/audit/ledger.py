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

from sqlalchemy import JSON, Boolean, Date, DateTime, Numeric, inspect
from sqlalchemy.orm import Mapper

from server import models as m

Normal = Callable[[Any], Any]


@dataclass(frozen=True)
class Entity:
    model: type[Any]
    name: str  # the audit rows' ``entity``
    key: str  # the column whose text is their ``entity_id``
    fields: tuple[str, ...]
    secrets: tuple[str, ...] = ()  # compared as a SHA-256 of the value, never shown

    @property
    def table(self) -> str:
        return str(self.model.__tablename__)


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
)

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
    return spec.name, str(getattr(obj, spec.key))


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
