"""Intake: receiving a purchase line makes one asset per unit, in one go.

Each asset gets a new A- code, the purchase link, price, date, department (the plan
line's), an optional unique serial, a storeroom location and status ``in_storage``.
All or nothing: any problem refuses the whole intake before anything is written. A
request key makes it idempotent: the same key again returns the first intake's codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contract import codes
from server import audit, params
from server.audit import Actor
from server.errors import AlreadyExists, Invalid, NotFound, RuleViolation
from server.i18n import N_
from server.models import Asset, AssetEvent, AssetStatus, Category, Intake, Location, Purchase, PurchaseLine, utcnow
from server.services import bulk, directory, purchases
from server.services import codes as code_service

STORE_KINDS = frozenset({"storeroom", "shelf", "bin"})
CHUNK = 5000  # rows per IN (...) list: well under SQLite's bound-parameter limit


@dataclass(frozen=True)
class Received:
    intake: Intake
    codes: list[str]
    replay: bool  # True: this request key was received before; nothing new was made


def received_count(session: Session, line_id: int) -> int:
    """Units of a purchase line received by intakes that stand (a reversed intake's retired assets do not)."""
    return session.scalar(select(func.count()).select_from(Asset).where(
        Asset.purchase_line_id == line_id, Asset.status != AssetStatus.RETIRED.value)) or 0


def codes_of(session: Session, intake_id: int) -> list[str]:
    return list(session.scalars(select(Asset.code).where(Asset.intake_id == intake_id).order_by(Asset.id)))


def open_lines(session: Session, limit: int = 500) -> list[tuple[PurchaseLine, int]]:
    """Purchase lines with units still to receive, newest first, with how many are left."""
    received = (select(Asset.purchase_line_id.label("line_id"), func.count().label("n"))
                .where(Asset.purchase_line_id.is_not(None), Asset.status != AssetStatus.RETIRED.value)
                .group_by(Asset.purchase_line_id).subquery())
    got = func.coalesce(received.c.n, 0)
    rows = session.execute(select(PurchaseLine, got).outerjoin(received, received.c.line_id == PurchaseLine.id)
                           .join(Purchase, PurchaseLine.purchase_id == Purchase.id)
                           .join(Category, PurchaseLine.category_id == Category.id)
                           .where(PurchaseLine.quantity > got, Purchase.voided_at.is_(None),
                                  Category.supplies.is_(False))
                           .order_by(PurchaseLine.id.desc()).limit(limit))
    return [(line, line.quantity - int(n)) for line, n in rows.unique()]


def storerooms(session: Session) -> list[Location]:
    """The places an intake may go to."""
    return list(session.scalars(select(Location).where(Location.kind.in_(STORE_KINDS)).order_by(Location.name)))


def get(session: Session, intake_id: str | int) -> Intake:
    number = params.row_id(intake_id)
    found = session.get(Intake, number) if number is not None else None
    if found is None:
        raise NotFound(N_("unknown intake %(id)s"), code="unknown_intake", id=str(intake_id)[:40])
    return found


def _replay(session: Session, existing: Intake, line_id: int) -> Received:
    if existing.purchase_line_id != line_id:
        raise AlreadyExists(N_("request key %(key)s was used for purchase line %(used)s, not %(line)s"),
                            key=existing.request_key, used=existing.purchase_line_id, line=line_id)
    return Received(existing, codes_of(session, existing.id), True)


def _serials(serials: Sequence[str | None] | None, quantity: int, session: Session) -> list[str | None]:
    if serials is None:
        return [None] * quantity
    if len(serials) != quantity:
        raise Invalid(N_("%(serials)s serials given for %(quantity)s units: give one per unit (empty for none)"),
                      serials=len(serials), quantity=quantity, field="serials")
    clean = [(s or "").strip() or None for s in serials]
    given = [s for s in clean if s]
    if any(len(s) > 100 for s in given):
        raise Invalid(N_("a serial is longer than 100 characters"), field="serials")
    twice = sorted({s for s in given if given.count(s) > 1}) if len(set(given)) != len(given) else []
    if twice:
        raise AlreadyExists(N_("serials given twice: %(serials)s"), serials=", ".join(twice[:5]), field="serials")
    taken: list[str] = []
    for start in range(0, len(given), CHUNK):
        taken += session.scalars(select(Asset.serial).where(Asset.serial.in_(given[start:start + CHUNK])))
    if taken:
        raise AlreadyExists(N_("assets with these serials exist already: %(serials)s"),
                            serials=", ".join(sorted(taken)[:5]), field="serials")
    return clean


def receive(session: Session, actor: Actor, purchase_line_id: str | int, request_key: str, location_code: str,
            quantity: int | None = None, serials: Sequence[str | None] | None = None,
            received_on: date | None = None, name: str | None = None) -> Received:
    key = (request_key or "").strip()
    if not 1 <= len(key) <= 64:
        raise Invalid(N_("request_key must be 1 to 64 characters"))
    line = purchases.line(session, purchase_line_id)
    if session.get_bind().dialect.name == "postgresql":  # two intakes of one line must not both over-receive
        session.execute(select(PurchaseLine.id).where(PurchaseLine.id == line.id).with_for_update()).all()
    # Looked up after the lock: a concurrent first use of the key has committed by now.
    existing = session.scalars(select(Intake).where(Intake.request_key == key)).first()
    if existing is not None:
        return _replay(session, existing, line.id)
    if line.purchase.voided_at is not None:
        raise RuleViolation(N_("purchase %(id)s is voided; nothing of it can be received"), code="purchase_voided",
                            id=line.purchase_id)
    if line.category.supplies:  # office supplies add stock (services/supply_receipts), they are not assets
        raise RuleViolation(N_("purchase line %(line)s is office supplies (%(category)s): receive it into a supply "
                               "item's stock"), code="supply_line", line=line.id, category=line.category.name,
                            field="purchase_line")
    location = directory.location_by_code(session, location_code)
    if location.kind not in STORE_KINDS:
        raise RuleViolation(N_("intake goes to a storeroom, shelf or bin; %(location)s is a %(kind)s"),
                            code="not_a_storeroom", location=location.code, kind=location.kind, field="location")
    left = line.quantity - received_count(session, line.id)
    quantity = left if quantity is None else quantity
    if quantity < 1 or quantity > left:
        params = {"line": line.id, "left": left, "bought": line.quantity, "asked": quantity, "field": "quantity"}
        if quantity > left:
            raise RuleViolation(N_("purchase line %(line)s has %(left)s of %(bought)s units left to receive; "
                                   "%(asked)s asked, over by %(over)s"), code="intake_exceeded",
                                over=quantity - left, **params)
        raise RuleViolation(N_("purchase line %(line)s has %(left)s of %(bought)s units left to receive; "
                               "%(asked)s asked"), code="intake_exceeded", **params)
    clean = _serials(serials, quantity, session)
    received_on = received_on or date.today()
    intake = Intake(request_key=key, purchase_line_id=line.id, quantity=quantity, location_id=location.id,
                    received_on=received_on, actor=actor.name)
    try:
        with session.begin_nested():  # a concurrent retry with the same key: the first one wins
            session.add(intake)
            session.flush()
    except IntegrityError:
        winner = session.scalars(select(Intake).where(Intake.request_key == key)).first()
        if winner is None:
            raise
        return _replay(session, winner, line.id)
    new_codes = code_service.issue(session, codes.Kind.ASSET, quantity)
    now = utcnow()
    title = (name or line.description or line.category.name).strip()[:200]
    made = [{"code": code, "name": title, "category_id": line.category_id, "serial": serial,
             "status": AssetStatus.IN_STORAGE.value, "location_id": location.id,
             "department": line.plan_line.department, "purchase_line_id": line.id, "intake_id": intake.id,
             "price": line.unit_price, "acquired_on": received_on, "state_at": now, "created_at": now,
             "updated_at": now} for code, serial in zip(new_codes, clean, strict=True)]
    session.execute(insert(Asset), made)
    ids = dict(session.execute(select(Asset.code, Asset.id).where(Asset.intake_id == intake.id)).all())
    audit.change(session, actor, "intake.receive", intake, extra={
        "purchase": line.purchase_id, "location": location.code, "price": str(line.unit_price),
        "serials": sum(1 for s in clean if s), "codes": new_codes})
    events = []
    with bulk.rows(session):  # one audit row per asset (its full state: reconciliation), one executemany
        for asset in made:
            event = {"asset_id": ids[str(asset["code"])], "type": "asset.create", "at": now, "recorded_at": now,
                     "actor": actor.name, "source": actor.source, "to_status": AssetStatus.IN_STORAGE.value,
                     "to_location_id": location.id, "reason": f"intake {intake.id}", "applied": True,
                     "data": {"intake": intake.id, "purchase_line": line.id}}
            audit.record(session, actor, "asset.create", "asset", asset["code"], None,
                         audit.ledger.normal_of(Asset, asset), [(AssetEvent, event)])
            events.append(event)
    session.execute(insert(AssetEvent), events)
    return Received(intake, new_codes, False)
