"""REST: categories, locations and people."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify
from pydantic import Field
from sqlalchemy import select

from server import serialize
from server.api import LIMIT, OFFSET, Body, CodeText, accepts, bp, page_args, query
from server.auth import READERS, roles
from server.models import Category, Location, Person
from server.services import directory


class CategoryIn(Body):
    name: str = Field(min_length=1, max_length=100)
    controlled: bool = False
    supplies: bool = False  # office supplies: its purchase lines are received into stock, not made assets


class LocationIn(Body):
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field("office", max_length=40)
    parent: CodeText | None = None
    code: CodeText | None = None


class PersonIn(Body):
    name: str = Field(min_length=1, max_length=200)
    department: str = Field("", max_length=100)
    code: CodeText | None = None


@bp.get("/categories")
@roles(*READERS)
def list_categories() -> Any:
    """List asset categories."""
    rows = g.db.scalars(select(Category).order_by(Category.name))
    return jsonify(items=[{"name": c.name, "controlled": c.controlled, "supplies": c.supplies} for c in rows])


@bp.post("/categories")
@roles("storekeeper")
@accepts(CategoryIn)
def create_category(body: CategoryIn) -> Any:
    """Create a category (or return the existing one of that name)."""
    category = directory.get_or_create_category(g.db, g.actor, body.name, body.controlled, body.supplies)
    g.db.commit()
    return jsonify(name=category.name, controlled=category.controlled, supplies=category.supplies), 201


@bp.get("/locations")
@roles(*READERS)
@query(LIMIT, OFFSET)
def list_locations() -> Any:
    """List locations."""
    limit, offset = page_args()
    rows = g.db.scalars(select(Location).order_by(Location.id).limit(limit).offset(offset))
    return jsonify(items=[serialize.location(r) for r in rows])


@bp.post("/locations")
@roles("storekeeper")
@accepts(LocationIn)
def create_location(body: LocationIn) -> Any:
    """Create a location; its L- code is issued unless an existing label code is given."""
    location = directory.create_location(g.db, g.actor, body.name, body.kind, body.parent, body.code)
    g.db.commit()
    return jsonify(serialize.location(location)), 201


@bp.get("/locations/<code>")
@roles(*READERS)
def get_location(code: str) -> Any:
    """One location."""
    return jsonify(serialize.location(directory.location_by_code(g.db, code)))


@bp.get("/people")
@roles(*READERS)
@query(LIMIT, OFFSET)
def list_people() -> Any:
    """List people (staff with P- badge codes)."""
    limit, offset = page_args()
    rows = g.db.scalars(select(Person).order_by(Person.id).limit(limit).offset(offset))
    return jsonify(items=[serialize.person(r) for r in rows])


@bp.post("/people")
@roles("storekeeper")
@accepts(PersonIn)
def create_person(body: PersonIn) -> Any:
    """Register a person; the P- badge code is issued unless an existing one is given."""
    person = directory.create_person(g.db, g.actor, body.name, body.department, body.code)
    g.db.commit()
    return jsonify(serialize.person(person)), 201
