"""audit: the office's registers (vehicles, seals, archives, the storeroom's counts) in the ledger check;
their history rows link back to the audit row that describes them

History rows already written get no ``audit_hash``, and the registers' records were described
without every field: ``assetgate audit baseline`` describes them once (docs/audit.md).

Revision ID: 0042_auditfin_register_links
Revises: 0041_regfin
Create Date: 2026-12-20

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0042_auditfin_register_links"
down_revision: str | Sequence[str] | None = "0041_regfin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HISTORY = ("stocktake_supply_counts", "supply_conflict_resolutions", "supply_reorder_requests",
           "odometer_corrections", "vehicle_costs", "vehicle_passages", "seal_events", "seal_imprints", "seal_uses",
           "archive_destruction_items")
BY_KEY = ("archive_destruction_items",)  # found by their primary key, which their description carries: no index


def upgrade() -> None:
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
