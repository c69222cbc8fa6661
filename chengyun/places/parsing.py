"""Chinese address parsing: free text → province/city/district/street/community/road/number/compound/building/
unit/room, by a small table-driven matcher. Pure: no I/O, never raises on any text.

The administrative part is read by suffix grammar (省/市/区/县/街道/镇/社区 …) over a table of the 34
provincial-level names, helped by the names the caller knows (its own area tree), which also lets a short
form such as 成都青白江 be read as 成都市青白江区. The place part is read road + 门牌号 from the front and
栋/单元/室 from the back; what lies between is the compound (小区/院) or, when it does not look like one,
the remainder (a point of interest, a landmark). Why no library: see docs/ARCHITECTURE.md ("Places").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

PROVINCES = (
    "北京市", "天津市", "上海市", "重庆市", "河北省", "山西省", "辽宁省", "吉林省", "黑龙江省", "江苏省", "浙江省",
    "安徽省", "福建省", "江西省", "山东省", "河南省", "湖北省", "湖南省", "广东省", "海南省", "四川省", "贵州省",
    "云南省", "陕西省", "甘肃省", "青海省", "台湾省", "内蒙古自治区", "广西壮族自治区", "西藏自治区",
    "宁夏回族自治区", "新疆维吾尔自治区", "香港特别行政区", "澳门特别行政区",
)
MUNICIPALITIES = ("北京市", "天津市", "上海市", "重庆市")
NEAR_WORDS = ("附近", "旁边", "对面", "门口", "周边", "一带", "路口", "交叉口", "边上", "旁")
_NUMERALS = "零〇一二两三四五六七八九十百"
_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
           "九": 9}
_PUNCT = re.compile(r"[\s,，。.;；:：、()（）\[\]【】<>《》\"'“”‘’!！?？/\\|~～·*]+")
_DASHES = re.compile(r"[—–－_]+")
_CN_COUNT = re.compile(rf"第?([{_NUMERALS}]+)(?=栋|幢|号楼|座|单元|楼|层|室|号|段)")
_ARABIC_ORDINAL = re.compile(r"第(?=\d+(?:栋|幢|号楼|座|单元|楼|层|室|号|段))")
_CN_ROOM = re.compile(rf"(?:(?<=单元)|(?<=[栋幢座]))([{_NUMERALS}]+)$")
_HASH_BUILDING = re.compile(r"(\d+)#(?:楼)?")
_STEM = r"[^省市区县旗路街道巷镇乡村社号栋幢单室楼\d\-]"
_ROAD_WORDS = ("路", "街", "巷", "大道", "道")
_STEM_COMMUNITY = r"[^省县镇乡社号栋幢单室\d\-]"  # 化工路社区, 工人村社区, 光荣小区社区
_PROVINCE_SHORT = re.compile(r"([省市]|特别行政区|壮族自治区|回族自治区|维吾尔自治区|自治区)$")
_STEM_STREET = r"[^省区县旗乡村社号栋幢单室\d\-]"  # 锦华路街道, 浆洗街街道, 牛市口街道, 道明镇
_GENERIC = {
    "city": re.compile(rf"{_STEM}{{1,7}}?(?:自治州|市|州|地区|盟)"),
    "district": re.compile(rf"{_STEM}{{1,8}}?(?:区|县|旗)"),
    "county_city": re.compile(rf"{_STEM}{{1,7}}?市"),
    "street": re.compile(rf"{_STEM_STREET}{{1,8}}?(?:镇街道|街道办事处|街道办|街道|镇|乡)"),
    "community": re.compile(rf"{_STEM_COMMUNITY}{{1,8}}?(?:社区居民委员会|社区村民委员会|社区居委会|社区|居民委员会|"
                            r"居委会|村村民委员会|村民委员会|村村委会|村委会)"),
    "village": re.compile(rf"{_STEM}{{1,8}}?村(?:委会)?"),
}
_NOT_DISTRICT = ("小区", "园区", "景区", "校区", "片区", "厂区", "营区", "社区")
_ROAD = re.compile(rf"{_STEM}{{1,10}}?(?:大道|路|街|巷|胡同|道)(?:[东西南北中]?\d+段|[东西南北]段)?")
_NUMBER = re.compile(r"(?:附)?\d+(?:-\d+)?号(?!楼)")
_DASH_TRIPLE = re.compile(r"(\d+|[A-Z])-(\d+)-(\d+)$")
_TAIL = re.compile(
    r"(?:(?P<building>\d+|[A-Z])(?:栋|幢|号楼|座))?"
    r"(?:(?P<unit>\d+)单元)?"
    r"(?:(?P<floor>\d+)(?:楼|层))?"
    r"(?:(?P<room>\d+)(?P<room_mark>室|号房|房|号)?)?$"
)
_COMPOUND_START = re.compile(r"花园|小区|苑|家园|公寓|大厦|新村|园|城|府")
_COMPOUND_SUFFIX = re.compile(
    r"(?:小区|花园|苑|家园|院|院落|公寓|大厦|名城|华庭|雅居|新居|丽都|府|公馆|新村|园|城|庭|居|里|期|宿舍|广场)$"
)


@dataclass(frozen=True, slots=True)
class ParsedAddress:
    """The parts found in an address; `None` where absent. `text` is the normalised input, `near` is 附近."""

    text: str
    province: str | None = None
    city: str | None = None
    district: str | None = None
    street: str | None = None
    community: str | None = None
    road: str | None = None
    number: str | None = None
    compound: str | None = None
    building: str | None = None
    unit: str | None = None
    room: str | None = None
    near: bool = False
    remainder: str = ""

    @property
    def place_name(self) -> str:
        """The name to look up among compounds and points of interest: the compound, else the remainder."""
        return self.compound or self.remainder


@dataclass(frozen=True, slots=True)
class KnownNames:
    """Area names the caller knows, by level (city, district, street, community); full names only."""

    by_level: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str]]) -> KnownNames:
        """From (level, name) pairs, e.g. the area tree's names."""
        found: dict[str, set[str]] = {}
        for level, name in pairs:
            found.setdefault(level, set()).add(normalise(name))
        return cls({level: frozenset(names) for level, names in found.items()})

    def forms(self, level: str) -> list[tuple[str, str]]:
        """(written form, full name) for a level, longest form first; cities and districts also without 市/区/县."""
        pairs = [(name, name) for name in self.by_level.get(level, ())]
        if level in ("city", "district"):
            pairs += [(name[:-1], name) for name in self.by_level.get(level, ())
                      if len(name) >= 3 and name[-1] in "市区县"]
        return sorted(pairs, key=lambda p: (-len(p[0]), p[0]))


NO_NAMES = KnownNames()


def normalise(text: str) -> str:
    """NFKC (full-width digits and letters to ASCII), no spaces or punctuation, counts in Chinese numerals as
    digits before 栋/单元/楼/室/号/段 (三栋 → 3栋, 第二单元 → 2单元), `3#楼` → 3栋, upper-case letters."""
    text = unicodedata.normalize("NFKC", text or "")
    text = _DASHES.sub("-", _PUNCT.sub("", text)).strip("-").upper()
    text = _CN_COUNT.sub(lambda m: str(chinese_number(m.group(1))), text)
    text = _CN_ROOM.sub(lambda m: str(chinese_number(m.group(1))), text)
    return _HASH_BUILDING.sub(r"\1栋", _ARABIC_ORDINAL.sub("", text))


def chinese_number(text: str) -> int:
    """Value of a small Chinese numeral: 三 → 3, 十二 → 12, 二十 → 20, 一百零五 → 105, 五零一 → 501."""
    if "十" not in text and "百" not in text:
        return int("".join(str(_DIGITS[ch]) for ch in text))
    total, current = 0, 0
    for ch in text:
        if ch == "百":
            total += (current or 1) * 100
            current = 0
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = _DIGITS[ch]
    return total + current


def parse_address(text: str, known: KnownNames = NO_NAMES) -> ParsedAddress:
    """Split an address into its parts; unknown or missing parts stay None, and nothing ever raises."""
    clean = normalise(text)
    parsed, rest = _administrative(ParsedAddress(clean), clean, known)
    parsed, rest = _road_and_number(parsed, rest)
    rest, near = _strip_near(rest)
    parsed, rest = _tail(parsed, rest)
    rest, near_inside = _strip_near(rest)
    return _middle(replace(parsed, near=near or near_inside), rest)


# --- the administrative part, front to back ----------------------------------------------------------------------


def _administrative(parsed: ParsedAddress, rest: str, known: KnownNames) -> tuple[ParsedAddress, str]:
    province = _province(rest)
    if province:
        parsed, rest = replace(parsed, province=province[1]), rest[len(province[0]):]
    if parsed.province in MUNICIPALITIES:
        parsed = replace(parsed, city=parsed.province)
    for level in ("city", "district", "street", "community"):
        if getattr(parsed, level) is not None:
            continue
        found = _known(rest, known, level) or _generic(rest, level, parsed)
        if found:
            changes: dict[str, str] = {level: found[1]}
            parsed, rest = replace(parsed, **changes), rest[len(found[0]):]  # type: ignore[arg-type]
    return parsed, rest


def _province(rest: str) -> tuple[str, str] | None:
    for name in PROVINCES:
        if rest.startswith(name):
            return name, name
    for name in PROVINCES:
        short = _PROVINCE_SHORT.sub("", name)
        if name not in MUNICIPALITIES and rest.startswith(short) and len(rest) > len(short) and not rest.startswith(
                _ROAD_WORDS, len(short)):
            return short, name
    return None


def _known(rest: str, known: KnownNames, level: str) -> tuple[str, str] | None:
    for form, name in known.forms(level):
        if rest.startswith(form) and (form == name or not rest.startswith(_ROAD_WORDS, len(form))):
            office = next((w for w in ("办事处", "办") if level == "street" and rest.startswith(w, len(form))), "")
            return form + office, name
    return None


def _generic(rest: str, level: str, parsed: ParsedAddress) -> tuple[str, str] | None:
    match = _GENERIC[level].match(rest)
    if level == "district" and match is None and parsed.city:  # 成都市简阳市: a county-level city
        match = _GENERIC["county_city"].match(rest)
    if level == "community" and match is None and (parsed.street or "").endswith(("镇", "乡")):
        match = _GENERIC["village"].match(rest)
    if match is None or len(match.group()) < 2:
        return None
    written = match.group()
    if level == "district" and written.endswith(_NOT_DISTRICT):
        return None
    if level == "street" and written.endswith(("镇", "乡")) and _COMPOUND_START.match(rest, len(written)):
        return None  # 水乡花园, 古镇小区: a compound's name, not a town
    return written, written


# --- road and 门牌号 ----------------------------------------------------------------------------------------------


def _road_and_number(parsed: ParsedAddress, rest: str) -> tuple[ParsedAddress, str]:
    road = _ROAD.match(rest)
    if road is None or (road.group().endswith(("街道", "道")) and rest[road.end():road.end() + 1] == "办"):
        return parsed, rest
    parsed, rest = replace(parsed, road=road.group()), rest[road.end():]
    number = _NUMBER.match(rest)
    if number is None:
        return parsed, rest
    parsed, rest = replace(parsed, number=number.group()), rest[number.end():]
    if rest.startswith("院") and not rest.startswith("院内"):
        parsed, rest = replace(parsed, compound=f"{parsed.road}{parsed.number}院"), rest[1:]
    return parsed, rest


# --- building, unit, room, back to front -------------------------------------------------------------------------


def _strip_near(rest: str) -> tuple[str, bool]:
    near = False
    changed = True
    while changed and rest:
        changed = False
        for word in NEAR_WORDS:
            if (rest.endswith(word) and len(rest) > len(word)) or rest == word:
                rest, near, changed = rest[: -len(word)], True, True
                break
    return rest, near


def _tail(parsed: ParsedAddress, rest: str) -> tuple[ParsedAddress, str]:
    triple = _DASH_TRIPLE.search(rest)
    if triple:
        return replace(parsed, building=f"{triple.group(1)}栋", unit=f"{int(triple.group(2))}单元",
                       room=triple.group(3)), rest[: triple.start()]
    for start in range(len(rest) + 1):
        match = _TAIL.match(rest, start)
        if match is None:
            continue
        building, unit, room = match.group("building"), match.group("unit"), match.group("room")
        if room and not (building or unit or match.group("floor") or match.group("room_mark") in ("室", "号房", "房")):
            room = None  # a bare number is no room: leave it to the remainder
            if not (building or unit):
                continue
        if not (building or unit or room):
            continue
        return replace(parsed, building=_building(building), unit=f"{int(unit)}单元" if unit else None,
                       room=room), rest[:start]
    return parsed, rest


def _building(value: str | None) -> str | None:
    if value is None:
        return None
    return f"{int(value)}栋" if value.isdigit() else f"{value}栋"


# --- what is left: the compound or a remainder --------------------------------------------------------------------


def _middle(parsed: ParsedAddress, rest: str) -> ParsedAddress:
    if not rest:
        return parsed
    if parsed.compound is None and (_COMPOUND_SUFFIX.search(rest) or parsed.building or parsed.unit):
        return replace(parsed, compound=rest)
    return replace(parsed, remainder=rest)
