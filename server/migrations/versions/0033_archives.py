"""archives: classes, volumes (assets with class, retention, confidentiality), loans, destruction lists

Revision ID: 0033_archives
Revises: 0022_supplies
Create Date: 2026-12-01

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0033_archives"
down_revision: str | Sequence[str] | None = "0030_vehicles"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "archive_classes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("loan_days", sa.Integer(), nullable=False),
        sa.Column("on_site_only", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "archive_volumes",
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("reference", sa.String(length=60), nullable=True),
        sa.Column("class_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("retention", sa.String(length=12), nullable=False),
        sa.Column("retention_until", sa.Date(), nullable=True),
        sa.Column("confidentiality", sa.String(length=20), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"]),
        sa.ForeignKeyConstraint(["class_id"], ["archive_classes.id"]),
        sa.ForeignKeyConstraint(["parent_id"], ["archive_volumes.asset_id"]),
        sa.PrimaryKeyConstraint("asset_id"),
        sa.UniqueConstraint("reference"),
    )
    op.create_index("ix_archive_volumes_class_id", "archive_volumes", ["class_id"])
    op.create_index("ix_archive_volumes_retention_until", "archive_volumes", ["retention_until"])
    op.create_table(
        "archive_loans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("borrower_id", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("on_site", sa.Boolean(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("requester", sa.String(length=100), nullable=False),
        sa.Column("approval_id", sa.Integer(), nullable=False),
        sa.Column("lent_at", sa.DateTime(), nullable=True),
        sa.Column("lent_by", sa.String(length=100), nullable=True),
        sa.Column("lent_source", sa.String(length=60), nullable=True),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("returned_at", sa.DateTime(), nullable=True),
        sa.Column("returned_by", sa.String(length=100), nullable=True),
        sa.Column("returned_source", sa.String(length=60), nullable=True),
        sa.Column("reminded_at", sa.DateTime(), nullable=True),
        sa.Column("reminders", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["archive_volumes.asset_id"]),
        sa.ForeignKeyConstraint(["borrower_id"], ["people.id"]),
        sa.ForeignKeyConstraint(["approval_id"], ["approvals.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("approval_id"),
    )
    op.create_index("ix_archive_loans_asset_id", "archive_loans", ["asset_id"])
    op.create_index("ix_archive_loans_borrower_id", "archive_loans", ["borrower_id"])
    op.create_index("ix_archive_loans_open", "archive_loans", ["returned_at", "due_at"])
    op.create_table(
        "archive_destructions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requester", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("approval_id", sa.Integer(), nullable=False),
        sa.Column("destroyed_at", sa.DateTime(), nullable=True),
        sa.Column("executor", sa.String(length=100), nullable=True),
        sa.Column("witnesses", sa.String(length=300), nullable=True),
        sa.Column("method", sa.String(length=100), nullable=True),
        sa.Column("recorded_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["approval_id"], ["approvals.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("approval_id"),
    )
    op.create_table(
        "archive_destruction_items",
        sa.Column("destruction_id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["destruction_id"], ["archive_destructions.id"]),
        sa.ForeignKeyConstraint(["asset_id"], ["archive_volumes.asset_id"]),
        sa.PrimaryKeyConstraint("destruction_id", "asset_id"),
    )
    op.create_index("ix_archive_destruction_items_asset_id", "archive_destruction_items", ["asset_id"])


def downgrade() -> None:
    op.drop_index("ix_archive_destruction_items_asset_id", table_name="archive_destruction_items")
    op.drop_table("archive_destruction_items")
    op.drop_table("archive_destructions")
    for index in ("ix_archive_loans_open", "ix_archive_loans_borrower_id", "ix_archive_loans_asset_id"):
        op.drop_index(index, table_name="archive_loans")
    op.drop_table("archive_loans")
    op.drop_index("ix_archive_volumes_retention_until", table_name="archive_volumes")
    op.drop_index("ix_archive_volumes_class_id", table_name="archive_volumes")
    op.drop_table("archive_volumes")
    op.drop_table("archive_classes")
