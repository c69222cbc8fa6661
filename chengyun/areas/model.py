"""The area tree: levels, code rules and the value objects the rest of the system passes around."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from chengyun.errors import Invalid


class AreaLevel(StrEnum):
    """City 市 → district 区 → street 街道 → community 社区 → grid 网格 → microgrid 微网格."""

    CITY = "city"
    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"
    GRID = "grid"
    MICROGRID = "microgrid"

    @property
    def depth(self) -> int:
        """0 for city … 5 for microgrid."""
        return _ORDER.index(self)

    @property
    def parent_level(self) -> AreaLevel | None:
        """The level directly above, or None for the root level."""
        return _ORDER[self.depth - 1] if self.depth else None

    @property
    def child_level(self) -> AreaLevel | None:
        """The level directly below, or None for microgrids."""
        return _ORDER[self.depth + 1] if self.depth + 1 < len(_ORDER) else None

    @property
    def significant_digits(self) -> int:
        """How many leading code digits identify an area of this level (the rest are zero padding)."""
        return _SIGNIFICANT[self]

    @property
    def code_length(self) -> int:
        """Stored code length: 12 digits down to community, 15 for grids, 18 for microgrids."""
        return max(12, self.significant_digits)


_ORDER: tuple[AreaLevel, ...] = tuple(AreaLevel)
_SIGNIFICANT = {
    AreaLevel.CITY: 4,
    AreaLevel.DISTRICT: 6,
    AreaLevel.STREET: 9,
    AreaLevel.COMMUNITY: 12,
    AreaLevel.GRID: 15,
    AreaLevel.MICROGRID: 18,
}
LEVEL_LABEL_ZH = {
    AreaLevel.CITY: "市",
    AreaLevel.DISTRICT: "区",
    AreaLevel.STREET: "街道",
    AreaLevel.COMMUNITY: "社区",
    AreaLevel.GRID: "网格",
    AreaLevel.MICROGRID: "微网格",
}


def parse_level(value: str) -> AreaLevel:
    """Accept our codes and the Chinese labels (市, 区, 街道 …), else a precise error."""
    text = value.strip().lower()
    for level in AreaLevel:
        if text in (level.value, LEVEL_LABEL_ZH[level]):
            return level
    if text in ("county", "县"):
        return AreaLevel.DISTRICT
    if text in ("town", "township", "镇", "乡"):
        return AreaLevel.STREET
    if text in ("village", "村"):
        return AreaLevel.COMMUNITY
    raise Invalid("areas.unknown_level", value=value, allowed=", ".join(lv.value for lv in AreaLevel))


def infer_level(raw_code: str) -> AreaLevel:
    """Guess the level from a division code's length and zero padding (4/6/9/12/15/18 digits)."""
    code = raw_code.strip()
    if not code.isdigit():
        raise Invalid("areas.bad_code", code=raw_code)
    by_length = {4: AreaLevel.CITY, 6: AreaLevel.DISTRICT, 9: AreaLevel.STREET, 15: AreaLevel.GRID,
                 18: AreaLevel.MICROGRID}
    if len(code) in by_length:
        level = by_length[len(code)]
        if len(code) == 6 and code.endswith("00"):
            return AreaLevel.CITY
        return level
    if len(code) == 12:
        if code[4:] == "00000000":
            return AreaLevel.CITY
        if code[6:] == "000000":
            return AreaLevel.DISTRICT
        if code[9:] == "000":
            return AreaLevel.STREET
        return AreaLevel.COMMUNITY
    raise Invalid("areas.bad_code", code=raw_code)


def normalise_code(raw_code: str, level: AreaLevel) -> str:
    """Pad a short division code (e.g. 510113 or 510113002) to the stored length for its level."""
    code = raw_code.strip()
    sig = level.significant_digits
    if not code.isdigit() or not sig <= len(code) <= level.code_length:
        raise Invalid("areas.bad_code", code=raw_code, level=level.value)
    padded = code.ljust(level.code_length, "0")
    parent = level.parent_level
    own_serial = padded[parent.significant_digits if parent else 2 : sig]
    if padded[sig:].strip("0") or not own_serial.strip("0"):
        raise Invalid("areas.bad_code", code=raw_code, level=level.value)
    return padded


def code_prefix(code: str, level: AreaLevel) -> str:
    """The digits that a child's code must start with."""
    return code[: level.significant_digits]


def nests_in(child_code: str, parent_code: str, parent_level: AreaLevel) -> bool:
    """True when the child's code carries its parent's significant prefix."""
    return child_code.startswith(code_prefix(parent_code, parent_level))


@dataclass(frozen=True, slots=True)
class AreaRef:
    """An area as others see it in a chain: code, name, level."""

    code: str
    name: str
    level: AreaLevel


def materialised_path(parent_path: str | None, code: str) -> str:
    """"/city/district/.../code/": a subtree is every path that starts with an area's path."""
    return f"{parent_path or '/'}{code}/"


def is_within(path: str, scope_path: str) -> bool:
    """True when the area with `path` is the scope area or below it."""
    return path.startswith(scope_path)


@dataclass(frozen=True, slots=True)
class AreaDraft:
    """An area ready to be stored: normalised code, level, parent and a WGS84 GeoJSON geometry (or None).

    `source` names where it came from (e.g. 'feature #3' or 'row 17') for precise error messages.
    """

    code: str
    name: str
    level: AreaLevel
    parent_code: str | None
    geometry: dict[str, object] | None
    source: str


@dataclass(frozen=True, slots=True)
class ImportProblem:
    """One precise reason a file was refused: an error code, where, and parameters for the message."""

    code: str
    where: str
    params: dict[str, object]
