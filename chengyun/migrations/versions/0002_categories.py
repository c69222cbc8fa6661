"""category catalogue: classes and items with default urgency, limits, handling level

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 09:00:00.000000

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('categories',
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('parent_code', sa.String(length=20), nullable=True),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('urgency', sa.String(length=10), nullable=False),
    sa.Column('response_limit', sa.String(length=10), nullable=False),
    sa.Column('handling_limit', sa.String(length=10), nullable=False),
    sa.Column('urgent_response_limit', sa.String(length=10), nullable=False),
    sa.Column('urgent_handling_limit', sa.String(length=10), nullable=False),
    sa.Column('handling_level', sa.String(length=12), nullable=False),
    sa.Column('admission', sa.Boolean(), nullable=False),
    sa.Column('self_handle', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('class','item')", name=op.f('ck_categories_kind')),
    sa.CheckConstraint("urgency IN ('critical','urgent','normal')", name=op.f('ck_categories_urgency')),
    sa.CheckConstraint("handling_level IN ('property','community','street','district','city')", name=op.f('ck_categories_handling_level')),
    sa.ForeignKeyConstraint(['parent_code'], ['categories.code'], name=op.f('fk_categories_parent_code_categories'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_categories'))
    )
    with op.batch_alter_table('categories', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_categories_parent_code'), ['parent_code'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('categories', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_categories_parent_code'))

    op.drop_table('categories')
