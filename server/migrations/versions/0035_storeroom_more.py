"""storeroom, more: supply categories, receipts from purchase lines (with their cost), supply counts in a
stocktake, the report's sign-off, losses approved through the chain, settled pickup conflicts, reorders
that became purchase requests

Revision ID: 0035_storeroom_more
Revises: 0022_supplies
Create Date: 2026-12-01

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0035_storeroom_more"
down_revision: str | Sequence[str] | None = "0034_audit_keyed_chain"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("categories") as batch:
        batch.add_column(sa.Column("supplies", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("supply_movements") as batch:
        batch.add_column(sa.Column("purchase_line_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("unit_cost", sa.Numeric(precision=14, scale=2), nullable=True))
        batch.add_column(sa.Column("stocktake_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("request_key", sa.String(length=64), nullable=True))
        batch.create_foreign_key("fk_supply_movements_purchase_line", "purchase_lines", ["purchase_line_id"], ["id"])
        batch.create_foreign_key("fk_supply_movements_stocktake", "stocktakes", ["stocktake_id"], ["id"])
        batch.create_unique_constraint("uq_supply_movements_request_key", ["request_key"])
        batch.create_index("ix_supply_movements_purchase_line_id", ["purchase_line_id"])
    with op.batch_alter_table("stocktakes") as batch:
        batch.add_column(sa.Column("signed_off_by", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("signed_off_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("sign_off_note", sa.Text(), server_default="", nullable=False))
    with op.batch_alter_table("stocktake_resolutions") as batch:
        batch.add_column(sa.Column("approval_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_stocktake_resolutions_approval", "approvals", ["approval_id"], ["id"])
    op.create_table(
        "stocktake_supply_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stocktake_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("counted", sa.Integer(), nullable=False),
        sa.Column("expected", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=60), nullable=False),
        sa.ForeignKeyConstraint(["stocktake_id"], ["stocktakes.id"]),
        sa.ForeignKeyConstraint(["item_id"], ["supply_items.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_stocktake_supply_counts_item", "stocktake_supply_counts", ["stocktake_id", "item_id", "id"])
    op.create_table(
        "supply_conflict_resolutions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("movement_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("adjustment_id", sa.Integer(), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["movement_id"], ["supply_movements.id"]),
        sa.ForeignKeyConstraint(["adjustment_id"], ["supply_movements.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("movement_id"),
    )
    op.create_table(
        "supply_reorder_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("purchase_request_id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["supply_items.id"]),
        sa.ForeignKeyConstraint(["purchase_request_id"], ["purchase_requests.id"]),
        sa.ForeignKeyConstraint(["alert_id"], ["supply_alerts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("purchase_request_id"),
    )
    op.create_index("ix_supply_reorder_requests_item_id", "supply_reorder_requests", ["item_id"])


def downgrade() -> None:
    op.drop_index("ix_supply_reorder_requests_item_id", table_name="supply_reorder_requests")
    op.drop_table("supply_reorder_requests")
    op.drop_table("supply_conflict_resolutions")
    op.drop_index("ix_stocktake_supply_counts_item", table_name="stocktake_supply_counts")
    op.drop_table("stocktake_supply_counts")
    with op.batch_alter_table("stocktake_resolutions") as batch:
        batch.drop_constraint("fk_stocktake_resolutions_approval", type_="foreignkey")
        batch.drop_column("approval_id")
    with op.batch_alter_table("stocktakes") as batch:
        batch.drop_column("sign_off_note")
        batch.drop_column("signed_off_at")
        batch.drop_column("signed_off_by")
    with op.batch_alter_table("supply_movements") as batch:
        batch.drop_index("ix_supply_movements_purchase_line_id")
        batch.drop_constraint("uq_supply_movements_request_key", type_="unique")
        batch.drop_constraint("fk_supply_movements_stocktake", type_="foreignkey")
        batch.drop_constraint("fk_supply_movements_purchase_line", type_="foreignkey")
        batch.drop_column("request_key")
        batch.drop_column("stocktake_id")
        batch.drop_column("unit_cost")
        batch.drop_column("purchase_line_id")
    with op.batch_alter_table("categories") as batch:
        batch.drop_column("supplies")
