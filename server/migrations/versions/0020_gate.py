"""gate: visitor passes, visits, watchlist, exit permits, alerts, notifications; people.email

Revision ID: 0020_gate
Revises: 0015_idempotency
Create Date: 2026-12-01

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_gate"
down_revision: str | Sequence[str] | None = "0015_idempotency"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('exit_permits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('carrier', sa.String(length=200), nullable=False),
    sa.Column('valid_until', sa.DateTime(), nullable=False),
    sa.Column('loan', sa.Boolean(), nullable=False),
    sa.Column('expected_return', sa.Date(), nullable=True),
    sa.Column('issued_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_by', sa.String(length=100), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('exit_permits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exit_permits_valid_until'), ['valid_until'], unique=False)

    op.create_table('gate_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('source', sa.String(length=60), nullable=False),
    sa.Column('subject', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.Column('resolved_by', sa.String(length=100), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('gate_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gate_alerts_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_gate_alerts_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_gate_alerts_resolved_at'), ['resolved_at'], unique=False)

    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('recipient', sa.String(length=500), nullable=False),
    sa.Column('body_enc', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=True),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('failed_at', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_next_attempt_at'), ['next_attempt_at'], unique=False)

    op.create_table('watchlist_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('label_enc', sa.Text(), nullable=False),
    sa.Column('aliases_enc', sa.Text(), nullable=True),
    sa.Column('note_enc', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('removed_at', sa.DateTime(), nullable=True),
    sa.Column('removed_by', sa.String(length=100), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('visitor_passes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('host_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=200), nullable=False),
    sa.Column('valid_from', sa.DateTime(), nullable=False),
    sa.Column('valid_until', sa.DateTime(), nullable=False),
    sa.Column('approval_id', sa.Integer(), nullable=True),
    sa.Column('name_enc', sa.Text(), nullable=True),
    sa.Column('organisation_enc', sa.Text(), nullable=True),
    sa.Column('id_last4_enc', sa.Text(), nullable=True),
    sa.Column('plate_enc', sa.Text(), nullable=True),
    sa.Column('name_index', sa.String(length=40), nullable=True),
    sa.Column('plate_index', sa.String(length=40), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_by', sa.String(length=100), nullable=True),
    sa.Column('revoke_reason', sa.Text(), nullable=False),
    sa.Column('purged_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['approval_id'], ['approvals.id'], ),
    sa.ForeignKeyConstraint(['host_id'], ['people.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('approval_id')
    )
    with op.batch_alter_table('visitor_passes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visitor_passes_code'), ['code'], unique=True)
        batch_op.create_index(batch_op.f('ix_visitor_passes_host_id'), ['host_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_visitor_passes_name_index'), ['name_index'], unique=False)
        batch_op.create_index(batch_op.f('ix_visitor_passes_plate_index'), ['plate_index'], unique=False)
        batch_op.create_index(batch_op.f('ix_visitor_passes_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_visitor_passes_valid_from'), ['valid_from'], unique=False)
        batch_op.create_index(batch_op.f('ix_visitor_passes_valid_until'), ['valid_until'], unique=False)

    op.create_table('watchlist_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('value_index', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['watchlist_entries.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('watchlist_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_watchlist_keys_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_watchlist_keys_value_index'), ['value_index'], unique=False)

    op.create_table('visits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pass_id', sa.Integer(), nullable=False),
    sa.Column('signed_in_at', sa.DateTime(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('in_source', sa.String(length=60), nullable=False),
    sa.Column('in_actor', sa.String(length=100), nullable=False),
    sa.Column('in_event_id', sa.String(length=36), nullable=True),
    sa.Column('plate_enc', sa.Text(), nullable=True),
    sa.Column('plate_index', sa.String(length=40), nullable=True),
    sa.Column('signed_out_at', sa.DateTime(), nullable=True),
    sa.Column('out_kind', sa.String(length=20), nullable=True),
    sa.Column('out_source', sa.String(length=60), nullable=True),
    sa.Column('out_event_id', sa.String(length=36), nullable=True),
    sa.Column('conflict', sa.Boolean(), nullable=False),
    sa.Column('purged_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['pass_id'], ['visitor_passes.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visits_pass_id'), ['pass_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_visits_plate_index'), ['plate_index'], unique=False)
        batch_op.create_index(batch_op.f('ix_visits_signed_in_at'), ['signed_in_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_visits_signed_out_at'), ['signed_out_at'], unique=False)

    op.create_table('exit_permit_assets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('permit_id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('exited_at', sa.DateTime(), nullable=True),
    sa.Column('exit_source', sa.String(length=60), nullable=True),
    sa.Column('returned_at', sa.DateTime(), nullable=True),
    sa.Column('return_source', sa.String(length=60), nullable=True),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], ),
    sa.ForeignKeyConstraint(['permit_id'], ['exit_permits.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('permit_id', 'asset_id', name='uq_exit_permit_asset')
    )
    with op.batch_alter_table('exit_permit_assets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exit_permit_assets_asset_id'), ['asset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_exit_permit_assets_permit_id'), ['permit_id'], unique=False)

    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=200), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_column('email')

    with op.batch_alter_table('exit_permit_assets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exit_permit_assets_permit_id'))
        batch_op.drop_index(batch_op.f('ix_exit_permit_assets_asset_id'))

    op.drop_table('exit_permit_assets')
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visits_signed_out_at'))
        batch_op.drop_index(batch_op.f('ix_visits_signed_in_at'))
        batch_op.drop_index(batch_op.f('ix_visits_plate_index'))
        batch_op.drop_index(batch_op.f('ix_visits_pass_id'))

    op.drop_table('visits')
    with op.batch_alter_table('watchlist_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_watchlist_keys_value_index'))
        batch_op.drop_index(batch_op.f('ix_watchlist_keys_entry_id'))

    op.drop_table('watchlist_keys')
    with op.batch_alter_table('visitor_passes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visitor_passes_valid_until'))
        batch_op.drop_index(batch_op.f('ix_visitor_passes_valid_from'))
        batch_op.drop_index(batch_op.f('ix_visitor_passes_status'))
        batch_op.drop_index(batch_op.f('ix_visitor_passes_plate_index'))
        batch_op.drop_index(batch_op.f('ix_visitor_passes_name_index'))
        batch_op.drop_index(batch_op.f('ix_visitor_passes_host_id'))
        batch_op.drop_index(batch_op.f('ix_visitor_passes_code'))

    op.drop_table('visitor_passes')
    op.drop_table('watchlist_entries')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_next_attempt_at'))

    op.drop_table('notifications')
    with op.batch_alter_table('gate_alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gate_alerts_resolved_at'))
        batch_op.drop_index(batch_op.f('ix_gate_alerts_kind'))
        batch_op.drop_index(batch_op.f('ix_gate_alerts_at'))

    op.drop_table('gate_alerts')
    with op.batch_alter_table('exit_permits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exit_permits_valid_until'))

    op.drop_table('exit_permits')
