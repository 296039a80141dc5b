"""vehicles: the fleet, booking requests, dispatches, the trip log, odometer corrections, costs, gate passages

Revision ID: 0030_vehicles
Revises: 0022_supplies
Create Date: 2026-12-01

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030_vehicles"
down_revision: str | Sequence[str] | None = "0035_storeroom_more"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STANDING = sa.text("cancelled_at IS NULL")
# PostgreSQL holds the no-double-booking rule itself too (services.dispatch checks it under row locks on
# both databases): no two standing dispatches of one vehicle, or of one driver, with overlapping windows.
EXCLUSIONS = {
    "ex_vehicle_dispatches_vehicle": "vehicle_id",
    "ex_vehicle_dispatches_driver": "driver_id",
}


def upgrade() -> None:
    with op.batch_alter_table("categories") as batch:
        batch.add_column(sa.Column("vehicle", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "vehicle_bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("requester", sa.String(length=100), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("passengers", sa.Integer(), nullable=False),
        sa.Column("destination", sa.String(length=200), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.Column("urgency", sa.String(length=10), nullable=False),
        sa.Column("approval_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(), nullable=True),
        sa.Column("cancelled_by", sa.String(length=100), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["approval_id"], ["approvals.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("approval_id"),
    )
    op.create_index("ix_vehicle_bookings_department", "vehicle_bookings", ["department"])
    op.create_index("ix_vehicle_bookings_starts_at", "vehicle_bookings", ["starts_at"])

    op.create_table(
        "vehicles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("plate", sa.String(length=16), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("fuel", sa.String(length=20), nullable=False),
        sa.Column("initial_odometer", sa.Integer(), nullable=False),
        sa.Column("odometer", sa.Integer(), nullable=False),
        sa.Column("registered_at", sa.DateTime(), nullable=False),
        sa.Column("registered_by", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("asset_id"),
        sa.UniqueConstraint("plate"),
    )
    op.create_table(
        "vehicle_dispatches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("driver_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.Column("dispatched_by", sa.String(length=100), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(), nullable=True),
        sa.Column("cancelled_by", sa.String(length=100), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["booking_id"], ["vehicle_bookings.id"]),
        sa.ForeignKeyConstraint(["driver_id"], ["people.id"]),
        sa.ForeignKeyConstraint(["vehicle_id"], ["vehicles.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_vehicle_dispatches_booking_id", "vehicle_dispatches", ["booking_id"])
    op.create_index("ix_vehicle_dispatches_driver", "vehicle_dispatches", ["driver_id", "ends_at", "starts_at"],
                    postgresql_where=STANDING, sqlite_where=STANDING)
    op.create_index("ix_vehicle_dispatches_vehicle", "vehicle_dispatches", ["vehicle_id", "ends_at", "starts_at"],
                    postgresql_where=STANDING, sqlite_where=STANDING)

    op.create_table(
        "vehicle_drivers",
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.Column("added_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"]),
        sa.ForeignKeyConstraint(["vehicle_id"], ["vehicles.id"]),
        sa.PrimaryKeyConstraint("vehicle_id", "person_id"),
    )
    op.create_index("ix_vehicle_drivers_person_id", "vehicle_drivers", ["person_id"])

    op.create_table(
        "vehicle_trips",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("dispatch_id", sa.Integer(), nullable=True),
        sa.Column("driver_id", sa.Integer(), nullable=True),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("out_at", sa.DateTime(), nullable=True),
        sa.Column("in_at", sa.DateTime(), nullable=True),
        sa.Column("odometer_out", sa.Integer(), nullable=True),
        sa.Column("odometer_in", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=60), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("conflict", sa.Boolean(), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["dispatch_id"], ["vehicle_dispatches.id"]),
        sa.ForeignKeyConstraint(["driver_id"], ["people.id"]),
        sa.ForeignKeyConstraint(["vehicle_id"], ["vehicles.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_vehicle_trips_dispatch_id", "vehicle_trips", ["dispatch_id"])
    op.create_index("ix_vehicle_trips_in", "vehicle_trips", ["vehicle_id", "in_at"])
    op.create_index("ix_vehicle_trips_out", "vehicle_trips", ["vehicle_id", "out_at"])

    op.create_table(
        "odometer_corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trip_id", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(length=3), nullable=False),
        sa.Column("before", sa.Integer(), nullable=True),
        sa.Column("after", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("corrected_by", sa.String(length=100), nullable=False),
        sa.Column("corrected_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["trip_id"], ["vehicle_trips.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_odometer_corrections_trip_id", "odometer_corrections", ["trip_id"])

    op.create_table(
        "vehicle_costs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("trip_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("spent_on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["trip_id"], ["vehicle_trips.id"]),
        sa.ForeignKeyConstraint(["vehicle_id"], ["vehicles.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_vehicle_costs_trip_id", "vehicle_costs", ["trip_id"])
    op.create_index("ix_vehicle_costs_vehicle", "vehicle_costs", ["vehicle_id", "spent_on"])

    op.create_table(
        "vehicle_passages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=True),
        sa.Column("plate", sa.String(length=16), nullable=True),
        sa.Column("plate_enc", sa.Text(), nullable=True),
        sa.Column("plate_index", sa.String(length=40), nullable=True),
        sa.Column("pass_code", sa.String(length=32), nullable=True),
        sa.Column("odometer", sa.Integer(), nullable=True),
        sa.Column("trip_id", sa.Integer(), nullable=True),
        sa.Column("dispatch_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=60), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("kiosk_event_id", sa.String(length=36), nullable=True),
        sa.Column("conflict", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("purged_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["dispatch_id"], ["vehicle_dispatches.id"]),
        sa.ForeignKeyConstraint(["trip_id"], ["vehicle_trips.id"]),
        sa.ForeignKeyConstraint(["vehicle_id"], ["vehicles.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kiosk_event_id"),
    )
    op.create_index("ix_vehicle_passages_at", "vehicle_passages", ["at"])
    op.create_index("ix_vehicle_passages_plate_index", "vehicle_passages", ["plate_index"])
    op.create_index("ix_vehicle_passages_trip_id", "vehicle_passages", ["trip_id"])
    op.create_index("ix_vehicle_passages_vehicle_id", "vehicle_passages", ["vehicle_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        for name, column in EXCLUSIONS.items():
            op.execute(f"ALTER TABLE vehicle_dispatches ADD CONSTRAINT {name} EXCLUDE USING gist "
                       f"({column} WITH =, tsrange(starts_at, ends_at, '[)') WITH &&) WHERE (cancelled_at IS NULL)")


def downgrade() -> None:
    for table in ("vehicle_passages", "vehicle_costs", "odometer_corrections", "vehicle_trips", "vehicle_drivers",
                  "vehicle_dispatches", "vehicles", "vehicle_bookings"):
        op.drop_table(table)
    with op.batch_alter_table("categories") as batch:
        batch.drop_column("vehicle")
