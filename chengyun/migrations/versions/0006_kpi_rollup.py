"""KPI rollup: per-case repeat flag, daily rollup table and its state, updated_at index

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 16:40:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTS = ('cases', 'dispatched', 'responded', 'closed', 'closed_with_due', 'closed_on_time', 'eligible',
          'resolved', 'rated', 'satisfied', 'returned', 'with_phone', 'repeated', 'claim_n', 'handling_n',
          'closed_property', 'closed_community', 'closed_street', 'closed_district', 'closed_city')


def upgrade() -> None:
    """Add the flag (filled for stored cases: an earlier case of the same phone within 30 days), the tables."""
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('repeat_report', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index(batch_op.f('ix_cases_updated_at'), ['updated_at'], unique=False)
    cases = sa.table('cases', sa.column('id', sa.Integer), sa.column('reporter_phone_hash', sa.String),
                     sa.column('reported_at', sa.DateTime(timezone=True)), sa.column('repeat_report', sa.Boolean))
    earlier = cases.alias('earlier')
    op.execute(cases.update().values(repeat_report=sa.exists().where(
        earlier.c.reporter_phone_hash == cases.c.reporter_phone_hash,
        earlier.c.id != cases.c.id,
        earlier.c.reported_at <= cases.c.reported_at,
        earlier.c.reported_at >= cases.c.reported_at - sa.text("INTERVAL '30 days'")
        if op.get_bind().dialect.name == 'postgresql' else
        earlier.c.reported_at >= sa.func.datetime(cases.c.reported_at, '-30 days'),
    )).where(cases.c.reporter_phone_hash.is_not(None)))
    op.create_table('case_kpi_daily',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('grain', sa.String(length=8), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=True),
    sa.Column('place_code', sa.String(length=18), nullable=False),
    sa.Column('community_code', sa.String(length=18), nullable=True),
    *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS),
    sa.Column('claim_hours', sa.Float(), nullable=False),
    sa.Column('handling_hours', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_kpi_daily'))
    )
    with op.batch_alter_table('case_kpi_daily', schema=None) as batch_op:
        batch_op.create_index('ix_case_kpi_daily_grain_day', ['grain', 'day', 'place_code'], unique=False)
    op.create_table('case_kpi_rollup_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('utc_offset_minutes', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_kpi_rollup_state'))
    )


def downgrade() -> None:
    """Drop the rollup and the flag."""
    op.drop_table('case_kpi_rollup_state')
    op.drop_table('case_kpi_daily')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_updated_at'))
        batch_op.drop_column('repeat_report')
