"""Kiosk records: enrolment, revocation, and what the fleet view shows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from contract.messages import KioskConfig
from contract.topics import valid_kiosk_id
from server import audit, broker
from server.audit import Actor
from server.config import Settings
from server.errors import AlreadyExists, DomainError, IllegalTransition, Invalid, NotFound
from server.i18n import N_
from server.models import Kiosk, KioskEvent, Location, RejectedMessage
from server.services import directory, paging, rejected

MODES = ("gate", "storeroom")


def enroll(session: Session, actor: Actor, name: str, mode: str, location_code: str | None = None,
           reserved: Callable[[str], bool] = lambda _name: False) -> tuple[Kiosk, str]:
    """Create (or re-enrol) a kiosk with fresh broker credentials; returns it and its password,
    which is shown once: only Mosquitto's hash of it is kept. ``reserved`` (``broker.is_reserved``)
    says which names belong to the server side."""
    if not valid_kiosk_id(name):
        raise Invalid(N_("a kiosk id is 1 to 32 of a-z, 0-9 and '-'"), code="bad_kiosk_id")
    if reserved(name):
        # The broker makes a kiosk's user name its client id: a kiosk so named would take the
        # consumer's session (or the server's login) over.
        raise Invalid(N_("the kiosk id %(name)s is reserved: it is the server's broker user, a consumer's client "
                         "id, or starts with %(prefix)s"), code="bad_kiosk_id", name=name,
                      prefix=broker.RESERVED_PREFIX)
    if mode not in MODES:
        raise Invalid(N_("kiosk mode must be one of %(modes)s"), code="bad_mode", modes=", ".join(MODES))
    existing = session.scalars(select(Kiosk).where(Kiosk.name == name)).first()
    if existing is not None and existing.revoked_at is None:
        raise AlreadyExists(N_("kiosk %(name)s is enrolled already"), name=name)
    location = _location(session, location_code) if location_code else None
    before = audit.state(existing) if existing is not None else None
    kiosk = existing or Kiosk(name=name, mode=mode)
    password = broker.new_password()
    kiosk.mode, kiosk.location, kiosk.revoked_at = mode, location, None
    kiosk.broker_password_hash = broker.password_hash(password)
    session.add(kiosk)
    session.flush()
    audit.change(session, actor, "kiosk.enroll", kiosk, before, {"location": location.code if location else None})
    return kiosk, password


def _location(session: Session, code: str) -> Location:
    try:
        return directory.location_by_code(session, code)
    except DomainError:
        raise NotFound(N_("there is no location with the code %(location)s"), code="unknown_location",
                       location=code[:40]) from None


def reserved_names(settings: Settings) -> Callable[[str], bool]:
    """Which kiosk ids may not be taken (``broker.is_reserved``): the server's broker user, the
    consumer's client id, and everything starting with ``assetgate-``."""
    return lambda name: broker.is_reserved(name, settings)


def revoke(session: Session, actor: Actor, name: str, at: datetime) -> Kiosk:
    kiosk = kiosk_by_name(session, name)
    if kiosk.revoked_at is not None:
        raise IllegalTransition(N_("kiosk %(name)s is revoked already"), code="already_revoked", name=name)
    before = audit.state(kiosk)
    kiosk.revoked_at = at
    kiosk.broker_password_hash = None
    audit.change(session, actor, "kiosk.revoke", kiosk, before)
    return kiosk


def kiosk_by_name(session: Session, name: str) -> Kiosk:
    kiosk = session.scalars(select(Kiosk).where(Kiosk.name == name)).first()
    if kiosk is None:
        raise NotFound(N_("there is no kiosk %(name)s"), code="unknown_kiosk", name=name[:40])
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
    """One row per kiosk: last seen, outbox depth it reported, events, rejects (logged, and not
    logged because over the kiosk's rate) and seq gaps."""
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
    rejected_rows: dict[str | None, int] = {
        kiosk: count for kiosk, count in session.execute(
            select(RejectedMessage.kiosk, func.count()).group_by(RejectedMessage.kiosk))}
    unlogged = rejected.drops_by_kiosk(session)
    rows = []
    for kiosk in session.scalars(select(Kiosk).order_by(Kiosk.name)):
        stat = stats.get(kiosk.name)
        events = stat.events if stat else 0
        span = (stat.last - stat.first + 1) if stat else 0
        refused = rejected_rows.get(kiosk.name, 0) + unlogged.get(kiosk.name, 0)
        rows.append({
            "kiosk": kiosk.name, "mode": kiosk.mode, "revoked": kiosk.revoked_at is not None,
            "state": kiosk.status.get("state", "unknown"), "outbox": kiosk.status.get("outbox"),
            # Events the kiosk keeps after a rejection that is not final (e.g. unknown_kiosk).
            "held": kiosk.status.get("held") or 0, "held_reason": kiosk.status.get("held_reason"),
            "last_seen_at": kiosk.last_seen_at.isoformat() if kiosk.last_seen_at else None,
            "last_seq": kiosk.last_seq, "events": events, "rejected": rejected_rows.get(kiosk.name, 0),
            "rejected_unlogged": unlogged.get(kiosk.name, 0),
            # Seqs between the first and last stored that were neither accepted nor refused (an
            # estimate once refusals were left out of the log or the log was purged).
            "seq_gaps": max(0, span - events - refused),
            "conflicts": flagged.get((kiosk.name, "conflict"), 0),
            "clock_skew": flagged.get((kiosk.name, "skew"), 0),
            "unsynced": flagged.get((kiosk.name, "unsynced"), 0),
        })
    return rows


# --- the kiosk pages and the dashboard ---

@dataclass(frozen=True)
class KioskRow:
    kiosk: Kiosk
    state: str  # online, offline, unknown (never reported), revoked

    @property
    def outbox(self) -> int | None:
        """Events waiting on the kiosk, as its last status said."""
        value = self.kiosk.status.get("outbox")
        return value if isinstance(value, int) else None


def overview(session: Session) -> list[KioskRow]:
    """Every kiosk with its state from its last retained status (the broker's last will says
    "offline" when its connection drops), enrolled ones first. Light: no event counts."""
    rows = []
    for kiosk in session.scalars(select(Kiosk).order_by(Kiosk.revoked_at.is_not(None), Kiosk.name)):
        reported = kiosk.status.get("state")
        state = "revoked" if kiosk.revoked_at else reported if reported in ("online", "offline") else "unknown"
        rows.append(KioskRow(kiosk, state))
    return rows


def rejected_counts(session: Session, since: datetime) -> list[tuple[str, int]]:
    """Messages refused since ``since``, per reason, most frequent first."""
    query = (select(RejectedMessage.reason, func.count()).where(RejectedMessage.received_at >= since)
             .group_by(RejectedMessage.reason).order_by(func.count().desc(), RejectedMessage.reason))
    return [(reason, int(count)) for reason, count in session.execute(query)]


def conflict_count(session: Session) -> int:
    """Kiosk events saved with a conflict (the server knew a newer state): each one for a person to
    review in the asset's history. Nothing marks one reviewed yet, so all count as open."""
    query = select(func.count()).select_from(KioskEvent).where(
        cast(KioskEvent.flags, String).like('%"conflict"%'))
    return int(session.scalar(query) or 0)


def rejected_page(session: Session, kiosk: str | None, reason: str | None, cursor: str | None,
                  limit: int = 50) -> paging.Page[RejectedMessage]:
    """The rejected log, newest first, optionally for one kiosk and one reason."""
    query = select(RejectedMessage)
    if kiosk:
        query = query.where(RejectedMessage.kiosk == kiosk[:32])
    if reason:
        query = query.where(RejectedMessage.reason == reason[:40])
    return paging.keyset_page(session, query, [RejectedMessage.id.expression], cursor, True, limit)
