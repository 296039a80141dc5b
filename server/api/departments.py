"""REST: departments and their staff counts (for per-head figures)."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify
from pydantic import Field

from server.api import Body, accepts, bp
from server.auth import roles
from server.services import departments, reports


class StaffIn(Body):
    name: str = Field(min_length=1, max_length=100)
    staff_count: int = Field(ge=0, le=1_000_000)


@bp.get("/departments")
@roles(*reports.READERS)
def list_departments() -> Any:
    """Departments with their staff counts."""
    return jsonify(items=[{"name": d.name, "staff_count": d.staff_count} for d in departments.listing(g.db)])


@bp.post("/departments")
@roles()
@accepts(StaffIn)
def set_staff(body: StaffIn) -> Any:
    """Record or change a department's staff count (admin)."""
    row = departments.set_staff(g.db, g.actor, body.name, body.staff_count)
    g.db.commit()
    return jsonify(name=row.name, staff_count=row.staff_count), 201
