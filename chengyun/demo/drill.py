"""The demo's drill (演练): an operator starts a device scenario (gas leak, smoke, SOS …) in the running demo from
the alarm page, on the demo's own in-process simulator, so the alarm, its case and its linkage plan follow live."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from chengyun.auth.model import Role
from chengyun.errors import Conflict, Forbidden, Invalid
from chengyun.ingest.simulator import Scenario
from chengyun.web.deps import CurrentPrincipal

router = APIRouter(tags=["demo"])
DRILL_ROLES = frozenset({Role.ADMIN, Role.OPERATOR})
SCENARIOS = tuple(s.value for s in Scenario)


def drill_available(request: Request) -> bool:
    """True when this server runs the demo's simulated devices (`chengyun demo --serve` without a broker)."""
    return getattr(request.app.state, "demo_devices", None) is not None


@router.post("/demo/drill", include_in_schema=False)
def start_drill(request: Request, principal: CurrentPrincipal,
                scenario: Annotated[str, Form(max_length=40)],
                device_id: Annotated[str, Form(max_length=64)] = "") -> Response:
    """Put a demo device into a scenario now; back to the alarm page, where the alarm appears within seconds."""
    if principal.role not in DRILL_ROLES:
        raise Forbidden("demo.drill.not_allowed", role=principal.role.value)
    if scenario not in SCENARIOS:
        raise Invalid("demo.drill.unknown_scenario", scenario=scenario, allowed=", ".join(SCENARIOS))
    live = getattr(request.app.state, "demo_devices", None)
    if live is None:
        raise Conflict("demo.drill.unavailable")
    try:
        live.inject(Scenario(scenario), device_id.strip() or None)
    except LookupError:
        raise Conflict("demo.drill.unavailable") from None
    return RedirectResponse("/alarms", status_code=303)
