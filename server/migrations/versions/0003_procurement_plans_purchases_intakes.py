"""procurement: plan lines, purchases, intakes; assets get intake, due time and FKs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "purchases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("supplier", sa.String(length=200), nullable=False),
        sa.Column("purchased_on", sa.Date(), nullable=False),
        sa.Column("method", sa.String(length=30), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("method_exception_ref", sa.String(length=100), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_purchases_purchased_on"), ["purchased_on"], unique=False)

    op.create_table(
        "plan_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=40), nullable=False),
        sa.Column("budget_year", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("approved_qty", sa.Integer(), nullable=False),
        sa.Column("unit_price_cap", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("approved_amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("method", sa.String(length=30), nullable=False),
        sa.Column("approval_ref", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ref"),
    )
    with op.batch_alter_table("plan_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_lines_budget_year"), ["budget_year"], unique=False)

    op.create_table(
        "purchase_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purchase_id", sa.Integer(), nullable=False),
        sa.Column("plan_line_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
        ),
        sa.ForeignKeyConstraint(
            ["plan_line_id"],
            ["plan_lines.id"],
        ),
        sa.ForeignKeyConstraint(
            ["purchase_id"],
            ["purchases.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("purchase_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_purchase_lines_plan_line_id"), ["plan_line_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_purchase_lines_purchase_id"), ["purchase_id"], unique=False)

    op.create_table(
        "intakes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=False),
        sa.Column("purchase_line_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
        ),
        sa.ForeignKeyConstraint(
            ["purchase_line_id"],
            ["purchase_lines.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_key"),
    )
    with op.batch_alter_table("intakes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_intakes_purchase_line_id"), ["purchase_line_id"], unique=False)

    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("intake_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("due_at", sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f("ix_assets_due_at"), ["due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_assets_intake_id"), ["intake_id"], unique=False)
        batch_op.create_foreign_key("fk_assets_intake_id", "intakes", ["intake_id"], ["id"])
        batch_op.create_foreign_key("fk_assets_purchase_line_id", "purchase_lines", ["purchase_line_id"], ["id"])


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.drop_constraint("fk_assets_purchase_line_id", type_="foreignkey")
        batch_op.drop_constraint("fk_assets_intake_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_assets_intake_id"))
        batch_op.drop_index(batch_op.f("ix_assets_due_at"))
        batch_op.drop_column("due_at")
        batch_op.drop_column("intake_id")

    with op.batch_alter_table("intakes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intakes_purchase_line_id"))

    op.drop_table("intakes")
    with op.batch_alter_table("purchase_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purchase_lines_purchase_id"))
        batch_op.drop_index(batch_op.f("ix_purchase_lines_plan_line_id"))

    op.drop_table("purchase_lines")
    with op.batch_alter_table("plan_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_lines_budget_year"))

    op.drop_table("plan_lines")
    with op.batch_alter_table("purchases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_purchases_purchased_on"))

    op.drop_table("purchases")
