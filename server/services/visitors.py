"""Visitor passes (访客通行证): pre-registration by a host, walk-ins at the gate, revocation, search.

A pass is a V- code with a validity window, the host it visits, the purpose, and the visitor's
personal fields (name, organisation, ID number's last 4, plate), which are stored encrypted
(server.personal) and never written to the audit log. Purposes the office lists in
``visit_approval_purposes`` (e.g. 公务接待) open an approval chain for the host's leader in
charge; such a pass is refused at the gate until it is approved.

Signing in and out is in ``services.visits``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import Select, exists, or_, select
from sqlalchemy.orm import Session

from contract import codes, normalize
from server import audit
from server.audit import Actor
from server.errors import IllegalTransition, Invalid, NotFound, Term
from server.i18n import N_
from server.models import ApprovalState, IssuedCode, PassStatus, Person, Visit, VisitorPass, utcnow
from server.personal import policy
from server.services import approvals, directory
from server.services import codes as code_service

KIND = "visit"  # the approval chain's kind
MAX_WINDOW = timedelta(days=31)
TEXT_LIMIT = 200
_ID_LAST4 = re.compile(r"^[0-9A-Za-z]{4}$")


@dataclass(frozen=True)
class VisitorIn:
    """What a host or a guard enters about a visitor."""

    name: str
    host: str  # P- code
    organisation: str = ""
    purpose: str = ""
    id_last4: str | None = None
    plate: str | None = None


@dataclass(frozen=True)
class Clean:
    """``VisitorIn`` checked and normalised; ``plate`` in the normal form of PROTOCOL.md."""

    name: str
    host: Person
    organisation: str
    purpose: str
    id_last4: str | None
    plate: str | None


@dataclass
class PassView:
    """A pass as people read it: personal fields decrypted (empty once purged)."""

    code: str
    kind: str
    status: str
    host_code: str
    host_name: str
    purpose: str
    valid_from: datetime
    valid_until: datetime
    name: str
    organisation: str
    id_last4: str
    plate: str
    created_by: str
    created_at: datetime
    approval_state: str | None
    approval_id: int | None
    revoked_at: datetime | None
    revoke_reason: str
    purged: bool
    visits: list[Visit] = field(default_factory=list)


def text(value: str | None, what: str, *, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise Invalid(N_("%(what)s is required"), code="bad_schema", what=what)
    if len(value) > TEXT_LIMIT:
        raise Invalid(N_("%(what)s is longer than %(size)s characters"), code="too_long", what=what,
                      size=TEXT_LIMIT)
    return value


def clean_plate(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        return normalize.plate(value)
    except normalize.NormalizeError as exc:
        raise Invalid(N_("the plate %(plate)s is not a plate: %(why)s"), code="bad_plate", plate=value[:20],
                      why=str(exc)) from None


def clean(session: Session, data: VisitorIn) -> Clean:
    """Check what was entered; the ID's last 4 are kept only when the office's setting asks."""
    name = text(data.name, Term(N_("name")), required=True)
    if not normalize.person_name(name):
        raise Invalid(N_("%(what)s is required"), code="bad_schema", what=Term(N_("name")))
    last4 = (data.id_last4 or "").strip().upper() or None
    if last4 is not None and not _ID_LAST4.match(last4):
        raise Invalid(N_("only the last 4 letters or digits of an ID number may be given"), code="bad_id_last4")
    return Clean(name=name, host=directory.person_by_code(session, data.host),
                 organisation=text(data.organisation, Term(N_("organisation"))),
                 purpose=text(data.purpose, Term(N_("purpose"))),
                 id_last4=last4 if policy(session).keep_id_last4 else None, plate=clean_plate(data.plate))


def _seal(session: Session, row: VisitorPass, data: Clean) -> None:
    vault = policy(session).vault
    row.name_enc, row.organisation_enc = vault.seal(data.name), vault.seal(data.organisation)
    row.id_last4_enc, row.plate_enc = vault.seal(data.id_last4), vault.seal(data.plate)
    row.name_index = vault.index("name", normalize.person_name(data.name))
    row.plate_index = vault.index("plate", data.plate)


def _facts(row: VisitorPass) -> dict[str, object]:
    """What the audit log keeps of a pass: no personal field, ever (the chain cannot be purged)."""
    return {"code": row.code, "kind": row.kind, "status": row.status, "host": row.host.code if row.host else None,
            "purpose": row.purpose, "valid_from": row.valid_from.isoformat(),
            "valid_until": row.valid_until.isoformat()}


def check_window(valid_from: datetime, valid_until: datetime, now: datetime) -> None:
    if valid_from.tzinfo is None or valid_until.tzinfo is None:
        raise Invalid(N_("the validity window needs times with a time zone"), code="bad_window")
    if valid_until <= valid_from:
        raise Invalid(N_("the pass must end after it starts"), code="bad_window")
    if valid_until <= now:
        raise Invalid(N_("the validity window is over already"), code="bad_window")
    if valid_until - valid_from > MAX_WINDOW:
        raise Invalid(N_("a pass is valid for at most %(days)s days"), code="bad_window", days=MAX_WINDOW.days)


def window_of_day(session: Session, day: date, start: time, end: time) -> tuple[datetime, datetime]:
    """A day and a time window in the office's time zone, as UTC datetimes."""
    zone = policy(session).zone
    return datetime.combine(day, start, zone), datetime.combine(day, end, zone)


def end_of_day(session: Session, at: datetime) -> datetime:
    zone = policy(session).zone
    local = at.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(local, time.min, zone)


def register(session: Session, actor: Actor, data: VisitorIn, valid_from: datetime,
             valid_until: datetime) -> VisitorPass:
    """Pre-registration by a host: a new V- pass valid in the window (after approval, if its purpose needs one)."""
    visitor = clean(session, data)
    check_window(valid_from, valid_until, utcnow())
    row = _new_pass(session, actor, visitor, "preregistered", valid_from, valid_until,
                    code_service.issue(session, codes.Kind.VISITOR)[0])
    if visitor.purpose in policy(session).approval_purposes:
        chain = approvals.open_chain(session, actor, KIND, visitor.host.department or "", None, None, Decimal(0))
        row.approval_id, row.status = chain.id, PassStatus.PENDING_APPROVAL.value
    audit.change(session, actor, "visitor_pass.register", row, extra=_facts(row))
    return row


def walk_in(session: Session, actor: Actor, data: VisitorIn | Clean, at: datetime | None = None,
            code: str | None = None) -> VisitorPass:
    """A visitor who comes unannounced: a pass valid from now to the end of the day. ``code`` is a blank
    pass from the gate's stack (issued by this server, not yet used); without it a new code is issued."""
    visitor = data if isinstance(data, Clean) else clean(session, data)
    at = at or utcnow()
    if code is None:
        code = code_service.issue(session, codes.Kind.VISITOR)[0]
    elif not blank_pass(session, code):
        raise NotFound(N_("%(pass_code)s is not a blank visitor pass of this office"), pass_code=code)
    row = _new_pass(session, actor, visitor, "walk_in", at, end_of_day(session, at), code)
    audit.change(session, actor, "visitor_pass.walk_in", row, extra=_facts(row))
    return row


def _new_pass(session: Session, actor: Actor, visitor: Clean, kind: str, valid_from: datetime,
              valid_until: datetime, code: str) -> VisitorPass:
    row = VisitorPass(code=code, kind=kind, status=PassStatus.VALID.value, host=visitor.host, host_id=visitor.host.id,
                      purpose=visitor.purpose, valid_from=valid_from, valid_until=valid_until,
                      created_by=actor.name[:100], created_at=utcnow(), revoke_reason="")
    _seal(session, row, visitor)
    session.add(row)
    session.flush()
    return row


def blank_pass(session: Session, code: str) -> bool:
    """An issued V- code with no pass yet: one of the pre-printed passes a gate hands to walk-ins."""
    issued = session.scalars(select(IssuedCode.code).where(IssuedCode.code == code, IssuedCode.kind == "V")).first()
    return issued is not None and pass_or_none(session, code) is None


def issue_blank(session: Session, actor: Actor, count: int) -> list[str]:
    if not 1 <= count <= 500:
        raise Invalid(N_("between 1 and 500 blank passes at a time"), code="bad_quantity")
    made = code_service.issue(session, codes.Kind.VISITOR, count)
    # Codes only (no pass row yet): an entity of its own, not the passes the codes will become.
    audit.record(session, actor, "visitor_pass.blank", "visitor_pass_blank", made[0], None,
                 {"count": count, "codes": made[:50]})
    return made


def normal_code(code: str) -> str:
    try:
        return codes.normalize(code, codes.Kind.VISITOR)
    except codes.CodeError as exc:
        raise Invalid(N_("%(value)s is not a visitor pass code"), code=exc.reason, value=code[:40]) from None


def pass_or_none(session: Session, code: str, lock: bool = False) -> VisitorPass | None:
    if lock:  # lock, then read in a statement of its own (see assets.asset_for_change)
        session.execute(select(VisitorPass.id).where(VisitorPass.code == code).with_for_update())
    return session.scalars(select(VisitorPass).where(VisitorPass.code == code)
                           .execution_options(populate_existing=lock)).first()


def pass_by_code(session: Session, code: str, lock: bool = False) -> VisitorPass:
    normal = normal_code(code)
    row = pass_or_none(session, normal, lock)
    if row is None:
        raise NotFound(N_("unknown visitor pass %(pass_code)s"), pass_code=normal)
    return row


def view(session: Session, row: VisitorPass, with_visits: bool = False) -> PassView:
    vault = policy(session).vault
    visits = list(session.scalars(select(Visit).where(Visit.pass_id == row.id).order_by(Visit.signed_in_at))) \
        if with_visits else []
    return PassView(
        code=row.code, kind=row.kind, status=row.status, host_code=row.host.code, host_name=row.host.name,
        purpose=row.purpose, valid_from=row.valid_from, valid_until=row.valid_until,
        name=vault.open(row.name_enc) or "", organisation=vault.open(row.organisation_enc) or "",
        id_last4=vault.open(row.id_last4_enc) or "", plate=vault.open(row.plate_enc) or "",
        created_by=row.created_by, created_at=row.created_at,
        approval_state=row.approval.state if row.approval else None, approval_id=row.approval_id,
        revoked_at=row.revoked_at, revoke_reason=row.revoke_reason, purged=row.purged_at is not None,
        visits=visits)


def revoke(session: Session, actor: Actor, code: str, reason: str) -> VisitorPass:
    """Revoke a pass: refused at every gate from now on (kiosks learn it from their config)."""
    row = pass_by_code(session, code, lock=True)
    if row.status == PassStatus.REVOKED:
        raise IllegalTransition(N_("visitor pass %(pass_code)s is revoked already"), pass_code=row.code)
    before = audit.state(row)
    row.status, row.revoked_at, row.revoked_by = PassStatus.REVOKED.value, utcnow(), actor.name[:100]
    row.revoke_reason = reason.strip()[:1000]
    audit.change(session, actor, "visitor_pass.revoke", row, before, _facts(row))
    return row


def sync_approval(session: Session, row: VisitorPass) -> None:
    """A pass waiting for approval follows its chain's decision."""
    if row.approval is None or row.status not in (PassStatus.PENDING_APPROVAL, PassStatus.REJECTED):
        return
    if row.approval.state == ApprovalState.APPROVED:
        row.status = PassStatus.VALID.value
    elif row.approval.state in (ApprovalState.REJECTED, ApprovalState.WITHDRAWN):
        row.status = PassStatus.REJECTED.value


def decide(session: Session, actor: Actor, code: str, decision: str, reason: str = "") -> VisitorPass:
    """The leader in charge approves or rejects a pass that needs it (the approval chain's rules apply)."""
    row = pass_by_code(session, code, lock=True)
    if row.approval_id is None:
        raise IllegalTransition(N_("visitor pass %(pass_code)s needs no approval"), pass_code=row.code)
    approvals.decide(session, actor, row.approval_id, decision, None, reason)
    before = audit.state(row)
    sync_approval(session, row)
    audit.change(session, actor, "visitor_pass.decide", row, before, _facts(row))
    return row


# --- finding passes ---

def search(session: Session, *, name: str | None = None, plate: str | None = None, host: str | None = None,
           code: str | None = None, day_from: datetime | None = None,
           day_to: datetime | None = None) -> Select[VisitorPass]:
    """Passes matching every given filter. Names and plates match by their normal form (exactly, through
    the blind index): a visitor's name cannot be searched by a part of it, since it is stored encrypted."""
    vault = policy(session).vault
    query = select(VisitorPass)
    if code:
        query = query.where(VisitorPass.code == normal_code(code))
    if name and name.strip():
        query = query.where(VisitorPass.name_index == vault.index("name", normalize.person_name(name)))
    if plate and plate.strip():
        index = vault.index("plate", clean_plate(plate))
        query = query.where(or_(VisitorPass.plate_index == index,
                                exists().where(Visit.pass_id == VisitorPass.id, Visit.plate_index == index)))
    if host:
        query = query.where(VisitorPass.host_id == directory.person_by_code(session, host).id)
    if day_from:
        query = query.where(VisitorPass.valid_until >= day_from)
    if day_to:
        query = query.where(VisitorPass.valid_from < day_to)
    return query


def expected(session: Session, now: datetime | None = None) -> list[VisitorPass]:
    """Pre-registered passes valid at some time today (office time) whose visitor has not come yet today."""
    now = now or utcnow()
    zone = policy(session).zone
    start = datetime.combine(now.astimezone(zone).date(), time.min, zone)
    end = start + timedelta(days=1)
    on_site = exists().where(Visit.pass_id == VisitorPass.id,
                             (Visit.signed_out_at.is_(None)) | (Visit.signed_in_at >= start))
    query = (select(VisitorPass).where(VisitorPass.kind == "preregistered", VisitorPass.valid_from < end,
                                       VisitorPass.valid_until > max(start, now),
                                       VisitorPass.status.in_([PassStatus.VALID.value,
                                                               PassStatus.PENDING_APPROVAL.value]),
                                       ~on_site)
             .order_by(VisitorPass.valid_from, VisitorPass.id))
    return list(session.scalars(query))


def pending_approval(session: Session) -> list[VisitorPass]:
    query = select(VisitorPass).where(VisitorPass.status == PassStatus.PENDING_APPROVAL.value)
    return list(session.scalars(query.order_by(VisitorPass.valid_from)))


def revoked_codes(session: Session, now: datetime | None = None) -> list[str]:
    """Revoked passes still inside their window: what kiosks refuse offline."""
    query = select(VisitorPass.code).where(VisitorPass.status == PassStatus.REVOKED.value,
                                           VisitorPass.valid_until > (now or utcnow()))
    return sorted(session.scalars(query))


def waiting_for(session: Session, username: str) -> list[VisitorPass]:
    """Passes whose approval waits for this user's decision (the leader in charge's to-do)."""
    chains = approvals.waiting_for(session, username, [KIND])
    if not chains:
        return []
    query = select(VisitorPass).where(VisitorPass.approval_id.in_([chain.id for chain in chains]))
    return list(session.scalars(query.order_by(VisitorPass.valid_from)))
