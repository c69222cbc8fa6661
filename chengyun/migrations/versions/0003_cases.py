"""cases and their timeline

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 14:40:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | Sequence[str] | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create cases and case_timeline."""
    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=12), nullable=False),
    sa.Column('category_code', sa.String(length=20), nullable=False),
    sa.Column('urgency', sa.String(length=10), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('area_code', sa.String(length=18), nullable=False),
    sa.Column('area_path', sa.String(length=200), nullable=False),
    sa.Column('community_code', sa.String(length=18), nullable=True),
    sa.Column('handling_level', sa.String(length=12), nullable=False),
    sa.Column('lead_unit', sa.String(length=40), nullable=True),
    sa.Column('assist_units', sa.JSON(), nullable=False),
    sa.Column('route_note', sa.JSON(), nullable=True),
    sa.Column('attachments', sa.JSON(), nullable=False),
    sa.Column('reporter_name', sa.String(length=50), nullable=True),
    sa.Column('reporter_phone_hash', sa.String(length=64), nullable=True),
    sa.Column('reporter_phone_encrypted', sa.String(length=200), nullable=True),
    sa.Column('reporter_phone_masked', sa.String(length=20), nullable=True),
    sa.Column('reporter_user_id', sa.Integer(), nullable=True),
    sa.Column('external_system', sa.String(length=40), nullable=True),
    sa.Column('external_id', sa.String(length=80), nullable=True),
    sa.Column('merged_into', sa.String(length=32), nullable=True),
    sa.Column('resume_to', sa.String(length=20), nullable=True),
    sa.Column('extension_pending', sa.String(length=10), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claim_due', sa.DateTime(timezone=True), nullable=True),
    sa.Column('handling_due', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('suspended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('pauses', sa.JSON(), nullable=False),
    sa.Column('rating', sa.String(length=20), nullable=True),
    sa.Column('returns', sa.Integer(), nullable=False),
    sa.Column('escalations', sa.Integer(), nullable=False),
    sa.Column('urges', sa.Integer(), nullable=False),
    sa.Column('self_handled', sa.Boolean(), nullable=False),
    sa.Column('deadline_level', sa.String(length=8), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['area_code'], ['areas.code'], name=op.f('fk_cases_area_code_areas'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['reporter_user_id'], ['users.id'], name=op.f('fk_cases_reporter_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('number', name=op.f('uq_cases_number')),
    sa.UniqueConstraint('external_system', 'external_id', name=op.f('uq_cases_external')),
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_area_code', ['area_code'], unique=False)
        batch_op.create_index('ix_cases_area_path', ['area_path'], unique=False)
        batch_op.create_index('ix_cases_category_code', ['category_code'], unique=False)
        batch_op.create_index('ix_cases_closed_at', ['closed_at'], unique=False)
        batch_op.create_index('ix_cases_community_code', ['community_code'], unique=False)
        batch_op.create_index('ix_cases_lead_state', ['lead_unit', 'state'], unique=False)
        batch_op.create_index('ix_cases_merged_into', ['merged_into'], unique=False)
        batch_op.create_index('ix_cases_reported_at', ['reported_at'], unique=False)
        batch_op.create_index('ix_cases_reporter_phone_hash', ['reporter_phone_hash'], unique=False)
        batch_op.create_index('ix_cases_reporter_user_id', ['reporter_user_id'], unique=False)
        batch_op.create_index('ix_cases_source', ['source'], unique=False)
        batch_op.create_index('ix_cases_state', ['state'], unique=False)
        batch_op.create_index('ix_cases_state_due', ['state', 'handling_due'], unique=False)

    op.create_table('case_timeline',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=24), nullable=False),
    sa.Column('from_state', sa.String(length=20), nullable=False),
    sa.Column('to_state', sa.String(length=20), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_role', sa.String(length=20), nullable=False),
    sa.Column('actor_unit', sa.String(length=40), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('attachments', sa.JSON(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_timeline_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_timeline')),
    sa.UniqueConstraint('case_id', 'seq', name=op.f('uq_case_timeline_step')),
    )
    with op.batch_alter_table('case_timeline', schema=None) as batch_op:
        batch_op.create_index('ix_case_timeline_case_id', ['case_id'], unique=False)


def downgrade() -> None:
    """Drop them again."""
    op.drop_table('case_timeline')
    op.drop_table('cases')
