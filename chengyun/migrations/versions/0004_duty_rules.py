"""the duty list

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 14:30:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create duty_rules."""
    op.create_table('duty_rules',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('category_code', sa.String(length=20), nullable=False),
    sa.Column('area_level', sa.String(length=12), nullable=False),
    sa.Column('area_code', sa.String(length=18), nullable=True),
    sa.Column('handling_level', sa.String(length=12), nullable=False),
    sa.Column('lead_unit', sa.String(length=40), nullable=False),
    sa.Column('assist_units', sa.JSON(), nullable=False),
    sa.Column('response_limit', sa.String(length=10), nullable=True),
    sa.Column('handling_limit', sa.String(length=10), nullable=True),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duty_rules'))
    )
    with op.batch_alter_table('duty_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_duty_rules_category_code'), ['category_code'], unique=False)


def downgrade() -> None:
    """Drop it again."""
    op.drop_table('duty_rules')
