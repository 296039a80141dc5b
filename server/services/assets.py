"""Assets and their life cycle. The one place where an asset changes status or place.

Every change is an AssetEvent (who, when, where, why) plus an audit row. Changes
are applied by their own time ``at``: one older than the asset's current state
(a kiosk that was offline) goes into the history without rolling the state back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from contract import codes
from server import audit, names, params
from server.audit import Actor
from server.errors import AlreadyExists, IllegalTransition, Invalid, NotFound, RuleViolation, Term
from server.i18n import N_
from server.models import ArchiveVolume, Asset, AssetEvent, AssetStatus, Location, Person, utcnow
from server.services import bulk, directory, lookup
from server.services import codes as code_service

S = AssetStatus

ALIVE = frozenset({S.IN_STORAGE, S.IN_USE, S.UNDER_REPAIR})
# Which statuses each action may start from. Disposal is final: nothing leaves it.
# (The actions beyond move/checkout/checkin are in ``services.lifecycle``; all go through ``_apply``.)
ALLOWED_FROM: dict[str, frozenset[AssetStatus]] = {
    "move": frozenset({S.IN_STORAGE, S.IN_USE}),
    "checkout": frozenset({S.IN_STORAGE, S.IN_USE}),
    "checkin": frozenset({S.IN_USE}),
    "repair": frozenset({S.IN_STORAGE, S.IN_USE}),  # -> under_repair
    "repaired": frozenset({S.UNDER_REPAIR}),  # back from repair -> in_storage
    "dispose": ALIVE,  # -> disposed, for good
    "transfer": ALIVE,  # to another department
    "custodian": ALIVE,  # who answers for it
    "maintenance": ALIVE,  # a record only: no change of status or place
}

# An archive volume or file is lent and returned only against an approved loan request, and destroyed
# only through an approved destruction list (services.archive_loans, archive_destruction): these
# actions refuse one unless that service makes the change (``Change.archive``). Recording a missing
# volume as lost (a stocktake's resolution) stays possible.
ARCHIVE_ONLY: dict[str, tuple[str, str]] = {
    "asset.checkout": ("no_loan_request", N_("%(asset)s is an archive volume: it is lent only against an approved "
                                             "loan request, on the archive's pages or at a kiosk")),
    "asset.checkin": ("archive_volume", N_("%(asset)s is an archive volume: its return is recorded on the "
                                           "archive's pages or at a kiosk")),
    "asset.dispose": ("archive_volume", N_("%(asset)s is an archive volume: it is destroyed only through an "
                                           "approved destruction list")),
}


@dataclass(frozen=True)
class KioskOrigin:
    """Set when a change comes from a kiosk event: ties history to the event."""

    kiosk: str
    seq: int
    event_id: str


@dataclass(frozen=True)
class Change:
    """What one action does to an asset; ``None`` fields stay as they are."""

    type: str
    status: AssetStatus | None = None
    location: Location | None = None
    custodian: Person | None = None
    clear_custodian: bool = False
    clear_location: bool = False
    department: str | None = None
    due_at: datetime | None = None
    clear_due: bool = False
    archive: bool = False  # made by the archive's services (see ARCHIVE_ONLY)


@dataclass(frozen=True)
class Outcome:
    asset: Asset
    to_location: Location | None
    applied: bool  # False: recorded in history only (older than the current state)
    conflict: bool = False  # illegal now, but made offline before the state that forbids it


def create_asset(
    session: Session,
    actor: Actor,
    name: str,
    category: str,
    location_code: str | None = None,
    serial: str | None = None,
    price: Decimal | None = None,
    acquired_on: date | None = None,
    department: str = "",
    purchase_line_id: int | None = None,
    code: str | None = None,
) -> Asset:
    cat = directory.category_by_name(session, category)
    location = directory.location_by_code(session, location_code) if location_code else None
    serial = (serial or "").strip() or None
    if serial and session.scalars(select(Asset.id).where(Asset.serial == serial)).first():
        raise AlreadyExists(N_("an asset with the serial number %(serial)s exists already"), serial=serial)
    if price is not None and price < 0:
        raise Invalid(N_("the price must not be negative"))
    code = code or code_service.issue(session, codes.Kind.ASSET)[0]
    now = utcnow()
    asset = Asset(code=code, name=name.strip()[:200] or cat.name, category=cat, serial=serial,
                  status=S.IN_STORAGE.value, location=location, department=department[:100],
                  purchase_line_id=purchase_line_id, price=price, acquired_on=acquired_on,
                  state_at=now, created_at=now, updated_at=now)
    session.add(asset)
    session.flush()
    event = {"asset_id": asset.id, "type": "asset.create", "at": now, "recorded_at": now, "actor": actor.name,
             "source": actor.source, "to_status": asset.status, "to_location_id": location.id if location else None,
             "reason": "", "applied": True, "data": {}}
    audit.change(session, actor, "asset.create", asset, inserted=[(AssetEvent, event)])
    bulk.persist(session, AssetEvent, event)
    return asset


def asset_by_code(session: Session, code: str) -> Asset:
    """The asset, to read. To change it, use ``asset_for_change``."""
    normal = normal_tag(code)
    asset = lookup.cached(session, "asset", normal) or session.scalars(
        select(Asset).where(Asset.code == normal)).first()
    if asset is None:
        raise NotFound(N_("unknown asset %(asset)s"), asset=normal)
    return asset


def asset_for_change(session: Session, code: str) -> Asset:
    """The asset, locked until the transaction ends and read after the lock: a change made at the
    same time by someone else is either committed and seen here, or waits for this one. Without
    it PostgreSQL (READ COMMITTED) let a check-out decide on the state from before a disposal
    that committed meanwhile, and bring the disposed asset back into use. (SQLite's IMMEDIATE
    transactions run one at a time already.) A consumer batch has locked its assets before
    it prefetched them (``ingest.lock_rows``)."""
    normal = normal_tag(code)
    asset = lookup.cached(session, "asset", normal)
    if asset is None:
        # Lock, then read in a statement of its own. One statement that waits for the lock
        # while joining the location would pair the asset's new row with the location row
        # from before the wait (PostgreSQL re-reads only the locked row): a moved asset with
        # no location.
        session.execute(select(Asset.id).where(Asset.code == normal).with_for_update())
        asset = session.scalars(select(Asset).where(Asset.code == normal)
                                # Read again what an unlocked read may have loaded before; but never
                                # over a bulk block's newer state, which only the block's end writes.
                                .execution_options(populate_existing=not bulk.active(session))).first()
    if asset is None:
        raise NotFound(N_("unknown asset %(asset)s"), asset=normal)
    return asset


# Why a text is not an asset code, by the reason ``contract.codes`` gives.
CODE_ERRORS = {
    "bad_code": N_("%(text)s is not an AssetGate code"),
    "bad_check": N_("the check symbol of %(text)s is wrong: a character was misread or mistyped"),
    "wrong_kind": N_("%(text)s is not an asset code"),
}


def normal_tag(code: str) -> str:
    """An asset code in its one written form (a scanned URL or lower case accepted); ``Invalid`` if misread."""
    try:
        return codes.normalize(code, codes.Kind.ASSET)
    except codes.CodeError as exc:
        raise Invalid(CODE_ERRORS.get(exc.reason, CODE_ERRORS["bad_code"]), code=exc.reason,
                      text=code.strip()[:64]) from None


def history(session: Session, code: str) -> list[AssetEvent]:
    """An asset's history by when things happened (kiosk and seq break ties), never by arrival."""
    asset = asset_by_code(session, code)
    query = (select(AssetEvent).where(AssetEvent.asset_id == asset.id)
             .order_by(AssetEvent.at, AssetEvent.kiosk, AssetEvent.seq, AssetEvent.id))
    return list(session.scalars(query).unique())


def move(session: Session, actor: Actor, tag: str, to_code: str, at: datetime | None = None,
         reason: str = "", origin: KioskOrigin | None = None) -> Outcome:
    location = directory.location_by_code(session, to_code)
    # A storeroom (or a shelf/bin in one) holds stock; anywhere else the asset is in use.
    status = S.IN_STORAGE if location.kind in {"storeroom", "shelf", "bin"} else S.IN_USE
    # Back into stock is back from whoever held it: nobody answers for an asset on a shelf.
    stored = status == S.IN_STORAGE
    change = Change("asset.move", status, location, clear_custodian=stored, clear_due=stored)
    return _apply(session, actor, asset_for_change(session, tag), change, at, reason, origin)


def due_time(due: date | None) -> datetime | None:
    """A due date means "back by the end of that day" (UTC); a due time is taken as given."""
    if due is None:
        return None
    if not params.MIN_YEAR <= due.year <= params.MAX_YEAR:  # 9999-12-31 plus a day overflowed: a 500
        raise Invalid(N_("the due date %(due)s is outside the years %(low)s to %(high)s"), code="bad_due",
                      due=due.isoformat(), low=params.MIN_YEAR, high=params.MAX_YEAR)
    if isinstance(due, datetime):
        return due if due.tzinfo else due.replace(tzinfo=UTC)
    return datetime.combine(due + timedelta(days=1), time.min, UTC)


def checkout(session: Session, actor: Actor, tag: str, person_code: str, due: date | None = None,
             at: datetime | None = None, reason: str = "", origin: KioskOrigin | None = None, *,
             purpose: str = "", approval_ref: str = "", volume_loan: bool = False) -> Outcome:
    person = directory.person_by_code(session, person_code)
    asset = asset_for_change(session, tag)
    purpose, approval_ref = purpose.strip()[:500], approval_ref.strip()[:100]
    if asset.category.controlled and not (purpose and approval_ref and due):
        lacking = [n for n, v in ((N_("a purpose"), purpose), (N_("an approval reference"), approval_ref),
                                  (N_("a due time"), due)) if not v]
        raise RuleViolation(N_("%(asset)s is a controlled item (%(category)s): its check-out needs %(missing)s"),
                            code="approval_required", asset=asset.code, category=asset.category.name,
                            missing=Term(", ".join(lacking), *lacking))
    data: dict[str, Any] = {"due": due.isoformat()} if due else {}
    if purpose:
        data["purpose"] = purpose
    if approval_ref:
        data["approval_ref"] = approval_ref
    change = Change("asset.checkout", S.IN_USE, custodian=person, due_at=due_time(due), clear_due=True,
                    archive=volume_loan)
    return _apply(session, actor, asset, change, at, reason, origin, data)


def checkin(session: Session, actor: Actor, tag: str, location_code: str | None = None,
            at: datetime | None = None, reason: str = "", origin: KioskOrigin | None = None, *,
            volume_loan: bool = False) -> Outcome:
    location = directory.location_by_code(session, location_code) if location_code else None
    change = Change("asset.checkin", S.IN_STORAGE, location, clear_custodian=True, clear_due=True,
                    archive=volume_loan)
    return _apply(session, actor, asset_for_change(session, tag), change, at, reason, origin)


def _apply(session: Session, actor: Actor, asset: Asset, change: Change, at: datetime | None,
           reason: str, origin: KioskOrigin | None, data: dict[str, Any] | None = None) -> Outcome:
    guarded = ARCHIVE_ONLY.get(change.type)
    if (guarded and not change.archive and (data or {}).get("disposal_reason") != "lost"
            and lookup.is_volume(session, asset.id) is not False and session.get(ArchiveVolume, asset.id)):
        raise RuleViolation(guarded[1], code=guarded[0], asset=asset.code)
    at = at or utcnow()
    late = asset.state_at is not None and at < asset.state_at
    verb = change.type.split(".", 1)[1]
    allowed = AssetStatus(asset.status) in ALLOWED_FROM.get(verb, frozenset())
    conflict = False
    if not allowed:
        if not (origin and late):
            raise IllegalTransition(N_("%(asset)s is %(status)s: cannot %(action)s"), asset=asset.code,
                                    status=Term(asset.status, names.STATUSES.get(asset.status, asset.status)),
                                    action=Term(verb, names.ACTIONS.get(verb, verb)))
        conflict = True  # made offline before the server learned what forbids it
    apply_now = allowed and not late
    before = audit.state(asset)
    to_location = change.location or (None if change.clear_location else asset.location)
    event = {
        "asset_id": asset.id, "type": change.type, "at": at, "recorded_at": utcnow(), "actor": actor.name,
        "source": actor.source, "kiosk": origin.kiosk if origin else None, "seq": origin.seq if origin else None,
        "kiosk_event_id": origin.event_id if origin else None, "from_status": asset.status,
        "to_status": change.status.value if change.status else asset.status,
        "from_location_id": asset.location_id, "to_location_id": to_location.id if to_location else None,
        "custodian_id": change.custodian.id if change.custodian else None,
        "reason": reason[:1000], "applied": apply_now, "data": data or {},
    }
    if apply_now:
        # Foreign keys set with their relationships: the audit row reads the ids.
        state: dict[str, Any] = {"state_at": at, "updated_at": utcnow()}
        if change.status:
            state["status"] = change.status.value
        if change.location:
            state.update(location=change.location, location_id=change.location.id)
        if change.custodian:
            state.update(custodian=change.custodian, custodian_id=change.custodian.id)
        elif change.clear_custodian:
            state.update(custodian=None, custodian_id=None)
        if change.clear_location:
            state.update(location=None, location_id=None)
        if change.department is not None:
            state["department"] = change.department
        if change.due_at is not None or change.clear_due:
            state["due_at"] = change.due_at
        bulk.set_state(session, asset, state)
    action = change.type if apply_now else f"{change.type}.{'conflict' if conflict else 'late'}"
    audit.change(session, actor, action, asset, before, inserted=[(AssetEvent, event)])
    bulk.persist(session, AssetEvent, event)  # after the audit row: it carries that row's hash
    return Outcome(asset, to_location, apply_now, conflict)
