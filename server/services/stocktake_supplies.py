"""The supply count of a stocktake: counted quantities per item, compared with the ledger.

A count stores what was on the shelf and what the ledger said at that moment (read under the item's
row lock, so no movement slips between the two). A recount is a new row and the newest counts. When
the stocktake closes, each difference becomes one ``stocktake`` movement through the ledger's one
write path (``supplies.record_movement``), audited, with the stocktake as its reason. Movements made
after the count (a pickup during the stocktake) are real and stay: the difference is the count's,
not the stock's at closing. An item is counted in one open stocktake at a time, so two stocktakes
cannot correct the same shortfall twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server import audit
from server.audit import Actor
from server.errors import AlreadyExists, IllegalTransition, Invalid
from server.i18n import N_
from server.models import MovementKind, Stocktake, StocktakeSupplyCount, SupplyItem, SupplyMovement
from server.services import supplies

MAX_COUNT = 1_000_000


@dataclass(frozen=True)
class SupplyLine:
    code: str
    name: str
    unit: str
    counted: int
    expected: int  # the ledger's stock when counted
    at: datetime
    actor: str

    @property
    def difference(self) -> int:
        return self.counted - self.expected


def count(session: Session, actor: Actor, stocktake: Stocktake, item_code: str, counted: int) -> SupplyLine:
    """Record what is on the shelf of one item, beside what the ledger says now."""
    if stocktake.state != "open":
        raise IllegalTransition(N_("stocktake %(id)s is closed"), code="stocktake_closed", id=stocktake.id)
    if not 0 <= counted <= MAX_COUNT:
        raise Invalid(N_("the counted quantity must be between 0 and 1000000"), code="bad_quantity")
    item = supplies.item_by_code(session, item_code, lock=True)
    elsewhere = session.scalar(
        select(StocktakeSupplyCount.stocktake_id).join(Stocktake, Stocktake.id == StocktakeSupplyCount.stocktake_id)
        .where(StocktakeSupplyCount.item_id == item.id, Stocktake.state == "open",
               Stocktake.id != stocktake.id).limit(1))
    if elsewhere is not None:
        raise AlreadyExists(N_("%(item)s is being counted in stocktake %(id)s"), code="counted_elsewhere",
                            item=item.name, id=elsewhere)
    row = StocktakeSupplyCount(stocktake_id=stocktake.id, item_id=item.id, counted=counted,
                               expected=supplies.stock(session, item.id), actor=actor.name, source=actor.source)
    session.add(row)
    session.flush()
    audit.record(session, actor, "stocktake.supply_count", "stocktake_supply_count", row.id, None,
                 {"stocktake": stocktake.id, "item": item.code, "counted": counted, "expected": row.expected},
                 inserted=[row])
    return _line(row, item)


def _line(row: StocktakeSupplyCount, item: SupplyItem) -> SupplyLine:
    return SupplyLine(item.code, item.name, item.unit, row.counted, row.expected, row.at, row.actor)


def lines(session: Session, stocktake: Stocktake) -> list[SupplyLine]:
    """Each counted item's newest count, by code; a closed stocktake's as kept at closing."""
    if stocktake.summary is not None and "supplies" in stocktake.summary:
        return [SupplyLine(c, n, u, counted, expected, datetime.fromisoformat(at), who)
                for c, n, u, counted, expected, at, who in stocktake.summary["supplies"]]
    newest = (select(func.max(StocktakeSupplyCount.id)).where(StocktakeSupplyCount.stocktake_id == stocktake.id)
              .group_by(StocktakeSupplyCount.item_id))
    rows = session.execute(select(StocktakeSupplyCount, SupplyItem)
                           .join(SupplyItem, SupplyItem.id == StocktakeSupplyCount.item_id)
                           .where(StocktakeSupplyCount.id.in_(newest)).order_by(SupplyItem.code)).unique()
    return [_line(row, item) for row, item in rows]


def apply(session: Session, actor: Actor, stocktake: Stocktake) -> list[list[object]]:
    """At closing: each difference becomes a ``stocktake`` movement; returns the lines to keep in the report."""
    kept: list[list[object]] = []
    for line in lines(session, stocktake):
        if line.difference:
            item = supplies.item_by_code(session, line.code, lock=True)
            supplies.record_movement(session, actor, item, MovementKind.STOCKTAKE, line.difference,
                                     purpose=f"stocktake {stocktake.id}", stocktake_id=stocktake.id)
        kept.append([line.code, line.name, line.unit, line.counted, line.expected, line.at.isoformat(), line.actor])
    return kept


def differences(session: Session, stocktake_id: int) -> list[SupplyMovement]:
    """The ledger lines a closed stocktake made."""
    return list(session.scalars(select(SupplyMovement).where(SupplyMovement.stocktake_id == stocktake_id)
                                .order_by(SupplyMovement.id)))
