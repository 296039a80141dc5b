"""Keeping visitors' personal data only as long as needed, and rotating the key that protects it.

``purge`` applies the retention settings with a few set-based statements (no row is loaded):

* ``visitor_personal_days`` (90) after a visit, the personal fields of its visit and pass (name,
  organisation, ID last 4, plate, and their blind indexes) are emptied, and queued notifications
  (which name visitors) older than that are deleted;
* the same ``visitor_personal_days`` after it passed the gate, a visitor's or unknown vehicle's plate
  on its passage row (services.vehicle_gate) is emptied too;
* ``visit_record_days`` (730, the two years the ledger rule asks) after a visit, the visit record
  itself is deleted, with passes that have no visit left and gate alerts of that age.

The pass codes stay in ``issued_codes`` for good, so no code is ever issued twice; kiosk events
never held the personal fields (services.ingest keeps them out). ``dry_run`` counts and changes
nothing. A real run is one audit entry with the counts, and one per visit or pass deleted (the
ledger check compares them; docs/audit.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, func, select, update
from sqlalchemy.orm import Session

from contract import normalize
from server import audit
from server.audit import Actor
from server.models import (
    GateAlert,
    Notification,
    VehiclePassage,
    Visit,
    VisitorPass,
    WatchlistEntry,
    WatchlistKey,
    utcnow,
)
from server.personal import policy
from server.services import bulk


@dataclass
class PurgeReport:
    personal_cutoff: datetime
    record_cutoff: datetime
    visits_anonymised: int = 0
    passes_anonymised: int = 0
    notifications_deleted: int = 0
    visits_deleted: int = 0
    passes_deleted: int = 0
    alerts_deleted: int = 0
    vehicle_plates_anonymised: int = 0  # visitors' and unknown plates logged at the gate (services.vehicle_gate)
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["personal_cutoff"] = self.personal_cutoff.isoformat()
        out["record_cutoff"] = self.record_cutoff.isoformat()
        return out


def _personal_visits(cutoff: datetime) -> ColumnElement[bool]:
    return (Visit.purged_at.is_(None)) & (Visit.signed_in_at < cutoff)


def _personal_passes(cutoff: datetime) -> ColumnElement[bool]:
    recent = exists().where(Visit.pass_id == VisitorPass.id, Visit.signed_in_at >= cutoff)
    return (VisitorPass.purged_at.is_(None)) & (VisitorPass.valid_until < cutoff) & ~recent


def _personal_passages(cutoff: datetime) -> ColumnElement[bool]:
    return VehiclePassage.purged_at.is_(None) & VehiclePassage.plate_enc.is_not(None) & (VehiclePassage.at < cutoff)


def _old_visits(cutoff: datetime) -> ColumnElement[bool]:
    return Visit.signed_in_at < cutoff


def _old_passes(cutoff: datetime) -> ColumnElement[bool]:
    return (VisitorPass.valid_until < cutoff) & ~exists().where(Visit.pass_id == VisitorPass.id)


def purge(session: Session, actor: Actor, now: datetime | None = None, dry_run: bool = False) -> PurgeReport:
    now = now or utcnow()
    gate = policy(session)
    report = PurgeReport(now - timedelta(days=gate.personal_days), now - timedelta(days=gate.record_days),
                         dry_run=dry_run)
    personal, record = report.personal_cutoff, report.record_cutoff
    if dry_run:
        count = _count(session)
        report.visits_deleted = count(Visit, _old_visits(record))
        # Passes whose visits all go in this run (counted before the visits are gone): a visit is
        # made inside its pass's window, so a pass that ended before the cut-off has only old visits.
        report.passes_deleted = count(VisitorPass, VisitorPass.valid_until < record)
        report.alerts_deleted = count(GateAlert, GateAlert.at < record)
        report.visits_anonymised = count(Visit, _personal_visits(personal) & ~_old_visits(record))
        report.passes_anonymised = count(VisitorPass, _personal_passes(personal) & (VisitorPass.valid_until >= record))
        report.notifications_deleted = count(Notification, Notification.created_at < personal)
        report.vehicle_plates_anonymised = count(VehiclePassage, _personal_passages(personal))
        return report
    # Deletions first: no work is spent emptying rows that go anyway.
    report.visits_deleted = _delete_each(session, actor, Visit, _old_visits(record), "visit.purge")
    report.passes_deleted = _delete_each(session, actor, VisitorPass, _old_passes(record), "visitor_pass.purge")
    report.alerts_deleted = _rows(session.execute(
        delete(GateAlert).where(GateAlert.at < record).execution_options(synchronize_session=False)))
    report.visits_anonymised = _rows(session.execute(
        update(Visit).where(_personal_visits(personal)).values(plate_enc=None, plate_index=None, purged_at=now)
        .execution_options(synchronize_session=False)))
    report.passes_anonymised = _rows(session.execute(
        update(VisitorPass).where(_personal_passes(personal)).values(
            name_enc=None, organisation_enc=None, id_last4_enc=None, plate_enc=None, name_index=None,
            plate_index=None, purged_at=now).execution_options(synchronize_session=False)))
    report.notifications_deleted = _rows(session.execute(
        delete(Notification).where(Notification.created_at < personal).execution_options(synchronize_session=False)))
    report.vehicle_plates_anonymised = _rows(session.execute(
        update(VehiclePassage).where(_personal_passages(personal)).values(plate_enc=None, plate_index=None,
                                                                          purged_at=now)
        .execution_options(synchronize_session=False)))
    session.expire_all()
    audit.record(session, actor, "visitors.purge", "retention", now.date().isoformat(), None, report.as_dict())
    return report


def _delete_each(session: Session, actor: Actor, model: Any, where: ColumnElement[bool], action: str) -> int:
    """Delete the rows ``where`` selects, a batch at a time, each with its audit row (``after`` None: the
    ledger check then expects it gone). Visits and passes are the gate's ledger; gate alerts and
    notifications are not (server.audit.ledger)."""
    deleted = 0
    while True:
        ids = list(session.scalars(select(model.id).where(where).order_by(model.id).limit(BATCH)))
        if not ids:
            return deleted
        with bulk.rows(session):
            for row in session.scalars(select(model).where(model.id.in_(ids)).order_by(model.id)):
                audit.removal(session, actor, action, row)
        deleted += _rows(session.execute(delete(model).where(model.id.in_(ids))
                                         .execution_options(synchronize_session=False)))
        session.expunge_all()  # deleted: a million old visits never sit in memory at once


def _count(session: Session) -> Any:
    def count(model: Any, where: ColumnElement[bool]) -> int:
        return int(session.scalar(select(func.count()).select_from(model).where(where)) or 0)

    return count


def _rows(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


# --- key rotation ---

@dataclass
class RotationReport:
    passes: int = 0
    visits: int = 0
    watchlist: int = 0
    notifications: int = 0
    vehicle_passages: int = 0


BATCH = 500


def rotate(session: Session, actor: Actor) -> RotationReport:
    """Re-encrypt every personal field with the newest key and recompute the blind indexes.

    Run it after putting a new key first in ``personal_data_keys`` (the old ones still after it);
    once it has run, the old keys can go."""
    vault = policy(session).vault
    report = RotationReport()
    for row in _each(session, VisitorPass):
        name = vault.open(row.name_enc)
        row.name_enc, row.organisation_enc = vault.reseal(row.name_enc), vault.reseal(row.organisation_enc)
        row.id_last4_enc, plate = vault.reseal(row.id_last4_enc), vault.open(row.plate_enc)
        row.plate_enc = vault.reseal(row.plate_enc)
        row.name_index = vault.index("name", normalize.person_name(name)) if name else None
        row.plate_index = vault.index("plate", plate)
        report.passes += 1
    for visit in _each(session, Visit):
        plate = vault.open(visit.plate_enc)
        visit.plate_enc, visit.plate_index = vault.reseal(visit.plate_enc), vault.index("plate", plate)
        report.visits += 1
    for note in _each(session, Notification):
        note.body_enc = vault.reseal(note.body_enc)
        report.notifications += 1
    for passage in _each(session, VehiclePassage):
        if passage.plate_enc:
            plate = vault.open(passage.plate_enc)
            passage.plate_enc, passage.plate_index = vault.reseal(passage.plate_enc), vault.index("plate", plate)
            report.vehicle_passages += 1
    report.watchlist = _rotate_watchlist(session)
    audit.record(session, actor, "visitors.rotate_key", "retention", utcnow().date().isoformat(), None,
                 asdict(report))
    return report


def _rotate_watchlist(session: Session) -> int:
    from server.services import watchlist

    vault = policy(session).vault
    count = 0
    for entry in _each(session, WatchlistEntry):
        shown = watchlist.view(session, entry)
        entry.label_enc = vault.reseal(entry.label_enc) or ""
        entry.aliases_enc, entry.note_enc = vault.reseal(entry.aliases_enc), vault.reseal(entry.note_enc)
        session.execute(delete(WatchlistKey).where(WatchlistKey.entry_id == entry.id))
        session.add_all(WatchlistKey(entry_id=entry.id, kind=kind, value_index=vault.index(kind, form) or "")
                        for kind, form in watchlist.forms(shown.kind, shown.label, shown.aliases))
        count += 1
    return count


def _each(session: Session, model: Any) -> Any:
    """Every row of ``model`` in id order, a batch at a time (a big table never sits in memory whole)."""
    after = 0
    while True:
        rows = list(session.scalars(select(model).where(model.id > after).order_by(model.id).limit(BATCH)))
        if not rows:
            return
        yield from rows
        session.flush()
        for row in rows:
            session.expunge(row)  # written: no need to keep it in memory
        after = rows[-1].id
