"""The real `LoopPolicies`: the stored catalogue, the stored duty list and the Chinese working calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chengyun.areas.model import AreaLevel, AreaRef
from chengyun.cases.deadlines import DeadlinePolicy
from chengyun.cases.policies import CategoryFacts, RouteAnswer
from chengyun.categories.service import CategoryService
from chengyun.routing.model import CaseFacts, Routed, route
from chengyun.routing.service import DutyService
from chengyun.shared.handling import HandlingLevel, LimitUnit, TimeLimit, Urgency


@dataclass
class LivePolicies:
    """Category facts, duty-list routes and due dates as the case service needs them."""

    categories: CategoryService
    duty: DutyService
    deadlines: DeadlinePolicy

    def category(self, code: str, *, new: bool = False) -> CategoryFacts:
        """A catalogue entry; for a new case it must be an active item (NotFound/Invalid otherwise)."""
        catalogue = self.categories.catalogue()  # one freshness check per call
        item = catalogue.item(code) if new else catalogue.get(code)
        ancestors = tuple(a.code for a in catalogue.ancestors(code))
        return CategoryFacts(item.code, item.name, (item.code, *ancestors), item.urgency, item.handling_level,
                             item.admission, item.self_handle)

    def route(self, category: CategoryFacts, area_chain: tuple[tuple[str, str], ...],
              level: HandlingLevel | None) -> RouteAnswer:
        """The most specific duty rule at or above `level` (None: the lowest tier able to handle it)."""
        chain = tuple(AreaRef(code, "", AreaLevel(lv)) for code, lv in area_chain)
        facts = CaseFacts(category.ancestors, chain, level)
        result = route(facts, self.duty.rules())
        if isinstance(result, Routed):
            a = result.assignment
            explanation = {"code": result.explanation.matched.code, "params": result.explanation.matched.params,
                           "rule": result.rule.id}
            return RouteAnswer(a.lead, tuple(a.assists), a.handling_level,
                               str(result.rule.response_limit) if result.rule.response_limit else None,
                               str(result.rule.handling_limit) if result.rule.handling_limit else None, explanation)
        reason = result.explanation
        return RouteAnswer(None, explanation={"code": reason.code, "params": reason.params})

    def due_dates(self, start: datetime, category: CategoryFacts, urgency: Urgency, route: RouteAnswer,
                  ) -> tuple[datetime, datetime]:
        """Claim and handling due dates from the category's limits, overridden by the rule at normal urgency."""
        response, handling = self.categories.limits_for(category.code, urgency)
        if urgency == Urgency.NORMAL:
            response = TimeLimit.parse(route.response_limit) if route.response_limit else response
            handling = TimeLimit.parse(route.handling_limit) if route.handling_limit else handling
        return self.deadlines.due_at(start, response), self.deadlines.due_at(start, handling)

    def shift_for_pause(self, due: datetime, paused_from: datetime, paused_to: datetime) -> datetime:
        """Move a due date by the working time of a pause (the loop's limits are working-time by default)."""
        return self.deadlines.shift_for_pause(due, paused_from, paused_to, unit=LimitUnit.WORKING_HOURS)

    def extended(self, due: datetime, limit: str) -> datetime:
        """Move a due date by an approved extension such as `3wd`."""
        return self.deadlines.extend(due, TimeLimit.parse(limit))
