"""Routing by the duty list: precedence, ties, no match, explanations, escalation and the push-down guard."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chengyun.areas.model import AreaLevel, AreaRef
from chengyun.errors import Forbidden, Invalid
from chengyun.org.model import UnitKind
from chengyun.routing import (
    CaseFacts,
    DutyLimits,
    DutyRule,
    Routed,
    RouteResult,
    Unrouted,
    UnroutedReason,
    check_dispatch,
    escalation_target,
    render,
    render_explanation,
    route,
    specificity,
)
from chengyun.shared.handling import HandlingLevel, LimitUnit, TimeLimit, Urgency

L, H = AreaLevel, HandlingLevel
CITY = AreaRef("510100000000", "成都市", L.CITY)
DISTRICT = AreaRef("510113000000", "青白江区", L.DISTRICT)
STREET = AreaRef("510113002000", "大弯街道", L.STREET)
YIHU = AreaRef("510113002001", "怡湖社区", L.COMMUNITY)
GRID = AreaRef("510113002001001", "怡湖社区第1网格", L.GRID)
MICRO = AreaRef("510113002001001001", "怡湖社区第1网格第1微网格", L.MICROGRID)
IN_MICROGRID = (CITY, DISTRICT, STREET, YIHU, GRID, MICRO)
CATEGORY = ("1101", "11", "root")  # item 邻里纠纷, its class, a class above that
FACTS = CaseFacts(CATEGORY, IN_MICROGRID)


def rule(rule_id: int, category: str = "11", area_level: AreaLevel = L.STREET,
         handling: HandlingLevel = H.STREET, lead: str = "office-governance", *, area: str | None = None,
         assists: tuple[str, ...] = ()) -> DutyRule:
    return DutyRule(rule_id, category, area_level, handling, lead, assists, area)


def routed(result: RouteResult) -> Routed:
    assert isinstance(result, Routed), result
    return result


def beaten(result: Routed) -> dict[str, str]:
    """Rule id → the code saying why it lost."""
    return {reason.params["rule"]: reason.code for reason in result.explanation.beaten}


# --- precedence ------------------------------------------------------------------------------------------------


def test_a_specific_area_beats_a_level_only_rule_even_for_a_broader_category() -> None:
    rules = [rule(1, "1101", lead="dept-police"), rule(2, "root", L.COMMUNITY, H.COMMUNITY, "cc-yihu", area=YIHU.code)]
    result = routed(route(FACTS, rules))
    assert result.assignment.lead == "cc-yihu" and result.rule.id == 2
    assert beaten(result) == {"1": "routing.beaten.level_only"}


def test_a_deeper_specific_area_beats_a_shallower_one() -> None:
    rules = [rule(1, area=STREET.code, lead="street-unit"), rule(2, area=GRID.code, lead="grid-unit"),
             rule(3, area=YIHU.code, lead="community-unit")]
    result = routed(route(FACTS, rules))
    assert result.assignment.lead == "grid-unit"
    assert beaten(result) == {"3": "routing.beaten.area", "1": "routing.beaten.area"}
    assert [r.params["rule"] for r in result.explanation.beaten] == ["3", "1"]  # next best first


def test_the_item_beats_its_class_and_a_nearer_class_beats_a_farther_one() -> None:
    rules = [rule(1, "root", lead="root-unit"), rule(2, "11", lead="class-unit"), rule(3, "1101", lead="item-unit")]
    assert routed(route(FACTS, rules)).assignment.lead == "item-unit"
    result = routed(route(FACTS, rules[:2]))
    assert result.assignment.lead == "class-unit"
    assert beaten(result) == {"1": "routing.beaten.category"}


def test_a_deeper_area_level_beats_a_shallower_one_for_level_only_rules() -> None:
    rules = [rule(1, area_level=L.STREET, lead="street-unit"), rule(2, area_level=L.COMMUNITY, lead="community-unit")]
    result = routed(route(FACTS, rules))
    assert result.assignment.lead == "community-unit"
    assert beaten(result) == {"1": "routing.beaten.area_level"}


def test_a_rule_applies_only_to_cases_located_at_its_area_level_or_deeper() -> None:
    rules = [rule(1, area_level=L.COMMUNITY, lead="community-unit"), rule(2, area_level=L.STREET, lead="street-unit")]
    located_in_street_only = CaseFacts(CATEGORY, (CITY, DISTRICT, STREET))
    assert routed(route(located_in_street_only, rules)).assignment.lead == "street-unit"
    assert specificity(rules[0], located_in_street_only) is None
    assert specificity(rules[0], FACTS) == (0, -1, L.COMMUNITY.depth, -H.STREET.rank)


def test_the_lowest_handling_level_wins_among_otherwise_equal_rules() -> None:
    rules = [rule(1, handling=H.DISTRICT, lead="district"), rule(2, handling=H.COMMUNITY, lead="community"),
             rule(3, handling=H.STREET, lead="street")]
    result = routed(route(FACTS, rules))
    assert (result.assignment.lead, result.assignment.handling_level) == ("community", H.COMMUNITY)
    assert set(beaten(result).values()) == {"routing.beaten.handling_level"}


def test_a_wanted_level_leaves_out_the_tiers_below_it() -> None:
    rules = [rule(1, handling=H.COMMUNITY, lead="community"), rule(2, handling=H.DISTRICT, lead="district")]
    result = routed(route(CaseFacts(CATEGORY, IN_MICROGRID, H.STREET), rules))
    assert result.assignment.lead == "district"
    assert result.explanation.beaten == ()  # the community rule was not a candidate at all


def test_the_assignment_carries_assists_and_limit_overrides() -> None:
    limit = TimeLimit(4, LimitUnit.WORKING_HOURS)
    only = DutyRule(7, "1101", L.STREET, H.STREET, "lead", ("a", "b"), handling_limit=limit)
    assignment = routed(route(FACTS, [only])).assignment
    assert assignment.assists == ("a", "b") and assignment.limits == DutyLimits(None, limit)


# --- no match, ties ---------------------------------------------------------------------------------------------


def test_no_rule_for_the_category_or_the_area_is_no_match() -> None:
    rules = [rule(1, "0401"), rule(2, area="510113002002"), rule(3, area_level=L.MICROGRID)]
    result = route(CaseFacts(CATEGORY, (CITY, DISTRICT, STREET, YIHU, GRID)), rules)
    assert result == Unrouted(UnroutedReason.NO_MATCH, (), CaseFacts(CATEGORY, (CITY, DISTRICT, STREET, YIHU, GRID)))
    assert isinstance(result, Unrouted)
    assert result.explanation.code == "routing.unrouted.no_match"
    assert "怡湖社区第1网格" in render(result.explanation, "zh-CN")
    nowhere = route(CaseFacts(CATEGORY, ()), [rule(1)])
    assert isinstance(nowhere, Unrouted) and nowhere.reason is UnroutedReason.NO_MATCH


def test_equally_specific_rules_with_different_leads_are_a_tie_for_triage() -> None:
    rules = [rule(5, lead="b"), rule(3, lead="a"), rule(9, handling=H.DISTRICT, lead="c")]
    result = route(FACTS, rules)
    assert isinstance(result, Unrouted) and result.reason is UnroutedReason.TIE
    assert [r.id for r in result.candidates] == [3, 5]  # the less preferred district rule is no candidate
    assert result.explanation.params["candidates"] == "3, 5"
    assert "3, 5" in render(result.explanation, "en")


def test_equally_specific_rules_that_differ_only_in_assists_are_a_tie_too() -> None:
    result = route(FACTS, [rule(1, assists=("x",)), rule(2, assists=("y",))])
    assert isinstance(result, Unrouted) and result.reason is UnroutedReason.TIE


def test_equally_specific_rules_that_agree_route_by_the_lower_id() -> None:
    result = routed(route(FACTS, [rule(4, assists=("x", "y")), rule(2, assists=("y", "x"))]))
    assert result.rule.id == 2 and beaten(result) == {"4": "routing.beaten.duplicate"}


# --- explanations -----------------------------------------------------------------------------------------------


def test_the_explanation_names_rule_category_area_and_is_rendered_in_both_languages() -> None:
    rules = [rule(12, "1101", L.COMMUNITY, H.COMMUNITY, "cc-510113002001", area=YIHU.code), rule(3, "11")]
    result = routed(route(FACTS, rules))
    matched = result.explanation.matched
    assert matched.code == "routing.explain.area"
    assert matched.params | {} == {"rule": "12", "category": "1101", "area": YIHU.code, "area_name": "怡湖社区",
                                    "area_level": "community", "handling_level": "community",
                                    "lead": "cc-510113002001", "case_category": "1101", "case_area": MICRO.code}
    zh, *zh_beaten = render_explanation(result.explanation, "zh-CN")
    en, *en_beaten = render_explanation(result.explanation, "en")
    assert "规则 12" in zh and "怡湖社区" in zh and "处置层级：社区" in zh and "{" not in zh
    assert en.startswith("Rule 12 matched") and "handled at community level" in en
    assert zh_beaten == ["规则 3（未指定区划）让位于规则 12：指定区划的规则优先。"]
    assert en_beaten[0].startswith("Rule 3 (no specific area) lost to rule 12")


def test_a_level_only_match_is_explained_as_such() -> None:
    result = routed(route(FACTS, [rule(1, "11")]))
    assert result.explanation.matched.code == "routing.explain.level"
    assert result.explanation.matched.params["category"] == "11"
    assert "街道及以下" in render(result.explanation.matched, "zh-CN")


# --- escalation -------------------------------------------------------------------------------------------------

LADDER = [rule(1, "1101", L.COMMUNITY, H.COMMUNITY, "cc", area=YIHU.code), rule(2, handling=H.STREET, lead="street"),
          rule(3, handling=H.DISTRICT, lead="district"), rule(4, handling=H.CITY, lead="city")]


def test_escalation_goes_to_the_next_tier_up() -> None:
    assert routed(escalation_target(FACTS, LADDER, H.COMMUNITY)).assignment.lead == "street"
    assert routed(escalation_target(FACTS, LADDER, H.STREET)).assignment.lead == "district"
    # from the property tier the community's own (area-specific) rule is the next one up
    assert routed(escalation_target(FACTS, LADDER, H.PROPERTY)).assignment.lead == "cc"


def test_escalation_skips_a_tier_without_rules_and_stops_at_the_top() -> None:
    no_district = [r for r in LADDER if r.handling_level is not H.DISTRICT]
    assert routed(escalation_target(FACTS, no_district, H.STREET)).assignment.lead == "city"
    top = escalation_target(FACTS, LADDER, H.CITY)
    assert isinstance(top, Unrouted) and top.reason is UnroutedReason.TOP_LEVEL
    assert render(top.explanation, "zh-CN") == "案件已处于最高处置层级，无法继续提级。"
    nothing = escalation_target(FACTS, LADDER[:2], H.STREET)
    assert isinstance(nothing, Unrouted) and nothing.reason is UnroutedReason.NO_MATCH


def test_escalation_to_a_tier_with_a_tie_goes_to_triage_rather_than_higher() -> None:
    rules = [*LADDER, rule(5, handling=H.DISTRICT, lead="other-district")]
    result = escalation_target(FACTS, rules, H.STREET)
    assert isinstance(result, Unrouted) and [r.id for r in result.candidates] == [3, 5]


# --- rules and limits -------------------------------------------------------------------------------------------


def test_a_rule_cannot_name_its_lead_as_an_assist_or_an_assist_twice() -> None:
    with pytest.raises(Invalid) as info:
        rule(1, lead="x", assists=("y", "x"))
    assert info.value.code == "routing.lead_also_assists" and info.value.params == {"rule": 1, "unit": "x"}
    with pytest.raises(Invalid, match=r"routing\.repeated_assist"):
        rule(1, assists=("y", "y"))


def test_limit_overrides_apply_at_normal_urgency_and_never_to_urgent_cases() -> None:
    defaults = (TimeLimit(1, LimitUnit.WORKING_DAYS), TimeLimit(5, LimitUnit.WORKING_DAYS))
    urgent = (TimeLimit(2, LimitUnit.HOURS), TimeLimit(24, LimitUnit.HOURS))
    limits = DutyLimits(response=TimeLimit(2, LimitUnit.WORKING_HOURS))
    assert limits.resolve(defaults, Urgency.NORMAL) == (TimeLimit(2, LimitUnit.WORKING_HOURS), defaults[1])
    assert limits.resolve(urgent, Urgency.URGENT) == urgent
    assert DutyLimits().resolve(defaults, Urgency.NORMAL) == defaults


# --- the push-down guard ----------------------------------------------------------------------------------------

STREET_PATH = "/510100000000/510113000000/510113002000/"
YIHU_PATH = STREET_PATH + "510113002001/"


def test_dispatch_within_the_subtree_is_allowed() -> None:
    check_dispatch(STREET_PATH, YIHU_PATH, UnitKind.COMMUNITY_COMMITTEE, True)
    check_dispatch(STREET_PATH, STREET_PATH, UnitKind.DEPARTMENT, False)
    check_dispatch(STREET_PATH, YIHU_PATH, UnitKind.PROPERTY_COMPANY, False)  # the admission list is for communities


def test_dispatch_outside_the_subtree_is_refused() -> None:
    district_unit = "/510100000000/510113000000/"
    other_street = "/510100000000/510113000000/510113003000/"
    for target in (district_unit, other_street):
        with pytest.raises(Forbidden) as info:
            check_dispatch(STREET_PATH, target, UnitKind.DEPARTMENT, True, unit_code="dept-qu-zhujian")
        assert info.value.code == "routing.dispatch.outside_scope"
        assert info.value.params == {"unit": "dept-qu-zhujian", "target": target, "scope": STREET_PATH}
    with pytest.raises(Forbidden):  # a code that merely starts with the same digits is another area
        check_dispatch("/510100000000/51011300200/", STREET_PATH, UnitKind.DEPARTMENT, True)


def test_dispatch_to_a_community_off_the_admission_list_is_refused() -> None:
    with pytest.raises(Forbidden) as info:
        check_dispatch(STREET_PATH, YIHU_PATH, UnitKind.COMMUNITY_COMMITTEE, False, unit_code="cc-510113002001",
                       category_code="0401")
    assert info.value.code == "routing.dispatch.not_admitted"
    assert info.value.params == {"unit": "cc-510113002001", "category": "0401"}


@pytest.mark.parametrize("path", ["", "/", "510113002000/", "/510113002000", "//", "/51011300/../"])
def test_malformed_paths_are_refused_before_any_prefix_test(path: str) -> None:
    with pytest.raises(Invalid) as info:
        check_dispatch(path, YIHU_PATH, UnitKind.DEPARTMENT, True)
    assert info.value.code == "routing.dispatch.bad_path"
    with pytest.raises(Invalid):
        check_dispatch(STREET_PATH, path, UnitKind.DEPARTMENT, True)


# --- properties -------------------------------------------------------------------------------------------------

_CATEGORIES = ["1101", "11", "root", "0401"]
_AREAS = [None, None, *(a.code for a in IN_MICROGRID), "510113002002"]


@st.composite
def rule_sets(draw: st.DrawFn) -> list[DutyRule]:
    """Up to 12 rules with distinct ids over a small vocabulary, so that overlaps and ties are common."""
    count = draw(st.integers(0, 12))
    ids = draw(st.lists(st.integers(1, 10_000), min_size=count, max_size=count, unique=True))
    return [DutyRule(rule_id, draw(st.sampled_from(_CATEGORIES)), draw(st.sampled_from(list(AreaLevel))),
                     draw(st.sampled_from(list(HandlingLevel))), draw(st.sampled_from(["u1", "u2"])),
                     tuple(draw(st.lists(st.sampled_from(["a1", "a2"]), unique=True, max_size=2))),
                     draw(st.sampled_from(_AREAS)))
            for rule_id in ids]


facts_strategy = st.builds(CaseFacts, st.just(CATEGORY),
                           st.integers(2, len(IN_MICROGRID)).map(lambda n: IN_MICROGRID[:n]),
                           st.none() | st.sampled_from(list(HandlingLevel)))


def _check_choice(facts: CaseFacts, rules: Sequence[DutyRule], result: RouteResult) -> None:
    keys = [k for k in (specificity(r, facts) for r in rules) if k is not None]
    if isinstance(result, Routed):
        assert specificity(result.rule, facts) == max(keys)
        assert len(result.explanation.beaten) == len(keys) - 1
    elif result.reason is UnroutedReason.NO_MATCH:
        assert keys == []
    else:
        assert len(result.candidates) >= 2
        assert {specificity(r, facts) for r in result.candidates} == {max(keys)}


@settings(max_examples=300, deadline=None)
@given(facts=facts_strategy, rules=rule_sets(), data=st.data())
def test_route_is_deterministic_independent_of_rule_order_and_picks_a_most_specific_rule(
        facts: CaseFacts, rules: list[DutyRule], data: st.DataObject) -> None:
    result = route(facts, rules)
    assert route(facts, rules) == result
    assert route(facts, data.draw(st.permutations(rules))) == result
    assert escalation_target(facts, rules, H.STREET) == escalation_target(facts, list(reversed(rules)), H.STREET)
    _check_choice(facts, rules, result)
