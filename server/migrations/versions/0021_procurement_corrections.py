"""procurement corrections: voided purchases, plan line amendments, reversed intakes; free purchases

Revision ID: 0021_procurement_corrections
Revises: 0020_gate
Create Date: 2026-12-01

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_procurement_corrections"
down_revision: str | Sequence[str] | None = "0020_gate"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plan_line_amendments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_line_id", sa.Integer(), nullable=False),
        sa.Column("old_qty", sa.Integer(), nullable=False),
        sa.Column("old_amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("new_qty", sa.Integer(), nullable=False),
        sa.Column("new_amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("approval_ref", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["plan_line_id"], ["plan_lines.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_plan_line_amendments_plan_line_id", "plan_line_amendments", ["plan_line_id"])
    with op.batch_alter_table("purchases") as batch:
        batch.add_column(sa.Column("voided_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("void_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("void_approval_ref", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("voided_by", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("free_kind", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("free_approval_ref", sa.String(length=100), nullable=True))
    with op.batch_alter_table("intakes") as batch:
        batch.add_column(sa.Column("reversed_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("reverse_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("reversed_by", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("intakes") as batch:
        batch.drop_column("reversed_by")
        batch.drop_column("reverse_reason")
        batch.drop_column("reversed_at")
    with op.batch_alter_table("purchases") as batch:
        batch.drop_column("free_approval_ref")
        batch.drop_column("free_kind")
        batch.drop_column("voided_by")
        batch.drop_column("void_approval_ref")
        batch.drop_column("void_reason")
        batch.drop_column("voided_at")
    op.drop_index("ix_plan_line_amendments_plan_line_id", table_name="plan_line_amendments")
    op.drop_table("plan_line_amendments")
