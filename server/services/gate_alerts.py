"""What the gate leaves for the admin: watchlist hits, refused exits, passes signed in twice.

A refusal changes nothing (the kiosk's event goes to the rejected log, a web request is rolled
back), yet the admin must still see that it happened. ``GateRefusal`` carries what to record
(its ``aftermath``); whoever rolled the refused change back calls ``keep`` in the same
transaction that stores the refusal: the consumer after the event's savepoint, the web and the
API after their rollback. So the alert is stored exactly when the refusal is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server import audit
from server.audit import Actor
from server.errors import NotFound, RuleViolation
from server.i18n import N_
from server.models import GateAlert, utcnow

# Official vehicles (services.vehicle_gate): an exit refused for want of a dispatch, and an exit made offline
# that conflicts with what the server knew (no dispatch, a cancelled one, an odometer reading that does not fit).
KINDS = ("watchlist_hit", "refused_exit", "pass_conflict", "no_dispatch", "vehicle_conflict")
Aftermath = Callable[[Session], None]


class GateRefusal(RuleViolation):
    """A refusal at the gate that leaves an alert (and maybe a notification) behind."""

    status = 409

    def __init__(self, message: str, code: str, aftermath: Aftermath, **params: Any) -> None:
        super().__init__(message, code=code, **params)
        self.aftermath = aftermath


def keep(session: Session, exc: BaseException) -> None:
    """Record what a refusal leaves behind; call it after rolling the refused change back."""
    if isinstance(exc, GateRefusal):
        exc.aftermath(session)


def raise_alert(session: Session, kind: str, subject: str, at: datetime, source: str, detail: str = "") -> None:
    session.add(GateAlert(kind=kind, subject=subject[:32], at=at, recorded_at=utcnow(), source=source[:60],
                          detail=detail[:1000]))


def open_alerts(session: Session, limit: int = 100) -> list[GateAlert]:
    query = select(GateAlert).where(GateAlert.resolved_at.is_(None)).order_by(GateAlert.at.desc()).limit(limit)
    return list(session.scalars(query))


def recent(session: Session, kind: str | None = None, limit: int = 200) -> list[GateAlert]:
    query = select(GateAlert)
    if kind:
        query = query.where(GateAlert.kind == kind)
    return list(session.scalars(query.order_by(GateAlert.at.desc(), GateAlert.id.desc()).limit(limit)))


def resolve(session: Session, actor: Actor, alert_id: int) -> GateAlert:
    alert = session.get(GateAlert, alert_id)
    if alert is None:
        raise NotFound(N_("there is no gate alert %(id)s"), id=alert_id)
    if alert.resolved_at is None:
        alert.resolved_at, alert.resolved_by = utcnow(), actor.name
        audit.record(session, actor, "gate.alert_resolve", "gate_alert", alert.id, {"resolved": False},
                     {"resolved": True, "kind": alert.kind, "subject": alert.subject})
    return alert
