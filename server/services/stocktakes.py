"""Stocktakes (盘点): reconcile the asset books with the shelves.

Opening freezes the expected set of a scope (the whole office, a department, or locations) with one
INSERT … SELECT. Scans (kiosk ``stocktake.scan``, the web's scanner field, a CSV of codes) are
rows; duplicates are harmless because only an asset's newest scan counts. Classification is one
set-based query (``_lines``), never a loop over assets, so a million expected assets and a hundred
thousand scans classify in seconds:

- found in place / found elsewhere (expected at X, seen at Y) / missing (expected, not seen);
- unexpected (seen, but its record puts it in another scope); unknown code; disposed item seen.

An asset whose record changed through a normal event during the count (``state_at`` after opening)
is judged by its current record, not the frozen snapshot; and if the record changed after the
asset was last seen, the sighting is older than the record and the record stands.

Each discrepancy gets one resolution (move to where seen, mark lost with an approval reference,
correct to a given location, or ignore with a reason). Closing applies them as normal asset events
(``assets.move``, ``lifecycle.dispose``), audited, and locks the report; it refuses while lines are
unresolved unless the admin forces it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, case, exists, func, insert, literal, or_, select, union_all
from sqlalchemy.orm import Session, aliased

from contract import codes
from server import audit
from server.audit import Actor
from server.errors import AlreadyExists, IllegalTransition, Invalid, NotFound, RuleViolation
from server.i18n import N_
from server.models import (
    Approval,
    ApprovalState,
    Asset,
    AssetStatus,
    Location,
    Stocktake,
    StocktakeExpected,
    StocktakeResolution,
    StocktakeScan,
    utcnow,
)
from server.services import assets, bulk, directory, lifecycle, stocktake_losses, stocktake_supplies

SCOPES = ("office", "department", "locations")
CLASSES = ("found_in_place", "found_elsewhere", "missing", "unexpected", "unknown", "disposed_seen")
DISCREPANCIES = ("found_elsewhere", "missing", "unexpected", "unknown", "disposed_seen")
ACTIONS = {  # action -> the classes it may resolve
    "move": ("found_elsewhere", "unexpected"),
    "lost": ("missing",),
    "correct": ("found_elsewhere", "missing", "unexpected"),
    "ignore": DISCREPANCIES,
}
MAX_CSV_ROWS = 200_000
CSV_PART = 500  # scans described per audit row (the check reads a bounded number of them at a time)


@dataclass(frozen=True)
class Line:
    code: str
    name: str
    cls: str
    expected_location_id: int | None
    seen_location_id: int | None
    seen_at: datetime | None


def open_stocktake(session: Session, actor: Actor, scope: str, department: str = "",
                   location_codes: Sequence[str] = ()) -> Stocktake:
    """Open a stocktake and freeze its expected set (every live asset of the scope, where its record is)."""
    if scope not in SCOPES:
        raise Invalid(N_("the scope must be office, department or locations"), code="bad_scope")
    department = (department or "").strip()[:100]
    if scope == "department" and not department:
        raise Invalid(N_("a department stocktake needs its department"), code="required")
    location_ids = sorted({directory.location_by_code(session, c).id for c in location_codes})
    if scope == "locations" and not location_ids:
        raise Invalid(N_("a stocktake of locations needs at least one location"), code="required")
    for other in session.scalars(select(Stocktake).where(Stocktake.state == "open", Stocktake.scope == scope)):
        if (other.department, sorted(other.location_ids or [])) == (department, location_ids):
            raise AlreadyExists(N_("stocktake %(id)s of this scope is still open"), id=other.id)
    made = Stocktake(scope=scope, department=department if scope == "department" else "",
                     location_ids=location_ids if scope == "locations" else [], state="open", opened_by=actor.name)
    session.add(made)
    session.flush()
    live = select(literal(made.id), Asset.id, Asset.location_id).where(_in_scope(made, Asset),
                                                                       Asset.status != AssetStatus.DISPOSED.value)
    session.execute(insert(StocktakeExpected).from_select(["stocktake_id", "asset_id", "location_id"], live))
    expected = session.scalar(select(func.count()).where(StocktakeExpected.stocktake_id == made.id))
    audit.change(session, actor, "stocktake.open", made, extra={"locations": list(location_codes),
                                                               "expected": expected})
    return made


def _in_scope(stocktake: Stocktake, asset: Any) -> Any:
    if stocktake.scope == "department":
        return asset.department == stocktake.department
    if stocktake.scope == "locations":
        return asset.location_id.in_(stocktake.location_ids or [])
    return literal(True)


def by_id(session: Session, stocktake_id: int, *, lock: bool = False) -> Stocktake:
    stmt = select(Stocktake).where(Stocktake.id == stocktake_id)
    found = session.scalars(stmt.with_for_update() if lock else stmt).first()
    if found is None:
        raise NotFound(N_("no stocktake %(id)s"), id=stocktake_id)
    return found


def _open(session: Session, stocktake_id: int) -> Stocktake:
    found = by_id(session, stocktake_id)
    if found.state != "open":
        raise IllegalTransition(N_("stocktake %(id)s is closed"), code="stocktake_closed", id=stocktake_id)
    return found


def _asset_code(text: str) -> str:
    try:
        return codes.normalize(text, codes.Kind.ASSET)
    except codes.CodeError as exc:
        raise Invalid(N_("%(text)s is not an asset code"), code=exc.reason, text=text[:40]) from None


def scan(session: Session, actor: Actor, stocktake_id: int, code: str, location_code: str,
         at: datetime | None = None, kiosk_event_id: str | None = None) -> tuple[StocktakeScan, str]:
    """Record one sighting; returns it with the class its asset now has."""
    stocktake = _open(session, stocktake_id)
    normal = _asset_code(code)
    location = directory.location_by_code(session, location_code)
    asset_id = session.scalar(select(Asset.id).where(Asset.code == normal))
    row = StocktakeScan(stocktake_id=stocktake.id, code=normal, asset_id=asset_id, location_id=location.id,
                        at=at or utcnow(), actor=actor.name, source=actor.source, kiosk_event_id=kiosk_event_id)
    audit.change(session, actor, "stocktake.scan", stocktake, extra={"code": normal, "location": location.code},
                 inserted=[row])
    session.add(row)
    session.flush()
    return row, line_class(session, stocktake, normal)


def scan_csv(session: Session, actor: Actor, stocktake_id: int, text: str) -> int:
    """Scans from a CSV (code,location per row; a header row is allowed). All rows or none: a bad row
    is refused with its line number."""
    stocktake = _open(session, stocktake_id)
    rows: list[tuple[str, str]] = []
    for number, fields in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not fields or not "".join(fields).strip():
            continue
        if number == 1 and fields[0].strip().lower() == "code":
            continue
        if len(fields) < 2 or len(rows) >= MAX_CSV_ROWS:
            raise Invalid(N_("line %(line)s: each row needs a code and a location code"), code="bad_csv", line=number)
        try:
            rows.append((_asset_code(fields[0].strip()), codes.normalize(fields[1].strip(), codes.Kind.LOCATION)))
        except (Invalid, codes.CodeError):
            raise Invalid(N_("line %(line)s: not an asset code and a location code"), code="bad_csv",
                          line=number) from None
    asset_ids = _ids(session, Asset, {c for c, _ in rows})
    location_ids = _ids(session, Location, {loc for _, loc in rows})
    unknown_locations = sorted({loc for _, loc in rows} - set(location_ids))
    if unknown_locations:
        raise NotFound(N_("unknown location %(location)s"), location=unknown_locations[0])
    now = utcnow()
    scans = [{"stocktake_id": stocktake.id, "code": c, "asset_id": asset_ids.get(c), "location_id": location_ids[loc],
              "at": now, "actor": actor.name, "source": "csv"} for c, loc in rows]
    with bulk.rows(session):  # an audit row per part (each describes its scans: bounded rows for the check)
        for start in range(0, len(scans), CSV_PART):
            part = scans[start:start + CSV_PART]
            audit.change(session, actor, "stocktake.scan_csv", stocktake, extra={"rows": len(rows), "from": start + 1,
                                                                                 "to": start + len(part)},
                         inserted=[(StocktakeScan, scan) for scan in part])
    if scans:
        session.execute(insert(StocktakeScan), scans)
    return len(rows)


def _ids(session: Session, model: Any, wanted: Iterable[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    chunk = list(wanted)
    for start in range(0, len(chunk), 5000):
        part = chunk[start:start + 5000]
        found.update(session.execute(select(model.code, model.id).where(model.code.in_(part))).all())
    return found


def _lines(stocktake: Stocktake) -> Select[Any]:
    """Every line of the stocktake with its class, in one set-based query (code, name, class,
    expected location, seen location, seen at)."""
    st = stocktake.id
    last = (select(StocktakeScan.code, func.max(StocktakeScan.id).label("scan_id"))
            .where(StocktakeScan.stocktake_id == st).group_by(StocktakeScan.code).subquery())
    seen = aliased(StocktakeScan)
    moved = and_(Asset.state_at.is_not(None), Asset.state_at > stocktake.opened_at)
    expected_at = case((moved, Asset.location_id), else_=StocktakeExpected.location_id)
    record_newer = and_(moved, Asset.state_at >= seen.at)
    expected_cls = case(
        (seen.id.is_(None), literal("missing")),
        (Asset.status == AssetStatus.DISPOSED.value, literal("disposed_seen")),
        (record_newer, literal("found_in_place")),
        (seen.location_id == expected_at, literal("found_in_place")),
        else_=literal("found_elsewhere"))
    expected_part = (
        select(Asset.code, Asset.name, expected_cls.label("cls"), expected_at.label("expected_location_id"),
               seen.location_id.label("seen_location_id"), seen.at.label("seen_at"))
        .select_from(StocktakeExpected)
        .join(Asset, Asset.id == StocktakeExpected.asset_id)
        .outerjoin(last, last.c.code == Asset.code)
        .outerjoin(seen, seen.id == last.c.scan_id)
        .where(StocktakeExpected.stocktake_id == st)
        .where(~and_(seen.id.is_(None), Asset.status == AssetStatus.DISPOSED.value)))  # disposed meanwhile, unseen
    # NOT EXISTS, not NOT IN: PostgreSQL plans it as a hash anti-join (NOT IN over a million ids
    # falls back to a per-row scan once the id list outgrows work_mem).
    expected_here = exists().where(StocktakeExpected.stocktake_id == st, StocktakeExpected.asset_id == seen.asset_id)
    extra_cls = case(
        (seen.asset_id.is_(None), literal("unknown")),
        (Asset.status == AssetStatus.DISPOSED.value, literal("disposed_seen")),
        (and_(moved, Asset.location_id == seen.location_id, _in_scope(stocktake, Asset)), literal("found_in_place")),
        else_=literal("unexpected"))
    extra_part = (
        select(seen.code, func.coalesce(Asset.name, literal("")), extra_cls.label("cls"),
               Asset.location_id.label("expected_location_id"), seen.location_id.label("seen_location_id"),
               seen.at.label("seen_at"))
        .select_from(last)
        .join(seen, seen.id == last.c.scan_id)
        .outerjoin(Asset, Asset.id == seen.asset_id)
        .where(or_(seen.asset_id.is_(None), ~expected_here)))
    return union_all(expected_part, extra_part)  # type: ignore[return-value]


def counts(session: Session, stocktake: Stocktake) -> dict[str, int]:
    """How many lines each class has (all classes, zeros included)."""
    if stocktake.summary is not None:
        return dict(stocktake.summary["counts"])
    lines = _lines(stocktake).subquery()
    found: dict[str, int] = dict(session.execute(select(lines.c.cls, func.count()).group_by(lines.c.cls)).all())
    return {cls: int(found.get(cls, 0)) for cls in CLASSES}


def lines(session: Session, stocktake: Stocktake, cls: str | None = None, limit: int = 1000) -> list[Line]:
    """The lines (of one class), by class and code; a closed stocktake's discrepancies as they were at closing."""
    if stocktake.summary is not None:
        kept = [Line(c, n, k, e, s, datetime.fromisoformat(t) if t else None)
                for c, n, k, e, s, t in stocktake.summary["lines"]]
        return [line for line in kept if cls in (None, line.cls)][:limit]
    sub = _lines(stocktake).subquery()
    query = select(sub)
    if cls:
        if cls not in CLASSES:
            raise Invalid(N_("unknown class %(cls)s"), cls=cls[:40])
        query = query.where(sub.c.cls == cls)
    query = query.order_by(sub.c.cls, sub.c.code).limit(limit)
    return [Line(*row) for row in session.execute(query)]


def line_class(session: Session, stocktake: Stocktake, code: str) -> str:
    sub = _lines(stocktake).subquery()
    return session.scalar(select(sub.c.cls).where(sub.c.code == code)) or "unknown"


def resolve(session: Session, actor: Actor, stocktake_id: int, code: str, action: str, location_code: str = "",
            approval_ref: str = "", reason: str = "", principal_above: Decimal | None = None) -> StocktakeResolution:
    """Choose how one discrepancy is resolved (replacing an earlier choice); applied at closing. A loss
    without an approval reference asks the approval chain when ``principal_above`` is given."""
    stocktake = _open(session, stocktake_id)
    if action not in ACTIONS:
        raise Invalid(N_("the action must be move, lost, correct or ignore"), code="bad_action")
    normal = code.strip().upper()[:64]
    cls = line_class(session, stocktake, normal)
    line = next(iter(lines_for(session, stocktake, normal)), None)
    if line is None or cls not in ACTIONS[action]:
        raise RuleViolation(N_("%(action)s cannot resolve a line of class %(cls)s"), code="bad_action",
                            action=action, cls=cls)
    location_id = None
    if action == "move":
        location_id = line.seen_location_id
    elif action == "correct":
        location_id = directory.location_by_code(session, location_code).id
    approval_ref, reason = approval_ref.strip()[:100], reason.strip()[:2000]
    if action == "lost" and not approval_ref and principal_above is None:
        raise Invalid(N_("marking an asset lost needs the approval reference"), code="approval_required")
    if action == "ignore" and not reason:
        raise Invalid(N_("ignoring a line needs a reason"), code="reason_required")
    row = session.scalars(select(StocktakeResolution).where(StocktakeResolution.stocktake_id == stocktake.id,
                                                            StocktakeResolution.code == normal)).first()
    before = audit.state(row) if row is not None else None
    if row is not None:
        stocktake_losses.let_go(session, actor, row.approval_id)
    chain = None
    if action == "lost" and not approval_ref:
        assert principal_above is not None
        chain = stocktake_losses.ask(session, actor, normal, principal_above)
    if row is None:
        row = StocktakeResolution(stocktake_id=stocktake.id, code=normal)
        session.add(row)
    row.action, row.location_id, row.approval_ref, row.reason, row.decided_by = (
        action, location_id, approval_ref, reason, actor.name)
    row.approval_id = chain.id if chain is not None else None
    session.flush()
    audit.change(session, actor, "stocktake.resolve", row, before)
    return row


def lines_for(session: Session, stocktake: Stocktake, code: str) -> list[Line]:
    sub = _lines(stocktake).subquery()
    return [Line(*row) for row in session.execute(select(sub).where(sub.c.code == code))]


def unresolved(session: Session, stocktake: Stocktake) -> int:
    """Discrepancy lines without a resolution, or whose loss the approval chain has not approved."""
    sub = _lines(stocktake).subquery()
    done = (select(StocktakeResolution.code)
            .outerjoin(Approval, Approval.id == StocktakeResolution.approval_id)
            .where(StocktakeResolution.stocktake_id == stocktake.id,
                   or_(StocktakeResolution.approval_id.is_(None), Approval.state == ApprovalState.APPROVED.value)))
    return int(session.scalar(select(func.count()).select_from(sub).where(
        sub.c.cls.in_(DISCREPANCIES), sub.c.code.not_in(done))) or 0)


def close(session: Session, actor: Actor, stocktake_id: int, force: bool = False) -> Stocktake:
    """Apply the resolutions as normal asset events and lock the report."""
    stocktake = by_id(session, stocktake_id, lock=True)
    if stocktake.state != "open":
        raise IllegalTransition(N_("stocktake %(id)s is closed"), code="stocktake_closed", id=stocktake_id)
    left = unresolved(session, stocktake)
    if left and not force:
        raise RuleViolation(N_("%(count)s lines are unresolved; resolve them or close anyway explicitly"),
                            code="unresolved_lines", count=left)
    # The report is locked as it stands now: applying the resolutions changes the records it was judged by.
    summary = counts(session, stocktake)
    kept = [[line.code, line.name, line.cls, line.expected_location_id, line.seen_location_id,
             line.seen_at.isoformat() if line.seen_at else None]
            for cls in DISCREPANCIES for line in lines(session, stocktake, cls, limit=10_000_000)]
    why = f"stocktake {stocktake.id}"
    for row in session.scalars(select(StocktakeResolution).where(StocktakeResolution.stocktake_id == stocktake.id)
                               .order_by(StocktakeResolution.id)):
        if row.action in ("move", "correct") and row.location_id is not None:
            target = session.get(Location, row.location_id)
            assert target is not None
            assets.move(session, actor, row.code, target.code, reason=f"{why}: {row.action}")
        elif row.action == "lost" and row.approval_id is not None:
            chain = session.get(Approval, row.approval_id)
            if chain is None or chain.state != ApprovalState.APPROVED.value:
                continue  # not approved: left as it is (only a forced close gets here)
            lifecycle.dispose(session, actor, row.code, "lost", stocktake_losses.approval_ref(chain.id), note=why)
        elif row.action == "lost":
            lifecycle.dispose(session, actor, row.code, "lost", row.approval_ref, note=why)
        before = audit.state(row)
        row.applied = True
        audit.change(session, actor, "stocktake.apply", row, before)
    counted = stocktake_supplies.apply(session, actor, stocktake)  # supply differences become movements
    before = audit.state(stocktake)
    stocktake.state, stocktake.closed_by, stocktake.closed_at = "closed", actor.name, utcnow()
    stocktake.forced, stocktake.summary = bool(left), {"counts": summary, "lines": kept, "supplies": counted}
    audit.change(session, actor, "stocktake.close", stocktake, before,
                 {"counts": summary, "unresolved": left, "supply_counts": len(counted)})
    return stocktake


def listing(session: Session) -> list[Stocktake]:
    return list(session.scalars(select(Stocktake).order_by(Stocktake.id.desc()).limit(200)))
