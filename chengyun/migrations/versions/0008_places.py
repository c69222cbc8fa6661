"""places: the gazetteer's roads and points of interest, and aliases of any place

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 18:31:02

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chengyun.db.types import UTCDateTime

revision: str = '0008'
down_revision: str | Sequence[str] | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Roads and POIs imported by a street; aliases of places and compounds."""
    op.create_table('places',
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=True),
    sa.Column('area_code', sa.String(length=18), nullable=True),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('geometry', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('road','poi')", name=op.f('ck_places_kind')),
    sa.ForeignKeyConstraint(['area_code'], ['areas.code'], name=op.f('fk_places_area_code_areas'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_places'))
    )
    with op.batch_alter_table('places', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_places_area_code'), ['area_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_places_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_places_updated_at'), ['updated_at'], unique=False)
    op.create_table('place_aliases',
    sa.Column('place_code', sa.String(length=40), nullable=False),
    sa.Column('alias', sa.String(length=100), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('place_code', 'alias', name=op.f('pk_place_aliases'))
    )


def downgrade() -> None:
    """Drop the gazetteer's tables."""
    op.drop_table('place_aliases')
    with op.batch_alter_table('places', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_places_updated_at'))
        batch_op.drop_index(batch_op.f('ix_places_kind'))
        batch_op.drop_index(batch_op.f('ix_places_area_code'))
    op.drop_table('places')
