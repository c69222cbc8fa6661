"""Imports every domain's tables so `Base.metadata` is complete (for migrations and checks)."""

from chengyun.areas import tables as areas_tables
from chengyun.audit import tables as audit_tables
from chengyun.auth import tables as auth_tables
from chengyun.db.base import Base
from chengyun.org import tables as org_tables

metadata = Base.metadata
__all__ = ["areas_tables", "audit_tables", "auth_tables", "metadata", "org_tables"]
