"""What the asset page shows beyond the asset's own row: where it came from (purchase and plan
line), what its maintenance has cost so far, and its history a page at a time, newest first,
with late and conflicting events told apart. Reads only; every change is in ``services.assets``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Asset, AssetEvent, AssetStatus, Person, PlanLine, Purchase, PurchaseLine
from server.services.assets import ALLOWED_FROM
from server.services.paging import Page, keyset_page

HISTORY_PAGE = 50


@dataclass(frozen=True)
class Origin:
    """The purchase line an asset was bought on, its purchase and the plan line it spent."""

    line: PurchaseLine
    purchase: Purchase
    plan_line: PlanLine


@dataclass(frozen=True)
class Entry:
    """One line of the history as a person reads it."""

    event: AssetEvent
    flag: str | None  # "late": older than the asset's state, kept in history only; "conflict": see below
    custodian: Person | None


def origin(session: Session, asset: Asset) -> Origin | None:
    if asset.purchase_line_id is None:
        return None
    row = session.execute(
        select(PurchaseLine, Purchase, PlanLine)
        .join(Purchase, PurchaseLine.purchase_id == Purchase.id)
        .join(PlanLine, PurchaseLine.plan_line_id == PlanLine.id)
        .where(PurchaseLine.id == asset.purchase_line_id)).first()
    return Origin(row[0], row[1], row[2]) if row else None


def maintenance_cost(session: Session, asset: Asset) -> Decimal:
    """The costs of its maintenance records so far (each record's ``data.cost``, two decimals)."""
    total = Decimal("0.00")
    query = select(AssetEvent.data).where(AssetEvent.asset_id == asset.id, AssetEvent.type == "asset.maintenance")
    for data in session.scalars(query):
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


def history_page(session: Session, asset: Asset, cursor: str | None = None,
                 limit: int = HISTORY_PAGE) -> Page[Entry]:
    """The asset's history, newest first (by when it happened), ``limit`` entries a page."""
    keys: list[Any] = [AssetEvent.at, AssetEvent.id]
    page = keyset_page(session, select(AssetEvent).where(AssetEvent.asset_id == asset.id), keys, cursor, True, limit)
    wanted = {e.custodian_id for e in page.items if e.custodian_id}
    people = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(wanted)))} if wanted else {}
    return Page([Entry(e, flag(e), people.get(e.custodian_id or 0)) for e in page.items], page.next_cursor)
