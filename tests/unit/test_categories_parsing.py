"""Catalogue files: reading CSV and Excel, per-row validation, inheritance, and the pure catalogue lookups."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chengyun.categories.model import (
    Catalogue,
    CatalogueProblem,
    Category,
    CategoryKind,
    exceeds,
)
from chengyun.categories.parsing import (
    COLUMNS,
    category_row,
    fields_row,
    format_csv,
    format_for,
    parse_catalogue,
    validate_rows,
)
from chengyun.errors import Invalid, NotFound
from chengyun.i18n import catalogue as messages
from chengyun.i18n import translate
from chengyun.shared.handling import HandlingLevel, LimitUnit, TimeLimit, Urgency
from tests.helpers import workbook_bytes

HEADER = ",".join(COLUMNS)
PARSING_SOURCES = [Path(__file__).resolve().parents[2] / "chengyun/categories" / name
                   for name in ("parsing.py", "tabular.py", "model.py", "service.py", "cli.py")]


def csv_bytes(*lines: str, header: str = HEADER) -> bytes:
    return "\n".join((header, *lines)).encode()


def refused(data: bytes, known: dict[str, Category] | None = None, fmt: str = "csv") -> list[CatalogueProblem]:
    with pytest.raises(Invalid) as info:
        parse_catalogue(data, fmt, known or {})
    assert info.value.code == "categories.import_invalid"
    problems: list[CatalogueProblem] = info.value.params["problems"]
    assert info.value.params["count"] == len(problems)
    return problems


def codes(problems: list[CatalogueProblem]) -> list[str]:
    return [p.code for p in problems]


def limit(text: str) -> TimeLimit:
    return TimeLimit.parse(text)


# --- reading and inheritance ---------------------------------------------------------------------------


def test_items_inherit_blank_cells_from_their_class_and_classes_from_the_system_defaults() -> None:
    data = csv_bytes(
        "10,,class,安全隐患,Hazards,urgent,2h,24h,1h,8h,street,false,false,true",
        "1004,10,item,燃气泄漏隐患,Gas leak hazard,critical,1h,4h,,,district,,,",
        "1002,10,item,楼道杂物堆放,,normal,1wd,2wd,,,property,true,true,",
        "99,,,其他,,,,,,,,,,",
    )
    by_code = {c.code: c for c in parse_catalogue(data, "csv", {})}
    gas = by_code["1004"]
    assert (gas.kind, gas.parent_code, gas.urgency, gas.handling_level) == (
        CategoryKind.ITEM, "10", Urgency.CRITICAL, HandlingLevel.DISTRICT)
    assert (gas.response_limit, gas.handling_limit) == (limit("1h"), limit("4h"))
    assert (gas.urgent_response_limit, gas.urgent_handling_limit) == (limit("1h"), limit("8h"))  # from 10
    assert (gas.admission, gas.self_handle, gas.active) == (False, False, True)
    clutter = by_code["1002"]
    assert (clutter.admission, clutter.self_handle, clutter.name_en) == (True, True, "")
    other = by_code["99"]  # no kind and no parent: a class with the system defaults (DESIGN.md §4)
    assert other.kind is CategoryKind.CLASS
    assert other.limits(Urgency.NORMAL) == (TimeLimit(1, LimitUnit.WORKING_DAYS), TimeLimit(5, LimitUnit.WORKING_DAYS))
    assert other.limits(Urgency.CRITICAL) == (limit("2h"), limit("24h"))


def test_chinese_headers_labels_and_a_bom_are_accepted() -> None:
    header = "编码,上级,类型,名称,紧急程度,响应时限,处置时限,处置层级,准入,自办自结,启用,备注"
    data = "\ufeff" + "\n".join((header, "11,,大类,矛盾纠纷,一般,1wd,5wd,社区,否,否,是,",
                                  "1101,11,小类,邻里纠纷,紧急,2h,24h,小区,是,是,是,网格员可先行调解"))
    items = [c for c in parse_catalogue(data.encode(), "csv", {}) if c.is_item]
    assert [(c.code, c.urgency, c.handling_level, c.admission, c.self_handle) for c in items] == [
        ("1101", Urgency.URGENT, HandlingLevel.PROPERTY, True, True)]


def test_parents_come_first_whatever_the_file_order() -> None:
    data = csv_bytes("0101,01,item,暴露垃圾,,,,,,,,,,", "01,,class,市容环境,,,,,,,,,,")
    assert [c.code for c in parse_catalogue(data, "csv", {})] == ["01", "0101"]


def test_an_item_may_hang_under_a_stored_class_and_inherit_from_it() -> None:
    stored = Category("05", "突发事件", CategoryKind.CLASS, urgency=Urgency.URGENT,
                      handling_level=HandlingLevel.DISTRICT)
    [item] = parse_catalogue(csv_bytes("0504,05,item,燃气泄漏,,,,,,,,,,"), "csv", {"05": stored})
    assert (item.urgency, item.handling_level, item.parent_code) == (Urgency.URGENT, HandlingLevel.DISTRICT, "05")


# --- precise per-row refusals -----------------------------------------------------------------------------


def test_every_bad_cell_is_reported_with_its_row_column_and_value() -> None:
    data = csv_bytes(
        "01,,class,市容环境,,,,,,,,,,",
        "0101,01,item,暴露垃圾,,soon,2 hours,1wd,,,county,maybe,,",
        ",01,item,无编码,,,,,,,,,,",
        "0102,01,thing,,,,,,,,,,,",
        "0103,01,item,道路不洁,,,0h,1wd,,,,,,",
    )
    found = {(p.code, p.params.get("row"), p.params.get("column"), p.params.get("value")) for p in refused(data)}
    assert found == {
        ("categories.import.bad_urgency", 3, "urgency", "soon"),
        ("categories.import.bad_limit", 3, "response_limit", "2 hours"),
        ("categories.import.bad_level", 3, "handling_level", "county"),
        ("categories.import.bad_flag", 3, "admission", "maybe"),
        ("categories.import.missing_value", 4, "code", ""),
        ("categories.import.bad_kind", 5, "kind", "thing"),
        ("categories.import.missing_value", 5, "name", ""),
        ("categories.import.bad_limit", 6, "response_limit", "0h"),
    }


def test_cells_beyond_the_header_are_refused_because_they_mean_shifted_columns() -> None:
    [problem] = refused(csv_bytes(",".join(["01", "", "class", "市容环境", *[""] * 10, "", "多余"])))
    assert (problem.code, problem.params["count"], problem.params["value"]) == ("categories.import.extra_cells", 1,
                                                                                "多余")
    shifted = refused(csv_bytes("10,,class,安全隐患,Fire, gas and electrical hazards,urgent,2h,24h,1h,8h,street,"
                                "false,false,true"))
    assert {"categories.import.extra_cells", "categories.import.bad_urgency"} <= set(codes(shifted))


def test_a_bad_limit_carries_the_time_limit_parsers_own_error() -> None:
    [problem] = refused(csv_bytes("01,,class,市容环境,,,5x,,,,,,,"))
    assert problem.code == "categories.import.bad_limit"
    assert problem.params["reason"] == "limit.bad_format"
    assert problem.where == "row 2 (01)"


def test_duplicate_codes_name_the_first_occurrence() -> None:
    [problem] = refused(csv_bytes("01,,class,市容环境,,,,,,,,,,", "01,,class,又一个,,,,,,,,,,"))
    assert problem.code == "categories.import.duplicate_code"
    assert problem.params["first"] == "row 2 (01)" and problem.where == "row 3 (01)"


def test_items_need_an_existing_class_as_parent() -> None:
    data = csv_bytes(
        "01,,class,市容环境,,,,,,,,,,",
        "0101,01,item,暴露垃圾,,,,,,,,,,",
        "0102,,item,无大类,,,,,,,,,,",
        "0103,77,item,上级不存在,,,,,,,,,,",
        "0104,0101,item,挂在小类下,,,,,,,,,,",
    )
    assert [(p.code, p.params["code"]) for p in refused(data)] == [
        ("categories.import.item_has_children", "0101"),
        ("categories.import.item_without_class", "0102"),
        ("categories.import.unknown_parent", "0103"),
        ("categories.import.parent_not_class", "0104"),
    ]


def test_cycles_are_refused_inside_the_file_and_through_stored_classes() -> None:
    problems = refused(csv_bytes("A,B,class,甲,,,,,,,,,,", "B,A,class,乙,,,,,,,,,,", "C,C,class,丙,,,,,,,,,,"))
    assert [(p.code, p.params["path"]) for p in problems] == [
        ("categories.import.cycle", "A → B → A"), ("categories.import.cycle", "B → A → B"),
        ("categories.import.cycle", "C → C")]
    stored = {"X": Category("X", "甲", CategoryKind.CLASS), "Y": Category("Y", "乙", CategoryKind.CLASS, "X")}
    [problem] = refused(csv_bytes("X,Y,class,甲,,,,,,,,,,"), stored)
    assert problem.code == "categories.import.cycle" and problem.params["path"] == "X → Y → X"


def test_a_class_with_stored_items_cannot_become_an_item() -> None:
    stored = {"01": Category("01", "市容环境", CategoryKind.CLASS),
              "0101": Category("0101", "暴露垃圾", CategoryKind.ITEM, "01")}
    stored["02"] = Category("02", "宣传广告", CategoryKind.CLASS)
    [problem] = refused(csv_bytes("01,02,item,市容环境,,,,,,,,,,"), stored)
    assert problem.code == "categories.import.item_has_children" and problem.params["children"] == "0101"


def test_a_response_limit_longer_than_the_handling_limit_is_refused() -> None:
    [problem] = refused(csv_bytes("01,,class,市容环境,,,,,25h,1d,,,,"))
    assert problem.code == "categories.import.limits_order"
    assert (problem.params["response"], problem.params["handling"]) == ("25h", "1d")
    assert exceeds(limit("25h"), limit("1d")) and not exceeds(limit("24h"), limit("1d"))
    assert not exceeds(limit("9wh"), limit("1wd"))  # a working day's length is the calendar's business


@pytest.mark.parametrize(("data", "code"), [
    (b"", "categories.import.empty_file"),
    (HEADER.encode(), "categories.import.empty_file"),
    (b"\xff\xfe\x00bad", "categories.import.not_utf8"),
    (b"name,parent\n\xe5\xb8\x82,", "categories.import.missing_columns"),
    (b"code,name,urgncy\n01,x,normal", "categories.import.unknown_columns"),
    (b"code,name,name\n01,x,y", "categories.import.duplicate_columns"),
])
def test_unreadable_files_are_refused_as_a_whole(data: bytes, code: str) -> None:
    assert codes(refused(data)) == [code]


def test_a_csv_module_error_is_a_precise_refusal_not_a_crash() -> None:
    previous = csv.field_size_limit(1000)  # process-wide; another parser may have raised it
    try:
        [problem] = refused(b"code,name\n01,x\n02,\"" + b"x" * 2000 + b"\"")
    finally:
        csv.field_size_limit(previous)
    assert problem.code == "categories.import.unreadable" and problem.params["line"] == 3


def test_a_file_that_is_not_a_workbook_is_refused_precisely() -> None:
    assert codes(refused(b"PK\x03\x04 not really a zip", fmt="xlsx")) == ["categories.import.not_xlsx"]
    assert codes(refused(csv_bytes("01,,class,x,,,,,,,,,,"), fmt="xlsx")) == ["categories.import.not_xlsx"]


def test_the_format_comes_from_the_option_or_the_extension() -> None:
    assert format_for("目录.XLSX") == "xlsx" and format_for("upload", "csv") == "csv"
    with pytest.raises(Invalid) as info:
        format_for("catalogue.xls")
    assert info.value.code == "categories.import.unknown_format" and info.value.params["format"] == "xls"


def test_an_edit_is_validated_like_a_row_but_refused_with_its_own_code() -> None:
    stored = {"01": Category("01", "市容环境", CategoryKind.CLASS)}
    row = fields_row({"code": "0101", "parent_code": "01", "name": "暴露垃圾", "urgency": "hurry", "admission": True})
    with pytest.raises(Invalid) as info:
        validate_rows([row], stored, error="categories.invalid")
    assert info.value.code == "categories.invalid"
    [problem] = info.value.params["problems"]
    assert (problem.code, problem.where, problem.params["row"]) == ("categories.import.bad_urgency", "request (0101)",
                                                                     None)


# --- Excel and round trips ------------------------------------------------------------------------------


def test_excel_reads_like_csv_including_typed_cells() -> None:
    item: list[object] = ["0101", "01", "item", "暴露垃圾", "Exposed rubbish", "normal", "2wh", "1wd", None, None,
                          "street", True, 1.0, None]
    rows: list[list[object]] = [list(COLUMNS), ["01", None, "class", "市容环境"], item, [], [None, None]]
    from_xlsx = parse_catalogue(workbook_bytes(rows), "xlsx", {})
    from_csv = parse_catalogue(csv_bytes("01,,class,市容环境,,,,,,,,,,",
                                         "0101,01,item,暴露垃圾,Exposed rubbish,normal,2wh,1wd,,,street,true,1,"),
                               "csv", {})
    assert from_xlsx == from_csv
    assert from_xlsx[1].admission and from_xlsx[1].self_handle


def test_excel_rows_are_numbered_as_the_admin_sees_them() -> None:
    rows: list[list[object]] = [list(COLUMNS), [], ["01", None, "class", "市容环境", None, "soon"]]
    [problem] = refused(workbook_bytes(rows), fmt="xlsx")
    assert (problem.code, problem.params["row"]) == ("categories.import.bad_urgency", 3)


def test_a_written_catalogue_reads_back_unchanged() -> None:
    original = parse_catalogue(csv_bytes(
        "10,,class,\"Hazards, fire\",\"Fire, gas\",urgent,2h,24h,1h,8h,street,false,false,true",
        "1004,10,item,燃气泄漏隐患,,critical,1h,4h,1h,4h,district,false,false,false"), "csv", {})
    again = parse_catalogue(format_csv(original).encode(), "csv", {})
    assert again == original
    assert category_row(original[1])["active"] == "false"


# --- the pure catalogue -------------------------------------------------------------------------------------


def small_catalogue() -> Catalogue:
    return Catalogue([
        Category("0504", "燃气泄漏", CategoryKind.ITEM, "05", urgency=Urgency.CRITICAL, response_limit=limit("1h"),
                 handling_limit=limit("4h"), urgent_response_limit=limit("1h"), urgent_handling_limit=limit("2h")),
        Category("05", "突发事件", CategoryKind.CLASS, "E"),
        Category("E", "事件", CategoryKind.CLASS),
        Category("0599", "旧分类", CategoryKind.ITEM, "05", active=False),
    ])


def test_limits_depend_on_urgency_and_ancestors_go_nearest_first() -> None:
    catalogue = small_catalogue()
    assert catalogue.limits_for("0504", Urgency.NORMAL) == (limit("1h"), limit("4h"))
    assert catalogue.limits_for("0504", Urgency.URGENT) == catalogue.limits_for("0504", Urgency.CRITICAL) == (
        limit("1h"), limit("2h"))
    assert [c.code for c in catalogue.ancestors("0504")] == ["05", "E"]
    assert catalogue.ancestors("E") == ()
    with pytest.raises(NotFound) as info:
        catalogue.limits_for("9999", Urgency.NORMAL)
    assert info.value.code == "categories.not_found"


def test_only_active_items_take_new_cases() -> None:
    catalogue = small_catalogue()
    assert catalogue.item("0504").name == "燃气泄漏"
    for code, error in (("05", "categories.not_an_item"), ("0599", "categories.retired")):
        with pytest.raises(Invalid) as info:
            catalogue.item(code)
        assert info.value.code == error


def test_the_tree_orders_by_code_and_can_hide_retired_categories() -> None:
    [root] = small_catalogue().tree()
    assert root.category.code == "E"
    assert [child.category.code for child in root.children[0].children] == ["0504", "0599"]
    [root] = small_catalogue().tree(active_only=True)
    assert [child.category.code for child in root.children[0].children] == ["0504"]


# --- translations and robustness -------------------------------------------------------------------------


def test_every_catalogue_error_code_has_both_translations_with_filled_placeholders() -> None:
    source = "\n".join(path.read_text(encoding="utf-8") for path in PARSING_SOURCES)
    used = set(re.findall(r'(?<!action=)"(categories\.[a-z_.]+[a-z_])"', source)) | {"cli.categories_imported"}
    assert len(used) > 25, "the scan found too few codes: the pattern is broken"
    for locale in ("zh-CN", "en"):
        assert not sorted(used - set(messages(locale))), locale
    bad = csv_bytes("01,,class,,,soon,5x,1wd,,,county,maybe,,", "01,,class,x,,,,,,,,,,", "0101,,item,y,,,,,,,,,,")
    for problem in refused(bad):
        for locale in ("zh-CN", "en"):
            text = translate(problem.code, locale, where=problem.where, **problem.params)
            assert "{" not in text and problem.where in text, text


ATTRIBUTES = {
    "name": ["市容环境", "暴露垃圾"], "name_en": ["", "Exposed rubbish", "a, b"],
    "urgency": ["", "normal", "紧急", "critical"], "handling_level": ["", "street", "区"],
    **{column: ["", "", "1h", "2h", "24h", "1d", "2wh", "1wd", "5wd"] for column in COLUMNS
       if column.endswith("_limit")},
    **{column: ["", "true", "否", "1"] for column in ("admission", "self_handle", "active")},
}
BAD = ["", "x" * 30, "0 1", "C9", "I0", "x", "soon", "0h", "25h", "county", "maybe"]


@st.composite
def catalogue_rows(draw: st.DrawFn) -> list[list[str]]:
    """A shuffled, mostly valid catalogue: nested classes (acyclic) and items under them."""
    classes = [f"C{i}" for i in range(draw(st.integers(1, 3)))]
    rows = []
    for index, code in enumerate(classes):
        rows.append({"code": code, "parent": draw(st.sampled_from(["", *classes[:index]])), "kind": "class"})
    for index in range(draw(st.integers(0, 5))):
        rows.append({"code": f"I{index}", "parent": draw(st.sampled_from(classes)),
                     "kind": draw(st.sampled_from(["", "item", "小类"]))})
    for row in rows:
        row.update({column: draw(st.sampled_from(values)) for column, values in ATTRIBUTES.items()})
    return [[row[column] for column in COLUMNS] for row in draw(st.permutations(rows))]


DAMAGE = st.lists(st.tuples(st.integers(0, 7), st.integers(0, len(COLUMNS) - 1), st.sampled_from(BAD)), max_size=2)


@settings(max_examples=400, deadline=None)
@given(catalogue_rows(), DAMAGE)
def test_tabular_files_either_parse_into_a_valid_tree_or_are_refused_with_invalid(
    cells: list[list[str]], damage: list[tuple[int, int, str]],
) -> None:
    for row, column, value in damage:
        if row < len(cells):
            cells[row][column] = value
    data = format_csv([]).encode() + "".join(
        ",".join(f'"{cell}"' if "," in cell else cell for cell in row) + "\n" for row in cells).encode()
    try:
        parsed = parse_catalogue(data, "csv", {})
    except Invalid as exc:
        assert exc.code == "categories.import_invalid" and exc.params["problems"]
        return
    by_code = {c.code: c for c in parsed}
    assert len(by_code) == len(parsed) == len(cells)
    assert parse_catalogue(format_csv(parsed).encode(), "csv", {}) == parsed  # what is written reads back
    for index, category in enumerate(parsed):
        parent = category.parent_code
        assert parent is None or (by_code[parent].kind is CategoryKind.CLASS
                                  and [c.code for c in parsed].index(parent) < index)
        assert category.kind is CategoryKind.CLASS or parent is not None
        assert not exceeds(category.response_limit, category.handling_limit)
        assert not exceeds(category.urgent_response_limit, category.urgent_handling_limit)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_the_csv_parser_raises_nothing_but_invalid_on_arbitrary_text(text: str) -> None:
    try:
        parse_catalogue(text.encode("utf-8", "surrogatepass"), "csv", {})
    except Invalid as exc:
        assert exc.code.startswith("categories.")


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_the_excel_reader_raises_nothing_but_invalid_on_arbitrary_bytes(data: bytes) -> None:
    with pytest.raises(Invalid) as info:
        parse_catalogue(b"PK\x03\x04" + data, "xlsx", {})
    assert info.value.code == "categories.import_invalid"
