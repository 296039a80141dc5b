"""The keyed audit chain, its checkpoints and the ledger check: one test per kind of tampering.

Each tampering is done the way someone with the database (and nothing else) would do it, in SQL
behind the application's back, and ``verify`` must name what was done: the row, the table, the field.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from server import audit, settings_of
from server.audit import SYSTEM, chain, checkpoints, keys, report
from server.audit import check as checks
from server.models import AuditEntry, KioskEvent, PurchaseLine, utcnow
from server.services import assets, directory, kiosks, lifecycle, plans, purchases
from server.writer import Delivery, Writer
from tests.peers import KioskPeer


def _small(app: Any, sessions: Any) -> dict[str, Any]:
    """A disposed asset, an asset moved by a kiosk event (the consumer's fast path), a purchase line."""
    with sessions() as session, session.begin():
        directory.get_or_create_category(session, SYSTEM, "Laptop")
        store = directory.create_location(session, SYSTEM, "Store", "storeroom").code
        room = directory.create_location(session, SYSTEM, "Room", "office").code
        moved = assets.create_asset(session, SYSTEM, "One", "Laptop", store).code
        disposed = assets.create_asset(session, SYSTEM, "Two", "Laptop", store).code
        lifecycle.dispose(session, SYSTEM, disposed, "scrapped", "D-1")
        kiosks.enroll(session, SYSTEM, "store-1", "storeroom")
        plans.create_line(session, SYSTEM, {"ref": "P-1", "budget_year": 2026, "department": "IT",
                                            "category": "Laptop", "approved_qty": 5, "unit_price_cap": "6000",
                                            "approved_amount": "30000", "method": "self_purchase",
                                            "approval_ref": "A-1"})
        bought = purchases.record(session, SYSTEM, "ACME", date(2026, 3, 1), "self_purchase", "INV-1",
                                  [purchases.LineIn("P-1", "Laptop", 2, Decimal("5000.00"))])
        line = bought.lines[0].id
    settings = settings_of(app)
    peer = KioskPeer.offline(settings.topic_prefix, "store-1")
    event = peer.event("asset.move", {"tag": moved, "to": room})
    [reply] = Writer(settings, sessions).process([Delivery(1, 1, peer.topics.events("store-1"), event.to_bytes())],
                                                 fast=True)
    assert json.loads(reply.ack or b"")["status"] == "accepted"
    return {"moved": moved, "disposed": disposed, "line": line, "event": ("store-1", str(event.id)), "store": store}


def _verify(sessions: Any, app: Any | None = None, **options: Any) -> audit.Report:
    loaded = checkpoints.load(settings_of(app)) if app is not None else None
    with sessions() as session:
        return audit.verify(session, loaded, **options)


def _sql(sessions: Any, statement: str, **values: Any) -> None:
    with sessions() as session, session.begin():
        session.execute(text(statement), values)


def _where(found: audit.Report, table: str, row: str, field: str = "") -> list[audit.Finding]:
    return [f for f in found.findings if (f.table, f.row, f.field) == (table, row, field)]


def test_chain_is_keyed_and_verifies(app: Any, sessions: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _small(app, sessions)
    monkeypatch.setattr(chain, "parsed", lambda row: pytest.fail("a row was not hashed as stored"))
    with sessions() as session:
        rows = session.execute(select(AuditEntry.key_id, AuditEntry.prev_hash, AuditEntry.hash)
                               .order_by(AuditEntry.id)).all()
        current = audit.keyring_of(session).current
    assert rows[0].prev_hash == audit.GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(rows, rows[1:], strict=False))
    assert {r.key_id for r in rows} == {current}  # the consumer's fast path too (the kiosk event's row)
    found = _verify(sessions)
    assert found.ok and found.rows == len(rows) and found.legacy_rows == 0 and found.ledger_rows > 10


def test_edited_middle_row_is_found(app: Any, sessions: Any) -> None:
    _small(app, sessions)
    _sql(sessions, "UPDATE audit_log SET actor = 'mallory' WHERE id = 3")
    found = _verify(sessions)
    assert not found.ok and found.broken_at == 3 and found.problem == report.EDITED


def _rewrite_unkeyed(sessions: Any, first: int, as_legacy: bool) -> None:
    """What someone with only the database can do: edit a row and recompute every later hash, with the
    only hash they can compute (plain SHA-256, as the chain was before it was keyed)."""
    with sessions() as session, session.begin():
        rows = session.execute(select(*[AuditEntry.__table__.c[c] for c in chain.COLUMNS])
                               .where(AuditEntry.id >= first).order_by(AuditEntry.id)).mappings().all()
        prev = session.scalar(select(AuditEntry.hash).where(AuditEntry.id == first - 1))
        session.execute(text("UPDATE audit_log SET prev_hash = 'x' || id, hash = 'y' || id WHERE id >= :f"),
                        {"f": first})  # out of the way of the unique indexes
        for row in rows:
            row = {**row, "actor": "mallory" if row["id"] == first else row["actor"]}
            if as_legacy:
                row["key_id"] = keys.LEGACY
            new = chain.legacy_hash(prev, row)
            session.execute(text("UPDATE audit_log SET actor = :a, key_id = :k, prev_hash = :p, hash = :h "
                                 "WHERE id = :id"), {"a": row["actor"], "k": row["key_id"], "p": prev, "h": new,
                                                     "id": row["id"]})
            prev = new


@pytest.mark.parametrize("as_legacy", [False, True], ids=["keyed-id-kept", "marked-legacy"])
def test_row_rewritten_with_every_later_hash_recomputed_is_found(app: Any, sessions: Any, as_legacy: bool) -> None:
    _small(app, sessions)
    _rewrite_unkeyed(sessions, 4, as_legacy)
    found = _verify(sessions)
    assert found.broken_at == 4
    assert found.problem == (report.LEGACY_AFTER_KEYED if as_legacy else report.EDITED)


def test_deleted_middle_row_is_found(app: Any, sessions: Any) -> None:
    _small(app, sessions)
    _sql(sessions, "DELETE FROM audit_log WHERE id = 2")
    found = _verify(sessions)
    assert found.broken_at == 3 and found.problem == report.LINK


def _checkpoint(app: Any, sessions: Any) -> checkpoints.Checkpoint:
    settings = settings_of(app)
    key = checkpoints.signing_key(settings)
    loaded = checkpoints.load(settings)
    with sessions() as session:
        point, actions = checks.take_checkpoint(session, loaded)
    checkpoints.append(settings, key, point)
    checkpoints.write_summary(settings, checkpoints.summary(settings, key, point, loaded.newest, actions))
    return point


def test_deleted_tail_is_found_against_the_newest_checkpoint(app: Any, sessions: Any) -> None:
    _small(app, sessions)
    point = _checkpoint(app, sessions)
    assert _verify(sessions, app).ok
    _sql(sessions, "DELETE FROM audit_log WHERE id > :keep", keep=point.rows - 3)
    chain_only = _verify(sessions, ledger=False)  # without the checkpoint the shorter chain is consistent
    assert chain_only.ok and chain_only.rows == point.rows - 3
    found = _verify(sessions, app, ledger=False)
    assert found.problem == report.TRUNCATED and found.checkpoints_checked == 1
    [finding] = _where(found, "audit_log", str(point.head_id), "rows")
    assert (finding.found, finding.expected) == (str(point.rows - 3), str(point.rows))


def test_history_rewritten_with_the_key_differs_from_the_checkpoint(app: Any, sessions: Any) -> None:
    """Someone who holds the key (the app server) can rewrite rows and recompute their MACs; the
    checkpoint taken before still holds the old head."""
    _small(app, sessions)
    point = _checkpoint(app, sessions)
    with sessions() as session, session.begin():
        keyring = audit.keyring_of(session)
        rows = session.execute(select(*[AuditEntry.__table__.c[c] for c in chain.COLUMNS])
                               .where(AuditEntry.id >= 2).order_by(AuditEntry.id)).mappings().all()
        prev = session.scalar(select(AuditEntry.hash).where(AuditEntry.id == 1))
        session.execute(text("UPDATE audit_log SET prev_hash = 'x' || id, hash = 'y' || id WHERE id >= 2"))
        for row in rows:
            row = {**row, "actor": "mallory" if row["id"] == 2 else row["actor"]}
            new = chain.keyed_hash(keyring.keys[row["key_id"]], prev, row)
            session.execute(text("UPDATE audit_log SET actor = :a, prev_hash = :p, hash = :h WHERE id = :id"),
                            {"a": row["actor"], "p": prev, "h": new, "id": row["id"]})
            prev = new
    assert _verify(sessions, ledger=False).ok  # the chain alone: consistent, MACs and all
    found = _verify(sessions, app, ledger=False)
    assert found.problem == report.CHECKPOINT_DIFFERS and found.broken_at == point.head_id


def test_asset_status_put_back_from_disposed_is_found(app: Any, sessions: Any) -> None:
    made = _small(app, sessions)
    _sql(sessions, "UPDATE assets SET status = 'in_use' WHERE code = :code", code=made["disposed"])
    found = _verify(sessions)
    [finding] = _where(found, "assets", made["disposed"], "status")
    assert (finding.found, finding.expected, finding.problem) == ("in_use", "disposed", report.FIELD_DIFFERS)
    assert found.problem == report.LEDGER_DIFFERS and len(found.findings) == 1


def test_money_in_a_purchase_line_edited_is_found(app: Any, sessions: Any) -> None:
    made = _small(app, sessions)
    _sql(sessions, "UPDATE purchase_lines SET unit_price = 500.00, amount = 1000.00 WHERE id = :id", id=made["line"])
    found = _verify(sessions)
    assert {(f.field, f.found, f.expected) for f in _where(found, "purchase_lines", str(made["line"]), "unit_price")
            + _where(found, "purchase_lines", str(made["line"]), "amount")} == {
        ("unit_price", "500.00", "5000.00"), ("amount", "1000.00", "10000.00")}


def test_deleted_asset_row_is_found(app: Any, sessions: Any) -> None:
    made = _small(app, sessions)
    with sessions() as session, session.begin():
        asset_id = session.scalar(text("SELECT id FROM assets WHERE code = :c"), {"c": made["moved"]})
        session.execute(text("DELETE FROM asset_events WHERE asset_id = :id"), {"id": asset_id})  # its foreign keys
        session.execute(text("DELETE FROM assets WHERE id = :id"), {"id": asset_id})
    found = _verify(sessions)
    [gone] = _where(found, "assets", made["moved"])
    assert gone.problem == report.DELETED and gone.found == "∅"
    missing = [f for f in found.findings if f.table == "asset_events"]
    assert len(missing) == 2 and {f.problem for f in missing} == {report.ROW_MISSING}  # its creation and its move


def test_deleted_kiosk_event_is_found(app: Any, sessions: Any) -> None:
    made = _small(app, sessions)
    kiosk, event_id = made["event"]
    _sql(sessions, "DELETE FROM kiosk_events WHERE kiosk = :k AND id = :i", k=kiosk, i=event_id)
    found = _verify(sessions)
    [finding] = _where(found, "kiosk_events", f"{kiosk}/{event_id}")
    assert finding.problem == report.ROW_MISSING and finding.audit_row is not None


def test_rows_written_behind_the_back_are_found(app: Any, sessions: Any) -> None:
    made = _small(app, sessions)
    with sessions() as session, session.begin():
        line = session.get(PurchaseLine, made["line"])
        assert line is not None
        session.execute(text("INSERT INTO assets (code, name, category_id, status, department, created_at, "
                             "updated_at) SELECT 'A-FAKE', 'ghost', category_id, 'in_storage', '', created_at, "
                             "updated_at FROM assets WHERE code = :c"), {"c": made["moved"]})
        session.execute(text("INSERT INTO purchase_lines (purchase_id, plan_line_id, category_id, description, "
                             "quantity, unit_price, amount, audit_hash) VALUES (:p, :pl, :c, '', 1, 1.00, 1.00, :h)"),
                        {"p": line.purchase_id, "pl": line.plan_line_id, "c": line.category_id, "h": line.audit_hash})
        session.execute(text("INSERT INTO kiosk_events (kiosk, id, seq, boot, type, at, received_at, synced, data, "
                             "flags) SELECT kiosk, 'forged', seq, boot, type, at, received_at, synced, data, flags "
                             "FROM kiosk_events"))
    found = _verify(sessions)
    assert [f.problem for f in _where(found, "assets", "A-FAKE")] == [report.NOT_IN_LOG]
    assert [f.problem for f in found.findings if f.table == "purchase_lines"] == [report.ROW_EXTRA]
    assert [f.problem for f in found.findings if f.table == "kiosk_events"] == [report.BASELINE_MISSING]


def test_key_rotation_keeps_old_rows_verifying(app: Any, sessions: Any, settings_overrides: dict[str, Any]) -> None:
    _small(app, sessions)
    settings = settings_of(app)
    first = keys.load(settings).current
    new_id, entry = keys.rotate(settings)
    assert entry is None and keys.load(settings).current == new_id != first
    keys.install(sessions, settings)  # a restarted process reads the keys again
    with sessions() as session, session.begin():
        directory.create_location(session, SYSTEM, "After the rotation", "office")
    with sessions() as session:
        used = [k for (k,) in session.execute(select(AuditEntry.key_id).order_by(AuditEntry.id))]
    assert used[0] == first and used[-1] == new_id and set(used) == {first, new_id}
    assert _verify(sessions).ok  # old rows with the old key, new rows with the new one
    path = keys.key_file(settings)
    path.write_text("\n".join(line for line in path.read_text().splitlines() if not line.startswith(first)))
    keys.install(sessions, settings)  # the old key dropped: its rows can no longer be checked
    dropped = _verify(sessions)
    assert dropped.broken_at == 1 and dropped.problem == report.UNKNOWN_KEY


def test_keys_from_the_environment_and_bad_keys(tmp_path: Path) -> None:
    from server.config import load_settings

    good = "k1:" + "ab" * 32 + ", k0:" + "cd" * 32
    ring = keys.load(load_settings({"instance_path": tmp_path, "audit_keys": good}, environ={}))
    assert ring.current == "k1" and set(ring.keys) == {"k1", "k0"}
    for bad, says in (("k1:abc", "hex digits"), ("k1:" + "ab" * 32 + ",k1:" + "cd" * 32, "twice"),
                      ("legacy:" + "ab" * 32, "legacy"), ("bad id:" + "ab" * 32, "1 to 32")):
        with pytest.raises(keys.KeyProblem, match=says):
            keys.load(load_settings({"instance_path": tmp_path, "audit_keys": bad}, environ={}))
    made = keys.load(load_settings({"instance_path": tmp_path / "i"}, environ={}))
    assert (tmp_path / "i" / keys.KEY_FILE).stat().st_mode & 0o777 == 0o600 and len(made.current_key) == 32
    _key_id, entry = keys.rotate(load_settings({"instance_path": tmp_path, "audit_keys": good}, environ={}))
    assert entry is not None and entry.startswith(_key_id + ":")  # the admin puts it first in the environment


def test_forged_checkpoint_and_summary_are_refused(app: Any, sessions: Any, tmp_path: Path) -> None:
    _small(app, sessions)
    settings = settings_of(app)
    point = _checkpoint(app, sessions)
    path = checkpoints.checkpoint_file(settings)
    line = json.loads(path.read_text())
    path.write_text(json.dumps({**line, "rows": line["rows"] + 5}) + "\n")  # as if more rows had been seen
    found = _verify(sessions, app)
    assert found.problem == report.CHECKPOINT_FORGED and found.checkpoints_checked == 0
    [summary] = (settings.instance_path / checkpoints.SUMMARIES).iterdir()
    public = checkpoints.instance_public(settings)
    assert public is not None and checkpoints.read_summary(summary, public)["rows"] == point.rows
    signed = json.loads(summary.read_text())
    signed["summary"]["rows"] -= 1
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(signed))
    with pytest.raises(checkpoints.CheckpointProblem, match="signature does not match"):
        checkpoints.read_summary(edited, public)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = Ed25519PrivateKey.generate()  # a summary signed by someone else's key
    forged = {"summary": signed["summary"], "signature": checkpoints.sign(other, signed["summary"])}
    edited.write_text(json.dumps(forged))
    with pytest.raises(checkpoints.CheckpointProblem, match="signature does not match"):
        checkpoints.read_summary(edited, public)


def test_rows_from_before_the_keyed_chain_still_verify(app: Any, sessions: Any) -> None:
    """A database migrated from before revision 0034: its rows keep their plain SHA-256 hashes."""
    with sessions() as session, session.begin():
        prev = audit.GENESIS
        for n in range(3):  # written the way the old code wrote them
            row = {"at": utcnow(), "actor": "old", "source": "cli", "action": "location.create",
                   "entity": "location", "entity_id": f"L-OLD{n}", "before": None, "after": {"name": f"Old {n}"}}
            digest = chain.legacy_hash(prev, row)
            session.add(AuditEntry(**row, prev_hash=prev, hash=digest, key_id=keys.LEGACY))
            prev = digest
    _small(app, sessions)
    found = _verify(sessions)
    assert found.ok and found.legacy_rows == 3 and found.legacy_described == 3  # described, not comparable
    _sql(sessions, "UPDATE audit_log SET after = NULL WHERE id = 2")
    assert _verify(sessions).broken_at == 2  # an edited legacy row still breaks its hash


def test_the_check_reads_in_bounded_chunks(app: Any, sessions: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    made = _small(app, sessions)
    _sql(sessions, "UPDATE assets SET status = 'in_use' WHERE code = :code", code=made["disposed"])
    whole = _verify(sessions)
    from server.audit import reconcile

    monkeypatch.setattr(reconcile, "CHUNK", 2)
    chunked = _verify(sessions, batch=3)
    assert (chunked.rows, chunked.ledger_rows, chunked.findings) == (whole.rows, whole.ledger_rows, whole.findings)


def test_the_check_reads_one_snapshot_and_does_not_block_writers(app: Any, sessions: Any) -> None:
    _small(app, sessions)
    with sessions() as reader:
        checks.begin_snapshot(reader)
        before = reader.scalar(select(func.count()).select_from(AuditEntry))
        with sessions() as writer, writer.begin():  # would wait (SQLite) if the check held the write lock
            directory.create_location(writer, SYSTEM, "Written meanwhile", "office")
        assert reader.scalar(select(func.count()).select_from(AuditEntry)) == before  # the same moment
        reader.rollback()
        assert reader.scalar(select(func.count()).select_from(AuditEntry)) == before + 1


def test_a_session_without_audit_keys_cannot_write(database_url: str) -> None:
    from server.db import make_engine, make_session_factory

    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session, session.begin(), pytest.raises(RuntimeError, match="keys"):
            directory.create_location(session, SYSTEM, "Nowhere", "office")
    finally:
        engine.dispose()


def test_kiosk_event_rows_point_at_the_audit_row_that_describes_them(app: Any, sessions: Any) -> None:
    made = _small(app, sessions)
    with sessions() as session:
        event = session.get(KioskEvent, made["event"])
        assert event is not None and event.audit_hash
        row = session.scalars(select(AuditEntry).where(AuditEntry.hash == event.audit_hash)).one()
    assert row.action == "asset.move" and row.entity_id == made["moved"]
    assert [d["id"] for d in (row.inserted or {})["kiosk_events"]] == [made["event"][1]]
    assert len((row.inserted or {})["asset_events"]) == 1


def test_the_body_built_from_stored_text_is_the_canonical_json() -> None:
    """The check hashes a row's JSON columns as stored, without parsing them: that must be byte for
    byte the canonical JSON of the whole row (a sorted, compact orjson of it)."""
    import orjson

    row = {"at": utcnow(), "actor": "王", "source": "kiosk:k-1", "action": "asset.move", "entity": "asset",
           "entity_id": "A-1", "before": {"b": 1, "a": [{"z": None, "y": "é"}]}, "after": None,
           "inserted": {"kiosk_events": [{"data": {"to": "L-1", "tag": "A-1"}, "id": "x"}]}, "key_id": "k1"}
    texts = tuple(chain.json_text(row[n]) for n in chain.JSON_COLUMNS)
    body = {name: row[name] for name in chain.KEYED_FIELDS} | {"at": chain._at(row["at"])}
    assert chain.keyed_body(row, *texts) == orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    from server.db import _json_text

    assert all(_json_text(row[n]).encode() == text for n, text in zip(chain.JSON_COLUMNS, texts, strict=True))
