"""REST: assets, their history and life-cycle actions."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from flask import g, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from server import params, serialize
from server.api import LIMIT, OFFSET, Body, CodeText, Param, accepts, bp, query
from server.auth import READERS, roles
from server.errors import Invalid
from server.services import asset_search, assets


class AssetIn(Body):
    name: str = Field(min_length=1, max_length=200)
    category: str = Field(min_length=1, max_length=100)
    location: CodeText | None = None
    serial: str | None = Field(None, max_length=100)
    price: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2)
    acquired_on: date | None = None
    department: str = Field("", max_length=100)


class MoveIn(Body):
    to: CodeText
    reason: str = Field("", max_length=1000)


class CheckoutIn(Body):
    to: CodeText
    due: date | datetime | None = None  # a date: back by the end of that day (UTC)
    reason: str = Field("", max_length=1000)
    purpose: str = Field("", max_length=500)  # required, with approval_ref and due, for controlled items
    approval_ref: str = Field("", max_length=100)


class CheckinIn(Body):
    location: CodeText | None = None
    reason: str = Field("", max_length=1000)


def committed_asset(outcome: assets.Outcome) -> Any:
    """Commit a life-cycle change and answer with the asset as it is now (every action view ends so)."""
    g.db.commit()
    return jsonify(serialize.asset(outcome.asset))


class AssetQuery(BaseModel):
    """The query string of GET /assets (unknown names are refused, like unknown body fields)."""

    model_config = ConfigDict(extra="forbid")
    q: str = Field("", max_length=asset_search.MAX_QUERY, description="a code, an exact serial or part of a name")
    status: str | None = None
    category: str | None = Field(None, description="category name")
    location: str | None = Field(None, description="L- code")
    custodian: str | None = Field(None, description="P- code")
    name: str = Field("", max_length=asset_search.MAX_QUERY, description="part of a name (codes not looked up)")
    sort: str = Field("code", description="code, name, status, category, location, acquired or price")
    dir: Literal["asc", "desc"] = "asc"
    after: str | None = Field(None, max_length=512, description="the `next` cursor of the page before")
    limit: int = Field(100, ge=1, le=asset_search.MAX_LIMIT)
    offset: int = Field(0, ge=0, le=params.INT64_MAX, description="old paging: slow far in; use `after`")


def _query(model: type[BaseModel]) -> Any:
    """The request's query string as ``model``, or a 422 that names the first bad parameter."""
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(query)"
        raise Invalid(f"{where}: {first['msg']}", code="bad_query") from None


@bp.get("/assets")
@roles(*READERS)
@query(LIMIT, OFFSET, Param("status", "Only this status."), Param("location", "Only at this location (L- code)."),
       Param("category", "Only this category."))
def list_assets() -> Any:
    """Search assets: ?q= (code, serial or name), ?name=, ?status=, ?category=, ?location=, ?custodian=,
    ?sort= and ?dir=, pages by ?after= (the answer's `next`); `total` is exact up to 10,000."""
    args = _query(AssetQuery)
    filters = asset_search.Filters(args.q, args.status, args.category, args.location, args.custodian, args.name)
    page = asset_search.search(g.db, filters, args.sort, args.dir == "desc", args.after, args.limit, args.offset)
    total, exact = asset_search.count(g.db, filters)
    return jsonify(items=[serialize.asset(a) for a in page.items], next=page.next_cursor, total=total,
                   total_exact=exact, limit=args.limit, offset=args.offset)


list_assets._query = AssetQuery  # type: ignore[attr-defined]  # for the OpenAPI document


@bp.post("/assets")
@roles("storekeeper")
@accepts(AssetIn)
def create_asset(body: AssetIn) -> Any:
    """Register one asset outside a purchase (inventory take-on); its A- code is issued."""
    asset = assets.create_asset(g.db, g.actor, body.name, body.category, body.location, body.serial,
                                body.price, body.acquired_on, body.department)
    g.db.commit()
    return jsonify(serialize.asset(asset)), 201


@bp.get("/assets/<code>")
@roles(*READERS)
def get_asset(code: str) -> Any:
    """One asset by its A- code (bare or /c/ URL form)."""
    return jsonify(serialize.asset(assets.asset_by_code(g.db, code)))


@bp.get("/assets/<code>/history")
@roles(*READERS)
def asset_history(code: str) -> Any:
    """An asset's history, ordered by when each change happened."""
    return jsonify(items=[serialize.asset_event(e) for e in assets.history(g.db, code)])


@bp.post("/assets/<code>/move")
@roles("storekeeper")
@accepts(MoveIn)
def move_asset(code: str, body: MoveIn) -> Any:
    """Move an asset to a location (L- code)."""
    return committed_asset(assets.move(g.db, g.actor, code, body.to, reason=body.reason))


@bp.post("/assets/<code>/checkout")
@roles("storekeeper")
@accepts(CheckoutIn)
def checkout_asset(code: str, body: CheckoutIn) -> Any:
    """Hand an asset to a person (P- code)."""
    return committed_asset(assets.checkout(g.db, g.actor, code, body.to, body.due, reason=body.reason,
                                           purpose=body.purpose, approval_ref=body.approval_ref))


@bp.post("/assets/<code>/checkin")
@roles("storekeeper")
@accepts(CheckinIn)
def checkin_asset(code: str, body: CheckinIn) -> Any:
    """Return an asset to store, optionally to a given location."""
    return committed_asset(assets.checkin(g.db, g.actor, code, body.location, reason=body.reason))
