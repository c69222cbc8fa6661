"""index the mostly-empty case columns only where they hold a value

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 20:30:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | Sequence[str] | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# NULL on most cases (or on most of a case's row versions: closed_at until the close): every step of the loop
# writes a new row version on PostgreSQL, and a partial index skips the versions outside its predicate
SPARSE = ('merged_into', 'reporter_user_id', 'closed_at', 'reporter_phone_hash')


def _present(column: str) -> dict[str, sa.TextClause]:
    predicate = sa.text(f'{column} IS NOT NULL')
    return {'postgresql_where': predicate, 'sqlite_where': predicate}


def upgrade() -> None:
    """Each query on these columns compares them with a value, which implies NOT NULL: the planners still use them."""
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_constraint('uq_cases_external', type_='unique')
        for column in SPARSE:
            batch_op.drop_index(f'ix_cases_{column}')
    op.create_index('ux_cases_external', 'cases', ['external_system', 'external_id'], unique=True,
                    **_present('external_id'))
    for column in SPARSE:
        op.create_index(f'ix_cases_{column}', 'cases', [column], unique=False, **_present(column))


def downgrade() -> None:
    for column in SPARSE:
        op.drop_index(f'ix_cases_{column}', table_name='cases')
    op.drop_index('ux_cases_external', table_name='cases')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        for column in SPARSE:
            batch_op.create_index(f'ix_cases_{column}', [column], unique=False)
        batch_op.create_unique_constraint('uq_cases_external', ['external_system', 'external_id'])
