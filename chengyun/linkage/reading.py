"""Checking parsed YAML/JSON data field by field, naming where each problem is (`where`); pure.

Both data files of linkage (plans, channels) are read with these, so their errors share the codes
`linkage.data.*` and always say where, e.g. `plans.gas_leak.tiers[1].notify[0]`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from chengyun.errors import Invalid

MAX_FILE_BYTES = 1024 * 1024


def parse_yaml(raw: str | bytes) -> Any:
    """YAML (JSON is YAML too) into plain data, or Invalid("linkage.data.bad_yaml") with the line."""
    if len(raw) > MAX_FILE_BYTES:
        raise Invalid("linkage.data.too_large", limit=MAX_FILE_BYTES)
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problem = str(getattr(exc, "problem", "") or exc)[:120]
        raise Invalid("linkage.data.bad_yaml", line=line, problem=problem) from None


def mapping(value: Any, where: str) -> Mapping[str, Any]:
    """The value as a mapping with string keys, or Invalid."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise Invalid("linkage.data.not_mapping", where=where)
    return value


def sequence(value: Any, where: str) -> Sequence[Any]:
    """The value as a list, or Invalid."""
    if not isinstance(value, list):
        raise Invalid("linkage.data.not_list", where=where)
    return value


def only(data: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    """Refuse fields that are not in `allowed` (a typo must not silently do nothing)."""
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise Invalid("linkage.data.unknown_field", where=where, field=unknown[0])


def required(data: Mapping[str, Any], key: str, where: str) -> Any:
    """The field's value, or Invalid naming the missing field."""
    if data.get(key) is None:
        raise Invalid("linkage.data.missing", where=where, field=key)
    return data[key]


def string(value: Any, where: str, *, limit: int = 200) -> str:
    """A non-empty stripped printable string of at most `limit` characters (numbers read as text), or Invalid."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Invalid("linkage.data.not_text", where=where)
    text = str(value).strip()
    if not text or len(text) > limit or not text.isprintable():
        raise Invalid("linkage.data.bad_text", where=where, limit=limit)
    return text


def integer(value: Any, where: str, *, low: int = 0, high: int = 100_000) -> int:
    """An integer within [low, high], or Invalid."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Invalid("linkage.data.bad_number", where=where, low=low, high=high)
    return value
