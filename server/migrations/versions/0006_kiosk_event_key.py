"""kiosk events keyed by (kiosk, event id); the rejected log's drop counters and time index

Revision ID: 0006_kiosk_event_key
Revises: 0012_jobs
Create Date: 2026-11-26

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006_kiosk_event_key"
down_revision: str | Sequence[str] | None = "0012_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _kiosk_events(key: list[str]) -> sa.Table:
    """The table as it is, but with ``key`` as its primary key (SQLite copies it into this shape)."""
    return sa.Table(
        "kiosk_events", sa.MetaData(),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kiosk", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("boot", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=32), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("synced", sa.Boolean(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint(*key, name="kiosk_events_pkey"),
        sa.Index("ix_kiosk_events_kiosk_seq", "kiosk", "seq"),
    )


def _primary_key(key: list[str]) -> None:
    if op.get_context().dialect.name == "sqlite":
        # SQLite cannot change a primary key in place: the rows are copied into a new table.
        with op.batch_alter_table("kiosk_events", recreate="always", copy_from=_kiosk_events(key)):
            pass
    else:
        op.drop_constraint("kiosk_events_pkey", "kiosk_events", type_="primary")
        op.create_primary_key("kiosk_events_pkey", "kiosk_events", key)


def upgrade() -> None:
    """Upgrade schema."""
    _primary_key(["kiosk", "id"])
    op.create_table(
        "rejected_log_drops",
        sa.Column("kiosk", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("dropped", sa.BigInteger(), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("kiosk", "reason"),
    )
    with op.batch_alter_table("rejected_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rejected_messages_received_at"), ["received_at"], unique=False)


def downgrade() -> None:
    """Downgrade schema (the key fails if two kiosks have used the same event id since the upgrade)."""
    with op.batch_alter_table("rejected_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rejected_messages_received_at"))
    op.drop_table("rejected_log_drops")
    _primary_key(["id"])
