"""seals: the register, imprints, life-cycle events, use requests and uses, take-outs

Revision ID: 0032_seals
Revises: 0022_supplies
Create Date: 2026-12-01

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032_seals"
down_revision: str | Sequence[str] | None = "0033_archives"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "seals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("custodian_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("made_on", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["custodian_id"], ["people.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_seals_code", "seals", ["code"], unique=True)
    op.create_index("ix_seals_status", "seals", ["status"])
    op.create_table(
        "seal_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seal_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("approval_ref", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=60), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["seal_id"], ["seals.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_seal_events_seal_id", "seal_events", ["seal_id"])
    op.create_table(
        "seal_imprints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seal_id", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=100), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["seal_id"], ["seals.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_seal_imprints_seal_id", "seal_imprints", ["seal_id"])
    _requests()


def _requests() -> None:
    op.create_table(
        "seal_use_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seal_id", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("requester", sa.String(length=100), nullable=False),
        sa.Column("document_title", sa.String(length=300), nullable=False),
        sa.Column("copies", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("approval_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["seal_id"], ["seals.id"]),
        sa.ForeignKeyConstraint(["approval_id"], ["approvals.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("approval_id"),
    )
    op.create_index("ix_seal_use_requests_seal_id", "seal_use_requests", ["seal_id"])
    op.create_index("ix_seal_use_requests_department", "seal_use_requests", ["department"])
    op.create_table(
        "seal_uses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("seal_id", sa.Integer(), nullable=False),
        sa.Column("copies", sa.Integer(), nullable=False),
        sa.Column("stamped_by_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=60), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["seal_use_requests.id"]),
        sa.ForeignKeyConstraint(["seal_id"], ["seals.id"]),
        sa.ForeignKeyConstraint(["stamped_by_id"], ["people.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_seal_uses_request_id", "seal_uses", ["request_id"])
    op.create_index("ix_seal_uses_seal_at", "seal_uses", ["seal_id", "at"])
    op.create_index("ix_seal_uses_at", "seal_uses", ["at"])
    op.create_table(
        "seal_takeouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seal_id", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("requester", sa.String(length=100), nullable=False),
        sa.Column("carrier_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("destination", sa.String(length=200), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("approval_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("out_at", sa.DateTime(), nullable=True),
        sa.Column("out_by", sa.String(length=100), nullable=True),
        sa.Column("out_source", sa.String(length=60), nullable=True),
        sa.Column("returned_at", sa.DateTime(), nullable=True),
        sa.Column("returned_by", sa.String(length=100), nullable=True),
        sa.Column("return_source", sa.String(length=60), nullable=True),
        sa.ForeignKeyConstraint(["seal_id"], ["seals.id"]),
        sa.ForeignKeyConstraint(["carrier_id"], ["people.id"]),
        sa.ForeignKeyConstraint(["approval_id"], ["approvals.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("approval_id"),
    )
    op.create_index("ix_seal_takeouts_seal_id", "seal_takeouts", ["seal_id"])
    op.create_index("ix_seal_takeouts_due_at", "seal_takeouts", ["due_at"])


def downgrade() -> None:
    op.drop_index("ix_seal_takeouts_due_at", table_name="seal_takeouts")
    op.drop_index("ix_seal_takeouts_seal_id", table_name="seal_takeouts")
    op.drop_table("seal_takeouts")
    for index in ("ix_seal_uses_at", "ix_seal_uses_seal_at", "ix_seal_uses_request_id"):
        op.drop_index(index, table_name="seal_uses")
    op.drop_table("seal_uses")
    op.drop_index("ix_seal_use_requests_department", table_name="seal_use_requests")
    op.drop_index("ix_seal_use_requests_seal_id", table_name="seal_use_requests")
    op.drop_table("seal_use_requests")
    op.drop_index("ix_seal_imprints_seal_id", table_name="seal_imprints")
    op.drop_table("seal_imprints")
    op.drop_index("ix_seal_events_seal_id", table_name="seal_events")
    op.drop_table("seal_events")
    op.drop_index("ix_seals_status", table_name="seals")
    op.drop_index("ix_seals_code", table_name="seals")
    op.drop_table("seals")
