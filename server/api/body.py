"""Request bodies: the base model every body derives from, and ``accepts``, which reads one.

The base holds the rules every field of every body obeys, so a new body model cannot forget them:
unknown fields are refused (a typo is an error, not a no-op); no string carries a NUL character
(PostgreSQL refuses them, SQLite would keep them) or a lone surrogate (half of a UTF-16 pair: it
cannot be encoded, so it failed wherever it was written or sent on); integers fit the databases'
64 bits; dates stay within the years the ledger accepts (server.params). Every string field also
declares its own ``max_length``; tests/test_api_bodies.py fails for one that does not.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, TypeVar

from flask import current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from server.params import INT64_MAX, MAX_YEAR, MIN_YEAR

F = TypeVar("F", bound=Callable[..., Any])
# A code as a person or scanner gives it: bare (27 characters at most) or a /c/ URL with the site in front.
CodeText = Annotated[str, Field(min_length=1, max_length=300)]


def _walk(value: Any) -> Any:
    """Every leaf of a value as sent (strings, numbers, dates), dictionary keys included."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _walk(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _walk(item)
    else:
        yield value


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise PydanticCustomError("nul_character", "must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("lone_surrogate",
                                  "must not contain a lone surrogate (half of a UTF-16 pair)") from None


def _check_bounds(value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and not -INT64_MAX - 1 <= value <= INT64_MAX:
        raise PydanticCustomError("int_64", "must be a whole number that fits in 64 bits")
    if isinstance(value, date) and not MIN_YEAR <= value.year <= MAX_YEAR:
        raise PydanticCustomError("year_range", "must be in the years {low} to {high}",
                                  {"low": MIN_YEAR, "high": MAX_YEAR})


class Body(BaseModel):
    """Base of every request body (see the module's docstring for what it guarantees)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _clean_text(cls, value: Any) -> Any:
        for leaf in _walk(value):
            if isinstance(leaf, str):
                _check_text(leaf)
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _within_bounds(cls, value: Any) -> Any:
        for leaf in _walk(value):
            _check_bounds(leaf)
        return value


def error(code: str, message: str, status: int) -> Any:
    return jsonify(error={"code": code, "message": message}), status


def _json_body() -> tuple[Any, str | None]:
    """The request's JSON, or None and why not (the app's JSON reader bounds depth: server.inputs)."""
    if not request.is_json:
        return None, "the request body must be a JSON object (Content-Type: application/json)"
    try:
        return current_app.json.loads(request.get_data()), None
    except ValueError as exc:
        return None, f"the request body is not valid JSON: {exc}"


def accepts(model: type[BaseModel]) -> Callable[[F], F]:
    """Validate the JSON body against ``model`` and pass it to the view as ``body``."""

    def wrap(view: F) -> F:
        @functools.wraps(view)
        def inner(*args: Any, **kwargs: Any) -> Any:
            raw, problem = _json_body()
            if problem is not None:
                return error("bad_json", problem, 400)
            try:
                kwargs["body"] = model.model_validate(raw)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "(body)"
                return error("bad_schema", f"{where}: {first['msg']}", 422)
            return view(*args, **kwargs)

        inner._body = model  # type: ignore[attr-defined]
        return inner  # type: ignore[return-value]

    return wrap
