"""alarms, their comments and propagation

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 06:00:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chengyun.db.types import UTCDateTime

revision: str = '0012'
down_revision: str | Sequence[str] | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE_ONLY = sa.text('active')


def upgrade() -> None:
    """Alarms (at most one active per device and rule: a partial unique index) and their history."""
    op.create_table('alarms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('rule_id', sa.String(length=64), nullable=False),
    sa.Column('alarm_type', sa.String(length=40), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('acknowledged', sa.Boolean(), nullable=False),
    sa.Column('first_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('acknowledged_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=64), nullable=True),
    sa.Column('cleared_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('cleared_by', sa.String(length=64), nullable=True),
    sa.Column('clearer', sa.String(length=8), nullable=True),
    sa.Column('area_code', sa.String(length=18), nullable=True),
    sa.Column('area_path', sa.String(length=200), nullable=False),
    sa.Column('place_codes', sa.String(length=200), nullable=False),
    sa.Column('household', sa.String(length=80), nullable=True),
    sa.Column('resident_id', sa.Integer(), nullable=True),
    sa.Column('assignee_user_id', sa.Integer(), nullable=True),
    sa.Column('case_number', sa.String(length=32), nullable=True),
    sa.Column('case_state', sa.String(length=8), nullable=False),
    sa.Column('case_error', sa.String(length=80), nullable=True),
    sa.Column('case_attempts', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['assignee_user_id'], ['users.id'], name=op.f('fk_alarms_assignee_user_id_users'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alarms'))
    )
    op.create_index('uq_alarms_one_active', 'alarms', ['device_id', 'rule_id'], unique=True,
                    sqlite_where=ACTIVE_ONLY, postgresql_where=ACTIVE_ONLY)
    op.create_index('ix_alarms_device_rule', 'alarms', ['device_id', 'rule_id'], unique=False)
    op.create_index('ix_alarms_active_last', 'alarms', ['active', 'last_at'], unique=False)
    op.create_index('ix_alarms_case_state', 'alarms', ['case_state'], unique=False)
    op.create_index(op.f('ix_alarms_alarm_type'), 'alarms', ['alarm_type'], unique=False)
    op.create_index(op.f('ix_alarms_area_path'), 'alarms', ['area_path'], unique=False)
    op.create_index(op.f('ix_alarms_assignee_user_id'), 'alarms', ['assignee_user_id'], unique=False)
    op.create_index(op.f('ix_alarms_case_number'), 'alarms', ['case_number'], unique=False)
    op.create_index(op.f('ix_alarms_household'), 'alarms', ['household'], unique=False)
    op.create_table('alarm_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alarm_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('case_sync', sa.String(length=8), nullable=False),
    sa.ForeignKeyConstraint(['alarm_id'], ['alarms.id'], name=op.f('fk_alarm_events_alarm_id_alarms'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alarm_events'))
    )
    op.create_index(op.f('ix_alarm_events_alarm_id'), 'alarm_events', ['alarm_id'], unique=False)
    op.create_index(op.f('ix_alarm_events_case_sync'), 'alarm_events', ['case_sync'], unique=False)


def downgrade() -> None:
    """Drop the alarms and their history."""
    op.drop_index(op.f('ix_alarm_events_case_sync'), table_name='alarm_events')
    op.drop_index(op.f('ix_alarm_events_alarm_id'), table_name='alarm_events')
    op.drop_table('alarm_events')
    for name in ('ix_alarms_household', 'ix_alarms_case_number', 'ix_alarms_assignee_user_id', 'ix_alarms_area_path',
                 'ix_alarms_alarm_type', 'ix_alarms_case_state', 'ix_alarms_active_last', 'ix_alarms_device_rule',
                 'uq_alarms_one_active'):
        op.drop_index(name, table_name='alarms')
    op.drop_table('alarms')
