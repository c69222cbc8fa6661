"""drop the two indexes a step rewrote for nothing

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 13:30:00

"""
from collections.abc import Sequence

from alembic import op

revision: str = '0015'
down_revision: str | Sequence[str] | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """`cases.state` is the prefix of `ix_cases_state_due`, `case_timeline.case_id` of the unique (case_id, seq)."""
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_state')
    with op.batch_alter_table('case_timeline', schema=None) as batch_op:
        batch_op.drop_index('ix_case_timeline_case_id')


def downgrade() -> None:
    with op.batch_alter_table('case_timeline', schema=None) as batch_op:
        batch_op.create_index('ix_case_timeline_case_id', ['case_id'], unique=False)
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_state', ['state'], unique=False)
