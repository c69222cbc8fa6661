"""Message catalogues (zh-CN default, en): stable codes in, translated sentences out."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"


@cache
def catalogue(locale: str) -> dict[str, str]:
    """The catalogue for a locale, loaded once."""
    base = "zh_CN" if locale == "zh-CN" else "en"
    folder = resources.files(__package__)
    merged = dict(json.loads(folder.joinpath(f"{base}.json").read_text(encoding="utf-8")))
    # a domain may keep its messages in its own file beside the main one, e.g. `zh_CN.alarms.json`
    for part in sorted(p.name for p in folder.iterdir() if p.name.startswith(f"{base}.") and p.name.endswith(".json")):
        merged.update(json.loads(folder.joinpath(part).read_text(encoding="utf-8")))
    return merged


def pick_locale(requested: str | None, accept_language: str | None = None) -> str:
    """An explicit choice wins, then the browser's Accept-Language, then Simplified Chinese."""
    for candidate in (requested, *(_accepted(accept_language))):
        if not candidate:
            continue
        low = candidate.strip().lower()
        if low.startswith("zh"):
            return "zh-CN"
        if low.startswith("en"):
            return "en"
    return DEFAULT_LOCALE


def _accepted(header: str | None) -> list[str]:
    return [part.split(";")[0] for part in (header or "").split(",") if part.strip()]


def translate(code: str, locale: str = DEFAULT_LOCALE, /, **params: Any) -> str:
    """The sentence for `code` with `{params}` filled in; unknown codes fall back to zh-CN, then the code."""
    template = catalogue(locale).get(code) or catalogue(DEFAULT_LOCALE).get(code)
    if template is None:
        return code
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError):
        return template


LABELLED_PARAMS = {"state": "cases.state.", "action": "cases.action.", "role": "role."}


def labelled(params: dict[str, Any], locale: str = DEFAULT_LOCALE) -> dict[str, Any]:
    """Error parameters with state, action and role codes replaced by their labels, for a readable sentence."""
    out = dict(params)
    for key, prefix in LABELLED_PARAMS.items():
        value = out.get(key)
        if isinstance(value, str) and (prefix + value) in catalogue(locale):
            out[key] = translate(prefix + value, locale)
    return out
