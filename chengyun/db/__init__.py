"""Storage plumbing: engines with the right pragmas, the declarative base, column types, sessions."""

from chengyun.db.base import Base
from chengyun.db.engine import make_engine, make_session_factory

__all__ = ["Base", "make_engine", "make_session_factory"]
