"""Linked response (联动预案): plans per alarm type, tiers with escalation, checklists, notifications and acks.

The lead's entry points: `LinkageService.start(AlarmFacts)`, `deliver_due`, `escalate_due`, `close` (service.py),
built by `wiring.build_linkage(container, contacts=...)`.
"""

from chengyun.linkage.model import AlarmFacts, Contact, Plan, PlanBook, RecipientKind

__all__ = ["AlarmFacts", "Contact", "Plan", "PlanBook", "RecipientKind"]
