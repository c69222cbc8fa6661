"""Chinese address parsing: real-world forms, Chinese numerals, full-width text, and properties over random input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chengyun.places.parsing import KnownNames, ParsedAddress, chinese_number, normalise, parse_address

KNOWN = KnownNames.of([("city", "成都市"), ("district", "青白江区"), ("street", "大弯街道"),
                       ("community", "怡湖社区"), ("community", "化工路社区")])


def parts(parsed: ParsedAddress) -> dict[str, object]:
    """The fields that were found (not None, not empty)."""
    names = ("province", "city", "district", "street", "community", "road", "number", "compound", "building",
             "unit", "room", "remainder")
    found: dict[str, object] = {n: getattr(parsed, n) for n in names if getattr(parsed, n)}
    if parsed.near:
        found["near"] = True
    return found


@pytest.mark.parametrize(("text", "expected"), [
    ("四川省成都市青白江区大弯街道青江路123号怡湖苑3栋2单元501",
     {"province": "四川省", "city": "成都市", "district": "青白江区", "street": "大弯街道", "road": "青江路",
      "number": "123号", "compound": "怡湖苑", "building": "3栋", "unit": "2单元", "room": "501"}),
    ("青白江区大弯街道怡湖社区", {"district": "青白江区", "street": "大弯街道", "community": "怡湖社区"}),
    ("大弯南路88号附近", {"road": "大弯南路", "number": "88号", "near": True}),
    ("红阳小区5幢1单元302室", {"compound": "红阳小区", "building": "5栋", "unit": "1单元", "room": "302"}),
    ("红阳小区 ５幢 １单元 ３０２室", {"compound": "红阳小区", "building": "5栋", "unit": "1单元", "room": "302"}),
    ("怡湖苑三栋二单元五零一", {"compound": "怡湖苑", "building": "3栋", "unit": "2单元", "room": "501"}),
    ("怡湖苑第十二幢", {"compound": "怡湖苑", "building": "12栋"}),
    ("怡湖苑3-2-501", {"compound": "怡湖苑", "building": "3栋", "unit": "2单元", "room": "501"}),
    ("怡湖苑8#楼", {"compound": "怡湖苑", "building": "8栋"}),
    ("锦绣苑A座1单元", {"compound": "锦绣苑", "building": "A栋", "unit": "1单元"}),
    ("青江中路12号院", {"road": "青江中路", "number": "12号", "compound": "青江中路12号院"}),
    ("成都青白江大弯街道化工路社区",
     {"city": "成都市", "district": "青白江区", "street": "大弯街道", "community": "化工路社区"}),
    ("武侯区人民南路四段1号", {"district": "武侯区", "road": "人民南路4段", "number": "1号"}),
    ("大弯中学门口", {"remainder": "大弯中学", "near": True}),
    ("（怡湖苑）、3栋，2单元！", {"compound": "怡湖苑", "building": "3栋", "unit": "2单元"}),
    ("水乡花园3栋", {"compound": "水乡花园", "building": "3栋"}),
    ("金堂县赵镇十里村", {"district": "金堂县", "street": "赵镇", "community": "十里村"}),
    ("江西路12号", {"road": "江西路", "number": "12号"}),
    ("四川成都市", {"province": "四川省", "city": "成都市"}),
    ("", {}),
    ("！？。", {}),
])
def test_real_world_forms(text: str, expected: dict[str, object]) -> None:
    assert parts(parse_address(text, KNOWN)) == expected


def test_without_known_names_the_suffix_grammar_still_reads_a_full_address() -> None:
    parsed = parse_address("四川省成都市青白江区大弯街道怡湖社区怡湖苑3栋")
    assert (parsed.province, parsed.city, parsed.district, parsed.street, parsed.community, parsed.compound,
            parsed.building) == ("四川省", "成都市", "青白江区", "大弯街道", "怡湖社区", "怡湖苑", "3栋")


def test_municipalities_are_province_and_city() -> None:
    parsed = parse_address("北京市东城区景山街道")
    assert (parsed.province, parsed.city, parsed.district, parsed.street) == ("北京市", "北京市", "东城区", "景山街道")


@pytest.mark.parametrize(("text", "value"), [("三", 3), ("十", 10), ("十二", 12), ("二十", 20), ("二十三", 23),
                                             ("一百零五", 105), ("五零一", 501), ("两", 2), ("〇", 0)])
def test_chinese_numbers(text: str, value: int) -> None:
    assert chinese_number(text) == value


def test_normalise_is_idempotent_on_examples() -> None:
    for text in ("怡湖苑 三栋 ２单元", "3#楼", "第二单元五零一", "Ａ座"):
        assert normalise(normalise(text)) == normalise(text)


# --- properties ---------------------------------------------------------------------------------------------------

STEM_CHARS = "青白江弯怡湖石家碾红阳凤凰华严锦绣金色翠屏天府祥和嘉禾兴同心幸福和美康东方滨河碧水紫荆桂春晓丽"
stems = st.text(alphabet=STEM_CHARS, min_size=2, max_size=4)
small = st.integers(min_value=1, max_value=99)


@st.composite
def addresses(draw: st.DrawFn) -> tuple[str, dict[str, object]]:
    """A composed address and the parts it was made of."""
    expected: dict[str, object] = {}
    text = ""
    for field, suffix in (("city", "市"), ("district", "区"), ("street", "街道"), ("community", "社区"),
                          ("road", "路")):
        if draw(st.booleans()):
            value = draw(stems) + suffix
            expected[field] = value
            text += value
    if "road" in expected and draw(st.booleans()):
        number = f"{draw(st.integers(1, 999))}号"
        expected["number"] = number
        text += number
    if draw(st.booleans()):
        compound = draw(stems) + draw(st.sampled_from(("小区", "苑", "花园", "家园")))
        expected["compound"] = compound
        text += compound
    if "compound" in expected and draw(st.booleans()):
        building, unit, room = draw(small), draw(small), draw(st.integers(101, 3399))
        expected |= {"building": f"{building}栋", "unit": f"{unit}单元", "room": str(room)}
        text += draw(st.sampled_from((f"{building}栋{unit}单元{room}室", f"{building}幢{unit}单元{room}",
                                      f"{building}-{unit}-{room}", f"{building}号楼{unit}单元{room}号")))
    return text, expected


@settings(max_examples=400, deadline=None)
@given(addresses())
def test_composed_addresses_parse_back_into_their_parts(case: tuple[str, dict[str, object]]) -> None:
    text, expected = case
    assert parts(parse_address(text)) == expected


@settings(max_examples=300, deadline=None)
@given(addresses(), st.sampled_from((" ", "，", "、", "（", "）", "  ")))
def test_spaces_and_punctuation_change_nothing(case: tuple[str, dict[str, object]], noise: str) -> None:
    text, expected = case
    spaced = noise.join(text)
    assert parts(parse_address(spaced)) == expected


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=60))
def test_any_text_parses_without_raising(text: str) -> None:
    parsed = parse_address(text, KNOWN)
    assert parsed.text == normalise(text)
    found = [v for v in (parsed.province, parsed.city, parsed.district, parsed.street, parsed.community,
                         parsed.road, parsed.number, parsed.compound) if v]
    assert all(isinstance(v, str) and v for v in found)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=STEM_CHARS + "0123456789一二三栋幢单元室号路街区市社小苑附近#-", max_size=30))
def test_address_like_text_parses_without_raising(text: str) -> None:
    parse_address(text, KNOWN)
