"""The archive's reports: loans by department and class, overdue loans, volumes due for review.

Each returns (column keys, rows) like ``services.indicators``; ``services.reports`` registers them
(names ``archive-loans``, ``archive-overdue``, ``archive-review``) so that the report pages, their
CSV/XLSX downloads and ``GET /api/v1/reports/<name>`` show them like every other report. The
column names are in ``COLUMNS`` here (label, kind), merged into the reports' own table.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from server.i18n import N_
from server.models import ArchiveClass, ArchiveLoan, ArchiveVolume, Asset, Location, utcnow
from server.services import archive_loans, archives

Rows = tuple[list[str], list[dict[str, Any]]]
REVIEW_WITHIN_DAYS = 90  # "due for review": retention ending within this many days, or ended

COLUMNS: dict[str, tuple[str, str]] = {
    "archive_class": (N_("Archive class"), "text"),
    "loans": (N_("Loans"), "count"),
    "on_site": (N_("Read on site"), "count"),
    "late_loans": (N_("Of which late"), "count"),
    "still_out": (N_("Still out"), "count"),
    "loan": (N_("Loan request"), "text"),
    "volume": (N_("Volume code"), "text"),
    "title": (N_("Title"), "text"),
    "confidentiality": (N_("Confidentiality level"), "confidentiality"),
    "borrower": (N_("Borrower code"), "text"),
    "borrower_name": (N_("Borrower"), "text"),
    "days_late": (N_("Days late"), "count"),
    "reminders": (N_("Reminders sent"), "count"),
    "reference": (N_("Archive reference"), "text"),
    "retention": (N_("Retention period"), "retention"),
    "retention_until": (N_("Kept until"), "text"),
    "shelf": (N_("Shelf"), "text"),
    "past_retention": (N_("Retention ended"), "bool"),
}


def loans_by(session: Session, since: datetime | None, until: datetime | None, now: datetime | None = None) -> Rows:
    """Loans lent in [since, until), per borrower's department and archive class: how many, how many
    read on site, how many came back late or are out past due, how many are still out."""
    now = now or utcnow()
    back, due = ArchiveLoan.returned_at, ArchiveLoan.due_at
    is_late = or_(and_(back.is_not(None), back > due), and_(back.is_(None), due < now))
    query = (select(ArchiveLoan.department, ArchiveClass.name, func.count(ArchiveLoan.id),
                    func.sum(case((ArchiveLoan.on_site.is_(True), 1), else_=0)),
                    func.sum(case((is_late, 1), else_=0)), func.sum(case((back.is_(None), 1), else_=0)))
             .join(ArchiveVolume, ArchiveLoan.asset_id == ArchiveVolume.asset_id)
             .join(ArchiveClass, ArchiveVolume.class_id == ArchiveClass.id)
             .where(ArchiveLoan.lent_at.is_not(None))
             .group_by(ArchiveLoan.department, ArchiveClass.name).order_by(ArchiveLoan.department, ArchiveClass.name))
    if since is not None:
        query = query.where(ArchiveLoan.lent_at >= since)
    if until is not None:
        query = query.where(ArchiveLoan.lent_at < until)
    rows = [{"department": department, "archive_class": name, "loans": int(count), "on_site": int(on_site or 0),
             "late_loans": int(late or 0), "still_out": int(out or 0)}
            for department, name, count, on_site, late, out in session.execute(query)]
    return ["department", "archive_class", "loans", "on_site", "late_loans", "still_out"], rows


def overdue_loans(session: Session, now: datetime | None = None) -> Rows:
    """Every loan out past its due time, the longest overdue first."""
    now = now or utcnow()
    rows = []
    for loan in archive_loans.overdue(session, now):
        volume, person = loan.volume, loan.borrower
        assert loan.due_at is not None
        rows.append({"loan": loan.id, "volume": volume.asset.code, "title": volume.asset.name,
                     "archive_class": volume.archive_class.name, "confidentiality": volume.confidentiality,
                     "borrower": person.code, "borrower_name": person.name, "department": loan.department,
                     "due_at": loan.due_at.isoformat(), "days_late": (now - loan.due_at).days,
                     "reminders": loan.reminders})
    return ["loan", "volume", "title", "archive_class", "confidentiality", "borrower", "borrower_name", "department",
            "due_at", "days_late", "reminders"], rows


def due_for_review(session: Session, on: date, within_days: int = REVIEW_WITHIN_DAYS) -> Rows:
    """Volumes whose retention period ends within ``within_days`` of ``on`` or has ended (not destroyed):
    to appraise, then keep longer or list for destruction."""
    volumes = archives.due_for_review(session, on, within_days)
    shelves = dict(session.execute(select(Asset.id, Location.code).join(Location, Asset.location_id == Location.id)
                                   .where(Asset.id.in_([v.asset_id for v in volumes]))).all()) if volumes else {}
    rows = [{"volume": v.asset.code, "title": v.asset.name, "reference": v.reference or "",
             "archive_class": v.archive_class.name, "year": v.year, "retention": v.retention,
             "retention_until": v.retention_until.isoformat() if v.retention_until else "",
             "confidentiality": v.confidentiality, "shelf": shelves.get(v.asset_id, ""),
             "past_retention": bool(v.retention_until and v.retention_until < on)} for v in volumes]
    return ["volume", "title", "reference", "archive_class", "year", "retention", "retention_until",
            "confidentiality", "shelf", "past_retention"], rows
