"""Suggested handling unit: the duty list's lead unit where it is explicit, then what history says handled such cases.

History is the count of the unit that finally handled each earlier case (the lead unit after the last redispatch),
per category and per area on the case's chain, plus category-wide. A unit's score is its frequency at the case's
own area smoothed towards its score one level up (Dirichlet back-off: located area → … → street → district →
category-wide), so sparse places lean on their ancestors and well-known places speak for themselves.

Two filters keep suggestions dispatchable: the routing push-down guard (`check_dispatch`: inside the dispatcher's
subtree; a community committee only for admitted items), and locality — evidence gathered above the case's
community only counts for units that answer for the case's place (another community's committee or a property
company elsewhere never borrows street-wide evidence). Pure: no storage, no clock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from chengyun.areas.model import AreaLevel, AreaRef, is_within
from chengyun.errors import Forbidden, Invalid
from chengyun.org.model import UnitKind
from chengyun.routing import Reason, Routed, RouteResult, Unrouted, UnroutedReason, check_dispatch

TOP_K = 3
PRIOR_STRENGTH = 2.0  # pseudo-cases an area's parent is worth when smoothing the area's own counts
LOCAL_LEVEL = AreaLevel.COMMUNITY  # evidence from this depth down is local to the case's place
CATEGORY_WIDE = ""  # the area key of category-wide counts


class SuggestionReason(StrEnum):
    """Why a unit is suggested (stable codes)."""

    DUTY_LIST = "duty_list"  # the duty list's rule names it
    HISTORY = "history"  # similar cases were finally handled by it
    DUTY_TIE = "duty_tie"  # one of equally specific duty rules names it


@dataclass(frozen=True, slots=True)
class UnitSuggestion:
    """A unit that could lead the case, its score (1.0 for the duty list, else smoothed frequency) and why."""

    unit: str
    score: float
    reason: SuggestionReason
    explanation: Reason


@dataclass(frozen=True, slots=True)
class UnitPlace:
    """Where a unit answers (its area's materialised path) and what kind of body it is."""

    area_path: str
    kind: UnitKind


@dataclass(frozen=True, slots=True)
class Receivers:
    """Who may receive the case: the dispatcher's scope path, the unit directory, the category's admission flag."""

    scope_path: str
    units: Mapping[str, UnitPlace]
    admission: bool


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One aggregate row: `cases` handled cases of a category located at `area_path`, finally handled by `unit`."""

    category_code: str
    area_path: str
    unit: str
    cases: int


@dataclass(frozen=True)
class UnitHistory:
    """Handled-case counts per (category, area code) — `CATEGORY_WIDE` for the whole category — then per unit."""

    counts: Mapping[tuple[str, str], Mapping[str, int]]

    def at(self, category: str, area_code: str = CATEGORY_WIDE) -> Mapping[str, int]:
        """Unit → cases for the category in the area's subtree (or category-wide); empty when none."""
        return self.counts.get((category, area_code), MappingProxyType({}))

    @property
    def cases(self) -> int:
        """How many handled cases the history holds."""
        return sum(sum(units.values()) for (_, area), units in self.counts.items() if area == CATEGORY_WIDE)


def build_history(rows: Iterable[HistoryRow]) -> UnitHistory:
    """Fold per-place rows into counts for every area on each row's path and category-wide."""
    counts: defaultdict[tuple[str, str], defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        for area in (CATEGORY_WIDE, *path_codes(row.area_path)):
            counts[(row.category_code, area)][row.unit] += row.cases
    return UnitHistory({key: MappingProxyType(dict(units)) for key, units in counts.items()})


def path_codes(path: str) -> tuple[str, ...]:
    """The area codes of a materialised path ("/a/b/c/"), root first."""
    return tuple(code for code in path.split("/") if code)


def chain_path(chain: Sequence[AreaRef]) -> str:
    """The materialised path of an area chain (root first)."""
    return "/" + "".join(f"{ref.code}/" for ref in chain)


# --- suggesting --------------------------------------------------------------------------------------------------


def suggest_units(category: str, area_chain: Sequence[AreaRef], duty: RouteResult, history: UnitHistory,
                  receivers: Receivers, k: int = TOP_K, *,
                  strength: float = PRIOR_STRENGTH) -> list[UnitSuggestion]:
    """At most `k` receivable units, best first: an explicit duty-list lead first, history next, tied rules last."""
    candidates: list[UnitSuggestion] = []
    if isinstance(duty, Routed):
        reason = duty.explanation.matched
        candidates.append(UnitSuggestion(duty.assignment.lead, 1.0, SuggestionReason.DUTY_LIST, reason))
    candidates += rank_history(category, area_chain, history, receivers, strength=strength)
    candidates += _tie_candidates(duty)
    return _first_receivable(candidates, category, receivers, k)


def rank_history(category: str, area_chain: Sequence[AreaRef], history: UnitHistory, receivers: Receivers, *,
                 strength: float = PRIOR_STRENGTH) -> list[UnitSuggestion]:
    """Every unit history credits for this category and place, by smoothed frequency, ties by unit code."""
    scores: dict[str, float] = {}
    evidence: dict[str, Reason] = {}
    for area, counts, total in _levels(category, area_chain, history, receivers.units):
        scores = _smoothed(counts, scores, strength)
        evidence.update({unit: _evidence(unit, n, total, category, area) for unit, n in counts.items()})
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    return [UnitSuggestion(unit, score, SuggestionReason.HISTORY, evidence[unit]) for unit, score in ranked
            if score > 0]


def _levels(category: str, area_chain: Sequence[AreaRef], history: UnitHistory,
            units: Mapping[str, UnitPlace]) -> list[tuple[AreaRef | None, dict[str, int], int]]:
    """(place, counts that may speak for the case, all cases there) from category-wide down to the located area.

    A place whose counts equal the next deeper place's is dropped: the same cases must not be counted twice (a
    single case in a microgrid would otherwise outweigh a whole street, once per level of its chain).
    """
    case_path = chain_path(area_chain)
    levels = []
    for area in (None, *area_chain):
        everyone = history.at(category, area.code if area else CATEGORY_WIDE)
        levels.append((area, _local_counts(everyone, area, case_path, units), sum(everyone.values())))
    return [level for level, deeper in zip(levels, [*levels[1:], None], strict=True)
            if deeper is None or level[1] != deeper[1]]


def _local_counts(counts: Mapping[str, int], area: AreaRef | None, case_path: str,
                  units: Mapping[str, UnitPlace]) -> dict[str, int]:
    """The counts that may speak for this case: all of them locally, else only units answering for its place."""
    local = area is not None and area.level.depth >= LOCAL_LEVEL.depth
    return {unit: n for unit, n in counts.items() if n > 0 and unit in units
            and (local or is_within(case_path, units[unit].area_path))}


def _smoothed(counts: Mapping[str, int], prior: Mapping[str, float], strength: float) -> dict[str, float]:
    """(n_u + strength·prior_u) / (n + strength); the prior alone where there are no counts, counts alone at the top."""
    total = sum(counts.values())
    if total == 0:
        return dict(prior)
    weight = strength if prior else 0.0
    units = set(counts) | set(prior)
    return {u: (counts.get(u, 0) + weight * prior.get(u, 0.0)) / (total + weight) for u in units}


def _evidence(unit: str, n: int, total: int, category: str, area: AreaRef | None) -> Reason:
    """"n of m similar cases" at the deepest place where the unit handled some (later calls overwrite earlier)."""
    params = {"unit": unit, "cases": str(n), "of": str(total), "category": category}
    if area is None:
        return Reason("triage.units.history_category", params)
    params.update(area=area.code, area_name=area.name, area_level=area.level.value)
    return Reason("triage.units.history", params)


def _tie_candidates(duty: RouteResult) -> list[UnitSuggestion]:
    """The lead units of equally specific, disagreeing duty rules, in rule order (score 0: history did not rank)."""
    if not isinstance(duty, Unrouted) or duty.reason is not UnroutedReason.TIE:
        return []
    return [UnitSuggestion(rule.lead_unit, 0.0, SuggestionReason.DUTY_TIE,
                           Reason("triage.units.duty_tie", {"rule": str(rule.id), "unit": rule.lead_unit}))
            for rule in sorted(duty.candidates, key=lambda r: r.id)]


def _first_receivable(candidates: Iterable[UnitSuggestion], category: str, receivers: Receivers,
                      k: int) -> list[UnitSuggestion]:
    """The first `k` distinct candidates the push-down guard lets this dispatcher send the case to."""
    chosen: list[UnitSuggestion] = []
    seen: set[str] = set()
    for candidate in candidates:
        if len(chosen) == k:
            break
        if candidate.unit not in seen and may_receive(candidate.unit, category, receivers):
            chosen.append(candidate)
        seen.add(candidate.unit)
    return chosen


def may_receive(unit: str, category: str, receivers: Receivers) -> bool:
    """True when routing's push-down guard would let the dispatcher send this category's case to the unit."""
    place = receivers.units.get(unit)
    if place is None:
        return False
    try:
        check_dispatch(receivers.scope_path, place.area_path, place.kind, receivers.admission, unit_code=unit,
                       category_code=category)
    except (Forbidden, Invalid):
        return False
    return True


# --- measuring ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Accuracy:
    """Top-1 and top-k hit counts over `cases` evaluated cases."""

    cases: int
    top1: int
    topk: int

    @property
    def top1_rate(self) -> float:
        """Share of cases whose first suggestion was the final unit."""
        return self.top1 / self.cases if self.cases else 0.0

    @property
    def topk_rate(self) -> float:
        """Share of cases whose final unit was among the suggestions."""
        return self.topk / self.cases if self.cases else 0.0


def accuracy(pairs: Iterable[tuple[Sequence[str], str]]) -> Accuracy:
    """Hits of (suggested units best first, final unit) pairs; the suggestion lists are already cut to k."""
    cases = top1 = topk = 0
    for suggested, final in pairs:
        cases += 1
        top1 += bool(suggested) and suggested[0] == final
        topk += final in suggested
    return Accuracy(cases, top1, topk)
