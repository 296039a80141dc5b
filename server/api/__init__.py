"""REST API v1: JSON under /api/v1, bearer tokens, errors as {"error": {"code", "message"}}."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, jsonify, request
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.exc import IntegrityError

from server.errors import DomainError

bp = Blueprint("api", __name__, url_prefix="/api/v1")
F = TypeVar("F", bound=Callable[..., Any])


class Body(BaseModel):
    """Base of every request body: unknown fields are refused, so a typo is an error, not a no-op."""

    model_config = ConfigDict(extra="forbid")


def error(code: str, message: str, status: int) -> Any:
    return jsonify(error={"code": code, "message": message}), status


def accepts(model: type[BaseModel]) -> Callable[[F], F]:
    """Validate the JSON body against ``model`` and pass it to the view as ``body``."""

    def wrap(view: F) -> F:
        @functools.wraps(view)
        def inner(*args: Any, **kwargs: Any) -> Any:
            raw = request.get_json(silent=True)
            if raw is None:
                return error("bad_json", "the request body must be a JSON object", 400)
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


def page_args() -> tuple[int, int]:
    try:
        limit = min(max(int(request.args.get("limit", 100)), 1), 1000)
        offset = max(int(request.args.get("offset", 0)), 0)
    except ValueError:
        limit, offset = 100, 0
    return limit, offset


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError) -> Any:
    return error(exc.code, exc.localized(), exc.status)


@bp.errorhandler(IntegrityError)
def _integrity(exc: IntegrityError) -> Any:
    return error("conflict", "the change conflicts with existing data", 409)



from server.api import (  # noqa: E402,F401  (registers the routes)
    admin,
    assets,
    departments,
    directory,
    intake,
    jobs,
    kiosks,
    labels,
    lifecycle,
    openapi,
    procurement,
    reports,
    requests,
    requisitions,
    stocktakes,
    supplies,
    users,
)
