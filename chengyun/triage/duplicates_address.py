"""A small normaliser for addresses as people write them, so that one place gives one key (一址多诉); pure.

The gazetteer's `places.parsing.normalise` does the common part (full-width forms, spaces and punctuation, numbers
written in Chinese); on top of it 号楼/幢/座 become 栋, "5-2-301" becomes 5栋2单元301, a trailing 室/房/号房 goes,
and a leading province (and a city before its district) is dropped.
"""

from __future__ import annotations

import re

from chengyun.places.parsing import normalise

_BUILDING = re.compile(r"(\d+)(?:号楼|号栋|幢|座|栋|号院楼)")
_UNIT = re.compile(r"(\d+)(?:单元|门洞)")
_DASHED = re.compile(r"(?<![\d栋])(\d{1,3})-(\d{1,2})-(\d{2,5})(?!\d)")
_ROOM_SUFFIX = re.compile(r"(\d+)(?:号房|室|房)$")
_PREFIX = re.compile(r"^(?:[\u4e00-\u9fff]{2,7}?省)?(?:[\u4e00-\u9fff]{2,4}?市(?=[\u4e00-\u9fff]{1,5}?[区县]))?")
_KEEP = re.compile(r"[^0-9a-z\u3400-\u9fff-]")


def normalise_address(address: str) -> str:
    """The comparable form of an address (see the module docstring); "" when nothing is left."""
    text = _KEEP.sub("", normalise(address).lower())
    text = _DASHED.sub(r"\1栋\2单元\3", text)
    text = _BUILDING.sub(r"\1栋", text)
    text = _UNIT.sub(r"\1单元", text)
    text = _ROOM_SUFFIX.sub(r"\1", text)
    stripped = _PREFIX.sub("", text)
    return (stripped or text).strip("-")
