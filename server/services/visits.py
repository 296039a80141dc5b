"""Signing visitors in and out, who is on site now, and the automatic sign-out.

The rules, whoever asks (gate kiosk, gate desk, API):

* a pass signs in only inside its window, when valid (not revoked, approved if it needed to be);
  otherwise it is refused with the reason (``pass_expired``, ``pass_not_yet_valid``,
  ``pass_revoked``, ``pass_not_approved``);
* a pass already on site is refused (``already_on_site``), unless the second sign-in was made
  where its gate could not have known of the first: a kiosk event made before the server
  learned of the first sign-in, made offline (it reached the server ``OFFLINE_AFTER`` or more
  after it was made) or with an unsynchronised clock. Then both are stored, the second is
  flagged as a conflict and the admin gets an alert: nothing is lost. A pass revoked after
  such an offline sign-in was made is handled the same way;
* a visitor whose name or plate is on the watchlist is refused (``on_watchlist``); the refusal
  leaves an alert and notifies the admin. An admin may admit the visitor at the desk;
* a sign-out closes the open visit; one scanned after the automatic sign-out but made before
  it replaces the automatic one (the gate was offline); otherwise ``not_on_site``;
* the automatic sign-out closes, at the configured hour, every visit still open, and records it
  as automatic, never as a sign-out.

Every sign-in queues a notification for the host (services.notify): it never waits for it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contract.messages import Reason
from server import audit
from server.audit import Actor
from server.errors import Forbidden, NotFound, RuleViolation
from server.i18n import N_
from server.models import PassStatus, Person, SignoutKind, Visit, VisitorPass, utcnow
from server.personal import policy
from server.services import gate_alerts, notify, visitors, watchlist
from server.services.gate_alerts import GateRefusal
from server.services.visitors import VisitorIn

OFFLINE_AFTER = timedelta(seconds=60)


@dataclass(frozen=True)
class Origin:
    """Where a sign-in or sign-out comes from."""

    source: str  # web, api, kiosk:<id>
    event_id: str | None = None
    synced: bool = True
    kiosk: bool = False

    def blind_to(self, at: datetime, learned_at: datetime, now: datetime) -> bool:
        """True when the gate could not have known of something the server learned at ``learned_at``."""
        return self.kiosk and (not self.synced or at < learned_at or now - at >= OFFLINE_AFTER)


WEB = Origin("web")


@dataclass(frozen=True)
class SignedIn:
    visit: Visit
    visitor_pass: VisitorPass
    conflict: bool
    walk_in: bool


@dataclass(frozen=True)
class SignedOut:
    visitor_pass: VisitorPass
    closed: int
    corrected: bool  # replaced an automatic sign-out


def sign_in(session: Session, actor: Actor, code: str, at: datetime | None = None, origin: Origin = WEB,
            details: VisitorIn | None = None, admit_watchlisted: bool = False, plate: str | None = None) -> SignedIn:
    """Sign a visitor in with a pass. ``details`` register a walk-in on a blank pass (kiosk); for a
    registered pass only their plate is used. ``plate`` is the vehicle the visitor came with today
    (default: the one registered)."""
    at = at or utcnow()
    now = utcnow()
    normal = visitors.normal_code(code)
    row = visitors.pass_or_none(session, normal, lock=True)
    today = visitors.clean_plate(plate)
    if row is None:
        clean = visitors.clean(session, details) if details is not None else None
        if clean is None or not visitors.blank_pass(session, normal):
            raise NotFound(N_("unknown visitor pass %(pass_code)s"), pass_code=normal)
        name, plate = clean.name, today or clean.plate
    else:
        conflict_revoked = _check_pass(row, at, origin)
        name = policy(session).vault.open(row.name_enc) or ""
        plate = today or visitors.clean_plate(details.plate if details else None) or \
            policy(session).vault.open(row.plate_enc)
    _check_watchlist(session, actor, normal, name, plate, at, origin, admit_watchlisted)
    walk_in = row is None
    if row is None:
        assert clean is not None
        row, conflict_revoked = visitors.walk_in(session, actor, clean, at, normal), False
    conflict = _on_site_conflict(session, row, at, origin, now) or conflict_revoked
    visit = _record(session, actor, row, at, origin, plate, conflict)
    _notify_host(session, row, name, at)
    return SignedIn(visit, row, conflict, walk_in)


def _check_pass(row: VisitorPass, at: datetime, origin: Origin) -> bool:
    """Refuse a pass that may not sign in at ``at``; True when it was revoked after a kiosk's sign-in
    was made (stored, flagged as a conflict)."""
    if row.status in (PassStatus.PENDING_APPROVAL, PassStatus.REJECTED):
        message = (N_("visitor pass %(pass_code)s is waiting for approval") if row.status == PassStatus.PENDING_APPROVAL
                   else N_("visitor pass %(pass_code)s was not approved"))
        raise RuleViolation(message, code=Reason.PASS_NOT_APPROVED, pass_code=row.code)
    if at < row.valid_from:
        raise RuleViolation(N_("visitor pass %(pass_code)s is valid only from %(start)s"),
                            code=Reason.PASS_NOT_YET_VALID, pass_code=row.code, start=_local(row.valid_from))
    if at > row.valid_until:
        raise RuleViolation(N_("visitor pass %(pass_code)s expired at %(end)s"), code=Reason.PASS_EXPIRED,
                            pass_code=row.code, end=_local(row.valid_until))
    if row.status == PassStatus.REVOKED:
        if origin.kiosk and row.revoked_at is not None and at < row.revoked_at:
            return True  # made at a gate before the revocation: stored, for the admin to review
        raise RuleViolation(N_("visitor pass %(pass_code)s is revoked"), code=Reason.PASS_REVOKED,
                            pass_code=row.code)
    return False


def _local(value: datetime) -> str:
    return value.isoformat(timespec="minutes")


def _check_watchlist(session: Session, actor: Actor, code: str, name: str, plate: str | None, at: datetime,
                     origin: Origin, admit: bool) -> None:
    hits = watchlist.matches(session, name, [plate])
    if not hits:
        return
    detail = f"watchlist entries {', '.join(map(str, hits))}"
    if admit:
        if actor.role != "admin":
            raise Forbidden(N_("only an admin may admit a visitor on the watchlist"))
        gate_alerts.raise_alert(session, "watchlist_hit", code, at, origin.source, f"{detail}; admitted by "
                                f"{actor.name}")
        return

    def aftermath(later: Session) -> None:
        gate_alerts.raise_alert(later, "watchlist_hit", code, at, origin.source, detail)
        notify.enqueue(later, "watchlist.hit", {"pass": code, "at": at.isoformat(), "gate": origin.source,
                                                "entries": hits}, email_to=policy(later).admin_email or None)

    raise GateRefusal(N_("the visitor of pass %(pass_code)s is on the watchlist: follow the watchlist procedure"),
                      code=Reason.ON_WATCHLIST, aftermath=aftermath, pass_code=code)


def open_visits(session: Session, pass_id: int) -> list[Visit]:
    query = select(Visit).where(Visit.pass_id == pass_id, Visit.signed_out_at.is_(None)).order_by(Visit.id)
    return list(session.scalars(query))


def _on_site_conflict(session: Session, row: VisitorPass, at: datetime, origin: Origin, now: datetime) -> bool:
    current = open_visits(session, row.id)
    if not current:
        return False
    if origin.blind_to(at, current[0].recorded_at, now):
        return True
    raise RuleViolation(N_("the visitor of pass %(pass_code)s is on site already (signed in at %(since)s)"),
                        code=Reason.ALREADY_ON_SITE, pass_code=row.code, since=_local(current[0].signed_in_at))


def _record(session: Session, actor: Actor, row: VisitorPass, at: datetime, origin: Origin, plate: str | None,
            conflict: bool) -> Visit:
    vault = policy(session).vault
    visit = Visit(pass_id=row.id, visitor_pass=row, signed_in_at=at, recorded_at=utcnow(), in_source=origin.source,
                  in_actor=actor.name[:100], in_event_id=origin.event_id, plate_enc=vault.seal(plate),
                  plate_index=vault.index("plate", plate), conflict=conflict)
    session.add(visit)
    session.flush()
    if conflict:
        gate_alerts.raise_alert(session, "pass_conflict", row.code, at, origin.source,
                                "signed in again while on site, by a gate that could not know")
    audit.change(session, actor, "visit.signin", visit, extra={"pass": row.code, "vehicle": plate is not None})
    return visit


def _notify_host(session: Session, row: VisitorPass, name: str, at: datetime) -> None:
    host: Person = row.host
    vault = policy(session).vault
    notify.enqueue(session, "visitor.arrived", {
        "pass": row.code, "visitor": name, "organisation": vault.open(row.organisation_enc) or "",
        "host": host.code, "host_name": host.name, "purpose": row.purpose, "at": at.isoformat()},
        email_to=host.email)


def sign_out(session: Session, actor: Actor, code: str, at: datetime | None = None,
             origin: Origin = WEB) -> SignedOut:
    at = at or utcnow()
    row = visitors.pass_by_code(session, code, lock=True)
    current = open_visits(session, row.id)
    if current:
        for visit in current:
            before = audit.state(visit)
            _close(visit, at, SignoutKind.SIGNOUT, origin)
            audit.change(session, actor, "visit.signout", visit, before, {"pass": row.code})
        return SignedOut(row, len(current), False)
    last = session.scalars(select(Visit).where(Visit.pass_id == row.id).order_by(Visit.signed_in_at.desc())
                           .limit(1)).first()
    if last is not None and last.out_kind == SignoutKind.AUTOMATIC and last.signed_out_at is not None \
            and last.signed_in_at <= at <= last.signed_out_at:
        before = audit.state(last)
        _close(last, at, SignoutKind.SIGNOUT, origin)
        audit.change(session, actor, "visit.signout_correct", last, before, {"pass": row.code})
        return SignedOut(row, 1, True)
    raise RuleViolation(N_("the visitor of pass %(pass_code)s is not on site"), code=Reason.NOT_ON_SITE,
                        pass_code=row.code)


def _close(visit: Visit, at: datetime, kind: SignoutKind, origin: Origin) -> None:
    visit.signed_out_at = max(at, visit.signed_in_at)
    visit.out_kind, visit.out_source, visit.out_event_id = kind.value, origin.source, origin.event_id


# --- on site now ---

@dataclass(frozen=True)
class OnSite:
    code: str
    name: str
    organisation: str
    host_code: str
    host_name: str
    purpose: str
    plate: str
    since: datetime
    source: str
    conflict: bool


def on_site(session: Session) -> list[OnSite]:
    """Everyone signed in and not yet out, oldest first; a pass signed in twice (a conflict) once."""
    vault = policy(session).vault
    query = (select(Visit).where(Visit.signed_out_at.is_(None)).order_by(Visit.signed_in_at, Visit.id))
    seen: dict[int, OnSite] = {}
    for visit in session.scalars(query):
        row = visit.visitor_pass
        if visit.pass_id in seen:
            seen[visit.pass_id] = replace(seen[visit.pass_id], conflict=True)
            continue
        seen[visit.pass_id] = OnSite(
            code=row.code, name=vault.open(row.name_enc) or "", organisation=vault.open(row.organisation_enc) or "",
            host_code=row.host.code, host_name=row.host.name, purpose=row.purpose,
            plate=vault.open(visit.plate_enc) or "", since=visit.signed_in_at, source=visit.in_source,
            conflict=visit.conflict)
    return list(seen.values())


def on_site_count(session: Session) -> int:
    return session.scalar(select(func.count(func.distinct(Visit.pass_id))).where(Visit.signed_out_at.is_(None))) or 0


# --- the automatic sign-out ---

def last_cutoff(now: datetime, hour: int, session: Session) -> datetime | None:
    """The latest time at ``hour`` (office time) that is not after ``now``; None when switched off."""
    if hour < 0:
        return None
    zone = policy(session).zone
    local = now.astimezone(zone)
    cutoff = datetime.combine(local.date(), time(hour), zone)
    return cutoff if cutoff <= now else cutoff - timedelta(days=1)


def auto_signout(session: Session, actor: Actor, now: datetime | None = None, hour: int | None = None) -> int:
    """Close every visit signed in before the last cut-off and still open, as automatic. Idempotent."""
    now = now or utcnow()
    cutoff = last_cutoff(now, policy(session).auto_signout_hour if hour is None else hour, session)
    if cutoff is None:
        return 0
    closed = 0
    # One audit row per visit closed (its state: the check compares every visit); visits still on site
    # at an hour are few, and each is locked and read after the lock (see assets.asset_for_change).
    open_ids = select(Visit.id).where(Visit.signed_out_at.is_(None), Visit.signed_in_at < cutoff).order_by(Visit.id)
    ids = list(session.scalars(open_ids.with_for_update() if session.get_bind().dialect.name == "postgresql"
                               else open_ids))
    for visit in session.scalars(select(Visit).where(Visit.id.in_(ids), Visit.signed_out_at.is_(None))
                                 .order_by(Visit.id).execution_options(populate_existing=True)):
        before = audit.state(visit)
        visit.signed_out_at, visit.out_kind, visit.out_source = cutoff, SignoutKind.AUTOMATIC.value, "system"
        audit.change(session, actor, "visit.auto_signout", visit, before, {"cutoff": cutoff.isoformat()})
        closed += 1
    return closed


def automatic_since(session: Session, since: datetime) -> list[Visit]:
    """Visits closed automatically since ``since``: the guard's morning list."""
    query = (select(Visit).where(Visit.out_kind == SignoutKind.AUTOMATIC.value, Visit.signed_out_at >= since)
             .order_by(Visit.signed_out_at.desc(), Visit.id))
    return list(session.scalars(query))


def conflicts(session: Session, limit: int = 100) -> list[Visit]:
    query = select(Visit).where(Visit.conflict.is_(True)).order_by(Visit.signed_in_at.desc()).limit(limit)
    return list(session.scalars(query))



@dataclass(frozen=True)
class DeskScan:
    """What one pass scanned at the gate desk did: a sign-in, or a sign-out of a visitor on site."""

    action: str  # signin | signout
    visitor_pass: VisitorPass
    conflict: bool = False


def desk_scan(session: Session, actor: Actor, code: str, origin: Origin = WEB,
              admit_watchlisted: bool = False) -> DeskScan:
    """The desk's one field: a pass on site signs out, any other pass signs in (with all the rules)."""
    row = visitors.pass_by_code(session, code, lock=True)
    if open_visits(session, row.id):
        return DeskScan("signout", sign_out(session, actor, row.code, origin=origin).visitor_pass)
    done = sign_in(session, actor, row.code, origin=origin, admit_watchlisted=admit_watchlisted)
    return DeskScan("signin", done.visitor_pass, done.conflict)
