"""A per-transaction cache of rows looked up by code, filled in bulk for a batch.

The consumer applies hundreds of events in one transaction; looking each asset,
location and person up with its own query would also flush the session before
each query and cost more than the work itself. ``prefetch`` loads them all at
once; the services' ``*_by_code`` functions ask ``cached`` first. The cache dies
with the transaction (commit or any rollback), so it never serves stale rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, lazyload, load_only

from server.models import ArchiveVolume, Asset, Location, Person, Seal

_KEY = "assetgate.lookup"
# "seal": the seals among a batch's A- codes, so telling a take-out from a check-out costs no query per event.
MODELS: dict[str, Any] = {"asset": Asset, "location": Location, "person": Person, "seal": Seal}


# The columns the life-cycle rules and the audit row (the asset's fields in server.audit.ledger)
# read; anything else is loaded on first touch. Loading an asset this way takes ~13 µs instead of ~16 µs.
_ONLY: dict[str, tuple[Any, ...]] = {"asset": (load_only(
    Asset.id, Asset.code, Asset.name, Asset.category_id, Asset.status, Asset.location_id, Asset.custodian_id,
    Asset.serial, Asset.department, Asset.due_at, Asset.state_at, Asset.purchase_line_id, Asset.intake_id,
    Asset.price, Asset.acquired_on),)}


def cache(session: Session) -> dict[str, dict[str, Any]]:
    return session.info.setdefault(_KEY, {})  # type: ignore[no-any-return]


def cached(session: Session, kind: str, code: str) -> Any | None:
    table = session.info.get(_KEY, {}).get(kind)
    return table.get(code) if table else None


def prefetched(session: Session, kind: str) -> dict[str, Any] | None:
    """The rows of ``kind`` a prefetch found (a code missing from it is no such row), or None when
    ``kind`` was not prefetched in this transaction."""
    table: dict[str, Any] | None = session.info.get(_KEY, {}).get(kind)
    return table


def prefetch(session: Session, kind: str, codes: Iterable[str]) -> None:
    """Load the rows with these codes into the cache (to change them, lock them first)."""
    wanted = set(codes)
    if not wanted:
        return
    model = MODELS[kind]
    table = cache(session).setdefault(kind, {})
    # No joined eager loads here: related rows come from the identity map when needed.
    query = select(model).where(model.code.in_(wanted)).options(lazyload("*"), *_ONLY.get(kind, ()))
    for row in session.scalars(query).unique():
        table[row.code] = row
    if kind == "asset":
        _volumes(session, [row.id for row in table.values()])


_VOLUMES = "volume_ids"


def _volumes(session: Session, asset_ids: list[int]) -> None:
    """Which of the batch's assets are archive volumes, in one query: a check-out or check-in asks
    (``is_volume``), and without this each would cost a query of its own even for an ordinary asset."""
    known: dict[Any, Any] = cache(session).setdefault(_VOLUMES, {})  # asset id -> is a volume
    found = set(session.scalars(select(ArchiveVolume.asset_id).where(ArchiveVolume.asset_id.in_(asset_ids))))
    known.update({asset_id: asset_id in found for asset_id in asset_ids})


def is_volume(session: Session, asset_id: int) -> bool | None:
    """Whether the asset is an archive volume, when a prefetch found out; None: not known here."""
    table = session.info.get(_KEY, {}).get(_VOLUMES)
    return table.get(asset_id) if table else None


def clear(session: Session) -> None:
    session.info.pop(_KEY, None)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, *_args: Any) -> None:
    clear(session)
