"""Reading one mapping of a rule file with precise errors: every problem names the rule id and the field path."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar

from chengyun.errors import Invalid

E = TypeVar("E", bound=StrEnum)
MISSING: Any = object()
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def bad(rule: str, field: str, value: object, expected: str) -> Invalid:
    """The error for a value of the wrong shape: `expected` is a short code such as `number` or `duration`."""
    return Invalid("alarms.rules.bad_value", rule=rule, field=field, value=_show(value), expected=expected)


def _show(value: object) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."


class Fields:
    """The keys of one YAML mapping, taken one by one; `done()` refuses any key nobody asked for (typos)."""

    def __init__(self, rule: str, where: str, data: object) -> None:
        if not isinstance(data, Mapping):
            raise bad(rule, where or "(rule)", data, "mapping")
        self.rule, self.where, self.data = rule, where, data
        self._seen: set[str] = set()

    def path(self, key: str) -> str:
        """The dotted path of a key, e.g. `params.fire_at`."""
        return f"{self.where}.{key}" if self.where else key

    def raw(self, key: str, default: Any = MISSING) -> Any:
        """The value as written; a missing required key raises `alarms.rules.missing_field`."""
        self._seen.add(key)
        if key in self.data and self.data[key] is not None:
            return self.data[key]
        if default is MISSING:
            raise Invalid("alarms.rules.missing_field", rule=self.rule, field=self.path(key))
        return default

    def text(self, key: str, default: Any = MISSING) -> Any:
        """A non-empty string (numbers written bare, e.g. area codes, are taken as text)."""
        value = self.raw(key, default)
        if value is default and default is not MISSING:
            return value
        if isinstance(value, bool):  # YAML 1.1 reads yes/no/on/off as booleans
            raise bad(self.rule, self.path(key), value, "text (quote yes/no/on/off)")
        if not isinstance(value, str | int):
            raise bad(self.rule, self.path(key), value, "text")
        if not str(value).strip():
            raise bad(self.rule, self.path(key), value, "text")
        return str(value).strip()

    def number(self, key: str, default: Any = MISSING, minimum: float | None = None) -> Any:
        """A finite number, at least `minimum` when given."""
        value = self.raw(key, default)
        if value is default and default is not MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise bad(self.rule, self.path(key), value, "number")
        if minimum is not None and value < minimum:
            raise bad(self.rule, self.path(key), value, f">= {minimum:g}")
        return float(value)

    def count(self, key: str, default: Any = MISSING, minimum: int = 1) -> Any:
        """A whole number, at least `minimum`."""
        value = self.raw(key, default)
        if value is default and default is not MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise bad(self.rule, self.path(key), value, f"integer >= {minimum}")
        return value

    def duration(self, key: str, default: Any = MISSING, positive: bool = True) -> Any:
        """Seconds, written as a number or as `30s`, `10m`, `12h`, `1d`."""
        value = self.raw(key, default)
        if value is default and default is not MISSING:
            return value
        seconds = parse_duration(value)
        if seconds is None or (positive and seconds <= 0):
            raise bad(self.rule, self.path(key), value, "duration")
        return seconds

    def flag(self, key: str, default: bool) -> bool:
        """A YAML boolean."""
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise bad(self.rule, self.path(key), value, "true/false")
        return value

    def choice(self, key: str, kind: type[E], default: Any = MISSING) -> Any:
        """One of an enumeration's values."""
        value = self.raw(key, default)
        if value is default and default is not MISSING:
            return value
        try:
            return kind(value)
        except ValueError:
            raise bad(self.rule, self.path(key), value, "|".join(kind)) from None

    def scalar(self, key: str, default: Any = MISSING) -> Any:
        """A value a reading may carry: text, number or boolean."""
        value = self.raw(key, default)
        if value is default and default is not MISSING:
            return value
        if not isinstance(value, str | int | float):
            raise bad(self.rule, self.path(key), value, "text, number or true/false")
        return value

    def done(self) -> None:
        """Refuse keys that were never read: a typo must not silently change a rule."""
        extra = sorted(str(key) for key in self.data if key not in self._seen)
        if extra:
            raise Invalid("alarms.rules.unknown_field", rule=self.rule, field=self.path(extra[0]),
                          allowed=", ".join(sorted(self._seen)))


def parse_duration(value: object) -> float | None:
    """Seconds from a number or `<n>s|m|h|d`; None when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) and value >= 0 else None
    if not isinstance(value, str):
        return None
    match = _DURATION.match(value)
    if match is None:
        return None
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
