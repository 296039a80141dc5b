"""Reading the audit log: filters (actor, action, entity, time range) and keyset pages, newest first.

The log's integrity check is ``server.audit.verify``; this module only reads rows. Dates of a time
range are days in the office's time zone, the way a person names them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from server.errors import Invalid
from server.i18n import N_
from server.models import AuditEntry
from server.services import paging

TEXT_FILTERS = ("actor", "action", "entity", "entity_id")
MAX_TEXT = 100


@dataclass(frozen=True)
class Filter:
    actor: str = ""
    action: str = ""  # an action ("user.disable") or a family ("user" matches user.*)
    entity: str = ""
    entity_id: str = ""
    since: date | None = None  # first day shown
    until: date | None = None  # last day shown


def _day(raw: str, field: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise Invalid(N_("%(value)s is not a date (YYYY-MM-DD)"), code=f"bad_{field}", value=raw[:20]) from None


def parse_filter(args: Mapping[str, str]) -> Filter:
    """A filter from query arguments; a bad one is a clear error, never a 500 or a silent no-op."""
    texts = {name: (args.get(name) or "").strip() for name in TEXT_FILTERS}
    for name, value in texts.items():
        if len(value) > MAX_TEXT:
            raise Invalid(N_("a filter is at most %(n)s characters"), code=f"bad_{name}", n=MAX_TEXT)
    since, until = _day(args.get("since") or "", "since"), _day(args.get("until") or "", "until")
    if since and until and since > until:
        raise Invalid(N_("the first day comes after the last day"), code="bad_until")
    return Filter(since=since, until=until, **texts)


def _start_of(day: date, timezone: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(timezone))


def query(flt: Filter, timezone: str) -> Select[Any]:
    stmt = select(AuditEntry)
    if flt.actor:
        stmt = stmt.where(AuditEntry.actor == flt.actor)
    if flt.action:
        stmt = stmt.where(or_(AuditEntry.action == flt.action, AuditEntry.action.startswith(flt.action + ".",
                                                                                           autoescape=True)))
    if flt.entity:
        stmt = stmt.where(AuditEntry.entity == flt.entity)
    if flt.entity_id:
        stmt = stmt.where(AuditEntry.entity_id == flt.entity_id)
    if flt.since:
        stmt = stmt.where(AuditEntry.at >= _start_of(flt.since, timezone))
    if flt.until:
        stmt = stmt.where(AuditEntry.at < _start_of(flt.until + timedelta(days=1), timezone))
    return stmt


def browse(session: Session, flt: Filter, timezone: str, cursor: str | None,
           limit: int = 50) -> paging.Page[AuditEntry]:
    """One page of the log, newest first (by id: the order rows were appended in)."""
    return paging.keyset_page(session, query(flt, timezone), [AuditEntry.id.expression], cursor, True, limit)

