"""storeroom: a supply receipt entered by mistake is reversed by a ledger line pointing at it

Revision ID: 0040_storefin_receipt_reversal
Revises: 0032_seals
Create Date: 2026-12-02

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0040_storefin_receipt_reversal"
down_revision: str | Sequence[str] | None = "0032_seals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("supply_movements") as batch:
        batch.add_column(sa.Column("reverses_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_supply_movements_reverses", "supply_movements", ["reverses_id"], ["id"])
        batch.create_unique_constraint("uq_supply_movements_reverses_id", ["reverses_id"])


def downgrade() -> None:
    with op.batch_alter_table("supply_movements") as batch:
        batch.drop_constraint("uq_supply_movements_reverses_id", type_="unique")
        batch.drop_constraint("fk_supply_movements_reverses", type_="foreignkey")
        batch.drop_column("reverses_id")
