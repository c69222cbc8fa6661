"""What the case service asks of other domains, as a protocol: category facts, due dates, routing.

The composition root plugs in the real catalogue, working calendar and duty list; unit tests plug in fakes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from chengyun.errors import Forbidden, Invalid
from chengyun.org.model import UnitKind, UnitPlace
from chengyun.shared.handling import HandlingLevel, Urgency


@dataclass(frozen=True, slots=True)
class CategoryFacts:
    """The catalogue item a case is filed under, as the loop needs it."""

    code: str
    name: str
    ancestors: tuple[str, ...]  # most specific first, the item itself included
    default_urgency: Urgency
    default_level: HandlingLevel
    admission: bool  # on the community admission list
    self_handle: bool  # grid workers may handle it themselves


@dataclass(frozen=True, slots=True)
class RouteAnswer:
    """Where the duty list sends a case, or why it could not (then the case waits in the triage queue)."""

    lead_unit: str | None
    assist_units: tuple[str, ...] = ()
    handling_level: HandlingLevel | None = None
    response_limit: str | None = None
    handling_limit: str | None = None
    explanation: dict[str, Any] = field(default_factory=dict)


class LoopPolicies(Protocol):
    """Category lookup, routing and deadlines, pure or read-only."""

    def category(self, code: str, *, new: bool = False) -> CategoryFacts:
        """A category (for a new case: an active item), or raise NotFound/Invalid."""
        ...

    def route(self, category: CategoryFacts, area_chain: tuple[tuple[str, str], ...],
              level: HandlingLevel | None) -> RouteAnswer:
        """The duty-list answer for a category located in an area chain ((code, level) root first)."""
        ...

    def due_dates(self, start: datetime, category: CategoryFacts, urgency: Urgency, route: RouteAnswer,
                  ) -> tuple[datetime, datetime]:
        """(claim due, handling due) for a dispatch at `start`."""
        ...

    def shift_for_pause(self, due: datetime, paused_from: datetime, paused_to: datetime) -> datetime:
        """A due date moved later by the working (or calendar) time of a pause."""
        ...

    def extended(self, due: datetime, limit: str) -> datetime:
        """A due date moved later by an approved extension such as `3wd`."""
        ...


def check_push_down(unit_code: str, place: UnitPlace | None, category_code: str, admission: bool,
                    dispatcher_scope: str) -> None:
    """A unit may receive the case only inside the dispatcher's subtree; a community only admitted items."""
    if place is None:
        raise Invalid("cases.unknown_unit", unit=unit_code)
    if not place.area_path.startswith(dispatcher_scope):
        raise Forbidden("cases.push_down.outside_scope", unit=unit_code, scope=dispatcher_scope)
    if place.kind == UnitKind.COMMUNITY_COMMITTEE.value and not admission:
        raise Forbidden("cases.push_down.not_admitted", unit=unit_code, category=category_code)
