"""reports: the reporter's keyed phone hash, for finding one person's repeated reports (一人多诉)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 03:00:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | Sequence[str] | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """A nullable keyed hash (never the phone) with an index by hash and time."""
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reporter_hash', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_reports_reporter', ['reporter_hash', 'received_at'], unique=False)


def downgrade() -> None:
    """Drop the hash and its index."""
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index('ix_reports_reporter')
        batch_op.drop_column('reporter_hash')
