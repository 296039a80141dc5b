"""asset search: one index per sort key (keyset pages), trigram index on names (PostgreSQL)

Revision ID: 0011_asset_search_indexes
Revises: 0021_procurement_corrections
Create Date: 2026-12-02

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011_asset_search_indexes"
down_revision: str | Sequence[str] | None = "0021_procurement_corrections"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# name -> columns; each ends in the id that breaks ties (services/asset_search.py pages by it).
KEYSET = {
    "ix_assets_by_name": ["name", "id"],
    "ix_assets_by_status": ["status", "id"],
    "ix_assets_by_category": ["category_id", "id"],
    "ix_assets_by_location": ["location_id", "id"],
    "ix_assets_by_custodian": ["custodian_id", "id"],
    "ix_assets_by_acquired": ["acquired_on", "id"],
    "ix_assets_by_price": ["price", "id"],
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Trusted extension (PostgreSQL 13+): the database owner may create it.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    with op.batch_alter_table("assets", schema=None) as batch_op:
        # Superseded by the (status, id) and (location_id, id) indexes.
        batch_op.drop_index("ix_assets_status")
        batch_op.drop_index("ix_assets_location_id")
        for name, columns in KEYSET.items():
            batch_op.create_index(name, columns, unique=False)
        # GIN trigram index on PostgreSQL (ILIKE '%...%'); SQLite ignores the postgresql_ options
        # and makes it a plain index on the name.
        batch_op.create_index("ix_assets_name_search", ["name"], unique=False, postgresql_using="gin",
                              postgresql_ops={"name": "gin_trgm_ops"})


def downgrade() -> None:
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.drop_index("ix_assets_name_search")
        for name in reversed(KEYSET):
            batch_op.drop_index(name)
        batch_op.create_index("ix_assets_location_id", ["location_id"], unique=False)
        batch_op.create_index("ix_assets_status", ["status"], unique=False)
