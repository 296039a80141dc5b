"""Departments as the admin keeps them: the staff count behind per-head figures."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from server import audit
from server.audit import Actor
from server.errors import Invalid, Term
from server.i18n import N_
from server.models import Department, utcnow


def set_staff(session: Session, actor: Actor, name: str, staff_count: int) -> Department:
    """Record (or change) a department's staff count; audited with the old and new count."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise Invalid(N_("%(what)s is required"), code="required", what=Term(N_("department")))
    if not 0 <= staff_count <= 1_000_000:
        raise Invalid(N_("the staff count must be between 0 and 1000000"), code="bad_staff_count")
    row = session.scalars(select(Department).where(Department.name == name)).first()
    before = audit.state(row) if row else None
    if row is None:
        row = Department(name=name, staff_count=staff_count)
        session.add(row)
    else:
        row.staff_count, row.updated_at = staff_count, utcnow()
    session.flush()
    audit.change(session, actor, "department.staff", row, before)
    return row


def listing(session: Session) -> list[Department]:
    return list(session.scalars(select(Department).order_by(Department.name)))
