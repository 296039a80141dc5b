"""REST API v1: JSON under /api/v1, bearer tokens, errors as {"error": {"code", "message"}}.

What every route shares lives beside this file, so a new route gets it by using it: request bodies
(``body``: ``Body``, ``accepts``), query parameters (``query``: ``@query``, ``page_args``),
``Idempotency-Key`` on every POST (``idempotency``, hooks on this blueprint) and the OpenAPI
document built from all of these (``openapi``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy.exc import IntegrityError

from server.api.body import Body, CodeText, accepts, error
from server.api.query import LIMIT, OFFSET, YEAR, DateParam, IntParam, Param, choice, page_args, query
from server.errors import DomainError

bp = Blueprint("api", __name__, url_prefix="/api/v1")

__all__ = ["LIMIT", "OFFSET", "YEAR", "Body", "CodeText", "DateParam", "IntParam", "Param", "accepts", "bp",
           "choice", "error", "page_args", "query"]


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError) -> Any:
    return error(exc.code, exc.localized(), exc.status)


@bp.errorhandler(IntegrityError)
def _integrity(exc: IntegrityError) -> Any:
    return error("conflict", "the change conflicts with existing data", 409)


from server.api import idempotency  # noqa: E402

idempotency.register(bp)

from server.api import (  # noqa: E402,F401  (registers the routes)
    admin,
    archives,
    assets,
    bookings,
    corrections,
    departments,
    directory,
    exit_permits,
    gate,
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
    seal_requests,
    seals,
    stocktakes,
    supplies,
    users,
    vehicles,
    visitors,
)
