"""Query-string parameters: declared on a view with ``@query(...)`` (so the OpenAPI document lists them)
and read through the same declaration, so a number is parsed strictly and within its bounds
(server.params) everywhere, and the document says what the code accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from flask import request

from server import params

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Param:
    name: str
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string", "maxLength": 200})

    def raw(self) -> str | None:
        value = request.args.get(self.name)
        return None if value is None or value == "" else value

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "in": "query", "required": False, "description": self.description,
                "schema": self.schema}


@dataclass(frozen=True)
class IntParam(Param):
    low: int = 0
    high: int = params.INT64_MAX
    default: int | None = None

    def __post_init__(self) -> None:
        schema = {"type": "integer", "minimum": self.low, "maximum": self.high}
        object.__setattr__(self, "schema", schema if self.default is None else {**schema, "default": self.default})

    def read(self) -> int | None:
        raw = self.raw()
        return self.default if raw is None else params.whole_number(raw, self.name, self.low, self.high)


@dataclass(frozen=True)
class DateParam(Param):
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string", "format": "date"})

    def read(self) -> date | None:
        raw = self.raw()
        return None if raw is None else params.day(raw, self.name)


def choice(name: str, description: str, values: tuple[str, ...]) -> Param:
    return Param(name, description, {"type": "string", "enum": list(values)})


LIMIT = IntParam("limit", "Page size.", low=1, high=1000, default=100)
OFFSET = IntParam("offset", "Rows to skip.", low=0, default=0)
YEAR = IntParam("year", "Only this year.", low=params.MIN_YEAR, high=params.MAX_YEAR)


def query(*declared: Param) -> Callable[[F], F]:
    """Declare the query parameters a view reads (listed in the OpenAPI document)."""

    def mark(view: F) -> F:
        view._query = declared  # type: ignore[attr-defined]
        return view

    return mark


def page_args() -> tuple[int, int]:
    """``?limit=`` (1..1000, default 100) and ``?offset=``; anything else is a clear 422."""
    limit, offset = LIMIT.read(), OFFSET.read()
    assert limit is not None and offset is not None  # both have defaults
    return limit, offset
