"""Rendering routing explanations (code + params) as sentences in zh-CN or en."""

from __future__ import annotations

from chengyun.i18n import DEFAULT_LOCALE, translate
from chengyun.routing.model import Explanation, Reason

# parameters that hold a stable code with its own label in the catalogues
_LABELLED = {"area_level": "level.", "handling_level": "handling_level."}


def render(reason: Reason, locale: str = DEFAULT_LOCALE) -> str:
    """One sentence; level codes in the parameters are shown by their translated labels."""
    params = dict(reason.params)
    for key, prefix in _LABELLED.items():
        value = params.get(key)
        if value:
            label = translate(prefix + value, locale)
            params[key] = value if label == prefix + value else label
    return translate(reason.code, locale, **params)


def render_explanation(explanation: Explanation, locale: str = DEFAULT_LOCALE) -> list[str]:
    """The matched rule's sentence, then one sentence per rule it beat."""
    return [render(explanation.matched, locale), *(render(r, locale) for r in explanation.beaten)]
