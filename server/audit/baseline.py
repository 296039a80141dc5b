"""``assetgate audit baseline``: describe, once, the ledger rows that only the old log covered.

A database from before the keyed chain holds rows that no keyed audit row describes: rows whose
newest description is a legacy row (written by older code, often not with every field), rows no audit
row describes at all (older code did not audit every write: intakes' assets, stocktake scans), and
history rows without an ``audit_hash``. The same holds after an upgrade that lists more tables or
fields in ``ledger``: their records' keyed audit rows were written without every field (``ledger.complete``),
and the new history tables' rows have no ``audit_hash``. Until they are described, ``verify`` reports them.

The baseline accepts the ledger as it is at that moment, in keyed audit rows (action
``ledger.baseline``): the state of each such entity row (or its deletion, for an entity id whose
legacy row names no row any more), and for each history table the count and digest of its rows
without ``audit_hash``. It never overrides a complete keyed description: a row that differs from
one is left for ``verify`` to report. Run ``assetgate audit verify`` first and look at what it says: the
baseline cannot tell an old gap from tampering done before it ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from server import audit
from server.audit import ledger, reconcile
from server.audit.keys import LEGACY

A = reconcile.A


@dataclass
class Baseline:
    entities: dict[str, int] = field(default_factory=dict)  # table -> rows described now
    history: dict[str, int] = field(default_factory=dict)  # table -> legacy rows digested now
    refused: int = 0  # rows that differ from a keyed description: left for verify

    @property
    def recorded(self) -> int:
        return sum(self.entities.values()) + len(self.history)


def run(session: Session, actor: audit.Actor, dry_run: bool = False) -> Baseline:
    out = Baseline()
    for spec in ledger.ENTITIES:
        _entity(session, actor, spec, out, dry_run)
    for history in ledger.HISTORY:
        _history(session, actor, history, out, dry_run)
    return out


def _entity(session: Session, actor: audit.Actor, spec: ledger.Entity, out: Baseline, dry_run: bool) -> None:
    pk = reconcile._pk(spec.model)
    last: tuple[object, ...] | None = None
    count = 0
    while True:  # rows of the table: newest description missing, legacy, or from before the table was listed
        rows = list(session.scalars(select(spec.model).where(reconcile.after_key(pk, last)).order_by(*pk)
                                    .limit(reconcile.CHUNK)))
        if not rows:
            break
        described = reconcile.newest(session, spec.name, [ledger.entity_of(r)[1] for r in rows])
        for row in rows:
            newest = described.get(ledger.entity_of(row)[1])
            if newest is not None and newest["key_id"] != LEGACY and not _incomplete(spec, newest["after"]):
                state = ledger.state(row)
                if newest["after"] is None or any(newest["after"].get(k) != v for k, v in state.items()):
                    out.refused += 1
                continue
            count += 1
            if not dry_run:
                audit.change(session, actor, "ledger.baseline", row)
        last = tuple(getattr(rows[-1], c.key) for c in pk)
        session.flush()
        session.expunge_all()  # written: a big table never sits in memory whole
    count += _gone(session, actor, spec, dry_run)
    if count:
        out.entities[spec.table] = count


def _gone(session: Session, actor: audit.Actor, spec: ledger.Entity, dry_run: bool) -> int:
    """Entity ids whose newest row (legacy, or keyed before the table was listed) names a row that is not
    there (an archive volume was named by its code then): recorded as deleted."""
    last, count = "", 0
    columns = [spec.model.__table__.c[name] for name in spec.keys]
    while True:
        ids = session.execute(select(A.entity_id).where(A.entity == spec.name, A.entity_id > last)
                              .group_by(A.entity_id).order_by(A.entity_id).limit(reconcile.CHUNK)).scalars().all()
        if not ids:
            return count
        last = ids[-1]
        described = reconcile.newest(session, spec.name, ids)
        stored = reconcile.rows_of(session, select(*columns).where(reconcile.key_in(spec, ids)))
        present = {spec.id_of(r) for r in stored}
        for key in ids:
            newest = described[key]
            old = newest["key_id"] == LEGACY or _incomplete(spec, newest["after"])
            if old and newest["after"] is not None and key not in present:
                count += 1
                if not dry_run:
                    audit.record(session, actor, "ledger.baseline", spec.name, key, newest["after"], None)


def _incomplete(spec: ledger.Entity, after: dict[str, object] | None) -> bool:
    """A keyed description written before the table (or a field) joined the ledger: it lacks fields."""
    return after is not None and not ledger.complete(spec, after)


def _history(session: Session, actor: audit.Actor, spec: ledger.History, out: Baseline, dry_run: bool) -> None:
    digest = reconcile.legacy_digest(session, spec)
    previous = reconcile.newest_baseline(session, spec.table)
    if previous is not None and previous["after"] == digest:
        return
    if not digest["rows"] and previous is None:
        return
    out.history[spec.table] = int(digest["rows"])
    if not dry_run:
        audit.record(session, actor, "ledger.baseline", ledger.BASELINE_ENTITY, spec.table,
                     dict(previous["after"]) if previous else None, dict(digest))


def describe(result: Baseline) -> list[str]:
    lines = [f"{table}: {n} rows described" for table, n in sorted(result.entities.items())]
    lines += [f"{table}: {n} rows from before the keyed chain (count and digest)" for table, n
              in sorted(result.history.items())]
    if result.refused:
        lines.append(f"{result.refused} rows differ from their keyed audit rows: not accepted "
                     "(`assetgate audit verify` names them)")
    return lines or ["nothing to describe: every ledger row has a keyed audit row"]

