"""The dashboard's figures, one function per part; the view shows a person only the parts their
role may read (each part is tied to the view that owns its data, see server/web/dashboard.py).

Everything here is read from the services that own the rules: plans (what is used is always
summed from purchases), lifecycle (what is overdue), kiosks (states, refusals, conflicts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.models import GateAlert, PlanLine, Stocktake, Trip
from server.services import (
    archive_conflicts,
    archive_loans,
    bookings,
    dispatch,
    health,
    kiosks,
    lifecycle,
    plans,
    supplies,
    supply_conflicts,
)

REJECTED_DAYS = 7
OVERDUE_SHOWN = 10


def _percent(used: Decimal, approved: Decimal) -> Decimal:
    return (used * 100 / approved).quantize(Decimal("0.1")) if approved else Decimal("0.0")


@dataclass(frozen=True)
class PlanSummary:
    year: int | None  # None: no plan yet
    rows: list[dict[str, Any]] = field(default_factory=list)  # per category
    total: dict[str, Any] = field(default_factory=dict)


def plan_year(session: Session, today: date) -> int | None:
    """This year's plan, or else the newest one before it, or else the first one to come."""
    years = sorted(session.scalars(select(PlanLine.budget_year).distinct()))
    past = [y for y in years if y <= today.year]
    return past[-1] if past else (years[0] if years else None)


def plan_summary(session: Session, today: date) -> PlanSummary:
    """Approved, used and remaining amounts of one budget year's plan, per category and in total."""
    year = plan_year(session, today)
    if year is None:
        return PlanSummary(None)
    rows = plans.by_category(plans.execution(session, year))
    for row in rows:
        row["percent_used"] = _percent(row["used_amount"], row["approved_amount"])
    approved = sum((r["approved_amount"] for r in rows), Decimal("0.00"))
    used = sum((r["used_amount"] for r in rows), Decimal("0.00"))
    total = {"approved_amount": approved, "used_amount": used, "remaining_amount": approved - used,
             "percent_used": _percent(used, approved)}
    return PlanSummary(year, rows, total)


@dataclass(frozen=True)
class KioskSummary:
    rows: list[kiosks.KioskRow]  # enrolled kiosks only
    online: int
    offline: int  # offline or never reported
    waiting: int  # events waiting in their outboxes, as last reported
    ingestion: dict[str, Any] = field(default_factory=dict)  # health.ingestion_status: is anything storing events?

    @property
    def last_beat(self) -> datetime | None:
        """The newest consumer's last sign of life."""
        beat = self.ingestion.get("last_beat")
        return datetime.fromisoformat(beat) if beat else None


def kiosk_summary(session: Session, now: datetime | None = None) -> KioskSummary:
    rows = [r for r in kiosks.overview(session) if r.state != "revoked"]
    online = sum(1 for r in rows if r.state == "online")
    return KioskSummary(rows, online, len(rows) - online, sum(r.outbox or 0 for r in rows),
                        health.ingestion_status(session, now))


@dataclass(frozen=True)
class Refusals:
    days: int
    by_reason: list[tuple[str, int]]
    conflicts: int

    @property
    def rejected(self) -> int:
        return sum(count for _, count in self.by_reason)


def refusals(session: Session, now: datetime) -> Refusals:
    """Kiosk messages refused in the last days, per reason, and events saved with a conflict."""
    since = now - timedelta(days=REJECTED_DAYS)
    return Refusals(REJECTED_DAYS, kiosks.rejected_counts(session, since), kiosks.conflict_count(session))


@dataclass(frozen=True)
class OverdueControlled:
    count: int
    first: list[lifecycle.Overdue]  # the longest overdue ones


def overdue_controlled(session: Session, now: datetime) -> OverdueControlled:
    rows = lifecycle.overdue(session, now, controlled_only=True)
    return OverdueControlled(len(rows), rows[:OVERDUE_SHOWN])



@dataclass(frozen=True)
class Storeroom:
    reorder: int  # items at or under their reorder level
    notified: int  # of which a reorder notification is open (raised once per crossing)
    conflicts: int  # offline pickups to settle
    stocktakes: int  # open stocktakes


def storeroom(session: Session) -> Storeroom:
    """What waits in the storeroom: reorders, pickup conflicts, open stocktakes."""
    rows = supplies.reorder_list(session)
    open_stocktakes = session.scalar(select(func.count()).select_from(Stocktake).where(Stocktake.state == "open"))
    return Storeroom(len(rows), sum(1 for _item, _stock, alert in rows if alert is not None),
                     supply_conflicts.open_count(session), int(open_stocktakes or 0))


@dataclass(frozen=True)
class Vehicles:
    days: int
    refused: list[GateAlert]  # official vehicles refused at the gate (no dispatch) in the last days, open
    conflicts: int  # exits made offline against what the server knew, open
    overdue: list[Trip]  # still out after their dispatch's window
    to_dispatch: int  # approved booking requests waiting for a vehicle


def vehicles(session: Session, now: datetime) -> Vehicles:
    since = now - timedelta(days=REJECTED_DAYS)
    alerts = list(session.scalars(select(GateAlert).where(
        GateAlert.kind.in_(("no_dispatch", "vehicle_conflict")), GateAlert.resolved_at.is_(None),
        GateAlert.at >= since).order_by(GateAlert.at.desc())))
    return Vehicles(REJECTED_DAYS, [a for a in alerts if a.kind == "no_dispatch"][:OVERDUE_SHOWN],
                    sum(1 for a in alerts if a.kind == "vehicle_conflict"), dispatch.overdue(session, now),
                    len(bookings.queue(session, now)))


@dataclass(frozen=True)
class ArchiveOverdue:
    count: int
    first: list[Any]  # ArchiveLoan rows, the longest overdue first
    conflicts: int = 0  # lendings and returns made off line against the rules, to settle


def archive_overdue(session: Session, now: datetime) -> ArchiveOverdue:
    rows = archive_loans.overdue(session, now)
    return ArchiveOverdue(len(rows), rows[:OVERDUE_SHOWN], archive_conflicts.open_count(session))
