"""The cost of supplies used, valued first in, first out (FIFO) from purchase prices.

Each item's ledger is walked in the order it was written (movement id). Every receipt is a layer of
stock at its purchase line's unit price; what goes out takes the oldest layers first, so a pickup
costs what the units it took were bought for. The other movements, in one place each:

- a **return** is a layer again, at the unit cost of the taker's last pickup of the item (what goes
  back is what was taken), else of the item's last pickup, else of the last receipt;
- a **positive adjustment** or stocktake surplus (stock found) is a layer at the last receipt's
  price before it (else the item's unit price, else zero): found goods at what they cost last;
- a negative adjustment or stocktake shortage goes out like a pickup (a write-off, not anyone's use);
- an offline pickup that took stock below zero takes what there is and owes the rest: the next
  layer in pays for it first (the goods were there, their receipt came later);
- a **reversed receipt** (entered by mistake) and its reversal are left out: the values are those of
  a ledger in which the receipt was never written, so its lot is never consumed, and what was taken
  from it before the reversal is valued from the other layers (or owed, as above).

Nothing here is stored: values are computed from the ledger each time (it cannot drift), in one
pass over the movements ordered by (item, id), in Python, in whole cents (a unit cost that is a
fraction of a cent, a return's, is kept exact as a Fraction); each line's value is rounded half up
to the cent, as the other money indicators are (services/indicators). ``consumption`` and ``stock_value`` are the cost
indicators built on it (registered as reports in services/reports).
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import MovementKind, SupplyItem, SupplyMovement

K = TypeVar("K", bound=Hashable)
Cents = int | Fraction  # a unit cost in cents: whole, or exact when it came from a division
RECEIPT, RETURN, PICKUP = MovementKind.RECEIPT.value, MovementKind.RETURN.value, MovementKind.PICKUP.value
REVERSAL = MovementKind.REVERSAL.value
CENT = Decimal("0.01")


def cents(value: Decimal | None) -> int:
    return 0 if value is None else int((value * 100).to_integral_value())


def money(value: int) -> Decimal:
    """Whole cents as Decimal yuan."""
    return (Decimal(value) / 100).quantize(CENT)


def _round(value: Cents) -> int:
    """To the cent, half up (the values here are never negative)."""
    return int(value) if isinstance(value, int) else int(value + Fraction(1, 2))


@dataclass
class _Item:
    layers: deque[list[Any]] = field(default_factory=deque)  # [units left, unit cost in cents], oldest first
    owed: deque[list[int]] = field(default_factory=deque)  # [movement id, units not yet paid for]
    last_receipt: Cents = 0
    last_pickup: Cents | None = None
    taker_cost: dict[int, Cents] = field(default_factory=dict)


# Told of each value (whole cents) as it is found: (row, movement id, cents, owes). ``row`` is None when
# the amount is a later payment for units the movement took before they were booked in.
Listener = Callable[[Any, int, int, bool], None]


class Valuation:
    """FIFO values of ledger lines: what an outgoing line cost (positive), what a return gave back, and
    (``on_hand``) the value of the units still in stock. With ``keep`` the values are in ``value``
    by movement id (Decimal yuan); a ``listener`` is told of each one instead (the reports, over
    millions of lines)."""

    def __init__(self, item_prices: dict[int, Decimal | None], keep: bool = True,
                 listener: Listener | None = None, reversed_ids: frozenset[int] = frozenset()) -> None:
        self._kept: dict[int, int] = {}
        self._reversed = reversed_ids  # receipts taken back: never a layer
        self._keep, self._listener = keep, listener
        self._items: dict[int, _Item] = {}
        self._prices = item_prices

    @property
    def value(self) -> dict[int, Decimal]:
        return {row_id: money(amount) for row_id, amount in self._kept.items()}

    def _state(self, item_id: int) -> _Item:
        found = self._items.get(item_id)
        if found is None:
            found = self._items[item_id] = _Item(last_receipt=cents(self._prices.get(item_id)))
        return found

    def _book(self, row: Any, row_id: int, amount: int, owes: bool = False) -> None:
        if self._keep:
            self._kept[row_id] = self._kept.get(row_id, 0) + amount
        if self._listener is not None:
            self._listener(row, row_id, amount, owes)

    def add(self, row: Any) -> None:
        """One ledger line (id, item_id, kind, quantity, unit_cost, person_id, ...), in ledger order."""
        if row.kind == REVERSAL or row.id in self._reversed:
            return
        state = self._state(row.item_id)
        if row.quantity > 0:
            self._come_in(state, row, self._in_cost(state, row))
        elif row.quantity < 0:
            self._go_out(state, row)

    def _in_cost(self, state: _Item, row: Any) -> Cents:
        if row.kind == RECEIPT:
            if row.unit_cost is not None:
                state.last_receipt = cents(row.unit_cost)
            return state.last_receipt
        if row.kind == RETURN:
            cost = state.taker_cost.get(row.person_id or 0, state.last_pickup)
            return cost if cost is not None else state.last_receipt
        return state.last_receipt

    def _come_in(self, state: _Item, row: Any, cost: Cents) -> None:
        left = row.quantity
        if row.kind == RETURN:
            self._book(row, row.id, _round(cost * left))
        while left and state.owed:  # units taken before they were booked in are paid for first
            owed = state.owed[0]
            paid = min(left, owed[1])
            self._book(None, owed[0], _round(cost * paid))
            owed[1] -= paid
            left -= paid
            if not owed[1]:
                state.owed.popleft()
        if left:
            state.layers.append([left, cost])

    def _go_out(self, state: _Item, row: Any) -> None:
        want = -row.quantity
        spent: Cents = 0
        layers = state.layers
        while want and layers:
            layer = layers[0]
            took = want if want < layer[0] else layer[0]
            spent += layer[1] * took
            layer[0] -= took
            want -= took
            if not layer[0]:
                layers.popleft()
        self._book(row, row.id, _round(spent), bool(want))
        if want:
            state.owed.append([row.id, want])
        taken = -row.quantity - want
        if row.kind == PICKUP and taken:
            unit = spent / taken if spent % taken else spent // taken
            state.last_pickup = unit
            state.taker_cost[row.person_id or 0] = unit

    def on_hand(self, item_id: int) -> Decimal:
        state = self._items.get(item_id)
        return money(_round(sum((n * cost for n, cost in state.layers), 0)) if state else 0)


def ledger_rows(session: Session, item_ids: Iterable[int] | None = None) -> Iterator[Any]:
    """Every ledger line (of some items) in the order FIFO reads them: by item, then as written."""
    query = select(SupplyMovement.id, SupplyMovement.item_id, SupplyMovement.kind, SupplyMovement.quantity,
                   SupplyMovement.unit_cost, SupplyMovement.person_id, SupplyMovement.department,
                   SupplyMovement.at).order_by(SupplyMovement.item_id, SupplyMovement.id)
    if item_ids is not None:
        query = query.where(SupplyMovement.item_id.in_(list(item_ids)))
    yield from session.execute(query.execution_options(yield_per=20_000))


def _prices(session: Session) -> dict[int, Decimal | None]:
    return {item_id: price for item_id, price in session.execute(select(SupplyItem.id, SupplyItem.unit_price))}


def reversed_receipts(session: Session, item_ids: Iterable[int] | None = None) -> frozenset[int]:
    """The receipts that were reversed (read first: a receipt comes before its reversal in the ledger)."""
    query = select(SupplyMovement.reverses_id).where(SupplyMovement.reverses_id.is_not(None))
    if item_ids is not None:
        query = query.where(SupplyMovement.item_id.in_(list(item_ids)))
    return frozenset(session.scalars(query))


def value(session: Session, item_ids: Iterable[int] | None = None, keep: bool = True,
          listener: Listener | None = None) -> Valuation:
    """The FIFO valuation of the whole ledger (or of some items)."""
    ids = None if item_ids is None else list(item_ids)
    valuation = Valuation(_prices(session), keep, listener, reversed_receipts(session, ids))
    add = valuation.add
    for row in ledger_rows(session, ids):
        add(row)
    return valuation


@dataclass
class Use:
    """What one group used: pickups net of returns, in units and at FIFO cost (whole cents)."""

    quantity: int = 0
    cents: int = 0
    pickups: int = 0

    @property
    def cost(self) -> Decimal:
        return money(self.cents)


def consumption(session: Session, group: Callable[[Any], K | None]) -> dict[K, Use]:
    """Pickups net of returns, valued FIFO, summed per ``group(row)`` (None: the row is left out, e.g.
    outside the period). The whole ledger is walked (FIFO needs what came before), values not kept."""
    groups: dict[K, Use] = defaultdict(Use)
    owing: dict[int, K] = {}  # pickups that went below zero: their group, for the later payment

    def told(row: Any, row_id: int, amount: int, owes: bool) -> None:
        if row is None:
            if row_id in owing:
                groups[owing[row_id]].cents += amount
            return
        kind = row.kind
        if kind != PICKUP and kind != RETURN:
            return
        key = group(row)
        if key is None:
            return
        use = groups[key]
        use.quantity -= row.quantity  # a pickup's quantity is negative, a return's positive
        if kind == PICKUP:
            use.cents += amount
            use.pickups += 1
            if owes:
                owing[row_id] = key
        else:
            use.cents -= amount

    value(session, keep=False, listener=told)
    return dict(groups)
