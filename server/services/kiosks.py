"""Kiosk records: enrolment, revocation, and what the fleet view shows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from contract.messages import KioskConfig
from contract.topics import valid_kiosk_id
from server import audit, broker
from server.audit import Actor
from server.errors import AlreadyExists, Invalid, NotFound
from server.models import Kiosk, KioskEvent, RejectedMessage
from server.services import directory

MODES = ("gate", "storeroom")


def enroll(session: Session, actor: Actor, name: str, mode: str, location_code: str | None = None,
           reserved: frozenset[str] = frozenset()) -> tuple[Kiosk, str]:
    """Create (or re-enrol) a kiosk with fresh broker credentials; returns it and its password,
    which is shown once: only Mosquitto's hash of it is kept."""
    if not valid_kiosk_id(name) or name in reserved:
        raise Invalid("kiosk id must be 1 to 32 of a-z, 0-9 and '-', and not the server's broker user")
    if mode not in MODES:
        raise Invalid(f"kiosk mode must be one of {', '.join(MODES)}")
    existing = session.scalars(select(Kiosk).where(Kiosk.name == name)).first()
    if existing is not None and existing.revoked_at is None:
        raise AlreadyExists(f"kiosk {name} is enrolled already")
    location = directory.location_by_code(session, location_code) if location_code else None
    kiosk = existing or Kiosk(name=name, mode=mode)
    password = broker.new_password()
    kiosk.mode, kiosk.location, kiosk.revoked_at = mode, location, None
    kiosk.broker_password_hash = broker.password_hash(password)
    session.add(kiosk)
    session.flush()
    audit.record(session, actor, "kiosk.enroll", "kiosk", name, None,
                 {"mode": mode, "location": location.code if location else None})
    return kiosk, password


def revoke(session: Session, actor: Actor, name: str, at: datetime) -> Kiosk:
    kiosk = kiosk_by_name(session, name)
    kiosk.revoked_at = at
    kiosk.broker_password_hash = None
    audit.record(session, actor, "kiosk.revoke", "kiosk", name, {"revoked": False}, {"revoked": True})
    return kiosk


def kiosk_by_name(session: Session, name: str) -> Kiosk:
    kiosk = session.scalars(select(Kiosk).where(Kiosk.name == name)).first()
    if kiosk is None:
        raise NotFound(f"unknown kiosk {name}", code="unknown_kiosk")
    return kiosk


def active_kiosk(session: Session, name: str) -> Kiosk | None:
    kiosk = session.scalars(select(Kiosk).where(Kiosk.name == name)).first()
    return kiosk if kiosk is not None and kiosk.revoked_at is None else None


def config_for(kiosk: Kiosk, session: Session | None = None) -> KioskConfig:
    """The retained config a kiosk needs to work offline (a gate's also has passes, who is on site and
    the hashed watchlist: services.gate_kiosk, given a session)."""
    config = KioskConfig(kiosk=kiosk.name, mode=kiosk.mode,  # type: ignore[arg-type]
                         location=kiosk.location.code if kiosk.location else None,
                         display_names={kiosk.location.code: kiosk.location.name} if kiosk.location else {})
    if session is not None and kiosk.mode == "gate":
        from server.services import gate_kiosk

        config = config.model_copy(update=gate_kiosk.extras(session))
    return config


def configs(session: Session) -> list[tuple[str, bytes]]:
    """Every active kiosk's retained config payload: (kiosk name, JSON bytes)."""
    active = session.scalars(select(Kiosk).where(Kiosk.revoked_at.is_(None)).order_by(Kiosk.name))
    return [(kiosk.name, config_for(kiosk, session).model_dump_json().encode()) for kiosk in active]


def fleet(session: Session) -> list[dict[str, Any]]:
    """One row per kiosk: last seen, outbox depth it reported, events, rejects and seq gaps."""
    stats = dict(
        (row.kiosk, row)
        for row in session.execute(
            select(KioskEvent.kiosk, func.count().label("events"), func.min(KioskEvent.seq).label("first"),
                   func.max(KioskEvent.seq).label("last")).group_by(KioskEvent.kiosk)
        )
    )
    flagged = {(kiosk, flag): count for flag in ("conflict", "skew", "unsynced") for kiosk, count in session.execute(
        select(KioskEvent.kiosk, func.count()).where(cast(KioskEvent.flags, String).like(f'%"{flag}"%'))
        .group_by(KioskEvent.kiosk))}
    rejected: dict[str | None, int] = {
        kiosk: count for kiosk, count in session.execute(
            select(RejectedMessage.kiosk, func.count()).group_by(RejectedMessage.kiosk))}
    rows = []
    for kiosk in session.scalars(select(Kiosk).order_by(Kiosk.name)):
        stat = stats.get(kiosk.name)
        events = stat.events if stat else 0
        span = (stat.last - stat.first + 1) if stat else 0
        rows.append({
            "kiosk": kiosk.name, "mode": kiosk.mode, "revoked": kiosk.revoked_at is not None,
            "state": kiosk.status.get("state", "unknown"), "outbox": kiosk.status.get("outbox"),
            "last_seen_at": kiosk.last_seen_at.isoformat() if kiosk.last_seen_at else None,
            "last_seq": kiosk.last_seq, "events": events, "rejected": rejected.get(kiosk.name, 0),
            # Seqs between the first and last stored that were neither accepted nor rejected.
            "seq_gaps": max(0, span - events - rejected.get(kiosk.name, 0)),
            "conflicts": flagged.get((kiosk.name, "conflict"), 0),
            "clock_skew": flagged.get((kiosk.name, "skew"), 0),
            "unsynced": flagged.get((kiosk.name, "unsynced"), 0),
        })
    return rows
