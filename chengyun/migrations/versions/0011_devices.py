"""devices, device credentials and status

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 06:00:00

"""
from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision: str = '0011'
down_revision: str | Sequence[str] | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """PLACEHOLDER: filled in by the devices work."""


def downgrade() -> None:
    """PLACEHOLDER."""
