"""JSON endpoints of triage: possible duplicates of a report being typed, the suggested handling units of a case."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from chengyun.errors import Invalid
from chengyun.i18n import translate
from chengyun.routing.explain import render
from chengyun.routing.model import Reason
from chengyun.triage.units import UnitSuggestion
from chengyun.web.deps import AppContainer, CurrentPrincipal, get_locale

router = APIRouter(tags=["triage"])
Text = Annotated[str, Query(max_length=2000)]


def _similar(container: Any, locale: str, text: str, lon: float | None, lat: float | None, category_code: str,
             address: str, public: bool) -> dict[str, Any]:
    """Open cases that look like the same problem; the public sees the category, staff the title."""
    if (lon is None) != (lat is None):
        raise Invalid("intake.half_point")
    catalogue = container.categories.catalogue()
    found = container.duplicates.similar_open_cases(text, lon, lat, category=category_code, address=address)
    items = []
    for c in found:
        category = catalogue.find(c.category_code)
        name = category.name if category else c.category_code
        items.append({"case_number": c.number, "title": name if public else c.title, "category_name": name,
                      "state": c.state, "state_label": translate(f"cases.state.{c.state}", locale),
                      "similarity": round(c.similarity, 3),
                      "distance_m": round(c.metres) if c.metres is not None else None,
                      "hours_ago": round(c.hours, 1)})
    return {"items": items}


@router.get("/api/triage/hot", summary="Hot issues of the last `days` in the caller's scope (clusters of similar cases "
            "ranked by reporters, repeats, follow-ups, spread and growth) and surge warnings of the last week")
def hot(principal: CurrentPrincipal, container: AppContainer,
        days: Annotated[int, Query(ge=1, le=365)] = 30) -> dict[str, Any]:
    issues, surges = container.hot.analyse(principal, days)
    return {"days": days, "issues": [{
        "title": i.title, "terms": list(i.terms), "place": i.place, "first": i.first.isoformat(),
        "last": i.last.isoformat(), "count": i.count, "reporters": i.reporters, "support": i.likes,
        "places": i.places, "growth": round(i.growth, 3), "score": round(i.score, 3), "cases": list(i.ids)}
        for i in issues],
        "surges": [{"kind": s.kind, "key": s.key, "recent": s.recent, "history": list(s.history),
                    "mean": round(s.mean, 2), "upper": s.upper, "p_value": s.p_value, "ratio": round(s.ratio, 2),
                    "cases": list(s.ids)} for s in surges]}


@router.get("/api/reports/similar", summary="Possibly already reported nearby: open cases like this text, near this "
            "point (WGS84) and recent; the reporter may follow one instead of filing another")
def similar_for_staff(request: Request, principal: CurrentPrincipal, container: AppContainer, text: Text = "",
                      lon: float | None = None, lat: float | None = None, category_code: Text = "",
                      address: Text = "") -> dict[str, Any]:
    return _similar(container, get_locale(request), text, lon, lat, category_code, address, public=False)


@router.get("/api/public/reports/similar", summary="Possibly already reported nearby, for residents (no sign-in; "
            "cases are shown by category, state and distance only)")
def similar_for_public(request: Request, container: AppContainer, text: Text = "", lon: float | None = None,
                       lat: float | None = None, category_code: Text = "", address: Text = "") -> dict[str, Any]:
    return _similar(container, get_locale(request), text, lon, lat, category_code, address, public=True)


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
