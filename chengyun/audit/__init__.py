"""The append-only audit log: sign-ins, permission refusals, administrative changes, reveals."""

from chengyun.audit.log import AuditLog, record

__all__ = ["AuditLog", "record"]
