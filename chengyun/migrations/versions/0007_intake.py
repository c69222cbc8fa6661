"""intake: reports inbox, webhooks and their deliveries

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 18:25:26.093673

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chengyun.db.types import UTCDateTime

revision: str = '0007'
down_revision: str | Sequence[str] | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


OLD_ROLES = "role IN ('admin','operator','handler','grid_worker','resident','auditor')"
NEW_ROLES = "role IN ('admin','operator','handler','grid_worker','resident','auditor','system')"


def upgrade() -> None:
    """The inbox of reports, upstream webhooks and the delivery log; accounts of external systems."""
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_users_role'), type_='check')
        batch_op.create_check_constraint('role', NEW_ROLES)
    op.create_table('webhooks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('system', sa.String(length=40), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('secret_encrypted', sa.String(length=500), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhooks')),
    sa.UniqueConstraint('system', name=op.f('uq_webhooks_system'))
    )
    op.create_table('reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=36), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=12), nullable=False),
    sa.Column('submitted_by', sa.Integer(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=160), nullable=True),
    sa.Column('external_system', sa.String(length=40), nullable=True),
    sa.Column('external_id', sa.String(length=80), nullable=True),
    sa.Column('dedup_key', sa.String(length=160), nullable=True),
    sa.Column('category_code', sa.String(length=20), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=120), nullable=True),
    sa.Column('last_error_params', sa.JSON(), nullable=True),
    sa.Column('received_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('processed_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('case_number', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_reports_case_id_cases'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['submitted_by'], ['users.id'], name=op.f('fk_reports_submitted_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reports')),
    sa.UniqueConstraint('idempotency_key', name='uq_reports_idempotency'),
    sa.UniqueConstraint('token', name=op.f('uq_reports_token'))
    )
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reports_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reports_channel'), ['channel'], unique=False)
        batch_op.create_index('ix_reports_dedup', ['dedup_key', 'received_at'], unique=False)
        batch_op.create_index('ix_reports_external', ['external_system', 'external_id'], unique=True)
        batch_op.create_index('ix_reports_pending', ['state', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_reports_received_at'), ['received_at'], unique=False)

    op.create_table('webhook_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('webhook_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('case_version', sa.Integer(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_webhook_deliveries_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['webhook_id'], ['webhooks.id'], name=op.f('fk_webhook_deliveries_webhook_id_webhooks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')),
    sa.UniqueConstraint('webhook_id', 'case_id', 'case_version', name='uq_delivery_step')
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_due', ['state', 'next_attempt_at'], unique=False)



def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_due')

    op.drop_table('webhook_deliveries')
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reports_received_at'))
        batch_op.drop_index('ix_reports_pending')
        batch_op.drop_index('ix_reports_external')
        batch_op.drop_index('ix_reports_dedup')
        batch_op.drop_index(batch_op.f('ix_reports_channel'))
        batch_op.drop_index(batch_op.f('ix_reports_case_id'))

    op.drop_table('reports')
    op.drop_table('webhooks')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_users_role'), type_='check')
        batch_op.create_check_constraint('role', OLD_ROLES)
