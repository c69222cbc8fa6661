"""widen the reported_at index for KPI queries (period + scope + repeat reporters)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 15:00:00

"""
from collections.abc import Sequence

from alembic import op

revision: str = '0005'
down_revision: str | Sequence[str] | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Replace the single-column index by a covering one with the same name."""
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_reported_at')
        batch_op.create_index('ix_cases_reported_at', ['reported_at', 'area_path', 'reporter_phone_hash'],
                              unique=False)


def downgrade() -> None:
    """Back to the single-column index."""
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_reported_at')
        batch_op.create_index('ix_cases_reported_at', ['reported_at'], unique=False)
