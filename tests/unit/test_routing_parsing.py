"""Parsing duty-list files (CSV, .xlsx): rules out, one precise problem per row and column, never an exception."""

from __future__ import annotations

import csv
import io
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chengyun
from chengyun.areas.model import AreaLevel, AreaRef, ImportProblem
from chengyun.demo import names
from chengyun.demo.district import DISTRICT, GRID_TEAM, OPS_CENTER, STREET, load_communities
from chengyun.errors import Invalid
from chengyun.i18n import catalogue, translate
from chengyun.org.model import UnitKind
from chengyun.routing import (
    CaseFacts,
    DutyListParse,
    DutyRule,
    KnownCodes,
    Routed,
    check_dispatch,
    escalation_target,
    parse_duty_csv,
    parse_duty_xlsx,
    parse_handling_level,
    route,
    split_units,
)
from chengyun.shared.handling import HandlingLevel, LimitUnit, TimeLimit
from tests.helpers import workbook_bytes

L, H = AreaLevel, HandlingLevel
KNOWN = KnownCodes(
    categories={"01": "市容环境", "0401": "占道经营", "11": "矛盾纠纷", "1101": "邻里纠纷"},
    units={"dept-chengguan": "大弯街道综合行政执法队", "dept-police": "大弯派出所", "dept-market": "大弯市场监督管理所",
           "cc-510113002001": "怡湖社区居委会", "twin-a": "同名单位", "twin-b": "同名单位"},
    areas={"510113002000": L.STREET, "510113002001": L.COMMUNITY},
)
HEADER = "category,area_level,area,handling_level,lead_unit,assist_units,response_limit,handling_limit\n"


def problems(result: DutyListParse) -> list[tuple[str, str, object]]:
    """(code, where, column) of every problem."""
    return [(p.code, p.where, p.params.get("column")) for p in result.problems]


def test_a_clean_file_gives_one_rule_per_row() -> None:
    text = HEADER + ("0401,street,,street,dept-chengguan,dept-police；dept-market,2wh,1wd\n"
                     "1101,community,510113002001,社区,cc-510113002001,,,\n")
    result = parse_duty_csv(text, KNOWN)
    assert result.problems == ()
    assert result.rules == (
        DutyRule(2, "0401", L.STREET, H.STREET, "dept-chengguan", ("dept-police", "dept-market"), None,
                 TimeLimit(2, LimitUnit.WORKING_HOURS), TimeLimit(1, LimitUnit.WORKING_DAYS)),
        DutyRule(3, "1101", L.COMMUNITY, H.COMMUNITY, "cc-510113002001", (), "510113002001"),
    )


def test_chinese_headers_names_short_area_codes_bom_and_extra_columns_are_understood() -> None:
    text = ("\ufeff*事件分类,区划层级,区划,处置层级,主办单位,协办单位,备注\n"
            "占道经营,街道,510113002,街道,大弯街道综合行政执法队,大弯派出所、dept-market,note\n")
    result = parse_duty_csv(text.encode("utf-8"), KNOWN)
    assert result.problems == ()
    assert result.rules == (DutyRule(2, "0401", L.STREET, H.STREET, "dept-chengguan", ("dept-police", "dept-market"),
                                     "510113002000"),)


def test_every_bad_cell_is_reported_with_its_row_and_column() -> None:
    text = HEADER + (
        ",street,,street,dept-chengguan,,,\n"  # 2: missing category
        "9999,street,,street,dept-chengguan,,,\n"  # 3: unknown category
        "0401,planet,,street,dept-chengguan,,,\n"  # 4: bad area level
        "0401,street,510113009999,street,dept-chengguan,,,\n"  # 5: unknown area
        "0401,street,,galaxy,dept-chengguan,,,\n"  # 6: bad handling level
        "0401,street,,street,nobody,ghost,,\n"  # 7: unknown lead and assisting unit
        "01,street,,street,dept-chengguan,dept-chengguan,2 weeks,0h\n"  # 8: lead assists, two bad limits
        "0401,street,,district,dept-chengguan,dept-police;dept-police,,\n"  # 9: repeated assist
        "11,street,,street,同名单位,,,\n"  # 10: ambiguous unit name
    )
    result = parse_duty_csv(text, KNOWN)
    assert result.rules == ()
    assert problems(result) == [
        ("routing.import.missing_value", "row 2", "category"),
        ("routing.import.unknown_category", "row 3", "category"),
        ("routing.import.bad_area_level", "row 4", "area_level"),
        ("routing.import.unknown_area", "row 5", "area"),
        ("routing.import.bad_handling_level", "row 6", "handling_level"),
        ("routing.import.unknown_unit", "row 7", "lead_unit"),
        ("routing.import.unknown_unit", "row 7", "assist_units"),
        ("routing.import.lead_also_assists", "row 8", "assist_units"),
        ("routing.import.bad_limit", "row 8", "response_limit"),
        ("routing.import.bad_limit", "row 8", "handling_limit"),
        ("routing.import.repeated_assist", "row 9", "assist_units"),
        ("routing.import.ambiguous_name", "row 10", "lead_unit"),
    ]
    assert result.problems[1].params == {"column": "category", "value": "9999"}
    assert result.problems[-1].params["codes"] == "twin-a, twin-b"


def test_good_rows_are_returned_next_to_the_problems_of_bad_ones() -> None:
    result = parse_duty_csv(HEADER + "0401,street,,street,dept-chengguan,,,\n01,street,,street,x,,,\n", KNOWN)
    assert [r.id for r in result.rules] == [2]
    assert problems(result) == [("routing.import.unknown_unit", "row 3", "lead_unit")]


def test_a_row_with_another_problem_is_still_reported_as_a_duplicate() -> None:
    result = parse_duty_csv(HEADER + "0401,street,,street,dept-chengguan,,,\n0401,street,,street,x,,,\n", KNOWN)
    assert problems(result) == [("routing.import.unknown_unit", "row 3", "lead_unit"),
                                ("routing.import.duplicate_rule", "row 3", None)]


def test_a_duplicate_rule_names_the_first_row_even_across_aliases_and_blank_lines() -> None:
    text = HEADER + ("0401,street,,street,dept-chengguan,,,\n\n"
                     "占道经营,街道,,街道,dept-police,,,\n"
                     "0401,street,,district,dept-police,,,\n"  # another handling level: not a duplicate
                     "0401,street,510113002000,street,dept-police,,,\n")  # a specific area: not a duplicate
    result = parse_duty_csv(text, KNOWN)
    assert problems(result) == [("routing.import.duplicate_rule", "row 4", None)]
    assert result.problems[0].params == {"first": 2}
    assert [r.id for r in result.rules] == [2, 5, 6]


@pytest.mark.parametrize(("text", "code", "where"), [
    ("", "routing.import.empty_file", "file"),
    ("\n , ,\n", "routing.import.empty_file", "file"),
    (HEADER, "routing.import.empty_file", "file"),
    ("category,area_level\n0401,street\n", "routing.import.missing_columns", "header"),
    ("category,分类,area_level,handling_level,lead_unit\n", "routing.import.duplicate_column", "header"),
])
def test_whole_file_problems(text: str, code: str, where: str) -> None:
    result = parse_duty_csv(text, KNOWN)
    assert result.rules == () and [(p.code, p.where) for p in result.problems] == [(code, where)]


def test_missing_columns_are_named() -> None:
    result = parse_duty_csv("category,area_level\n0401,street\n", KNOWN)
    assert result.problems[0].params["missing"] == "handling_level, lead_unit"


def test_bytes_that_are_not_utf8_are_one_problem() -> None:
    result = parse_duty_csv(HEADER.encode() + "占道经营".encode("gbk"), KNOWN)
    assert [p.code for p in result.problems] == ["routing.import.not_utf8"]


def test_a_quoted_field_across_lines_keeps_spreadsheet_row_numbers() -> None:
    text = HEADER + '0401,street,,street,dept-chengguan,"dept-police,\ndept-market",,\n1101,street,,street,bad,,,\n'
    result = parse_duty_csv(text, KNOWN)
    assert result.rules[0].assist_units == ("dept-police", "dept-market")
    assert problems(result) == [("routing.import.unknown_unit", "row 3", "lead_unit")]


def test_handling_levels_and_unit_lists() -> None:
    assert [parse_handling_level(t) for t in ("物业", "小区", "Community", "街道", "区", "市级")] == [
        H.PROPERTY, H.PROPERTY, H.COMMUNITY, H.STREET, H.DISTRICT, H.CITY]
    with pytest.raises(Invalid) as info:
        parse_handling_level("province")
    assert info.value.code == "routing.bad_handling_level"
    assert split_units(" a;b；c, d，e、f ;; ") == ["a", "b", "c", "d", "e", "f"]


# --- Excel ------------------------------------------------------------------------------------------------------


def test_xlsx_rows_are_parsed_with_spreadsheet_row_numbers() -> None:
    data = workbook_bytes([
        ["事件分类", "区划层级", "区划", "处置层级", "主办单位", "协办单位", "响应时限", "处置时限"],
        ["1101", "community", 510113002001, "社区", "cc-510113002001", None, None, "3wd"],  # area typed as a number
        [None] * 8,  # a blank row still counts
        ["0401", "street", None, "street", "dept-chengguan", "dept-police、dept-market", "1h", "oops"],
    ])
    result = parse_duty_xlsx(data, KNOWN)
    assert result.rules == (DutyRule(2, "1101", L.COMMUNITY, H.COMMUNITY, "cc-510113002001", (), "510113002001",
                                     None, TimeLimit(3, LimitUnit.WORKING_DAYS)),)
    assert problems(result) == [("routing.import.bad_limit", "row 4", "handling_limit")]


@pytest.mark.parametrize("data", [b"", b"not a zip", b"PK\x03\x04broken", workbook_bytes([])[:200]])
def test_a_damaged_workbook_is_one_problem(data: bytes) -> None:
    result = parse_duty_xlsx(data, KNOWN)
    assert result.rules == () and [p.code for p in result.problems] == ["routing.import.not_xlsx"]


def test_an_empty_workbook_is_an_empty_file() -> None:
    result = parse_duty_xlsx(workbook_bytes([]), KNOWN)
    assert [p.code for p in result.problems] == ["routing.import.empty_file"]


# --- properties -------------------------------------------------------------------------------------------------

_cells = st.sampled_from(["0401", "11", "street", "社区", "dept-police", "510113002001", "2h", "x", "", ",", '"',
                          "\n", "；", "category", "lead_unit", "handling_level", "area_level"])


@settings(max_examples=300, deadline=None)
@given(text=st.text() | st.lists(_cells, max_size=60).map("".join).map(lambda body: HEADER + body))
def test_the_csv_parser_never_raises_and_every_problem_is_translated(text: str) -> None:
    result = parse_duty_csv(text, KNOWN)
    assert isinstance(result, DutyListParse)
    assert all(isinstance(p, ImportProblem) and p.code in catalogue("en") for p in result.problems)
    assert all(translate(p.code, "zh-CN", where=p.where, **p.params) != p.code for p in result.problems)
    rows = [r.id for r in result.rules]
    assert rows == sorted(set(rows))


# --- the demo street's duty list --------------------------------------------------------------------------------


def _catalogue_rows() -> list[dict[str, str]]:
    path = Path(chengyun.__file__).parent / "categories" / "data" / "default_catalogue.csv"
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def _demo_known() -> KnownCodes:
    communities = load_communities()
    units = {OPS_CENTER: "", GRID_TEAM: ""} | dict(names.STREET_OFFICES) | dict(names.STREET_DEPARTMENTS)
    units |= dict(names.DISTRICT_DEPARTMENTS) | {f"cc-{code}": f"{name}居委会" for code, name in communities}
    areas = {STREET[0]: L.STREET, DISTRICT[0]: L.DISTRICT} | {code: L.COMMUNITY for code, _ in communities}
    return KnownCodes({row["code"]: row["name"] for row in _catalogue_rows()}, units, areas)


def _demo_rules() -> tuple[DutyRule, ...]:
    text = resources.files("chengyun.routing").joinpath("data/demo_duty_list.csv").read_text(encoding="utf-8")
    result = parse_duty_csv(text, _demo_known())
    assert result.problems == ()
    return result.rules


def test_the_demo_duty_list_is_clean_and_pushes_down_only_admitted_items() -> None:
    rules = _demo_rules()
    admitted = {row["code"] for row in _catalogue_rows() if row["admission"] == "true"}
    to_committees = [r for r in rules if r.lead_unit.startswith("cc-")]
    assert len(to_committees) == 4 * len(load_communities())
    for rule in to_committees:
        assert rule.category_code in admitted
        path = f"/510100000000/510113000000/510113002000/{rule.area_code}/"
        check_dispatch("/510100000000/510113000000/510113002000/", path, UnitKind.COMMUNITY_COMMITTEE, True)


def test_the_demo_duty_list_routes_and_escalates_a_neighbour_dispute() -> None:
    rules = _demo_rules()
    chain = (AreaRef("510100000000", "成都市", L.CITY), AreaRef(DISTRICT[0], DISTRICT[1], L.DISTRICT),
             AreaRef(STREET[0], STREET[1], L.STREET), AreaRef("510113002001", "怡湖社区", L.COMMUNITY),
             AreaRef("510113002001001", "怡湖社区第1网格", L.GRID))
    dispute = CaseFacts(("1101", "11"), chain)
    first = route(dispute, rules)
    assert isinstance(first, Routed) and first.assignment.lead == "cc-510113002001"
    up = escalation_target(dispute, rules, first.assignment.handling_level)
    assert isinstance(up, Routed) and up.assignment.lead == "office-governance"
    top = escalation_target(dispute, rules, up.assignment.handling_level)
    assert isinstance(top, Routed) and top.assignment.lead == "dept-qu-gongan"
    suspicious = route(CaseFacts(("1107", "11"), chain), rules)
    assert isinstance(suspicious, Routed) and suspicious.assignment.lead == "dept-police"
