"""supplies: items and their ledger of movements (stock is the sum, never stored)

Revision ID: 0022_supplies
Revises: 0011_asset_search_indexes
Create Date: 2026-12-01

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_supplies"
down_revision: str | Sequence[str] | None = "0011_asset_search_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "supply_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("location", sa.String(length=100), nullable=False),
        sa.Column("reorder_level", sa.Integer(), nullable=False),
        sa.Column("reorder_quantity", sa.Integer(), nullable=False),
        sa.Column("valuable", sa.Boolean(), nullable=False),
        sa.Column("everyday_max", sa.Integer(), nullable=True),
        sa.Column("unit_price", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_supply_items_code", "supply_items", ["code"], unique=True)
    op.create_table(
        "requisitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("requester", sa.String(length=100), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("approval_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["supply_items.id"]),
        sa.ForeignKeyConstraint(["approval_id"], ["approvals.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("approval_id"),
    )
    op.create_index("ix_requisitions_item_id", "requisitions", ["item_id"])
    op.create_index("ix_requisitions_department", "requisitions", ["department"])
    op.create_table(
        "supply_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("raised_at", sa.DateTime(), nullable=False),
        sa.Column("cleared_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["supply_items.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_supply_alerts_item_id", "supply_alerts", ["item_id"])
    op.create_table(
        "supply_movements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=60), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("kiosk_event_id", sa.String(length=36), nullable=True),
        sa.Column("conflict", sa.Boolean(), nullable=False),
        sa.Column("requisition_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["supply_items.id"]),
        sa.ForeignKeyConstraint(["requisition_id"], ["requisitions.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kiosk_event_id"),
    )
    op.create_index("ix_supply_movements_item", "supply_movements", ["item_id", "id", "quantity"])
    op.create_index("ix_supply_movements_requisition_id", "supply_movements", ["requisition_id"])
    _stocktakes()


def _stocktakes() -> None:
    op.create_table(
        "stocktakes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("location_ids", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("opened_by", sa.String(length=100), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("closed_by", sa.String(length=100), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_stocktakes_state", "stocktakes", ["state"])
    op.create_table(
        "stocktake_expected",
        sa.Column("stocktake_id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["stocktake_id"], ["stocktakes.id"]),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"]),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"]),
        sa.PrimaryKeyConstraint("stocktake_id", "asset_id"),
    )
    op.create_table(
        "stocktake_scans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stocktake_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=True),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=60), nullable=False),
        sa.Column("kiosk_event_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(["stocktake_id"], ["stocktakes.id"]),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"]),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kiosk_event_id"),
    )
    op.create_index("ix_stocktake_scans_asset", "stocktake_scans", ["stocktake_id", "asset_id", "id"])
    op.create_index("ix_stocktake_scans_code", "stocktake_scans", ["stocktake_id", "code"])
    op.create_table(
        "stocktake_resolutions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stocktake_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("approval_ref", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["stocktake_id"], ["stocktakes.id"]),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("stocktake_id", "code", name="uq_stocktake_resolution"),
    )


def downgrade() -> None:
    for table in ("stocktake_resolutions", "stocktake_scans", "stocktake_expected", "stocktakes"):
        for index in {"stocktake_scans": ["ix_stocktake_scans_code", "ix_stocktake_scans_asset"],
                      "stocktakes": ["ix_stocktakes_state"]}.get(table, []):
            op.drop_index(index, table_name=table)
        op.drop_table(table)
    op.drop_index("ix_supply_movements_requisition_id", table_name="supply_movements")
    op.drop_index("ix_supply_movements_item", table_name="supply_movements")
    op.drop_table("supply_movements")
    op.drop_index("ix_supply_alerts_item_id", table_name="supply_alerts")
    op.drop_table("supply_alerts")
    op.drop_index("ix_requisitions_department", table_name="requisitions")
    op.drop_index("ix_requisitions_item_id", table_name="requisitions")
    op.drop_table("requisitions")
    op.drop_index("ix_supply_items_code", table_name="supply_items")
    op.drop_table("supply_items")
