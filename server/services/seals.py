"""Seals (印章): the register and each seal's life cycle.

A seal is registered as made (刻制) with its name, kind, owning department and custodian, and gets
an A- code (issued like an asset's, never reused) for its QR label. Its life cycle:

    made ──enable──► in use ◄──enable── suspended
                     │  └────suspend────►  │
                     └──recall──► recalled ◄┘
    made, suspended, recalled ──destroy──► destroyed (final)

Every step, and a change of custodian, needs an approval reference (批复文号) and is a ``SealEvent``
plus an audit row with the state before and after. A step the table does not allow is refused with
the states it is allowed from. A seal that is out of the office (``seal_takeouts``) cannot be
suspended, recalled or destroyed until it is back.

A seal lost or recalled is re-made (重新刻制) as a new seal, made, linked to the one it replaces
(``replaces_id``): the old one must be suspended, recalled or destroyed first, keeps its state and
history (old documents carry its imprint), and is replaced once. Re-making needs an approval
reference too, and is a ``SealEvent`` and an audit row on both seals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from contract import codes
from server import audit, names, params
from server.audit import Actor
from server.errors import AlreadyExists, IllegalTransition, Invalid, NotFound, RuleViolation, Term
from server.i18n import N_
from server.models import Person, Seal, SealEvent, SealKind, SealStatus, SealTakeout, utcnow
from server.services import codes as code_service
from server.services import lookup
from server.services.supplies import clean_text

S = SealStatus
KINDS = tuple(k.value for k in SealKind)
STATUSES = tuple(s.value for s in SealStatus)
# step -> (the statuses it may start from, where it leads)
STEPS: dict[str, tuple[tuple[SealStatus, ...], SealStatus]] = {
    "enable": ((S.MADE, S.SUSPENDED), S.IN_USE),
    "suspend": ((S.IN_USE,), S.SUSPENDED),
    "recall": ((S.IN_USE, S.SUSPENDED), S.RECALLED),
    "destroy": ((S.MADE, S.SUSPENDED, S.RECALLED), S.DESTROYED),
}
# A seal is re-made only once it no longer serves: declared void (suspended), recalled or destroyed.
REMAKE_FROM = (S.SUSPENDED, S.RECALLED, S.DESTROYED)
# Why a text is not the code the field wants, by the reason ``contract.codes`` gives.
CODE_ERRORS = {
    "bad_code": N_("%(text)s is not an AssetGate code"),
    "bad_check": N_("the check symbol of %(text)s is wrong: a character was misread or mistyped"),
    "wrong_kind": N_("%(text)s is not a code of this kind: %(kind)s- is wanted"),
}


@dataclass(frozen=True)
class SealIn:
    name: str
    kind: str
    department: str
    custodian: str  # P- code
    approval_ref: str  # the approval to make it (刻制)
    made_on: date | None = None
    note: str = ""


@dataclass(frozen=True)
class RemakeIn:
    approval_ref: str  # the approval to re-make it
    reason: str  # why: lost, recalled, worn
    name: str = ""  # empty: the old seal's name
    custodian: str = ""  # P- code; empty: the old seal's custodian
    made_on: date | None = None
    note: str = ""


def normal_code(text: str, kind: codes.Kind, field: str) -> str:
    """``text`` as a code of ``kind``, or Invalid saying clearly what is wrong with it."""
    try:
        return codes.normalize(text, kind)
    except codes.CodeError as exc:
        raise Invalid(CODE_ERRORS.get(exc.reason, CODE_ERRORS["bad_code"]), code=exc.reason,
                      text=(text or "").strip()[:64], kind=kind.value, field=field) from None


def person(session: Session, code: str, field: str = "custodian") -> Person:
    """An active person by badge code; Invalid or NotFound naming the field."""
    normal = normal_code(code, codes.Kind.PERSON, field)
    found = session.scalars(select(Person).where(Person.code == normal)).first()
    if found is None or not found.active:
        raise NotFound(N_("there is no active person with the badge %(badge)s"), code="unknown_person",
                       field=field, badge=normal)
    return found


def approval_reference(value: str | None) -> str:
    text = (value or "").strip()
    if not text or len(text) > 100:
        raise Invalid(N_("an approval reference (批复文号) of 1 to 100 characters is required"),
                      code="approval_required", field="approval_ref")
    return text


def _kind(value: str) -> str:
    if value not in KINDS:
        raise Invalid(N_("the kind of seal must be one of %(kinds)s"), code="bad_kind", field="kind",
                      kinds=Term(", ".join(KINDS), *(names.SEAL_KINDS[k] for k in KINDS)))
    return value


def _made_on(value: date | None) -> date | None:
    if value is not None and not params.MIN_YEAR <= value.year <= params.MAX_YEAR:
        raise Invalid(N_("the date made must be in the years %(low)s to %(high)s"), code="bad_date",
                      field="made_on", low=params.MIN_YEAR, high=params.MAX_YEAR)
    return value


def register(session: Session, actor: Actor, data: SealIn) -> Seal:
    """A new seal, made (刻制), with a freshly issued A- code."""
    approval_ref = approval_reference(data.approval_ref)
    seal = Seal(name=clean_text(data.name, N_("seal name"), 200), kind=_kind(data.kind),
                department=clean_text(data.department, N_("department"), 100),
                custodian_id=person(session, data.custodian).id, status=S.MADE.value,
                made_on=_made_on(data.made_on), note=clean_text(data.note, N_("note"), 2000, required=False))
    seal.code = code_service.issue(session, codes.Kind.ASSET)[0]
    session.add(seal)
    session.flush()
    event = _event(session, actor, seal, "register", None, approval_ref, "")
    audit.change(session, actor, "seal.register", seal, extra={"approval_ref": approval_ref}, inserted=[event])
    return seal


def _event(session: Session, actor: Actor, seal: Seal, action: str, before: str | None, approval_ref: str,
           reason: str) -> SealEvent:
    """A row of the seal's history, described by the audit row of the change that makes it."""
    event = SealEvent(seal_id=seal.id, action=action, from_status=before, to_status=seal.status,
                      approval_ref=approval_ref, reason=reason, actor=actor.name, source=actor.source)
    session.add(event)
    session.flush()
    return event


def find(session: Session, code: str) -> Seal | None:
    """The seal with this (normal) A- code, or None: it is an asset's code or nothing's. A consumer
    batch has looked its codes up already (``ingest.prefetch``)."""
    known = lookup.prefetched(session, "seal")
    if known is not None:  # every A- code of the batch was looked for: one missing is not a seal
        return known.get(code)  # type: ignore[no-any-return]
    return session.scalars(select(Seal).where(Seal.code == code)).first()


def by_code(session: Session, code: str, *, lock: bool = False) -> Seal:
    """The seal, to read; with ``lock``, locked until the transaction ends and read after the lock
    (two changes of one seal at once decide one after the other, as ``assets.asset_for_change``)."""
    normal = normal_code(code, codes.Kind.ASSET, "seal")
    if lock:
        session.execute(select(Seal.id).where(Seal.code == normal).with_for_update())
    stmt = select(Seal).where(Seal.code == normal)
    seal = session.scalars(stmt.execution_options(populate_existing=True) if lock else stmt).first()
    if seal is None:
        raise NotFound(N_("there is no seal %(seal)s"), seal=normal, field="seal")
    return seal


def lock(session: Session, seal_id: int) -> Seal:
    session.execute(select(Seal.id).where(Seal.id == seal_id).with_for_update())
    seal = session.scalars(select(Seal).where(Seal.id == seal_id).execution_options(populate_existing=True)).one()
    return seal


def status_term(status: str) -> Term:
    return Term(status, names.SEAL_STATUSES.get(status, status))


def open_takeout(session: Session, seal: Seal) -> SealTakeout | None:
    """The take-out the seal is out on now, if any."""
    return session.scalars(select(SealTakeout).where(SealTakeout.seal_id == seal.id,
                                                     SealTakeout.out_at.is_not(None),
                                                     SealTakeout.returned_at.is_(None))).first()


def step(session: Session, actor: Actor, code: str, action: str, approval_ref: str, reason: str = "") -> Seal:
    """One life-cycle step (enable, suspend, recall, destroy), with its approval reference."""
    if action not in STEPS:
        raise Invalid(N_("the step must be one of %(steps)s"), code="bad_step", field="action",
                      steps=Term(", ".join(STEPS), *(names.SEAL_ACTIONS[s] for s in STEPS)))
    approval_ref = approval_reference(approval_ref)
    why = clean_text(reason, N_("reason"), 1000, required=False)
    seal = by_code(session, code, lock=True)
    allowed, target = STEPS[action]
    if seal.status not in allowed:
        raise IllegalTransition(N_("%(seal)s is %(status)s: %(action)s is possible only from %(allowed)s"),
                                seal=seal.code, status=status_term(seal.status),
                                action=Term(action, names.SEAL_ACTIONS[action]),
                                allowed=Term(", ".join(allowed), *(names.SEAL_STATUSES[s] for s in allowed)))
    out = open_takeout(session, seal) if target != S.IN_USE else None
    if out is not None:
        raise RuleViolation(N_("%(seal)s is out of the office (take-out %(id)s): it must be back first"),
                            code="seal_out", seal=seal.code, id=out.id)
    before, previous = audit.state(seal), seal.status
    seal.status, seal.updated_at = target.value, utcnow()
    event = _event(session, actor, seal, action, previous, approval_ref, why)
    audit.change(session, actor, f"seal.{action}", seal, before, {"approval_ref": approval_ref, "reason": why},
                 inserted=[event])
    return seal


def change_custodian(session: Session, actor: Actor, code: str, custodian: str, approval_ref: str,
                     reason: str = "") -> Seal:
    """Hand the seal to another custodian (移交), with its approval reference; not once destroyed."""
    approval_ref = approval_reference(approval_ref)
    why = clean_text(reason, N_("reason"), 1000, required=False)
    new = person(session, custodian)
    seal = by_code(session, code, lock=True)
    if seal.status == S.DESTROYED:
        raise IllegalTransition(N_("%(seal)s is destroyed: nothing about it can change"), seal=seal.code)
    if new.id == seal.custodian_id:
        raise Invalid(N_("%(person)s keeps this seal already"), code="same_custodian", field="custodian",
                      person=new.name)
    before = audit.state(seal)
    seal.custodian_id, seal.custodian, seal.updated_at = new.id, new, utcnow()
    event = _event(session, actor, seal, "custodian", seal.status, approval_ref, why)
    audit.change(session, actor, "seal.custodian", seal, before, {"approval_ref": approval_ref, "reason": why},
                 inserted=[event])
    return seal


def remake(session: Session, actor: Actor, code: str, data: RemakeIn) -> Seal:
    """Re-make (重新刻制) the seal ``code`` after a loss or a recall: a new seal, made, of the same kind and
    department, with a new A- code, linked to the one it replaces. The old seal stays as it is."""
    approval_ref = approval_reference(data.approval_ref)
    why = clean_text(data.reason, N_("reason"), 1000)
    old = by_code(session, code, lock=True)  # two re-makes at once: the second sees the first
    if old.status not in REMAKE_FROM:
        raise IllegalTransition(N_("%(seal)s is %(status)s: a seal is re-made only when it is %(allowed)s (suspend or "
                                   "recall it first)"), seal=old.code, status=status_term(old.status),
                                allowed=Term(", ".join(REMAKE_FROM), *(names.SEAL_STATUSES[s] for s in REMAKE_FROM)))
    done = replaced_by(session, old)
    if done is not None:
        raise AlreadyExists(N_("%(seal)s was re-made already: %(new)s replaces it"), code="already_replaced",
                            seal=old.code, new=done.code)
    keeper = person(session, data.custodian) if data.custodian.strip() else old.custodian
    new = Seal(name=clean_text(data.name, N_("seal name"), 200) if data.name.strip() else old.name, kind=old.kind,
               department=old.department, custodian_id=keeper.id, status=S.MADE.value, made_on=_made_on(data.made_on),
               note=clean_text(data.note, N_("note"), 2000, required=False), replaces_id=old.id)
    new.code = code_service.issue(session, codes.Kind.ASSET)[0]
    session.add(new)
    session.flush()
    made = _event(session, actor, new, "remake", None, approval_ref, f"{old.code}: {why}"[:1000])
    audit.change(session, actor, "seal.remake", new, None,
                 {"replaces": old.code, "approval_ref": approval_ref, "reason": why}, inserted=[made])
    replaced = _event(session, actor, old, "replaced", old.status, approval_ref, f"{new.code}: {why}"[:1000])
    audit.change(session, actor, "seal.replaced", old, audit.state(old),
                 {"replaced_by": new.code, "approval_ref": approval_ref, "reason": why}, inserted=[replaced])
    return new


def replaced_by(session: Session, seal: Seal) -> Seal | None:
    """The seal re-made to replace ``seal``, if any."""
    return session.scalars(select(Seal).where(Seal.replaces_id == seal.id)).first()


def listing(status: str | None = None, kind: str | None = None, department: str | None = None) -> Select[Any]:
    """Seals for keyset pages by code; filters validated."""
    query = select(Seal)
    if status:
        if status not in STATUSES:
            raise Invalid(N_("unknown state %(state)s"), state=status[:40])
        query = query.where(Seal.status == status)
    if kind:
        query = query.where(Seal.kind == _kind(kind))
    if department:
        query = query.where(Seal.department == department[:100])
    return query


def history(session: Session, seal: Seal) -> list[SealEvent]:
    return list(session.scalars(select(SealEvent).where(SealEvent.seal_id == seal.id).order_by(SealEvent.id)))


def in_use(seal: Seal, what: str) -> None:
    """Refuse ``what`` (a use, a take-out) unless the seal is in service."""
    if seal.status != S.IN_USE:
        raise IllegalTransition(N_("%(seal)s is %(status)s: only a seal in service can be %(what)s"),
                                seal=seal.code, status=status_term(seal.status), what=Term(what))
