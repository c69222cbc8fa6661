"""Imports every domain's tables so `Base.metadata` is complete (for migrations and checks)."""

from chengyun.alarms import tables as alarms_tables
from chengyun.areas import tables as areas_tables
from chengyun.audit import tables as audit_tables
from chengyun.auth import tables as auth_tables
from chengyun.cases import tables as cases_tables
from chengyun.categories import tables as categories_tables
from chengyun.db.base import Base
from chengyun.devices import tables as devices_tables
from chengyun.ingest import tables as ingest_tables
from chengyun.intake import tables as intake_tables
from chengyun.linkage import tables as linkage_tables
from chengyun.org import tables as org_tables
from chengyun.patrol import tables as patrol_tables
from chengyun.places import tables as places_tables
from chengyun.routing import tables as routing_tables

metadata = Base.metadata
__all__ = ["alarms_tables", "areas_tables", "audit_tables", "auth_tables", "cases_tables", "categories_tables",
           "devices_tables", "ingest_tables", "intake_tables", "linkage_tables", "metadata",
           "org_tables", "patrol_tables", "places_tables", "routing_tables"]
