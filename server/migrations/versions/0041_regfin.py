"""office registers, finished: archive lendings and returns made off line that broke a rule (conflicts,
and loans without an approval), and re-made seals linked to the seal they replace

Revision ID: 0041_regfin
Revises: 0040_storefin_receipt_reversal
Create Date: 2026-12-02

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0041_regfin"
down_revision: str | Sequence[str] | None = "0040_storefin_receipt_reversal"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("archive_loans") as batch:
        batch.alter_column("approval_id", existing_type=sa.Integer(), nullable=True)
    op.create_table(
        "archive_conflicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=30), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("message_values", sa.JSON(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("borrower_id", sa.Integer(), nullable=True),
        sa.Column("loan_id", sa.Integer(), nullable=True),
        sa.Column("kiosk", sa.String(length=100), nullable=False),
        sa.Column("kiosk_event_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("settled_at", sa.DateTime(), nullable=True),
        sa.Column("settled_by", sa.String(length=100), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["asset_id"], ["archive_volumes.asset_id"]),
        sa.ForeignKeyConstraint(["borrower_id"], ["people.id"]),
        sa.ForeignKeyConstraint(["loan_id"], ["archive_loans.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_archive_conflicts_asset_id", "archive_conflicts", ["asset_id"])
    op.create_index("ix_archive_conflicts_open", "archive_conflicts", ["settled_at", "id"])
    with op.batch_alter_table("seals") as batch:
        batch.add_column(sa.Column("replaces_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_seals_replaces", "seals", ["replaces_id"], ["id"])
        batch.create_unique_constraint("uq_seals_replaces_id", ["replaces_id"])


def downgrade() -> None:
    with op.batch_alter_table("seals") as batch:
        batch.drop_constraint("uq_seals_replaces_id", type_="unique")
        batch.drop_constraint("fk_seals_replaces", type_="foreignkey")
        batch.drop_column("replaces_id")
    op.drop_index("ix_archive_conflicts_open", table_name="archive_conflicts")
    op.drop_index("ix_archive_conflicts_asset_id", table_name="archive_conflicts")
    op.drop_table("archive_conflicts")
    with op.batch_alter_table("archive_loans") as batch:
        batch.alter_column("approval_id", existing_type=sa.Integer(), nullable=False)
