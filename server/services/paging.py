"""Keyset pagination: a page starts after the last row of the one before, by (sort value, id).

An offset makes the database walk every skipped row, which is slow on a million assets; a keyset
seeks straight to the start of the page through an index. The cursor is opaque to clients
(URL-safe base64 of JSON) and is validated like any other input.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.sql.elements import ColumnElement

from server.errors import Invalid
from server.i18n import N_

T = TypeVar("T")
MAX_CURSOR = 512  # characters: a real cursor is far shorter; anything longer is junk


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None  # None: this is the last page


def _tag(value: Any) -> list[Any]:
    if isinstance(value, datetime):
        return ["t", value.isoformat()]
    if isinstance(value, date):
        return ["d", value.isoformat()]
    if isinstance(value, Decimal):
        return ["n", str(value)]
    return ["v", value]


def _untag(item: Any) -> Any:
    kind, value = item
    if kind == "t":
        return datetime.fromisoformat(value)
    if kind == "d":
        return date.fromisoformat(value)
    if kind == "n":
        return Decimal(value)
    if kind == "v" and (value is None or isinstance(value, str | int | float)):
        return value
    raise ValueError(kind)


def encode_cursor(values: tuple[Any, ...]) -> str:
    raw = json.dumps([_tag(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, width: int) -> tuple[Any, ...] | None:
    """The values a cursor holds, or None for the first page; junk is a clear 422, never a 500."""
    if not cursor:
        return None
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError("too long")
        items = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        values = tuple(_untag(item) for item in items)
        if len(values) != width:
            raise ValueError("width")
    except (ValueError, TypeError, ArithmeticError, binascii.Error, json.JSONDecodeError):  # Decimal("x"): Arithmetic
        raise Invalid(N_("the page cursor is not valid; start from the first page")) from None
    return values


def keyset_page(session: Any, stmt: Select[Any], keys: Sequence[ColumnElement[Any] | Any], cursor: str | None,
                descending: bool, limit: int) -> Page[Any]:
    """Run ``stmt`` (which selects one entity) ordered by ``keys`` (the last one unique, e.g. the id),
    starting after ``cursor``; ``limit`` rows and the cursor of the next page."""
    after = decode_cursor(cursor, len(keys))
    stmt = stmt.add_columns(*keys)
    if after is not None:
        row_key = tuple_(*keys)
        stmt = stmt.where(row_key < tuple_(*after) if descending else row_key > tuple_(*after))
    stmt = stmt.order_by(*[k.desc() if descending else k.asc() for k in keys]).limit(limit + 1)
    rows = list(session.execute(stmt).all())
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(tuple(rows[-1][-len(keys):])) if more and rows else None
    return Page([row[0] for row in rows], next_cursor)
