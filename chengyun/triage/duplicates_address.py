"""A small normaliser for addresses as people write them, so that one place gives one key (一址多诉); pure.

Full-width forms, spaces and punctuation go; 号楼/幢/座 become 栋, 单元/室 numbers written in Chinese become digits,
"5-2-301" becomes 5栋2单元301, a trailing 室/房/号房 goes, and a leading province (and a city before its district)
is dropped.
"""

from __future__ import annotations

import re
import unicodedata

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_NUMBER = re.compile(r"([零〇一二两三四五六七八九十]{1,3})(?=栋|幢|座|单元|号|楼|层|组|期|室)")
_BUILDING = re.compile(r"(\d+)(?:号楼|号栋|幢|座|栋|号院楼)")
_UNIT = re.compile(r"(\d+)(?:单元|门洞)")
_DASHED = re.compile(r"(?<![\d栋])(\d{1,3})-(\d{1,2})-(\d{2,5})(?!\d)")
_ROOM_SUFFIX = re.compile(r"(\d+)(?:号房|室|房)$")
_PREFIX = re.compile(r"^(?:[\u4e00-\u9fff]{2,7}?省)?(?:[\u4e00-\u9fff]{2,4}?市(?=[\u4e00-\u9fff]{1,5}?[区县]))?")
_KEEP = re.compile(r"[^0-9a-z\u3400-\u9fff-]")


def _chinese_number(word: str) -> str:
    """十二 → 12, 三 → 3, 二十 → 20, 三十五 → 35; anything else unchanged."""
    if all(ch in _DIGITS for ch in word):
        return "".join(str(_DIGITS[ch]) for ch in word)
    tens, _, units = word.partition("十")
    if "十" in units or any(ch not in _DIGITS for ch in tens + units):
        return word
    return str((_DIGITS[tens] if tens else 1) * 10 + (_DIGITS[units] if units else 0))


def normalise_address(address: str) -> str:
    """The comparable form of an address (see the module docstring); "" when nothing is left."""
    text = unicodedata.normalize("NFKC", address).lower().replace("—", "-").replace("－", "-")
    text = _KEEP.sub("", text)
    text = _CN_NUMBER.sub(lambda m: _chinese_number(m.group(1)), text)
    text = _DASHED.sub(r"\1栋\2单元\3", text)
    text = _BUILDING.sub(r"\1栋", text)
    text = _UNIT.sub(r"\1单元", text)
    text = _ROOM_SUFFIX.sub(r"\1", text)
    stripped = _PREFIX.sub("", text)
    return (stripped or text).strip("-")
