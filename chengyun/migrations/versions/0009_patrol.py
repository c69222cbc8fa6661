"""patrol: grid workers' check-ins (巡查打卡)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 18:49:15

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chengyun.db.types import UTCDateTime

revision: str = '0009'
down_revision: str | Sequence[str] | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Check-ins with position, accuracy, the located area and the phone's retry key."""
    op.create_table('patrol_checkins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('area_code', sa.String(length=18), nullable=True),
    sa.Column('accuracy_m', sa.Float(), nullable=True),
    sa.Column('at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('client_key', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['area_code'], ['areas.code'], name=op.f('fk_patrol_checkins_area_code_areas'),
                            ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_patrol_checkins_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_checkins')),
    sa.UniqueConstraint('user_id', 'client_key', name='uq_patrol_checkins_client_key')
    )
    with op.batch_alter_table('patrol_checkins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patrol_checkins_area_code'), ['area_code'], unique=False)
        batch_op.create_index('ix_patrol_checkins_user_at', ['user_id', 'at'], unique=False)


def downgrade() -> None:
    """Drop the check-ins."""
    with op.batch_alter_table('patrol_checkins', schema=None) as batch_op:
        batch_op.drop_index('ix_patrol_checkins_user_at')
        batch_op.drop_index(batch_op.f('ix_patrol_checkins_area_code'))
    op.drop_table('patrol_checkins')
