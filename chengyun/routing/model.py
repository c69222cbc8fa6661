"""The duty list (权责清单/派单目录): rules, routing a case to its most specific rule, escalation, push-down guard.

Pure: no storage, no web. Precedence among matching rules (first difference decides, see `specificity`):
1. a rule for a specific area beats a level-only rule, and a deeper specific area beats a shallower one;
2. a rule for the case's own category (item) beats one for its class, a nearer class beats a farther one;
3. a rule for a deeper area level beats one for a shallower level (community rules before street rules);
4. the lowest handling level wins (物业/小区 → 社区 → 街道 → 区 → 市: the lowest tier able to handle it).
Equally specific rules that disagree on the assignment make a tie for the operator's triage queue.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from chengyun.areas.model import AreaLevel, AreaRef, is_within
from chengyun.errors import Forbidden, Invalid
from chengyun.org.model import UnitKind
from chengyun.shared.handling import HandlingLevel, TimeLimit, Urgency


@dataclass(frozen=True, slots=True)
class DutyLimits:
    """A rule's optional response/handling limits that override the category's."""

    response: TimeLimit | None = None
    handling: TimeLimit | None = None

    def resolve(self, defaults: tuple[TimeLimit, TimeLimit], urgency: Urgency) -> tuple[TimeLimit, TimeLimit]:
        """(response, handling) for a case: overrides apply at normal urgency; urgent cases keep `defaults`.

        `defaults` are the category's limits for the case's urgency (`Category.limits(urgency)`): a duty-list
        row states ordinary limits, which must never lengthen the category's urgent ones.
        """
        if urgency is not Urgency.NORMAL:
            return defaults
        return self.response or defaults[0], self.handling or defaults[1]


@dataclass(frozen=True, slots=True)
class DutyRule:
    """One duty-list row: for a category (item or class) at an area level, optionally in one area's subtree.

    `id` is the stored id, or the spreadsheet row number for a parsed file. `area_level` is the level the case's
    located area must reach (a community rule applies to cases located in a community, grid or microgrid).
    """

    id: int
    category_code: str
    area_level: AreaLevel
    handling_level: HandlingLevel
    lead_unit: str
    assist_units: tuple[str, ...] = ()
    area_code: str | None = None
    response_limit: TimeLimit | None = None
    handling_limit: TimeLimit | None = None

    def __post_init__(self) -> None:
        if self.lead_unit in self.assist_units:
            raise Invalid("routing.lead_also_assists", rule=self.id, unit=self.lead_unit)
        if len(set(self.assist_units)) != len(self.assist_units):
            raise Invalid("routing.repeated_assist", rule=self.id)

    @property
    def limits(self) -> DutyLimits:
        """The rule's limit overrides."""
        return DutyLimits(self.response_limit, self.handling_limit)


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What routing looks at about a case.

    `category_codes`: the case's own category first, then its classes nearest first (Catalogue.ancestors);
    `area_chain`: root first, the located area last; `wanted_level`: the lowest tier allowed (for escalation).
    """

    category_codes: tuple[str, ...]
    area_chain: tuple[AreaRef, ...]
    wanted_level: HandlingLevel | None = None


@dataclass(frozen=True, slots=True)
class Assignment:
    """Who handles a case: lead unit (主办), assisting units (协办), the tier and the limit overrides."""

    lead: str
    assists: tuple[str, ...]
    handling_level: HandlingLevel
    limits: DutyLimits


@dataclass(frozen=True, slots=True)
class Reason:
    """A translatable sentence, like a DomainError: a stable code (key in i18n) and text parameters."""

    code: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a rule was chosen: which rule matched and how, then each rule it beat and why."""

    matched: Reason
    beaten: tuple[Reason, ...]


class UnroutedReason(StrEnum):
    """Why no unit was chosen; every unrouted case goes to the operator's triage queue."""

    NO_MATCH = "no_match"
    TIE = "tie"
    TOP_LEVEL = "top_level"  # escalation asked for a tier above the highest


@dataclass(frozen=True, slots=True)
class Routed:
    """A rule was found: the assignment, the rule and the explanation."""

    assignment: Assignment
    rule: DutyRule
    explanation: Explanation


@dataclass(frozen=True, slots=True)
class Unrouted:
    """No single rule: nothing matched, or equally specific rules disagree (`candidates`, by id)."""

    reason: UnroutedReason
    candidates: tuple[DutyRule, ...] = ()
    facts: CaseFacts | None = None

    @property
    def explanation(self) -> Reason:
        """The translatable sentence for the triage queue."""
        params = _facts_params(self.facts) if self.facts else {"category": "", "area": "", "area_name": ""}
        params["candidates"] = ", ".join(str(rule.id) for rule in self.candidates)
        return Reason(f"routing.unrouted.{self.reason.value}", params)


RouteResult = Routed | Unrouted
Specificity = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class _Match:
    """A matching rule with where it matched: index into the category chain and the specific area, if any."""

    rule: DutyRule
    category_index: int
    area: AreaRef | None
    key: Specificity


# --- routing ---------------------------------------------------------------------------------------------------


def route(facts: CaseFacts, rules: Iterable[DutyRule]) -> RouteResult:
    """The most specific matching rule (see the module docstring), else Unrouted: no_match or tie."""
    matches = sorted((m for m in (_match(rule, facts) for rule in rules) if m is not None), key=_order)
    if not matches:
        return Unrouted(UnroutedReason.NO_MATCH, (), facts)
    best = [m for m in matches if m.key == matches[0].key]
    if len({_agreement(m.rule) for m in best}) > 1:
        return Unrouted(UnroutedReason.TIE, tuple(m.rule for m in best), facts)
    winner = best[0]
    explanation = Explanation(_matched_reason(winner, facts), tuple(_beaten_reason(m, winner) for m in matches[1:]))
    rule = winner.rule
    assignment = Assignment(rule.lead_unit, rule.assist_units, rule.handling_level, rule.limits)
    return Routed(assignment, rule, explanation)


def escalation_target(facts: CaseFacts, rules: Sequence[DutyRule], current_level: HandlingLevel) -> RouteResult:
    """Route among the rules of the next tier up; a tier with no matching rule is skipped to the one above it."""
    level = current_level.next_up()
    if level is None:
        return Unrouted(UnroutedReason.TOP_LEVEL, (), facts)
    while level is not None:
        result = route(replace(facts, wanted_level=level), [r for r in rules if r.handling_level is level])
        if not (isinstance(result, Unrouted) and result.reason is UnroutedReason.NO_MATCH):
            return result
        level = level.next_up()
    return Unrouted(UnroutedReason.NO_MATCH, (), facts)


def specificity(rule: DutyRule, facts: CaseFacts) -> Specificity | None:
    """The rule's rank key for these facts (larger is more specific), or None when it does not apply."""
    match = _match(rule, facts)
    return match.key if match else None


def _match(rule: DutyRule, facts: CaseFacts) -> _Match | None:
    if rule.category_code not in facts.category_codes or not facts.area_chain:
        return None
    if facts.wanted_level is not None and rule.handling_level.rank < facts.wanted_level.rank:
        return None
    if facts.area_chain[-1].level.depth < rule.area_level.depth:
        return None
    area = None
    if rule.area_code is not None:
        area = next((a for a in facts.area_chain if a.code == rule.area_code), None)
        if area is None:
            return None
    category_index = facts.category_codes.index(rule.category_code)
    key = (area.level.depth + 1 if area else 0, -category_index, rule.area_level.depth, -rule.handling_level.rank)
    return _Match(rule, category_index, area, key)


def _order(match: _Match) -> tuple[int, int, int, int, int]:
    """Most specific first; the rule id only fixes the order of equals, so rule order never matters."""
    a, b, c, d = match.key
    return -a, -b, -c, -d, match.rule.id


def _agreement(rule: DutyRule) -> tuple[object, ...]:
    """What two equally specific rules must share not to be a tie."""
    return rule.lead_unit, frozenset(rule.assist_units), rule.handling_level, rule.limits


# --- explanations ----------------------------------------------------------------------------------------------

_BEATEN_BY = ("routing.beaten.area", "routing.beaten.category", "routing.beaten.area_level",
              "routing.beaten.handling_level")


def _matched_reason(winner: _Match, facts: CaseFacts) -> Reason:
    params = _rule_params(winner)
    params["case_category"] = facts.category_codes[0]
    params["case_area"] = facts.area_chain[-1].code
    kind = "area" if winner.area else "level"
    return Reason(f"routing.explain.{kind}", params)


def _beaten_reason(loser: _Match, winner: _Match) -> Reason:
    params = _rule_params(loser)
    params["winner"] = str(winner.rule.id)
    for index, (theirs, ours) in enumerate(zip(loser.key, winner.key, strict=True)):
        if theirs != ours:
            code = _BEATEN_BY[index]
            if index == 0 and loser.area is None:
                code = "routing.beaten.level_only"
            return Reason(code, params)
    return Reason("routing.beaten.duplicate", params)


def _rule_params(match: _Match) -> dict[str, str]:
    rule = match.rule
    return {
        "rule": str(rule.id),
        "category": rule.category_code,
        "area": match.area.code if match.area else "",
        "area_name": match.area.name if match.area else "",
        "area_level": rule.area_level.value,
        "handling_level": rule.handling_level.value,
        "lead": rule.lead_unit,
    }


def _facts_params(facts: CaseFacts) -> dict[str, str]:
    located = facts.area_chain[-1] if facts.area_chain else None
    return {
        "category": facts.category_codes[0] if facts.category_codes else "",
        "area": located.code if located else "",
        "area_name": located.name if located else "",
    }


# --- the push-down guard (防止随意下派) ---------------------------------------------------------------------------


def check_dispatch(dispatcher_scope_path: str, target_unit_area_path: str, target_unit_kind: UnitKind,
                   category_admission: bool, *, unit_code: str = "", category_code: str = "") -> None:
    """Refuse a dispatch outside the dispatcher's area subtree, or to a community off the admission list.

    Paths are materialised area paths ("/510100000000/510113000000/510113002000/"); `unit_code` and
    `category_code` only make the error message precise.
    """
    for path in (dispatcher_scope_path, target_unit_area_path):
        if not _well_formed(path):
            raise Invalid("routing.dispatch.bad_path", path=path)
    if not is_within(target_unit_area_path, dispatcher_scope_path):
        raise Forbidden("routing.dispatch.outside_scope", unit=unit_code, target=target_unit_area_path,
                        scope=dispatcher_scope_path)
    if target_unit_kind is UnitKind.COMMUNITY_COMMITTEE and not category_admission:
        raise Forbidden("routing.dispatch.not_admitted", unit=unit_code, category=category_code)


def _well_formed(path: str) -> bool:
    """"/code/code/…/": a prefix test is only sound between whole segments."""
    parts = path.split("/")
    return len(parts) >= 3 and parts[0] == "" and parts[-1] == "" and all(p.isascii() and p.isalnum()
                                                                           for p in parts[1:-1])
