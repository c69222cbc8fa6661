"""Vocabulary shared by categories, the duty list and cases: urgency, handling level, time limits."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from chengyun.errors import Invalid


class Urgency(StrEnum):
    """How fast a case must move; stored codes, labels come from translations."""

    CRITICAL = "critical"  # 特急
    URGENT = "urgent"  # 紧急
    NORMAL = "normal"  # 一般


class HandlingLevel(StrEnum):
    """Tier that handles a case, lowest first (物业/小区 → 社区 → 街道 → 区 → 市)."""

    PROPERTY = "property"
    COMMUNITY = "community"
    STREET = "street"
    DISTRICT = "district"
    CITY = "city"

    @property
    def rank(self) -> int:
        """0 for the lowest tier; escalation goes to rank + 1."""
        return list(HandlingLevel).index(self)

    def next_up(self) -> HandlingLevel | None:
        """The tier above, or None at the top."""
        levels = list(HandlingLevel)
        return levels[self.rank + 1] if self.rank + 1 < len(levels) else None


class LimitUnit(StrEnum):
    """Units of a time limit: calendar or working time."""

    HOURS = "h"  # calendar hours
    DAYS = "d"  # calendar days
    WORKING_HOURS = "wh"  # hours inside working time on working days
    WORKING_DAYS = "wd"  # whole working days


_LIMIT = re.compile(r"^\s*(\d{1,4})\s*(wh|wd|h|d)\s*$")


@dataclass(frozen=True, slots=True)
class TimeLimit:
    """A limit such as 2h, 24h, 1wd, 5wd or 16wh; text form is `<amount><unit>`."""

    amount: int
    unit: LimitUnit

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise Invalid("limit.not_positive", value=str(self))

    def __str__(self) -> str:
        return f"{self.amount}{self.unit.value}"

    @classmethod
    def parse(cls, text: str) -> TimeLimit:
        """Parse `2h`, `24h`, `3d`, `16wh`, `5wd`; anything else raises Invalid('limit.bad_format')."""
        match = _LIMIT.match(text or "")
        if match is None or int(match.group(1)) == 0:
            raise Invalid("limit.bad_format", value=text)
        return cls(int(match.group(1)), LimitUnit(match.group(2)))
