"""ingest quarantine and counters

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 06:00:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chengyun.db.types import UTCDateTime

revision: str = '0014'
down_revision: str | Sequence[str] | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Refused device messages (topic, payload head, reason, worker) and each worker's latest counters."""
    op.create_table('ingest_quarantine',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=256), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.String(length=80), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('received_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('worker_id', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ingest_quarantine'))
    )
    with op.batch_alter_table('ingest_quarantine', schema=None) as batch_op:
        batch_op.create_index('ix_ingest_quarantine_device_received_at', ['device_id', 'received_at'], unique=False)
        batch_op.create_index('ix_ingest_quarantine_reason_received_at', ['reason', 'received_at'], unique=False)
        batch_op.create_index('ix_ingest_quarantine_received_at', ['received_at'], unique=False)
    op.create_table('ingest_workers',
    sa.Column('worker_id', sa.String(length=64), nullable=False),
    sa.Column('started_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('counters', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('worker_id', name=op.f('pk_ingest_workers'))
    )


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table('ingest_workers')
    with op.batch_alter_table('ingest_quarantine', schema=None) as batch_op:
        batch_op.drop_index('ix_ingest_quarantine_received_at')
        batch_op.drop_index('ix_ingest_quarantine_reason_received_at')
        batch_op.drop_index('ix_ingest_quarantine_device_received_at')
    op.drop_table('ingest_quarantine')
