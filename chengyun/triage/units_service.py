"""Who could lead a case: the duty list's lead unit first, then what history says; for the operator's dispatch."""

from __future__ import annotations

from dataclasses import dataclass

from chengyun.areas.service import AreaService
from chengyun.auth.model import Principal, Role
from chengyun.cases.service import CaseService
from chengyun.categories.service import CategoryService
from chengyun.errors import Forbidden
from chengyun.routing.model import CaseFacts, route
from chengyun.routing.service import DutyService
from chengyun.shared.handling import HandlingLevel
from chengyun.triage.units import Receivers, UnitSuggestion, suggest_units
from chengyun.triage.units_history import HistoryCache, UnitsKnowledge

ADVISED = frozenset({Role.ADMIN, Role.OPERATOR})  # those who dispatch


@dataclass
class UnitAdvisor:
    """Ranks receivable units for one case the caller may see (scope-checked through the case service)."""

    cases: CaseService
    categories: CategoryService
    duty: DutyService
    areas: AreaService
    history: HistoryCache

    def suggest(self, principal: Principal, number: str, k: int = 3) -> tuple[list[UnitSuggestion], UnitsKnowledge]:
        """At most `k` units this dispatcher may send the case to, best first, and the history they came from."""
        if principal.role not in ADVISED:
            raise Forbidden("triage.units.not_allowed", role=principal.role.value)
        row, _ = self.cases.get(principal, number)
        catalogue = self.categories.catalogue()
        item = catalogue.get(row.category_code)
        ancestors = (item.code, *(a.code for a in catalogue.ancestors(item.code)))
        chain = self.areas.chain(row.area_code)
        level = HandlingLevel(row.handling_level) if row.escalations else None  # escalated: stay at its level
        duty = route(CaseFacts(ancestors, chain, level), self.duty.rules())
        known = self.history.get()
        receivers = Receivers(principal.scope_path, known.units, item.admission)
        return suggest_units(item.code, chain, duty, known.history, receivers, k), known
