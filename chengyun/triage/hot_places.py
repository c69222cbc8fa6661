"""Place mentions in Chinese report text (区/县/镇/街道/村/社区/小区/路/街, compounds, buildings); pure, no I/O.

A heuristic, not a gazetteer: a mention is a run of name characters ending in a known suffix, cut on the left at
words that begin a clause ("位于", "反映", "的" …). Anonymised names such as "A3区" or "K9县" are kept as they are.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

# longest suffixes first, so that 街道 wins over 街 and 小区 over 区
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("街道", "town"), ("社区", "village"), ("小区", "compound"), ("花园", "compound"), ("家园", "compound"),
    ("新城", "compound"), ("新村", "compound"), ("公寓", "compound"), ("大厦", "compound"), ("广场", "compound"),
    ("山庄", "compound"), ("大道", "road"), ("市", "city"), ("区", "district"), ("县", "district"),
    ("镇", "town"), ("乡", "town"), ("村", "village"), ("苑", "compound"), ("路", "road"), ("街", "road"),
    ("巷", "road"), ("栋", "building"),
)
_KIND = dict(_SUFFIXES)
_NOT_AFTER = {"市": "场民政长委级内里值", "区": "域别", "县": "委", "村": "民", "乡": "亲", "街": "坊"}
_SUFFIX_RE = re.compile("|".join(
    re.escape(s) + (f"(?![{_NOT_AFTER[s]}])" if s in _NOT_AFTER else "") for s, _ in _SUFFIXES))
_NAME_CHAR = re.compile(r"[\u4e00-\u9fffA-Z0-9]")
_CODE = re.compile(r"^[A-Z]\d{0,2}$")  # anonymised A市, A3区, K9县
_BUILDING = re.compile(r"^(.*?)[A-Za-z]?\d+$")  # 米兰春天G2(栋) → 米兰春天
_BOUNDARIES = (
    "位于", "家住", "住在", "地处", "反映", "关于", "请问", "咨询", "投诉", "举报", "本人", "我们", "我是", "我家",
    "建议", "希望", "物业", "要求", "请求", "所在", "附近", "对面", "旁边", "门口", "这个", "那个", "一个", "整个",
    "的", "在", "于", "是", "系", "和", "与", "及", "对", "到", "住", "从", "向", "把", "被", "给", "为", "将",
    "了", "这", "那", "该", "本", "其", "我", "你", "他", "原", "各", "全", "每", "某", "个", "省", "号", "期",
)
_GENERIC = frozenset({
    "道路", "公路", "马路", "线路", "铁路", "出路", "思路", "网路", "水路", "电路", "小路", "大路", "门路", "走路",
    "大型小区", "居民小区", "老旧小区", "周边小区", "新建小区", "商品房小区", "高档小区", "老小区", "新小区",
    "住宅小区", "安置小区", "开放式小区", "封闭式小区", "多个小区", "各个小区", "同一小区", "两个小区",
    "过路", "进路", "修路", "水泥路", "柏油路",
    "农村", "乡村", "城中村", "新农村", "乡镇", "城镇", "城区", "园区", "片区", "景区",
    "市区", "辖区", "郊区", "校区", "城市", "超市", "都市", "上市", "门市", "夜市", "街市", "城乡", "下乡",
    "老乡", "家乡", "回乡", "小街", "上街", "逛街", "沿街", "临街", "背街", "小巷", "县城",
})
MAX_NAME = 10  # characters before the suffix


@dataclass(frozen=True)
class PlaceMention:
    """One place named in a text: its words as written, its kind, and where it starts."""

    name: str
    kind: str  # city | district | town | village | road | compound | building
    start: int


_BOUNDARY_REVERSED = re.compile("|".join(re.escape(w[::-1]) for w in sorted(_BOUNDARIES, key=len, reverse=True)))
_GENERIC_END = re.compile("(?:" + "|".join(re.escape(w) for w in sorted(_GENERIC)) + ")$")


def _left_cut(name: str) -> str:
    """The name after the last clause-opening word in it (searched in the reversed name: one regex pass)."""
    match = _BOUNDARY_REVERSED.search(name[::-1])
    return name[len(name) - match.start():] if match else name


def _generic(name: str) -> bool:
    """Whether the name is, or ends in, a common word rather than a proper place name."""
    return _GENERIC_END.search(name) is not None


def _mention(text: str, start: int, suffix: str, floor: int) -> PlaceMention | None:
    """The mention ending in `suffix` at `start`, or None when its name is empty or a common word."""
    left = start
    while left > floor and start - left < MAX_NAME and _NAME_CHAR.match(text[left - 1]):
        left -= 1
    name = _left_cut(text[left:start])
    kind = _KIND[suffix]
    if kind == "building":
        match = _BUILDING.match(name)
        name, suffix, kind = (match.group(1) if match else name), "", "compound"
    if not name or _generic(name + suffix) or (len(name) < 2 and not _CODE.match(name)):
        return None
    if kind in ("city", "district") and not (_CODE.match(name) or 2 <= len(name) <= 3):
        return None
    return PlaceMention(name + suffix, kind, start - len(name))


def place_mentions(text: str) -> list[PlaceMention]:
    """Every place mention in order; a mention never reaches back into the one before it."""
    found: list[PlaceMention] = []
    floor = 0
    for match in _SUFFIX_RE.finditer(text):
        mention = _mention(text, match.start(), match.group(), floor)
        if mention is not None:
            found.append(mention)
            floor = match.end()
    return found


_PRIORITY = {"compound": 0, "building": 0, "village": 1, "road": 2, "town": 3, "district": 4, "city": 5}


def common_place(texts: Sequence[str], share: float = 0.3) -> str | None:
    """The most specific place named by at least `share` of the texts (and two), else the most named; or None."""
    counts: Counter[tuple[str, str]] = Counter()
    for text in texts:
        counts.update({(m.name, m.kind) for m in place_mentions(text) if m.kind != "city"})
    if not counts:
        return None
    ranked = sorted(counts.items(), key=lambda pair: (_PRIORITY[pair[0][1]], -pair[1], pair[0][0]))
    enough = max(2.0, share * len(texts))
    specific = [name for (name, _), count in ranked if count >= enough]
    return specific[0] if specific else counts.most_common(1)[0][0][0]


def place_key(text: str) -> str | None:
    """The most specific place the text names (compound > village/community > road > town > district), or None."""
    mentions = [m for m in place_mentions(text) if m.kind != "city"]
    if not mentions:
        return None
    return min(mentions, key=lambda m: (_PRIORITY[m.kind], m.start)).name
