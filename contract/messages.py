"""Payloads of the kiosk <-> server contract (PROTOCOL.md sections 3 and 4).

Both sides import these models: the kiosk builds events with them, the server
validates incoming bytes with ``decode_event`` and answers with ``Ack``. Reasons
are stable codes; a new reason may be added, an existing one never renamed.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from contract import codes, normalize
from contract.topics import KIOSK_ID

VERSION: Literal[1] = 1
MAX_EVENT_BYTES = 16 * 1024


class Reason(StrEnum):
    BAD_JSON = "bad_json"
    TOO_LARGE = "too_large"
    BAD_SCHEMA = "bad_schema"
    UNKNOWN_TYPE = "unknown_type"
    BAD_VERSION = "bad_version"
    BAD_CODE = "bad_code"
    BAD_CHECK = "bad_check"
    WRONG_KIND = "wrong_kind"
    KIOSK_MISMATCH = "kiosk_mismatch"
    UNKNOWN_KIOSK = "unknown_kiosk"
    UNKNOWN_CODE = "unknown_code"
    ILLEGAL_TRANSITION = "illegal_transition"
    APPROVAL_REQUIRED = "approval_required"  # a controlled item needs purpose and approval ref
    NO_EXIT_PERMIT = "no_exit_permit"
    INSUFFICIENT_STOCK = "insufficient_stock"
    NO_TAKEOUT_APPROVAL = "no_takeout_approval"  # a seal leaves the office only on an approved take-out
    ON_WATCHLIST = "on_watchlist"
    # Archives (issue 14): a volume is lent only against an approved loan request, and only from its shelf.
    NO_LOAN_REQUEST = "no_loan_request"
    VOLUME_ON_LOAN = "volume_on_loan"
    # The gate (issue 12): why a visitor pass or a plate was refused.
    ALREADY_ON_SITE = "already_on_site"
    NOT_ON_SITE = "not_on_site"
    PASS_EXPIRED = "pass_expired"
    PASS_REVOKED = "pass_revoked"
    PASS_NOT_YET_VALID = "pass_not_yet_valid"
    PASS_NOT_APPROVED = "pass_not_approved"
    BAD_PLATE = "bad_plate"
    # Official vehicles (issue 14): an official vehicle left without an approved dispatch, an odometer
    # reading lower than one the trip log already holds, a scanned key tag of another vehicle than the plate.
    NO_DISPATCH = "no_dispatch"
    BAD_ODOMETER = "bad_odometer"
    PLATE_MISMATCH = "plate_mismatch"
    NOT_SUPPORTED = "not_supported"
    INTERNAL = "internal_error"


# Rejections that say more about the server than about the event (PROTOCOL.md section 4): the
# server does not know the kiosk (wrong server, not enrolled yet) or could not store it. The
# kiosk keeps such an event and sends it again after its next reconnect or config change.
NOT_FINAL: frozenset[str] = frozenset({Reason.UNKNOWN_KIOSK, Reason.INTERNAL})


def is_final(status: str, reason: str | None) -> bool:
    """Whether an ack with this status and reason releases the event from the kiosk's outbox."""
    return not (status == "rejected" and reason in NOT_FINAL)


class ContractError(ValueError):
    """Bytes or a message that the contract does not allow; ``reason`` goes into the ack."""

    def __init__(self, reason: Reason | str, message: str, event_id: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.event_id = event_id


def _code_check(kind: codes.Kind) -> Any:
    def check(value: str) -> str:
        try:
            return codes.normalize(value, kind)
        except codes.CodeError as exc:
            raise PydanticCustomError(exc.reason, str(exc)) from None

    return AfterValidator(check)


AssetTag = Annotated[str, _code_check(codes.Kind.ASSET)]
LocationCode = Annotated[str, _code_check(codes.Kind.LOCATION)]
SupplyCode = Annotated[str, _code_check(codes.Kind.SUPPLY)]
PersonCode = Annotated[str, _code_check(codes.Kind.PERSON)]
PassCode = Annotated[str, _code_check(codes.Kind.VISITOR)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AssetCheckout(_Strict):
    tag: AssetTag
    to: PersonCode
    due: date | None = None


class AssetCheckin(_Strict):
    tag: AssetTag
    location: LocationCode | None = None


class AssetMove(_Strict):
    tag: AssetTag
    to: LocationCode


class AssetExit(_Strict):
    tag: AssetTag


class VisitorSignin(_Strict):
    pass_: PassCode = Field(alias="pass")
    name: ShortText
    organisation: Annotated[str, Field(max_length=200)] = ""
    host: PersonCode
    purpose: Annotated[str, Field(max_length=200)] = ""
    id_last4: Annotated[str, Field(pattern=r"^[0-9A-Za-z]{4}$")] | None = None
    plate: Annotated[str, Field(max_length=16)] | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class VisitorSignout(_Strict):
    pass_: PassCode = Field(alias="pass")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SupplyPickup(_Strict):
    item: SupplyCode
    qty: Annotated[int, Field(ge=1, le=100_000)]
    taker: PersonCode
    purpose: Annotated[str, Field(max_length=200)] | None = None


def _plate(value: str) -> str:
    try:
        return normalize.plate(value)
    except normalize.NormalizeError as exc:
        raise PydanticCustomError(exc.reason, str(exc)) from None


# As typed (separators and full-width characters allowed), stored in its normal form (PROTOCOL.md section 3).
Plate = Annotated[str, Field(min_length=1, max_length=32), AfterValidator(_plate)]
ODOMETER_MAX = 9_999_999  # km: seven digits, what a vehicle's odometer shows


class _VehicleAtGate(_Strict):
    plate: Plate
    tag: AssetTag | None = None
    pass_: PassCode | None = Field(None, alias="pass")
    odometer: Annotated[int, Field(ge=0, le=ODOMETER_MAX)] | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class VehicleOut(_VehicleAtGate):
    """A vehicle leaves through the gate; an official vehicle (``tag``) needs an approved dispatch."""


class VehicleIn(_VehicleAtGate):
    """A vehicle enters through the gate."""


class StocktakeScan(_Strict):
    session: Annotated[str, Field(min_length=1, max_length=64)]
    tag: AssetTag
    location: LocationCode


EVENT_DATA: dict[str, type[_Strict]] = {
    "asset.checkout": AssetCheckout,
    "asset.checkin": AssetCheckin,
    "asset.move": AssetMove,
    "asset.exit": AssetExit,
    "visitor.signin": VisitorSignin,
    "visitor.signout": VisitorSignout,
    "supply.pickup": SupplyPickup,
    "stocktake.scan": StocktakeScan,
    "vehicle.out": VehicleOut,
    "vehicle.in": VehicleIn,
}
EventType = Literal[
    "asset.checkout",
    "asset.checkin",
    "asset.move",
    "asset.exit",
    "visitor.signin",
    "visitor.signout",
    "supply.pickup",
    "stocktake.scan",
    "vehicle.out",
    "vehicle.in",
]


# RFC 3339 date-time (section 5.6): seconds required, offset required, "T"/"Z" in either case.
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339_time(value: Any) -> Any:
    # pydantic alone would also take "1700000000", "+0800" or a time without seconds; the
    # contract says RFC 3339. A datetime object (built in Python, as the kiosk does) passes;
    # anything else that is not text is left for strict mode to refuse.
    if not isinstance(value, str):
        return value
    if not RFC3339.match(value):
        raise PydanticCustomError("rfc3339", "must be an RFC 3339 time with seconds and an offset")
    try:
        return datetime.fromisoformat(value.upper())
    except ValueError as exc:  # the right shape, but no such day or offset
        raise PydanticCustomError("rfc3339", "not a valid time: {error}", {"error": str(exc)}) from None


KioskTime = Annotated[AwareDatetime, BeforeValidator(_rfc3339_time)]


class Event(_Strict):
    # Strict: a JSON "12" or 12.0 is not a seq, 1 or "true" not a boolean, a number not a time.
    # JSON has no UUID or time type, so from JSON those two come as text, which strict mode
    # allows; in Python (the kiosk building its events) they must be UUID and datetime.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    v: Literal[1] = VERSION
    id: UUID
    kiosk: Annotated[str, Field(pattern=KIOSK_ID.pattern)]
    seq: Annotated[int, Field(ge=0, le=2**62)]
    boot: Annotated[str, Field(min_length=1, max_length=64)]
    at: KioskTime
    synced: bool
    type: EventType
    actor: PersonCode | None = None
    data: dict[str, Any]

    def payload(self) -> _Strict:
        """The typed ``data`` of this event (validated by ``decode_event``)."""
        return EVENT_DATA[self.type].model_validate(self.data)

    def to_bytes(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()


class Display(_Strict):
    level: Literal["ok", "warn", "error"]
    title: Annotated[str, Field(max_length=120)]
    detail: Annotated[str, Field(max_length=500)] = ""


class Ack(_Strict):
    v: Literal[1] = VERSION
    id: str | None  # None only when the event was too broken to carry an id
    status: Literal["accepted", "duplicate", "rejected"]
    reason: str | None = None
    display: Display

    @property
    def final(self) -> bool:
        return is_final(self.status, self.reason)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


class KioskStatus(BaseModel):
    # Tolerant on purpose: a newer kiosk may report more than this server knows.
    model_config = ConfigDict(extra="allow")
    state: Literal["online", "offline"]
    mode: str | None = None
    version: str | None = None
    outbox: int | None = None
    outbox_oldest_s: float | None = None
    held: int | None = None  # events kept after a rejection that is not final
    held_reason: str | None = None  # the reason of the newest such rejection
    at: datetime | None = None


class ServerStatus(BaseModel):
    model_config = ConfigDict(extra="allow")
    state: Literal["online", "offline"]
    at: datetime | None = None


class KioskConfig(BaseModel):
    model_config = ConfigDict(extra="allow")
    v: int = VERSION
    kiosk: str
    mode: Literal["gate", "storeroom"]
    location: str | None = None
    display_names: dict[str, str] = Field(default_factory=dict)
    revoked_passes: list[str] = Field(default_factory=list)
    watchlist_digest: str | None = None
    # Gate kiosks (all optional, so an older kiosk or server simply leaves them out):
    # pre-registered passes valid today -> their visitor.signin data without "pass";
    expected_visitors: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # who the server knows to be on site (pass, name, organisation, host, plate, since), for a roll call offline;
    on_site: list[dict[str, Any]] = Field(default_factory=list)
    # the watchlist as contract.normalize.watch_hash values under this salt: never names or plates.
    watchlist_salt: str | None = None
    watchlist: list[str] = Field(default_factory=list)
    # official vehicles: A- tag -> plate (a scanned key tag fills in the plate, a typed plate finds the tag);
    vehicles: dict[str, str] = Field(default_factory=dict)
    # their approved dispatches of the next day: A- tag -> [[start, end], ...] (RFC 3339), so an offline gate
    # can tell the guard whether a dispatch covers now (the server's verdict stays the one that counts).
    dispatches: dict[str, list[list[str]]] = Field(default_factory=dict)


_CODE_REASONS = {"bad_check": Reason.BAD_CHECK, "bad_code": Reason.BAD_CODE, "wrong_kind": Reason.WRONG_KIND,
                 "bad_plate": Reason.BAD_PLATE}


def _reason_of(error: ValidationError) -> Reason:
    for item in error.errors():
        if item["type"] in _CODE_REASONS:
            return _CODE_REASONS[item["type"]]
    return Reason.BAD_SCHEMA


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:3]:
        where = ".".join(str(p) for p in item["loc"]) or "(root)"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def decode_event(payload: bytes, topic_kiosk: str | None = None) -> tuple[Event, _Strict]:
    """Bytes from an events topic -> (event, typed data), or ContractError with a reason.

    The envelope is validated in pydantic's strict JSON mode, in one pass over the bytes;
    only a refused message is parsed a second time, to name the reason and the event id
    (kept on the error whenever it could be read, so that the rejected ack can name the
    event the kiosk is waiting on).
    """
    if len(payload) > MAX_EVENT_BYTES:
        raise ContractError(Reason.TOO_LARGE, f"event of {len(payload)} bytes is over {MAX_EVENT_BYTES}")
    try:
        event = Event.model_validate_json(payload)
    except ValidationError as exc:
        raise _refusal(payload, exc) from None
    try:
        data = event.payload()
    except ValidationError as exc:
        raise ContractError(_reason_of(exc), _describe(exc), str(event.id)) from None
    if topic_kiosk is not None and event.kiosk != topic_kiosk:
        raise ContractError(
            Reason.KIOSK_MISMATCH, f"event says kiosk {event.kiosk!r} but came on {topic_kiosk!r}'s topic",
            str(event.id),
        )
    return event, data


def _refusal(payload: bytes, error: ValidationError) -> ContractError:
    """Why an envelope was refused, checked in the contract's order: bytes, version, type, schema."""
    try:
        raw = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return ContractError(Reason.BAD_JSON, f"not UTF-8 JSON: {exc}")
    if not isinstance(raw, dict):
        return ContractError(Reason.BAD_JSON, "event must be a JSON object")
    event_id = raw.get("id") if isinstance(raw.get("id"), str) and len(raw["id"]) <= 64 else None
    if raw.get("v") != VERSION:
        return ContractError(Reason.BAD_VERSION, f"unsupported contract version {raw.get('v')!r}", event_id)
    if "type" in raw and raw["type"] not in EVENT_DATA:
        return ContractError(Reason.UNKNOWN_TYPE, f"unknown event type {str(raw['type'])[:40]!r}", event_id)
    return ContractError(_reason_of(error), _describe(error), event_id)


def display_for(status: str, reason: str | None, detail: str = "") -> Display:
    """A default screen text for an ack; the server may give a better one."""
    if status == "accepted":
        return Display(level="ok", title="Saved", detail=detail)
    if status == "duplicate":
        return Display(level="ok", title="Already saved", detail=detail)
    if reason in NOT_FINAL:  # the kiosk keeps the event: say so, it is not refused for good
        return Display(level="warn", title=f"Not stored yet: {(reason or '').replace('_', ' ')}",
                       detail=(detail or "kept on the kiosk, sent again after reconnecting")[:500])
    return Display(level="error", title=f"Refused: {(reason or 'error').replace('_', ' ')}", detail=detail[:500])
