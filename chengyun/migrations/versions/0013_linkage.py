"""linkage runs and notifications

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 06:00:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chengyun.db.types import UTCDateTime

revision: str = '0013'
down_revision: str | Sequence[str] | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Linkage runs (one per alarm, no foreign key to alarms), their notifications and the delivery log."""
    op.create_table('linkage_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alarm_id', sa.Integer(), nullable=False),
    sa.Column('alarm_type', sa.String(length=40), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('plan', sa.String(length=40), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('area_code', sa.String(length=18), nullable=True),
    sa.Column('area_path', sa.String(length=200), nullable=False),
    sa.Column('place_label', sa.String(length=200), nullable=False),
    sa.Column('household', sa.String(length=100), nullable=True),
    sa.Column('detail', sa.String(length=500), nullable=False),
    sa.Column('alarm_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('first_notified_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('current_tier', sa.Integer(), nullable=False),
    sa.Column('next_escalation_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('acknowledged_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=100), nullable=True),
    sa.Column('closed_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('close_reason', sa.String(length=40), nullable=True),
    sa.Column('checklist', sa.JSON(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_linkage_runs')),
    sa.UniqueConstraint('alarm_id', name=op.f('uq_linkage_runs_alarm_id'))
    )
    with op.batch_alter_table('linkage_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_linkage_runs_area_path'), ['area_path'], unique=False)
        batch_op.create_index('ix_linkage_runs_due', ['state', 'next_escalation_at'], unique=False)

    op.create_table('linkage_notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('tier', sa.Integer(), nullable=False),
    sa.Column('recipient_kind', sa.String(length=20), nullable=False),
    sa.Column('recipient_name', sa.String(length=40), nullable=False),
    sa.Column('recipient_label', sa.String(length=200), nullable=False),
    sa.Column('dedup_key', sa.String(length=120), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=12), nullable=False),
    sa.Column('target_encrypted', sa.Text(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('markdown', sa.Text(), nullable=False),
    sa.Column('must_confirm', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=100), nullable=True),
    sa.Column('acknowledged_by_id', sa.Integer(), nullable=True),
    sa.Column('ack_note', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['linkage_runs.id'], name=op.f('fk_linkage_notifications_run_id_linkage_runs'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_linkage_notifications')),
    sa.UniqueConstraint('run_id', 'tier', 'dedup_key', name='uq_linkage_notifications_recipient')
    )
    with op.batch_alter_table('linkage_notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_linkage_notifications_run_id'), ['run_id'], unique=False)
        batch_op.create_index('ix_linkage_notifications_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_linkage_notifications_inbox', ['user_id', 'id'], unique=False)

    op.create_table('linkage_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notification_id', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('sink', sa.Boolean(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('error', sa.String(length=200), nullable=True),
    sa.Column('duration_ms', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['notification_id'], ['linkage_notifications.id'],
                            name=op.f('fk_linkage_deliveries_notification_id_linkage_notifications'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_linkage_deliveries'))
    )
    with op.batch_alter_table('linkage_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_linkage_deliveries_notification_id'), ['notification_id'], unique=False)


def downgrade() -> None:
    """Drop the delivery log, the notifications and the runs."""
    with op.batch_alter_table('linkage_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_linkage_deliveries_notification_id'))
    op.drop_table('linkage_deliveries')
    with op.batch_alter_table('linkage_notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_linkage_notifications_inbox')
        batch_op.drop_index('ix_linkage_notifications_due')
        batch_op.drop_index(batch_op.f('ix_linkage_notifications_run_id'))
    op.drop_table('linkage_notifications')
    with op.batch_alter_table('linkage_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_linkage_runs_due')
        batch_op.drop_index(batch_op.f('ix_linkage_runs_area_path'))
    op.drop_table('linkage_runs')
