"""JSON endpoints of triage: the suggested handling units of a case."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from chengyun.i18n import translate
from chengyun.routing.explain import render
from chengyun.routing.model import Reason
from chengyun.triage.units import UnitSuggestion
from chengyun.web.deps import AppContainer, CurrentPrincipal, get_locale

router = APIRouter(tags=["triage"])


@router.get("/api/cases/{number}/unit-suggestions",
            summary="Who could lead the case: the duty list's lead unit first, then units that finally handled "
                    "similar cases (only units this dispatcher may send it to)")
def unit_suggestions(number: str, request: Request, principal: CurrentPrincipal, container: AppContainer,
                     k: Annotated[int, Query(ge=1, le=10)] = 3) -> dict[str, Any]:
    suggestions, known = container.unit_advisor.suggest(principal, number, k)
    names = {u["code"]: u["name"] for u in container.org.units(principal)}
    locale = get_locale(request)
    return {"suggestions": [unit_json(s, names, locale) for s in suggestions],
            "history": {"cases": known.history.cases, "loaded_at": known.loaded_at.isoformat()}}


def unit_json(s: UnitSuggestion, names: dict[str, str], locale: str) -> dict[str, Any]:
    """One suggestion with the unit's name, the reason's label and the evidence as a sentence."""
    params = dict(s.explanation.params)
    readable = {**params, **({"unit": names.get(params["unit"], params["unit"])} if "unit" in params else {})}
    return {"unit": s.unit, "unit_name": names.get(s.unit, s.unit), "score": round(s.score, 4),
            "reason": s.reason.value, "reason_label": translate(f"triage.units.reason.{s.reason.value}", locale),
            "explanation": {"code": s.explanation.code, "params": params,
                            "text": render(Reason(s.explanation.code, readable), locale)}}
