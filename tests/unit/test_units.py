"""Suggested handling unit: the duty list wins where explicit, history backs off up the area tree, guards filter."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from chengyun.areas.model import AreaLevel, AreaRef
from chengyun.org.model import UnitKind
from chengyun.routing import CaseFacts, DutyRule, RouteResult, Unrouted, UnroutedReason, route
from chengyun.shared.handling import HandlingLevel
from chengyun.triage.units import (
    CATEGORY_WIDE,
    HistoryRow,
    Receivers,
    SuggestionReason,
    UnitHistory,
    UnitPlace,
    UnitSuggestion,
    accuracy,
    build_history,
    chain_path,
    may_receive,
    suggest_units,
)

L = AreaLevel
CITY = AreaRef("510100000000", "成都市", L.CITY)
DISTRICT = AreaRef("510113000000", "青白江区", L.DISTRICT)
STREET = AreaRef("510113002000", "大弯街道", L.STREET)
YIHU = AreaRef("510113002001", "怡湖社区", L.COMMUNITY)
SJN = AreaRef("510113002002", "石家碾社区", L.COMMUNITY)
GRID = AreaRef("510113002001001", "怡湖社区第1网格", L.GRID)
GRID2 = AreaRef("510113002001002", "怡湖社区第2网格", L.GRID)
IN_YIHU_GRID = (CITY, DISTRICT, STREET, YIHU, GRID)
IN_YIHU_GRID2 = (CITY, DISTRICT, STREET, YIHU, GRID2)
IN_SJN = (CITY, DISTRICT, STREET, SJN)
NO_MATCH = Unrouted(UnroutedReason.NO_MATCH)


def path(chain: Sequence[AreaRef]) -> str:
    return chain_path(chain)


UNITS = {
    "dept-chengguan": UnitPlace(path(IN_YIHU_GRID[:3]), UnitKind.DEPARTMENT),
    "dept-police": UnitPlace(path(IN_YIHU_GRID[:3]), UnitKind.DEPARTMENT),
    "office-governance": UnitPlace(path(IN_YIHU_GRID[:3]), UnitKind.STREET_OFFICE),
    "dept-qu-gongan": UnitPlace(path(IN_YIHU_GRID[:2]), UnitKind.DEPARTMENT),
    "cc-yihu": UnitPlace(path(IN_YIHU_GRID[:4]), UnitKind.COMMUNITY_COMMITTEE),
    "cc-sjn": UnitPlace(path(IN_SJN), UnitKind.COMMUNITY_COMMITTEE),
    "prop-001": UnitPlace(path(IN_SJN), UnitKind.PROPERTY_COMPANY),  # lives in 石家碾, also serves an 怡湖 compound
}
STREET_OPERATOR = Receivers(path(IN_YIHU_GRID[:3]), UNITS, admission=True)


def history(*rows: tuple[Sequence[AreaRef], str, int], category: str = "1101") -> UnitHistory:
    return build_history(HistoryRow(category, path(chain), unit, n) for chain, unit, n in rows)


def units(suggestions: list[UnitSuggestion]) -> list[str]:
    return [s.unit for s in suggestions]


def duty_to(lead: str, category: str = "11") -> RouteResult:
    rule = DutyRule(7, category, L.STREET, HandlingLevel.STREET, lead)
    return route(CaseFacts(("1101", "11"), IN_YIHU_GRID), [rule])


# --- the history model -------------------------------------------------------------------------------------------


def test_history_counts_each_case_at_every_area_of_its_path_and_category_wide() -> None:
    h = history((IN_YIHU_GRID, "cc-yihu", 3), (IN_YIHU_GRID2, "cc-yihu", 1), (IN_SJN, "cc-sjn", 2))
    assert h.at("1101", GRID.code) == {"cc-yihu": 3}
    assert h.at("1101", YIHU.code) == {"cc-yihu": 4}
    assert h.at("1101", STREET.code) == h.at("1101", CATEGORY_WIDE) == {"cc-yihu": 4, "cc-sjn": 2}
    assert h.at("1101", "nowhere") == {} and h.at("0101") == {}
    assert h.cases == 6


# --- the duty list wins where it is explicit -----------------------------------------------------------------------


def test_an_explicit_duty_rule_comes_first_whatever_history_says() -> None:
    h = history((IN_YIHU_GRID, "cc-yihu", 40), (IN_YIHU_GRID, "dept-police", 5))
    got = suggest_units("1101", IN_YIHU_GRID, duty_to("office-governance"), h, STREET_OPERATOR)
    assert units(got) == ["office-governance", "cc-yihu", "dept-police"]
    first = got[0]
    assert first.reason is SuggestionReason.DUTY_LIST and first.score == 1.0
    assert first.explanation.code == "routing.explain.level" and first.explanation.params["rule"] == "7"
    assert [s.reason for s in got[1:]] == [SuggestionReason.HISTORY] * 2
    assert got[1].score > got[2].score > 0


def test_history_does_not_repeat_the_duty_lists_unit() -> None:
    h = history((IN_YIHU_GRID, "office-governance", 9), (IN_YIHU_GRID, "cc-yihu", 1))
    got = suggest_units("1101", IN_YIHU_GRID, duty_to("office-governance"), h, STREET_OPERATOR)
    assert units(got) == ["office-governance", "cc-yihu"]


def test_without_a_rule_history_ranks_and_says_n_of_m_similar_cases() -> None:
    h = history((IN_YIHU_GRID, "cc-yihu", 3), (IN_YIHU_GRID, "dept-police", 1))
    got = suggest_units("1101", IN_YIHU_GRID, NO_MATCH, h, STREET_OPERATOR)
    assert units(got) == ["cc-yihu", "dept-police"]
    assert got[0].score == pytest.approx(0.75)
    evidence = got[0].explanation
    assert evidence.code == "triage.units.history"
    assert evidence.params.items() >= {"cases": "3", "of": "4", "area": GRID.code, "area_level": "grid"}.items()


def test_no_history_and_no_rule_suggests_nothing() -> None:
    assert suggest_units("1101", IN_YIHU_GRID, NO_MATCH, history(), STREET_OPERATOR) == []


def test_tied_rules_fill_in_after_history_in_rule_order() -> None:
    rules = [DutyRule(9, "11", L.STREET, HandlingLevel.STREET, "dept-police"),
             DutyRule(8, "11", L.STREET, HandlingLevel.STREET, "office-governance")]
    tie = route(CaseFacts(("1101", "11"), IN_YIHU_GRID), rules)
    assert isinstance(tie, Unrouted) and tie.reason is UnroutedReason.TIE
    got = suggest_units("1101", IN_YIHU_GRID, tie, history((IN_YIHU_GRID, "cc-yihu", 2)), STREET_OPERATOR)
    assert units(got) == ["cc-yihu", "office-governance", "dept-police"]
    assert [s.reason for s in got] == [SuggestionReason.HISTORY, SuggestionReason.DUTY_TIE, SuggestionReason.DUTY_TIE]
    assert got[1].explanation.params == {"rule": "8", "unit": "office-governance"}


# --- back-off up the area tree -------------------------------------------------------------------------------------


def test_an_unseen_place_backs_off_to_its_community_then_street_then_category() -> None:
    in_grid2 = history((IN_YIHU_GRID, "cc-yihu", 2), (IN_SJN, "dept-police", 5))
    got = suggest_units("1101", IN_YIHU_GRID2, NO_MATCH, in_grid2, STREET_OPERATOR)
    assert units(got)[0] == "cc-yihu"  # the community's own cases outweigh the street's majority
    assert got[0].explanation.params["area"] == YIHU.code
    street_only = history((IN_SJN, "dept-police", 5), (IN_SJN, "office-governance", 2))
    got = suggest_units("1101", IN_YIHU_GRID2, NO_MATCH, street_only, STREET_OPERATOR)
    assert units(got) == ["dept-police", "office-governance"]
    assert got[0].explanation.params["area"] == STREET.code and got[0].score == pytest.approx(5 / 7)


def test_category_wide_evidence_is_used_when_nothing_is_known_nearer() -> None:
    elsewhere = (AreaRef("510200000000", "另一城市", L.CITY),)  # shares no area with the case
    h = build_history([HistoryRow("1101", path(elsewhere), "dept-qu-gongan", 4)])
    got = suggest_units("1101", IN_YIHU_GRID, NO_MATCH, h, Receivers(path(IN_YIHU_GRID[:2]), UNITS, True))
    assert units(got) == ["dept-qu-gongan"]
    assert got[0].explanation.code == "triage.units.history_category"
    assert got[0].explanation.params.items() >= {"cases": "4", "of": "4", "category": "1101"}.items()


def test_one_local_case_does_not_outweigh_a_street_but_three_do() -> None:
    street = [(IN_SJN, "dept-police", 20)]
    one = history(*street, (IN_YIHU_GRID, "cc-yihu", 1))
    assert units(suggest_units("1101", IN_YIHU_GRID, NO_MATCH, one, STREET_OPERATOR))[0] == "dept-police"
    three = history(*street, (IN_YIHU_GRID, "cc-yihu", 3))
    assert units(suggest_units("1101", IN_YIHU_GRID, NO_MATCH, three, STREET_OPERATOR))[0] == "cc-yihu"


def test_history_of_another_category_says_nothing() -> None:
    h = history((IN_YIHU_GRID, "dept-chengguan", 5), category="0101")
    assert suggest_units("1101", IN_YIHU_GRID, NO_MATCH, h, STREET_OPERATOR) == []


# --- guards and locality -------------------------------------------------------------------------------------------


def test_units_outside_the_dispatchers_scope_are_never_suggested() -> None:
    yihu_operator = Receivers(path(IN_YIHU_GRID[:4]), UNITS, admission=True)
    h = history((IN_YIHU_GRID, "dept-police", 9), (IN_YIHU_GRID, "cc-yihu", 1))
    assert units(suggest_units("1101", IN_YIHU_GRID, NO_MATCH, h, yihu_operator)) == ["cc-yihu"]
    assert units(suggest_units("1101", IN_YIHU_GRID, duty_to("dept-police"), h, yihu_operator)) == ["cc-yihu"]


def test_a_community_committee_only_gets_admitted_items() -> None:
    not_admitted = Receivers(STREET_OPERATOR.scope_path, UNITS, admission=False)
    h = history((IN_YIHU_GRID, "cc-yihu", 9), (IN_YIHU_GRID, "office-governance", 1))
    assert units(suggest_units("1101", IN_YIHU_GRID, NO_MATCH, h, not_admitted)) == ["office-governance"]
    assert not may_receive("cc-yihu", "1101", not_admitted) and may_receive("cc-yihu", "1101", STREET_OPERATOR)


def test_units_missing_from_the_directory_are_never_suggested() -> None:
    h = history((IN_YIHU_GRID, "dissolved-office", 9), (IN_YIHU_GRID, "cc-yihu", 1))
    assert units(suggest_units("1101", IN_YIHU_GRID, NO_MATCH, h, STREET_OPERATOR)) == ["cc-yihu"]
    assert not may_receive("dissolved-office", "1101", STREET_OPERATOR)


def test_another_communitys_committee_never_borrows_street_wide_evidence() -> None:
    h = history((IN_SJN, "cc-sjn", 30), (IN_YIHU_GRID, "office-governance", 1))
    got = suggest_units("1101", IN_YIHU_GRID2, NO_MATCH, h, STREET_OPERATOR)
    assert units(got) == ["office-governance"]


def test_a_property_company_from_elsewhere_is_suggested_on_local_evidence() -> None:
    h = history((IN_YIHU_GRID, "prop-001", 3), (IN_SJN, "dept-police", 3))
    assert units(suggest_units("1101", IN_YIHU_GRID, NO_MATCH, h, STREET_OPERATOR))[0] == "prop-001"
    assert "prop-001" not in units(suggest_units("1101", IN_YIHU_GRID2, NO_MATCH,
                                                 history((IN_SJN, "prop-001", 9)), STREET_OPERATOR))


# --- order and size ------------------------------------------------------------------------------------------------


def test_equal_scores_are_ordered_by_unit_code_whatever_the_row_order() -> None:
    rows = [(IN_YIHU_GRID, "office-governance", 2), (IN_YIHU_GRID, "dept-police", 2),
            (IN_YIHU_GRID, "dept-chengguan", 2), (IN_YIHU_GRID, "cc-yihu", 2)]
    forward = suggest_units("1101", IN_YIHU_GRID, NO_MATCH, history(*rows), STREET_OPERATOR, k=4)
    backward = suggest_units("1101", IN_YIHU_GRID, NO_MATCH, history(*reversed(rows)), STREET_OPERATOR, k=4)
    assert units(forward) == units(backward) == ["cc-yihu", "dept-chengguan", "dept-police", "office-governance"]
    assert len({s.score for s in forward}) == 1


def test_at_most_k_suggestions() -> None:
    rows = [(IN_YIHU_GRID, u, n) for u, n in [("cc-yihu", 4), ("dept-police", 3), ("dept-chengguan", 2),
                                              ("office-governance", 1)]]
    assert len(suggest_units("1101", IN_YIHU_GRID, NO_MATCH, history(*rows), STREET_OPERATOR)) == 3
    assert units(suggest_units("1101", IN_YIHU_GRID, duty_to("dept-police"), history(*rows), STREET_OPERATOR,
                               k=1)) == ["dept-police"]


def test_accuracy_counts_first_place_and_any_place_hits() -> None:
    got = accuracy([(["a", "b", "c"], "a"), (["a", "b", "c"], "c"), (["a"], "z"), ([], "a")])
    assert (got.cases, got.top1, got.topk) == (4, 1, 2)
    assert got.top1_rate == 0.25 and got.topk_rate == 0.5
    assert accuracy([]).topk_rate == 0.0
