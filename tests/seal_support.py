"""Shared set-up of the seal tests: an office with a custodian, a carrier, a leader in charge, a seal in
service, and images to upload as imprints."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from PIL import Image

from server.audit import SYSTEM, Actor
from server.models import SealTakeout
from server.services import approvals, directory, seal_takeouts, seal_uses, seals
from tests.admin_support import make_user

KEEPER = Actor("u-storekeeper", "web", "storekeeper")
CLERK = Actor("clerk", "web", "guard")  # asks for uses and take-outs
LEADER = Actor("leader", "web", "auditor")  # leader in charge of Finance
LIMIT = Decimal("10000.00")


@dataclass(frozen=True)
class Office:
    seal: str  # A- code, in service, official seal of Finance
    custodian: str  # P- code
    carrier: str  # P- code
    other: str  # P- code of somebody else


def office(sessions: Any) -> Office:
    make_user(sessions, "auditor", "leader")
    make_user(sessions, "guard", "clerk")
    with sessions() as session, session.begin():
        approvals.grant(session, SYSTEM, "leader", "leader", "Finance")
        custodian = directory.create_person(session, SYSTEM, "Wang Fang", "Office").code
        carrier = directory.create_person(session, SYSTEM, "Zhao Lei", "Finance").code
        other = directory.create_person(session, SYSTEM, "Sun Li", "Finance").code
        seal = seals.register(session, KEEPER, seals.SealIn(
            name="Finance Bureau seal", kind="official", department="Finance", custodian=custodian,
            approval_ref="FIN-2026-01")).code
        seals.step(session, KEEPER, seal, "enable", "FIN-2026-02")
    return Office(seal, custodian, carrier, other)


def use_request(session: Any, seal: str, copies: int = 3, department: str = "Finance") -> Any:
    return seal_uses.submit(session, CLERK, seal_uses.UseRequestIn(
        seal=seal, document_title="Budget report 2027", copies=copies, recipient="County Finance Bureau",
        purpose="submit the budget", department=department), LIMIT)


def approved_use(sessions: Any, seal: str, copies: int = 3, approve: int | None = None) -> int:
    with sessions() as session, session.begin():
        made = use_request(session, seal, copies)
        approvals.decide(session, LEADER, made.approval_id, "approve", approve)
        return int(made.id)


def takeout_request(session: Any, found: Office, hours: float = 4, carrier: str | None = None) -> Any:
    return seal_takeouts.submit(session, CLERK, seal_takeouts.TakeoutIn(
        seal=found.seal, carrier=carrier or found.carrier, destination="County Finance Bureau",
        purpose="sign the contract", due_at=datetime.now(UTC) + timedelta(hours=hours), department="Finance"), LIMIT)


def approved_takeout(sessions: Any, found: Office, hours: float = 4) -> int:
    with sessions() as session, session.begin():
        made = takeout_request(session, found, hours)
        approvals.decide(session, LEADER, made.approval_id, "approve")
        return int(made.id)


def image(kind: str = "PNG", size: tuple[int, int] = (120, 120), **save: Any) -> bytes:
    picture = Image.new("RGB", size, "white")
    for x in range(10, size[0] - 10):
        picture.putpixel((x, size[1] // 2), (200, 0, 0))
    out = io.BytesIO()
    picture.save(out, format=kind, **save)
    return out.getvalue()


def make_overdue(sessions: Any, takeout_id: int, hours: float = 3) -> None:
    """Time passes: the take-out's due time moves ``hours`` into the past (and its out time with it)."""
    with sessions() as session, session.begin():
        trip = session.get(SealTakeout, takeout_id)
        shift = trip.due_at - datetime.now(UTC) + timedelta(hours=hours)
        trip.due_at -= shift
        if trip.out_at is not None:
            trip.out_at -= shift
