"""What the asset page shows beyond the asset's own row: where it came from (purchase and plan
line), what its maintenance has cost so far, and its history a page at a time, newest first,
with late and conflicting events told apart. Reads only; every change is in ``services.assets``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import bindparam, select, tuple_
from sqlalchemy.orm import Session, lazyload

from server.errors import Invalid, NotFound
from server.i18n import N_
from server.models import Asset, AssetEvent, AssetStatus, Person, PlanLine, Purchase, PurchaseLine
from server.services.assets import ALLOWED_FROM, normal_tag
from server.services.paging import Page, decode_cursor, encode_cursor

HISTORY_PAGE = 50


@dataclass(frozen=True)
class Origin:
    """The purchase line an asset was bought on, its purchase and the plan line it spent."""

    line: PurchaseLine
    purchase: Purchase
    plan_line: PlanLine


class Details(dict[str, Any]):
    """An event's ``data`` as the page reads it: a key it lacks reads as None. (Jinja looks a name up
    as an attribute, then as a key; on a plain dict a missing one cost two caught exceptions.)"""

    def __getattr__(self, name: str) -> Any:
        return self.get(name)


@dataclass(frozen=True)
class Entry:
    """One line of the history as a person reads it."""

    event: AssetEvent
    flag: str | None  # "late": older than the asset's state, kept in history only; "conflict": see below
    custodian: Person | None
    details: Details  # the event's data
    recorded_late: bool  # recorded more than five minutes after it happened (a kiosk that was offline)


def entry(event: AssetEvent, custodian: Person | None) -> Entry:
    late = event.recorded_at is not None and (event.recorded_at - event.at).total_seconds() > 300
    return Entry(event, flag(event), custodian, Details(event.data or {}), late)


# The asset page's statements are made once, their values bound at each call: SQLAlchemy then
# neither builds them nor works out their cache key again (that took half of each query's CPU).
_ASSET_AND_ORIGIN = (
    select(Asset, PurchaseLine, Purchase, PlanLine)
    .outerjoin(PurchaseLine, PurchaseLine.id == Asset.purchase_line_id)
    .outerjoin(Purchase, Purchase.id == PurchaseLine.purchase_id)
    .outerjoin(PlanLine, PlanLine.id == PurchaseLine.plan_line_id)
    .where(Asset.code == bindparam("code"))
    .options(lazyload(PurchaseLine.plan_line), lazyload(PurchaseLine.category)))  # joined above


def asset_and_origin(session: Session, code: str) -> tuple[Asset, Origin | None]:
    """The asset (with its category, place and custodian) and where it came from, in one query:
    the asset page's; ``NotFound`` as ``assets.asset_by_code``."""
    normal = normal_tag(code)
    row = session.execute(_ASSET_AND_ORIGIN, {"code": normal}).first()
    if row is None:
        raise NotFound(N_("unknown asset %(asset)s"), asset=normal)
    asset, line, purchase, plan_line = row
    return asset, Origin(line, purchase, plan_line) if line is not None and purchase and plan_line else None


def origin(session: Session, asset: Asset) -> Origin | None:
    if asset.purchase_line_id is None:
        return None
    row = session.execute(
        select(PurchaseLine, Purchase, PlanLine)
        .join(Purchase, PurchaseLine.purchase_id == Purchase.id)
        .join(PlanLine, PurchaseLine.plan_line_id == PlanLine.id)
        .where(PurchaseLine.id == asset.purchase_line_id)
        .options(lazyload(PurchaseLine.plan_line), lazyload(PurchaseLine.category))).first()  # joined above
    return Origin(row[0], row[1], row[2]) if row else None


def maintenance_cost(session: Session, asset: Asset, history: Page[Entry] | None = None) -> Decimal:
    """The costs of its maintenance records so far (each record's ``data.cost``, two decimals).
    Given the first page of history and it is the whole history, summed from it without a query."""
    if history is not None and history.next_cursor is None:
        found = [e.event.data for e in history.items if e.event.type == "asset.maintenance"]
    else:
        found = list(session.scalars(select(AssetEvent.data).where(AssetEvent.asset_id == asset.id,
                                                                   AssetEvent.type == "asset.maintenance")))
    total = Decimal("0.00")
    for data in found:
        try:
            total += Decimal(str(data.get("cost") or "0"))
        except InvalidOperation:
            continue  # a hand-edited record: shown in the history, not summed
    return total


def flag(event: AssetEvent) -> str | None:
    """Why an event did not change the asset: "conflict" when the status it met forbade it (a kiosk
    did it offline, before the server learned what forbids it), "late" when it was simply older
    than the asset's state (see ``assets._apply``); None for an applied event."""
    if event.applied:
        return None
    verb = event.type.split(".", 1)[-1]
    allowed = ALLOWED_FROM.get(verb)
    if allowed is not None and event.from_status in {s.value for s in AssetStatus} \
            and AssetStatus(event.from_status) not in allowed:
        return "conflict"
    return "late"


_HISTORY = (select(AssetEvent, Person).outerjoin(Person, Person.id == AssetEvent.custodian_id)
            .where(AssetEvent.asset_id == bindparam("asset_id"))
            .order_by(AssetEvent.at.desc(), AssetEvent.id.desc()).limit(bindparam("limit")))
_HISTORY_AFTER = _HISTORY.where(tuple_(AssetEvent.at, AssetEvent.id) < tuple_(
    bindparam("at", type_=AssetEvent.at.type), bindparam("id", type_=AssetEvent.id.type)))


def history_page(session: Session, asset: Asset, cursor: str | None = None, limit: int | None = None) -> Page[Entry]:
    """The asset's history, newest first (by when it happened), ``limit`` entries a page, each with
    the person it was handed to (one query: every query costs on a busy server)."""
    limit = limit or HISTORY_PAGE
    after = decode_cursor(cursor, 2)
    values: dict[str, Any] = {"asset_id": asset.id, "limit": limit + 1}
    if after is not None:
        at, event_id = after
        if not isinstance(at, datetime) or at.tzinfo is None or type(event_id) is not int:
            raise Invalid(N_("the page cursor is not valid; start from the first page"))  # forged: not ours
        values.update(at=at, id=event_id)
    rows = session.execute(_HISTORY if after is None else _HISTORY_AFTER, values).all()
    more = len(rows) > limit
    entries = [entry(event, person) for event, person in rows[:limit]]
    last = entries[-1].event if more else None
    return Page(entries, encode_cursor((last.at, last.id)) if last is not None else None)
