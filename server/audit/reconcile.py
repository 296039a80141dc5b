"""The ledger against the audit log: every listed table must hold what the log describes.

All of it in bounded memory: a chunk of rows at a time, each chunk found through an index
(keyset), never a table or the log held whole.

- History rows (``ledger.HISTORY``): while the chain is walked, each chunk of audit rows fetches the
  rows that point back at it (``audit_hash IN``) and compares them with the descriptions; afterwards
  the rows counted per table must be every row that points at any audit row. Rows from before the
  keyed chain (no ``audit_hash``) are compared, as a count and a digest, with their baseline.
- Entities (``ledger.ENTITIES``): for each entity id in the log (in id order, a chunk at a time), the
  newest audit row against the table's row: the same fields, or no row if it says deleted. Then
  each table row must have at least one audit row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
from sqlalchemy import Integer, bindparam, func, select, true, tuple_
from sqlalchemy.orm import Session

from server.audit import ledger, report
from server.audit.keys import LEGACY
from server.audit.report import Finding, Report
from server.models import AuditEntry

A = AuditEntry.__table__.c
CHUNK = 1000
Row = Any  # a row as a mapping of column name to value (SQLAlchemy's RowMapping)


def _columns(model: type[Any], names: Sequence[str]) -> list[Any]:
    table = model.__table__
    return [table.c[name] for name in dict.fromkeys(names)]


def _pk(model: type[Any]) -> list[Any]:
    return list(model.__table__.primary_key.columns)


def rows_of(session: Session, stmt: Any, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Rows as plain dicts (a dict's ``get`` is several times quicker than a RowMapping's, per field)."""
    result = session.execute(stmt, params or {})
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]


def _row_name(row: Row, pk: list[Any]) -> str:
    return "/".join(str(row[c.name]) for c in pk)


# --- history rows, while the chain is walked ---

class HistoryCheck:
    def __init__(self, session: Session, out: Report) -> None:
        self.session, self.out = session, out
        self.matched: dict[str, int] = {h.table: 0 for h in ledger.HISTORY}
        self._statements: dict[str, Any] = {}  # one compiled statement per table (IN with expanding parameters)

    def _statement(self, spec: ledger.History, pk: list[Any], by_key: bool) -> Any:
        found = self._statements.get(spec.table)
        if found is None:
            table = spec.model.__table__
            columns = _columns(spec.model, [*spec.fields, *spec.order, *(c.name for c in pk), "audit_hash"])
            if by_key:  # the first key column equal, the last one IN: a search of the primary key index
                # (SQLite scans the whole table for a row-value IN list)
                *firsts, last = pk
                found = select(*columns).where(*[c == bindparam(c.name) for c in firsts],
                                               last.in_(bindparam("wanted", expanding=True)))
            else:
                found = (select(*columns).where(table.c.audit_hash.in_(bindparam("wanted", expanding=True)))
                         .order_by(*[table.c[name] for name in spec.order]))
            self._statements[spec.table] = found
        return found

    def chunk(self, rows: Sequence[Row]) -> None:
        """Compare the history rows described by these audit rows with the tables."""
        wanted: dict[str, dict[str, tuple[int, list[dict[str, Any]]]]] = {}
        for row in rows:
            for table, described in (row["inserted"] or {}).items():
                wanted.setdefault(table, {})[row["hash"]] = (row["id"], described)
        for table, by_hash in wanted.items():
            spec = ledger.HISTORY_BY_TABLE.get(table)
            if spec is None:
                continue  # a table no longer reconciled: nothing to compare it with
            self._compare(spec, by_hash)

    def _compare(self, spec: ledger.History, by_hash: dict[str, tuple[int, list[dict[str, Any]]]]) -> None:
        pk = _pk(spec.model)
        if spec.described_order and set(spec.order) == {c.name for c in pk}:
            self._compare_by_key(spec, by_hash, pk)
            return
        stmt = self._statement(spec, pk, by_key=False)
        found: dict[str, list[Row]] = {}
        hashes = list(by_hash)
        for start in range(0, len(hashes), CHUNK):
            for stored in rows_of(self.session, stmt, {"wanted": hashes[start:start + CHUNK]}):
                found.setdefault(stored["audit_hash"], []).append(stored)
        for audit_hash, (audit_id, described) in by_hash.items():
            stored_rows = found.get(audit_hash, [])
            self.matched[spec.table] += len(stored_rows)
            for index, expected in enumerate(described):
                if index >= len(stored_rows):
                    self.out.add(Finding(spec.table, f"#{index + 1}", "", "∅", report.shown(expected), audit_id,
                                         report.ROW_MISSING))
                    continue
                self._fields(spec, stored_rows[index], expected, audit_id, pk)
            for extra in stored_rows[len(described):]:
                self.out.add(Finding(spec.table, _row_name(extra, pk), "audit_hash", audit_hash[:16], "",
                                     audit_id, report.ROW_EXTRA))
            self.out.ledger_rows += len(stored_rows)

    def _compare_by_key(self, spec: ledger.History, by_hash: dict[str, tuple[int, list[dict[str, Any]]]],
                        pk: list[Any]) -> None:
        """Rows whose descriptions carry their primary key (kiosk events): found by it, no index on the link."""
        names = [c.name for c in pk]
        wanted = {tuple(d[n] for n in names): (audit_hash, audit_id, d)
                  for audit_hash, (audit_id, described) in by_hash.items() for d in described}
        found: dict[tuple[Any, ...], Row] = {}
        stmt = self._statement(spec, pk, by_key=True)
        groups: dict[tuple[Any, ...], list[Any]] = {}
        for key in wanted:  # e.g. per kiosk, the event ids
            groups.setdefault(key[:-1], []).append(key[-1])
        for prefix, lasts in groups.items():
            fixed = dict(zip(names[:-1], prefix, strict=True))
            for start in range(0, len(lasts), CHUNK):
                found.update({tuple(r[n] for n in names): r for r in rows_of(
                    self.session, stmt, {**fixed, "wanted": lasts[start:start + CHUNK]})})
        for key, (audit_hash, audit_id, expected) in wanted.items():
            stored, name = found.get(key), "/".join(map(str, key))
            if stored is None:
                self.out.add(Finding(spec.table, name, "", "∅", report.shown(expected), audit_id, report.ROW_MISSING))
                continue
            self.out.ledger_rows += 1
            if stored["audit_hash"] != audit_hash:
                self.out.add(Finding(spec.table, name, "audit_hash", str(stored["audit_hash"])[:16], audit_hash[:16],
                                     audit_id, report.FIELD_DIFFERS))
                continue
            self.matched[spec.table] += 1
            self._fields(spec, stored, expected, audit_id, pk)

    def _fields(self, spec: ledger.History, stored: Row, expected: Row, audit_id: int,
                pk: list[Any]) -> None:
        now = ledger.normal_of(spec.model, stored)
        if now.items() <= expected.items():  # every field as described (a comparison in C): nearly always
            return
        for name, value in now.items():
            if name not in expected:
                self.out.add(Finding(spec.table, _row_name(stored, pk), name, report.shown(value), "", audit_id,
                                     report.NOT_DESCRIBED))
            elif value != expected[name]:
                self.out.add(Finding(spec.table, _row_name(stored, pk), name, report.shown(value),
                                     report.shown(expected[name]), audit_id, report.FIELD_DIFFERS))

    def totals(self) -> None:
        """Rows that point at an audit row which does not describe them; rows from before the chain."""
        for spec in ledger.HISTORY:
            table = spec.model.__table__
            linked = self.session.scalar(select(func.count()).select_from(table)
                                         .where(table.c.audit_hash.is_not(None))) or 0
            if linked != self.matched[spec.table]:
                self._name_strays(spec)
            legacy_check(self.session, spec, self.out)

    def _name_strays(self, spec: ledger.History) -> None:
        """Find the rows whose ``audit_hash`` names no audit row that describes their table (only run
        when the counts say there are some: a pass over the table, a chunk at a time)."""
        table, pk = spec.model.__table__, _pk(spec.model)
        last: tuple[Any, ...] | None = None
        while True:
            stmt = select(*pk, table.c.audit_hash).where(table.c.audit_hash.is_not(None))
            if last is not None:
                stmt = stmt.where(tuple_(*pk) > tuple_(*last))
            chunk = self.session.execute(stmt.order_by(*pk).limit(CHUNK)).mappings().all()
            if not chunk:
                return
            hashes = {r["audit_hash"] for r in chunk}
            describing = {h for h, inserted in self.session.execute(
                select(A.hash, A.inserted).where(A.hash.in_(hashes))) if spec.table in (inserted or {})}
            for r in chunk:
                if r["audit_hash"] not in describing:
                    self.out.add(Finding(spec.table, _row_name(r, pk), "audit_hash", r["audit_hash"][:16], "",
                                         None, report.ROW_EXTRA))
            last = tuple(chunk[-1][c.name] for c in pk)


def legacy_rows(session: Session, spec: ledger.History) -> Iterator[Row]:
    """The rows of a history table from before the keyed chain (no ``audit_hash``), in key order."""
    table, pk = spec.model.__table__, _pk(spec.model)
    last: tuple[Any, ...] | None = None
    while True:
        stmt = select(*_columns(spec.model, [*spec.fields, *(c.name for c in pk)])).where(table.c.audit_hash.is_(None))
        if last is not None:
            stmt = stmt.where(tuple_(*pk) > tuple_(*last))
        chunk = session.execute(stmt.order_by(*pk).limit(CHUNK)).mappings().all()
        if not chunk:
            return
        yield from chunk
        last = tuple(chunk[-1][c.name] for c in pk)


def legacy_digest(session: Session, spec: ledger.History) -> dict[str, Any]:
    """Count and SHA-256 of a table's rows from before the keyed chain (their reconciled fields)."""
    digest, count = hashlib.sha256(), 0
    for row in legacy_rows(session, spec):
        digest.update(orjson.dumps(ledger.normal_of(spec.model, row), option=orjson.OPT_SORT_KEYS) + b"\n")
        count += 1
    return {"rows": count, "digest": digest.hexdigest()}


def newest_baseline(session: Session, table: str) -> Row | None:
    return session.execute(select(A.id, A.after).where(A.entity == ledger.BASELINE_ENTITY, A.entity_id == table,
                                                       A.key_id != LEGACY)
                           .order_by(A.id.desc()).limit(1)).mappings().first()


def legacy_check(session: Session, spec: ledger.History, out: Report) -> None:
    table = spec.model.__table__
    count = session.scalar(select(func.count()).select_from(table).where(table.c.audit_hash.is_(None))) or 0
    baseline = newest_baseline(session, spec.table)
    if not count and baseline is None:
        return
    if baseline is None:
        out.add(Finding(spec.table, "", "audit_hash", f"{count} ∅", "", None, report.BASELINE_MISSING))
        return
    now = legacy_digest(session, spec)
    if now != baseline["after"]:
        kept = baseline["after"] or {}
        out.add(Finding(spec.table, "", "rows/digest", f"{now['rows']} / {now['digest'][:16]}",
                        f"{kept.get('rows')} / {str(kept.get('digest'))[:16]}", baseline["id"],
                        report.BASELINE_DIFFERS))
    out.ledger_rows += count


# --- entities, after the walk ---

def newest(session: Session, entity: str, keys: Sequence[str]) -> dict[str, Row]:
    """The newest audit row (id, key_id, after) of each of these entity ids that has one."""
    last = select(func.max(A.id)).where(A.entity == entity, A.entity_id.in_(keys)).group_by(A.entity_id)
    rows = rows_of(session, select(A.id, A.entity_id, A.key_id, A.after).where(A.id.in_(last.scalar_subquery())))
    return {r["entity_id"]: r for r in rows}


def _typed(spec: ledger.Entity, key: str) -> tuple[Any, ...] | None:
    """An entity id as the values of its key columns (None: no row can have it)."""
    parts = key.split("/") if len(spec.keys) > 1 else [key]
    if len(parts) != len(spec.keys):
        return None
    values: list[Any] = []
    for name, part in zip(spec.keys, parts, strict=True):
        if isinstance(spec.model.__table__.c[name].type, Integer):
            if not (part.isascii() and part.isdigit() and len(part) < 19):
                return None
            values.append(int(part))
        else:
            values.append(part)
    return tuple(values)


def key_in(spec: ledger.Entity, keys: Sequence[str]) -> Any:
    """The table's rows whose entity ids are among ``keys``."""
    columns = [spec.model.__table__.c[name] for name in spec.keys]
    typed = [t for t in (_typed(spec, k) for k in keys) if t is not None]
    if len(columns) == 1:
        return columns[0].in_([t[0] for t in typed])
    return tuple_(*columns).in_(typed)  # a small table (a vehicle's drivers): a row-value IN is fine


def after_key(pk: list[Any], last: tuple[Any, ...] | None) -> Any:
    """Keyset: rows after ``last`` in primary key order (a plain comparison for a one-column key: its index)."""
    if last is None:
        return true()
    return pk[0] > last[0] if len(pk) == 1 else tuple_(*pk) > tuple_(*last)


def entities(session: Session, out: Report) -> None:
    for spec in ledger.ENTITIES:
        _described(session, spec, out)
        _undescribed(session, spec, out)


def _described(session: Session, spec: ledger.Entity, out: Report) -> None:
    """Each entity id of the log, a chunk at a time: its newest audit row against the table's row."""
    fields = [name for name, _ in ledger.normals(spec.model)]
    last = ""
    while True:
        ids = session.execute(select(A.entity_id).where(A.entity == spec.name, A.entity_id > last)
                              .group_by(A.entity_id).order_by(A.entity_id).limit(CHUNK)).scalars().all()
        if not ids:
            return
        last = ids[-1]
        described = newest(session, spec.name, ids)
        stored = {spec.id_of(r): r for r in rows_of(
            session, select(*_columns(spec.model, [*spec.keys, *fields])).where(key_in(spec, ids)))}
        for key in ids:
            _compare(spec, key, described[key], stored.get(key), out)


def _compare(spec: ledger.Entity, key: str, audit_row: Row, stored: Row | None,
             out: Report) -> None:
    after, audit_id = audit_row["after"], audit_row["id"]
    if audit_row["key_id"] == LEGACY:  # described only before the keyed chain: not comparable field by field
        out.legacy_described += 1
        return
    out.ledger_rows += 1
    if after is None:
        if stored is not None:
            out.add(Finding(spec.table, key, "", "", "∅", audit_id, report.STILL_THERE))
        return
    if stored is None:
        out.add(Finding(spec.table, key, "", "∅", report.shown(after), audit_id, report.DELETED))
        return
    now = ledger.normal_of(spec.model, stored)
    if now.items() <= after.items():  # every field as described
        return
    for name, value in now.items():
        if name not in after:
            out.add(Finding(spec.table, key, name, report.shown(value), "", audit_id, report.NOT_DESCRIBED))
        elif value != after[name]:
            shown_now = report.shown(value) if name not in spec.secrets else "sha256:…"
            out.add(Finding(spec.table, key, name, shown_now, report.shown(after[name]), audit_id,
                            report.FIELD_DIFFERS))


def _undescribed(session: Session, spec: ledger.Entity, out: Report) -> None:
    """Table rows that no audit row describes at all (inserted behind the application's back)."""
    pk = _pk(spec.model)
    last: tuple[Any, ...] | None = None
    while True:
        chunk = rows_of(session, select(*_columns(spec.model, [*(c.name for c in pk), *spec.keys]))
                        .where(after_key(pk, last)).order_by(*pk).limit(CHUNK))
        if not chunk:
            return
        keys = [spec.id_of(row) for row in chunk]
        known = set(session.execute(select(A.entity_id).where(A.entity == spec.name, A.entity_id.in_(keys))
                                    .distinct()).scalars())
        for key in keys:
            if key not in known:
                out.add(Finding(spec.table, key, "", "", "", None, report.NOT_IN_LOG))
        last = tuple(chunk[-1][c.name] for c in pk)
