"""Alarm types as data (告警类型): names, and whether and how each opens a case; parsed with precise errors.

Pure apart from reading the packaged (or a street's own) YAML file. A type that opens a case names an item of the
category catalogue and the case's urgency; `check_categories` confirms those items against a live catalogue.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from chengyun.errors import Invalid
from chengyun.shared.handling import Urgency

DEFAULT_FILE = "alarm_types.yaml"
FIELDS = frozenset({"name", "opens_case", "category", "urgency"})
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True, slots=True)
class AlarmType:
    """One kind of alarm: its names, and the category and urgency of the case it opens (if it opens one)."""

    code: str
    name_zh: str
    name_en: str
    opens_case: bool
    category_code: str | None = None
    urgency: Urgency | None = None

    def name(self, locale: str) -> str:
        """The name in a locale (Simplified Chinese unless English is asked for)."""
        return self.name_en if locale == "en" else self.name_zh


def load_alarm_types(path: Path | None = None) -> dict[str, AlarmType]:
    """The alarm types of a street's file, or the packaged defaults."""
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise Invalid("alarms.types.unreadable", file=str(path), reason=type(exc).__name__) from exc
        return parse_alarm_types(text)
    return dict(_defaults())


@cache
def _defaults() -> dict[str, AlarmType]:
    return parse_alarm_types(resources.files(__package__).joinpath("data", DEFAULT_FILE).read_text("utf-8"))


def parse_alarm_types(text: str) -> dict[str, AlarmType]:
    """Parse the YAML text; any problem is an Invalid naming the type and the field."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise Invalid("alarms.types.bad_yaml", line=(mark.line + 1) if mark is not None else 0) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("types"), dict) or not raw["types"]:
        raise Invalid("alarms.types.no_types")
    if raw.get("version", 1) != 1:
        raise Invalid("alarms.types.bad_version", version=str(raw.get("version")))
    return {str(code): _one(str(code), spec) for code, spec in raw["types"].items()}


def _one(code: str, spec: Any) -> AlarmType:
    if not _CODE.match(code):
        raise Invalid("alarms.types.bad_code", type=code[:60])
    if not isinstance(spec, dict):
        raise Invalid("alarms.types.not_a_mapping", type=code)
    unknown = sorted(set(map(str, spec)) - FIELDS)
    if unknown:
        raise Invalid("alarms.types.unknown_fields", type=code, fields=", ".join(unknown))
    zh, en = _names(code, spec.get("name"))
    opens = spec.get("opens_case")
    if not isinstance(opens, bool):
        raise Invalid("alarms.types.bad_field", type=code, field="opens_case")
    if not opens:
        return AlarmType(code, zh, en, False)
    category = spec.get("category")
    if not isinstance(category, str) or not re.fullmatch(r"\d{2,8}", category):
        raise Invalid("alarms.types.case_needs_category", type=code)
    urgency = spec.get("urgency")
    if urgency not in set(Urgency):
        raise Invalid("alarms.types.bad_urgency", type=code, value=str(urgency),
                      allowed=", ".join(u.value for u in Urgency))
    return AlarmType(code, zh, en, True, category, Urgency(urgency))


def _names(code: str, value: Any) -> tuple[str, str]:
    if not isinstance(value, dict):
        raise Invalid("alarms.types.bad_field", type=code, field="name")
    zh, en = value.get("zh"), value.get("en")
    for lang, text in (("zh", zh), ("en", en)):
        if not isinstance(text, str) or not text.strip() or len(text) > 50:
            raise Invalid("alarms.types.bad_field", type=code, field=f"name.{lang}")
    return str(zh).strip(), str(en).strip()


def check_categories(types: Mapping[str, AlarmType], is_active_item: Callable[[str], bool]) -> None:
    """Refuse types whose case category is not an active item of the live catalogue."""
    for kind in types.values():
        if kind.opens_case and kind.category_code and not is_active_item(kind.category_code):
            raise Invalid("alarms.types.unknown_category", type=kind.code, category=kind.category_code)
