"""devices, device credentials and status; residents in care and their contacts

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 06:00:00

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chengyun.db.types import UTCDateTime

revision: str = '0011'
down_revision: str | Sequence[str] | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Residents in care, their contacts, and devices (credential hash, status, last seen)."""
    op.create_table('care_residents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('home', sa.String(length=120), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('phone_hash', sa.String(length=64), nullable=True),
    sa.Column('phone_encrypted', sa.String(length=200), nullable=True),
    sa.Column('phone_masked', sa.String(length=20), nullable=True),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('notes', sa.String(length=500), nullable=False),
    sa.Column('area_code', sa.String(length=18), nullable=True),
    sa.Column('area_path', sa.String(length=200), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['area_code'], ['areas.code'], name=op.f('fk_care_residents_area_code_areas'),
                            ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_care_residents')),
    sa.UniqueConstraint('home', 'name', name='uq_care_residents_home_name')
    )
    with op.batch_alter_table('care_residents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_care_residents_area_code'), ['area_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_care_residents_area_path'), ['area_path'], unique=False)
        batch_op.create_index(batch_op.f('ix_care_residents_phone_hash'), ['phone_hash'], unique=False)

    op.create_table('care_contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('relation', sa.String(length=20), nullable=False),
    sa.Column('phone_hash', sa.String(length=64), nullable=False),
    sa.Column('phone_encrypted', sa.String(length=200), nullable=False),
    sa.Column('phone_masked', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['resident_id'], ['care_residents.id'],
                            name=op.f('fk_care_contacts_resident_id_care_residents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_care_contacts')),
    sa.UniqueConstraint('resident_id', 'seq', name='uq_care_contacts_resident_seq')
    )
    with op.batch_alter_table('care_contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_care_contacts_phone_hash'), ['phone_hash'], unique=False)

    op.create_table('devices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('type_code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('area_code', sa.String(length=18), nullable=False),
    sa.Column('area_path', sa.String(length=200), nullable=False),
    sa.Column('place_code', sa.String(length=40), nullable=True),
    sa.Column('compound_code', sa.String(length=40), nullable=True),
    sa.Column('building', sa.String(length=20), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('room', sa.String(length=20), nullable=False),
    sa.Column('household', sa.String(length=120), nullable=True),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=True),
    sa.Column('credential_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('last_seen_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('online','offline')", name=op.f('ck_devices_status')),
    sa.ForeignKeyConstraint(['area_code'], ['areas.code'], name=op.f('fk_devices_area_code_areas'),
                            ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['resident_id'], ['care_residents.id'],
                            name=op.f('fk_devices_resident_id_care_residents'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_devices')),
    sa.UniqueConstraint('device_id', name=op.f('uq_devices_device_id'))
    )
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_devices_area_code'), ['area_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_devices_area_path'), ['area_path'], unique=False)
        batch_op.create_index(batch_op.f('ix_devices_household'), ['household'], unique=False)
        batch_op.create_index(batch_op.f('ix_devices_place_code'), ['place_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_devices_resident_id'), ['resident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_devices_type_code'), ['type_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_devices_updated_at'), ['updated_at'], unique=False)
        batch_op.create_index('ix_devices_sweep', ['status', 'type_code'], unique=False)


def downgrade() -> None:
    """Drop devices, contacts and residents."""
    op.drop_table('devices')
    op.drop_table('care_contacts')
    op.drop_table('care_residents')
