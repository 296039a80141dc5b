"""audit: a keyed chain (key id per row), the history rows each change wrote, and links back to them

Rows already in the log become "legacy": their hashes stay plain SHA-256 and still verify
(docs/audit.md says what that protects and what not). History rows already written get no
``audit_hash``; ``assetgate audit baseline`` records them once (docs/audit.md).

Revision ID: 0034_audit_keyed_chain
Revises: 0022_supplies
Create Date: 2026-12-01

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0034_audit_keyed_chain"
down_revision: str | Sequence[str] | None = "0022_supplies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HISTORY = ("asset_events", "kiosk_events", "purchase_lines", "plan_line_amendments", "supply_movements",
           "approval_decisions", "stocktake_scans")
BY_KEY = ("kiosk_events",)  # found by their primary key, which their description carries: no index


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("inserted", sa.JSON(), nullable=True))
    op.add_column("audit_log", sa.Column("key_id", sa.String(length=32), server_default="legacy", nullable=False))
    op.create_index("ix_audit_log_entity", "audit_log", ["entity", "entity_id", "id"])
    for table in HISTORY:
        op.add_column(table, sa.Column("audit_hash", sa.String(length=64), nullable=True))
        if table not in BY_KEY:
            op.create_index(f"ix_{table}_audit_hash", table, ["audit_hash"])


def downgrade() -> None:
    for table in HISTORY:
        if table not in BY_KEY:
            op.drop_index(f"ix_{table}_audit_hash", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("audit_hash")
    op.drop_index("ix_audit_log_entity", table_name="audit_log")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("key_id")
        batch.drop_column("inserted")
