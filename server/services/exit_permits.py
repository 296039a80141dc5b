"""Exit permits (物品放行条): an asset leaves the compound only with one.

An admin or a storekeeper issues a permit for one or more assets, with the reason, the carrier
and a valid-until time; a loan also has the day it is expected back. At the gate (kiosk
``asset.exit``, or the desk) a scanned asset:

* that is out on a loan is coming back: its return is recorded, and a loan whose assets are all
  back is closed;
* that has a permit valid at the scan's time, not used yet for it, leaves: the exit is recorded
  on the permit and in the asset's history;
* otherwise is refused (``no_exit_permit``): the kiosk shows red, and the refused exit is kept as
  an alert for the admin.

Nothing here changes an asset's status or location: the history says it left and came back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from contract.messages import Reason
from server import audit
from server.audit import Actor
from server.errors import IllegalTransition, Invalid, NotFound, Term
from server.i18n import N_
from server.models import Asset, AssetEvent, ExitPermit, ExitPermitAsset, utcnow
from server.personal import policy
from server.services import assets, bulk, gate_alerts
from server.services.gate_alerts import GateRefusal

MAX_ASSETS = 200


@dataclass(frozen=True)
class PermitIn:
    assets: list[str]  # A- codes
    reason: str
    carrier: str
    valid_until: datetime
    loan: bool = False
    expected_return: date | None = None


def _facts(permit: ExitPermit) -> dict[str, object]:
    return {"assets": [item.asset.code for item in permit.items], "reason": permit.reason, "carrier": permit.carrier,
            "valid_until": permit.valid_until.isoformat(), "loan": permit.loan,
            "expected_return": permit.expected_return.isoformat() if permit.expected_return else None,
            "revoked": permit.revoked_at is not None}


def issue(session: Session, actor: Actor, data: PermitIn, today: date | None = None) -> ExitPermit:
    reason, carrier = data.reason.strip(), data.carrier.strip()
    if not reason or not carrier:
        missing = Term(N_("reason")) if not reason else Term(N_("carrier"))
        raise Invalid(N_("%(what)s is required"), code="required", what=missing)
    if len(carrier) > 200 or len(reason) > 2000:
        raise Invalid(N_("%(what)s is too long"), code="too_long", what=Term(N_("carrier") if len(carrier) > 200
                                                                             else N_("reason")))
    if data.valid_until.tzinfo is None or data.valid_until <= utcnow():
        raise Invalid(N_("the permit must be valid until a time in the future"), code="bad_valid_until")
    if data.loan and (data.expected_return is None or data.expected_return < (today or policy(session).today())):
        raise Invalid(N_("a loan needs the day it is expected back, today or later"), code="bad_expected_return")
    tags = list(dict.fromkeys(data.assets))
    if not 1 <= len(tags) <= MAX_ASSETS:
        raise Invalid(N_("a permit names between 1 and %(most)s assets"), code="bad_assets", most=MAX_ASSETS)
    found = [assets.asset_by_code(session, tag) for tag in tags]
    permit = ExitPermit(reason=reason, carrier=carrier, valid_until=data.valid_until, loan=data.loan,
                        expected_return=data.expected_return if data.loan else None, issued_by=actor.name[:100],
                        created_at=utcnow())
    permit.items = [ExitPermitAsset(asset=asset, asset_id=asset.id) for asset in found]
    session.add(permit)
    session.flush()
    audit.change(session, actor, "exit_permit.issue", permit, extra=_facts(permit))
    for item in permit.items:
        audit.change(session, actor, "exit_permit.issue", item, extra={"asset": item.asset.code})
    return permit


def get(session: Session, permit_id: int) -> ExitPermit:
    permit = session.get(ExitPermit, permit_id)
    if permit is None:
        raise NotFound(N_("there is no exit permit %(id)s"), id=permit_id)
    return permit


def revoke(session: Session, actor: Actor, permit_id: int) -> ExitPermit:
    permit = get(session, permit_id)
    if permit.revoked_at is not None:
        raise IllegalTransition(N_("exit permit %(id)s is revoked already"), id=permit_id)
    before = _facts(permit)
    permit.revoked_at, permit.revoked_by = utcnow(), actor.name[:100]
    audit.change(session, actor, "exit_permit.revoke", permit, before, _facts(permit))
    return permit


@dataclass(frozen=True)
class GateOutcome:
    """What a gate scan of an asset did: ``exit`` or ``return``, under which permit."""

    action: str
    asset_code: str
    asset_name: str
    permit: ExitPermit
    closed: bool = False  # a loan whose assets are all back


def at_gate(session: Session, actor: Actor, tag: str, at: datetime | None = None,
            origin: assets.KioskOrigin | None = None) -> GateOutcome:
    """An asset scanned at the gate: a return from a loan, an exit with a permit, or a refusal."""
    at = at or utcnow()
    asset = assets.asset_for_change(session, tag)
    source = f"kiosk:{origin.kiosk}" if origin else actor.source
    away = _out_on_loan(session, asset.id)
    if away is not None:
        before = audit.state(away)
        away.returned_at, away.return_source = at, source[:60]
        _history(session, actor, asset, "asset.return", at, origin, away, before)
        closed = all(item.returned_at is not None for item in away.permit.items if item.exited_at is not None)
        return GateOutcome("return", asset.code, asset.name, away.permit, closed)
    item = _usable(session, asset.id, at)
    if item is None:
        code = asset.code

        def aftermath(later: Session) -> None:
            gate_alerts.raise_alert(later, "refused_exit", code, at, source, "no valid exit permit")

        raise GateRefusal(N_("%(asset)s has no valid exit permit: it may not leave"), code=Reason.NO_EXIT_PERMIT,
                          aftermath=aftermath, asset=code)
    before = audit.state(item)
    item.exited_at, item.exit_source = at, source[:60]
    _history(session, actor, asset, "asset.exit", at, origin, item, before)
    return GateOutcome("exit", asset.code, asset.name, item.permit)


def _out_on_loan(session: Session, asset_id: int) -> ExitPermitAsset | None:
    query = (select(ExitPermitAsset).join(ExitPermit, ExitPermit.id == ExitPermitAsset.permit_id)
             .where(ExitPermitAsset.asset_id == asset_id, ExitPermit.loan.is_(True),
                    ExitPermitAsset.exited_at.is_not(None), ExitPermitAsset.returned_at.is_(None))
             .order_by(ExitPermitAsset.exited_at.desc()))
    return session.scalars(query).first()


def _usable(session: Session, asset_id: int, at: datetime) -> ExitPermitAsset | None:
    query = (select(ExitPermitAsset).join(ExitPermit, ExitPermit.id == ExitPermitAsset.permit_id)
             .where(ExitPermitAsset.asset_id == asset_id, ExitPermitAsset.exited_at.is_(None),
                    ExitPermit.revoked_at.is_(None), ExitPermit.valid_until >= at, ExitPermit.created_at <= at)
             .order_by(ExitPermit.valid_until))
    return session.scalars(query).first()


def _history(session: Session, actor: Actor, asset: Asset, kind: str, at: datetime,
             origin: assets.KioskOrigin | None, item: ExitPermitAsset, before: dict[str, object]) -> None:
    """The asset's history line and the audit row of the permit's line it went out or came back under."""
    permit = item.permit
    event = {
        "asset_id": asset.id, "type": kind, "at": at, "recorded_at": utcnow(), "actor": actor.name,
        "source": f"kiosk:{origin.kiosk}" if origin else actor.source, "kiosk": origin.kiosk if origin else None,
        "seq": origin.seq if origin else None, "kiosk_event_id": origin.event_id if origin else None,
        "from_status": asset.status, "to_status": asset.status, "from_location_id": asset.location_id,
        "to_location_id": asset.location_id, "custodian_id": None, "reason": permit.reason[:1000], "applied": True,
        "data": {"permit": permit.id, "carrier": permit.carrier}}
    audit.change(session, actor, kind, item, before, {"asset": asset.code}, inserted=[(AssetEvent, event)])
    bulk.persist(session, AssetEvent, event)


def listing(session: Session, state: str | None = None, today: date | None = None) -> Select[ExitPermit]:
    """Permits newest first; ``state``: active (usable now), loans_out, overdue, revoked."""
    now = utcnow()
    query = select(ExitPermit)
    if state == "active":
        query = query.where(ExitPermit.revoked_at.is_(None), ExitPermit.valid_until >= now)
    elif state == "revoked":
        query = query.where(ExitPermit.revoked_at.is_not(None))
    elif state in ("loans_out", "overdue"):
        out = (select(ExitPermitAsset.permit_id).where(ExitPermitAsset.exited_at.is_not(None),
                                                       ExitPermitAsset.returned_at.is_(None)))
        query = query.where(ExitPermit.loan.is_(True), ExitPermit.id.in_(out))
        if state == "overdue":
            query = query.where(ExitPermit.expected_return < (today or policy(session).today()))
    elif state:
        raise Invalid(N_("unknown permit state %(state)s"), code="bad_filter", state=state[:20])
    return query


def overdue(session: Session, today: date | None = None) -> list[ExitPermitAsset]:
    """Assets out on a loan whose expected return day has passed."""
    query = (select(ExitPermitAsset).join(ExitPermit, ExitPermit.id == ExitPermitAsset.permit_id)
             .where(ExitPermit.loan.is_(True), ExitPermitAsset.exited_at.is_not(None),
                    ExitPermitAsset.returned_at.is_(None),
                    ExitPermit.expected_return < (today or policy(session).today()))
             .order_by(ExitPermit.expected_return, ExitPermitAsset.id))
    return list(session.scalars(query))


def state_of(permit: ExitPermit, now: datetime | None = None) -> str:
    """One word for a permit: revoked, returned (a loan all back), used, expired, or valid."""
    now = now or utcnow()
    exited = [item for item in permit.items if item.exited_at is not None]
    if permit.revoked_at is not None:
        return "revoked"
    if permit.loan and exited and all(item.returned_at is not None for item in exited) \
            and len(exited) == len(permit.items):
        return "returned"
    if len(exited) == len(permit.items):
        return "out" if permit.loan else "used"
    return "expired" if permit.valid_until < now else "valid"
