"""The consumer's bulk writes (services.bulk) store exactly what the ORM would store.

The bulk path hands rows to the driver with its own conversions (UTC times, JSON), so
the same row written both ways must read back the same: byte for byte where SQL
compares the stored value (times on SQLite are compared as text), and as the same JSON
document where only the document matters.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select, text

from server.audit import SYSTEM
from server.models import Asset, AssetEvent, AuditEntry, KioskEvent
from server.services import assets, bulk, directory

JSON_COLUMNS = {"data", "flags", "before", "after"}
NOT_COMPARED = {"id"}


def _rows(session: Any, table: str, order: str) -> list[dict[str, Any]]:
    rows = session.connection().exec_driver_sql(f"SELECT * FROM {table} ORDER BY {order}").mappings().all()
    return [{k: (json.loads(v) if k in JSON_COLUMNS and isinstance(v, str) else v)
             for k, v in row.items() if k not in NOT_COMPARED} for row in rows]


def _values(asset_id: int, n: int) -> dict[Any, dict[str, Any]]:
    # A time with a zone other than UTC and microseconds of zero: both must come out as the ORM writes them.
    at = datetime(2026, 11, 25, 18, 30, 0, tzinfo=timezone(timedelta(hours=8)))
    now = datetime(2026, 11, 25, 10, 1, 2, 345678, tzinfo=UTC)
    return {
        KioskEvent: {"id": f"00000000-0000-4000-8000-00000000000{n}", "kiosk": "k-1", "seq": 7, "boot": "b",
                     "type": "asset.move", "actor": None, "at": at, "received_at": now, "synced": False,
                     "data": {"tag": "A-1", "note": "café ☕"}, "flags": ["unsynced"]},
        AssetEvent: {"asset_id": asset_id, "type": "asset.move", "at": at, "recorded_at": now, "actor": "a",
                     "source": "kiosk:k-1", "kiosk": "k-1", "seq": 7, "kiosk_event_id": None, "from_status": "x",
                     "to_status": "y", "from_location_id": None, "to_location_id": None, "custodian_id": None,
                     "reason": "", "applied": True, "data": {}},
        AuditEntry: {"at": now, "actor": "a", "source": "s", "action": "asset.move", "entity": "asset",
                     "entity_id": "A-1", "before": None, "after": {"status": "in_use", "n": 1.5},
                     "prev_hash": f"{n}" * 64, "hash": f"{n + 1}" * 64},
    }


@pytest.mark.parametrize("model, order", [(KioskEvent, "id"), (AssetEvent, "id"), (AuditEntry, "id")])
def test_bulk_rows_read_back_as_orm_rows(engine_sessions: Any, model: Any, order: str) -> None:
    with engine_sessions() as session, session.begin():
        directory.get_or_create_category(session, SYSTEM, "Laptop")
        store = directory.create_location(session, SYSTEM, "Store", "storeroom")
        asset_id = assets.create_asset(session, SYSTEM, "Laptop", "Laptop", store.code).id
        session.execute(text("DELETE FROM audit_log"))
        session.execute(text("DELETE FROM asset_events"))
    with engine_sessions() as session, session.begin():
        bulk.persist(session, model, _values(asset_id, 1)[model])  # outside a bulk block: the ORM
    with engine_sessions() as session, session.begin(), bulk.rows(session):
        bulk.persist(session, model, _values(asset_id, 2)[model])  # inside: the driver directly
    with engine_sessions() as session:
        by_orm, by_bulk = _rows(session, model.__tablename__, order)
        loaded = session.scalars(select(model).order_by(model.id)).all()
    differing = {k for k in by_orm if by_orm[k] != by_bulk[k]} - {"id", "prev_hash", "hash"}
    assert not differing, {k: (by_orm[k], by_bulk[k]) for k in differing}
    for name in ("at", "data", "before", "after", "flags"):
        if hasattr(model, name):
            assert getattr(loaded[0], name) == getattr(loaded[1], name)


def test_bulk_update_reads_back_as_orm_update(engine_sessions: Any) -> None:
    due = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    with engine_sessions() as session, session.begin():
        directory.get_or_create_category(session, SYSTEM, "Laptop")
        store = directory.create_location(session, SYSTEM, "Store", "storeroom")
        first = assets.create_asset(session, SYSTEM, "One", "Laptop", store.code)
        second = assets.create_asset(session, SYSTEM, "Two", "Laptop", store.code)
        ids = first.id, second.id
    with engine_sessions() as session, session.begin():
        bulk.set_state(session, session.get(Asset, ids[0]), {"status": "in_use", "due_at": due, "state_at": due})
    with engine_sessions() as session, session.begin(), bulk.rows(session):
        bulk.set_state(session, session.get(Asset, ids[1]), {"status": "in_use", "due_at": due, "state_at": due})
    with engine_sessions() as session:
        rows = session.connection().exec_driver_sql(
            "SELECT status, due_at, state_at FROM assets ORDER BY id").all()
    assert rows[0] == rows[1]


def test_a_bulk_row_without_a_defaulted_column_is_refused(engine_sessions: Any) -> None:
    values = _values(1, 1)[KioskEvent]
    del values["flags"]  # has a default the ORM would fill in
    with pytest.raises(ValueError, match="lack flags"), engine_sessions() as session, session.begin(), \
            bulk.rows(session):
        bulk.persist(session, KioskEvent, values)
