"""The office's registers under the ledger check: an edit of each table family behind the application's
back is named (table, row, field), on SQLite and PostgreSQL; every table of the schema is either the
ledger or listed with why it is not; a register from before the upgrade is described once by the baseline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, text

from server import audit, settings_of
from server.audit import SYSTEM, baseline, ledger, report
from server.models import Base, SealEvent, utcnow
from server.services import assets, directory, seals, vehicles
from tests.audit_registers_support import PLATE, Registers, base, registers
from tests.seal_support import image


def _made(app: Any, sessions: Any) -> Registers:
    made = registers(settings_of(app), sessions, base(sessions), kiosk=False)  # kiosks: tests/test_audit_ledger.py
    with sessions() as session:
        found = audit.verify(session)
    assert found.ok, found.findings
    return made


def _sql(sessions: Any, *statements: tuple[str, dict[str, Any]]) -> None:
    with sessions() as session, session.begin():
        for statement, values in statements:
            session.execute(text(statement), values)


def _found(sessions: Any) -> dict[tuple[str, str, str], audit.Finding]:
    with sessions() as session:
        checked = audit.verify(session)
    assert checked.problem == report.LEDGER_DIFFERS
    return {(f.table, f.row, f.field): f for f in checked.findings}


def test_an_edit_of_each_register_is_named_with_its_table_row_and_field(app: Any, sessions: Any) -> None:
    made = _made(app, sessions)
    with sessions() as session:
        seal_id = session.scalar(text("SELECT id FROM seals WHERE code = :c"), {"c": made.seal})
        event = session.scalar(select(SealEvent.id).where(SealEvent.action == "custodian"))
        imprint = session.scalar(text("SELECT id FROM seal_imprints"))
        counted = session.scalar(text("SELECT id FROM stocktake_supply_counts"))
        settled = session.scalar(text("SELECT id FROM supply_conflict_resolutions"))
    later = (utcnow() + timedelta(days=1)).replace(tzinfo=None)
    _sql(sessions,
         ("UPDATE vehicles SET odometer = 9000 WHERE id = :i", {"i": made.vehicle}),  # the fleet
         ("UPDATE vehicle_bookings SET destination = 'Beach' WHERE id = :i", {"i": made.booking}),
         ("UPDATE vehicle_dispatches SET cancelled_at = :t WHERE id = :i", {"t": later, "i": made.dispatch}),
         ("UPDATE vehicle_trips SET odometer_in = 10050 WHERE id = :i", {"i": made.trip}),  # the trip log
         ("UPDATE odometer_corrections SET after = 10100 WHERE id = :i", {"i": made.correction}),
         ("UPDATE vehicle_costs SET amount = 35.00 WHERE id = :i", {"i": made.cost}),
         ("UPDATE vehicle_passages SET odometer = 10000 WHERE id = :i", {"i": made.passage}),
         ("UPDATE seals SET status = 'destroyed' WHERE id = :i", {"i": seal_id}),  # seals
         ("UPDATE seal_events SET reason = '' WHERE id = :i", {"i": event}),
         ("UPDATE seal_imprints SET data = :d WHERE id = :i", {"d": image(size=(60, 60)), "i": imprint}),
         ("UPDATE seal_uses SET copies = 1 WHERE id = :i", {"i": made.seal_use}),
         ("UPDATE seal_takeouts SET returned_at = NULL WHERE id = :i", {"i": made.takeout}),
         ("UPDATE archive_volumes SET retention_until = '2020-12-31' WHERE asset_id = :i", {"i": made.volume}),
         ("UPDATE archive_loans SET returned_at = NULL WHERE id = :i", {"i": made.loan}),  # archives
         ("UPDATE archive_destructions SET witnesses = '赵敏' WHERE id = :i", {"i": made.destruction}),
         ("DELETE FROM archive_destruction_items WHERE destruction_id = :i", {"i": made.destruction}),
         ("DELETE FROM vehicle_drivers WHERE vehicle_id = :v AND person_id = :p",
          {"v": made.vehicle, "p": made.drivers[0]}),
         ("UPDATE stocktake_supply_counts SET counted = 20 WHERE id = :i", {"i": counted}),  # the storeroom
         ("UPDATE supply_conflict_resolutions SET note = 'ok' WHERE id = :i", {"i": settled}))
    found = _found(sessions)
    expected = {
        ("vehicles", PLATE, "odometer"): ("9000", "10090"),
        ("vehicle_bookings", str(made.booking), "destination"): ("Beach", "市财政局"),
        ("vehicle_dispatches", str(made.dispatch), "cancelled_at"): (None, "∅"),
        ("vehicle_trips", str(made.trip), "odometer_in"): ("10050", "10090"),
        ("odometer_corrections", str(made.correction), "after"): ("10100", "10090"),
        ("vehicle_costs", str(made.cost), "amount"): ("35.00", "350.00"),
        ("vehicle_passages", str(made.passage), "odometer"): ("10000", "10020"),
        ("seals", made.seal, "status"): ("destroyed", "in_use"),
        ("seal_events", str(event), "reason"): ("", "handed over"),
        ("seal_imprints", str(imprint), "data"): (None, None),
        ("seal_uses", str(made.seal_use), "copies"): ("1", "2"),
        ("seal_takeouts", str(made.takeout), "returned_at"): ("∅", None),
        ("archive_volumes", str(made.volume), "retention_until"): ("2020-12-31", "∅"),
        ("archive_loans", str(made.loan), "returned_at"): ("∅", None),
        ("archive_destructions", str(made.destruction), "witnesses"): ("赵敏", "赵敏、孙丽"),
        ("archive_destruction_items", f"{made.destruction}/{made.destroyed}", ""): ("∅", None),
        ("vehicle_drivers", f"{made.vehicle}/{made.drivers[0]}", ""): ("∅", None),
        ("stocktake_supply_counts", str(counted), "counted"): ("20", "1"),
        ("supply_conflict_resolutions", str(settled), "note"): ("ok", "four reams were on the top shelf"),
    }
    assert set(found) == set(expected)  # each edit named, nothing else
    for key, (now, logged) in expected.items():
        finding = found[key]
        assert finding.audit_row is not None, key
        assert now is None or finding.found == now, (key, finding)
        assert logged is None or finding.expected == logged, (key, finding)
    assert found[("archive_destruction_items", f"{made.destruction}/{made.destroyed}", "")].problem == \
        report.ROW_MISSING
    assert found[("vehicle_drivers", f"{made.vehicle}/{made.drivers[0]}", "")].problem == report.DELETED


def test_every_table_is_the_ledger_or_says_why_not() -> None:
    listed = {spec.table for spec in (*ledger.ENTITIES, *ledger.HISTORY)}
    tables = set(Base.metadata.tables)
    assert not listed & set(ledger.NOT_LEDGER)
    assert tables - listed - set(ledger.NOT_LEDGER) == set(), "a new table: list it in server/audit/ledger.py"
    assert set(ledger.NOT_LEDGER) <= tables


def test_a_register_from_before_the_upgrade_is_described_once_by_the_baseline(sessions: Any) -> None:
    """Before this upgrade the registers' audit rows held a few facts, an archive volume was named by
    its code and history rows had no link. ``verify`` says so; the baseline describes them once."""
    with sessions() as session, session.begin():
        garage = directory.create_location(session, SYSTEM, "Garage", "storeroom").code
        directory.get_or_create_category(session, SYSTEM, "Cars")
        vehicles.mark_category(session, SYSTEM, "Cars")
        car = assets.create_asset(session, SYSTEM, "Sedan", "Cars", garage).code
        vehicles.register(session, SYSTEM, vehicles.VehicleIn(car, PLATE, 5, "petrol", 10_000))
        keeper = directory.create_person(session, SYSTEM, "Wang Fang", "Office").code
        seals.register(session, SYSTEM, seals.SealIn("Office seal", "official", "Office", keeper, "R-1"))
    with sessions() as session, session.begin():  # the newest rows, as the old code wrote them
        audit.record(session, SYSTEM, "vehicle.update", "vehicle", PLATE, None, {"plate": PLATE, "seats": 5})
        audit.record(session, SYSTEM, "archive_volume.create", "archive_volume", "A-OLDCODE", None, {"year": 2024})
        session.execute(text("INSERT INTO seal_events (seal_id, action, from_status, to_status, approval_ref, "
                             "reason, actor, source, at) SELECT seal_id, 'imprint', to_status, to_status, '', '', "
                             "actor, source, at FROM seal_events"))
    found = _found(sessions)
    assert {(k, f.problem) for k, f in found.items()} >= {
        (("vehicles", PLATE, "odometer"), report.NOT_DESCRIBED),
        (("archive_volumes", "A-OLDCODE", ""), report.DELETED),
        (("seal_events", "", "audit_hash"), report.BASELINE_MISSING)}
    with sessions() as session, session.begin():
        done = baseline.run(session, SYSTEM)
    assert (done.entities, done.history, done.refused) == ({"vehicles": 1, "archive_volumes": 1}, {"seal_events": 1},
                                                           0)
    with sessions() as session:
        checked = audit.verify(session)
    assert checked.ok, checked.findings
