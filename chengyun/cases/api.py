"""JSON endpoints of the loop: open a case, take any action, read a case with its timeline, list cases."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from chengyun.cases.attachments import check_attachment_ids
from chengyun.cases.model import Action, Request, Source, allowed_actions
from chengyun.cases.repository import to_aggregate
from chengyun.cases.service import NewCase, actor_of
from chengyun.cases.tables import CaseRow, TimelineRow
from chengyun.errors import Invalid
from chengyun.shared.geo import parse_coord_system
from chengyun.shared.handling import Urgency
from chengyun.web.deps import AppContainer, CurrentPrincipal

router = APIRouter(prefix="/api/cases", tags=["cases"])


class OpenCaseBody(BaseModel):
    """A new case: what, where, and (optionally) who reported it."""

    source: Source
    category_code: str = Field(max_length=20)
    description: str = Field(max_length=4000)
    lon: float
    lat: float
    crs: str = "wgs84"
    title: str = Field("", max_length=200)
    address: str = Field("", max_length=200)
    urgency: Urgency | None = None
    reporter_name: str | None = Field(None, max_length=50)
    reporter_phone: str | None = Field(None, max_length=30)
    external_system: str | None = Field(None, max_length=40)
    external_id: str | None = Field(None, max_length=80)


class ActionBody(BaseModel):
    """An action's note, attachment hashes, extra data, and the version the caller saw (optimistic lock)."""

    note: str = Field("", max_length=2000)
    attachments: list[str] = Field(default_factory=list, max_length=9)
    data: dict[str, Any] = Field(default_factory=dict)
    version: int | None = None


def case_json(row: CaseRow) -> dict[str, Any]:
    """A case as the API shows it: personal data masked, never the hash or the ciphertext."""
    return {
        "number": row.number, "state": row.state, "version": row.version, "source": row.source,
        "category_code": row.category_code, "urgency": row.urgency, "title": row.title,
        "description": row.description, "address": row.address, "location": [row.lon, row.lat],
        "area_code": row.area_code, "community_code": row.community_code, "handling_level": row.handling_level,
        "lead_unit": row.lead_unit, "assist_units": row.assist_units, "attachments": row.attachments,
        "reporter": {"name": row.reporter_name, "phone": row.reporter_phone_masked},
        "external": {"system": row.external_system, "id": row.external_id} if row.external_system else None,
        "merged_into": row.merged_into, "extension_pending": row.extension_pending,
        "reported_at": row.reported_at, "dispatched_at": row.dispatched_at, "claim_due": row.claim_due,
        "handling_due": row.handling_due, "claimed_at": row.claimed_at, "closed_at": row.closed_at,
        "rating": row.rating, "returns": row.returns, "escalations": row.escalations, "urges": row.urges,
        "deadline_level": row.deadline_level,
    }


def step_json(step: TimelineRow) -> dict[str, Any]:
    """One timeline entry."""
    return {"seq": step.seq, "action": step.action, "from": step.from_state, "to": step.to_state, "at": step.at,
            "actor_id": step.actor_id, "actor_role": step.actor_role, "actor_unit": step.actor_unit,
            "note": step.note, "attachments": step.attachments, "data": step.data}


@router.post("", status_code=201, summary="Open a case (state `reported`); the same external id returns the first")
def open_case(body: OpenCaseBody, principal: CurrentPrincipal, container: AppContainer) -> dict[str, Any]:
    new = NewCase(body.source, body.category_code, body.description, body.lon, body.lat, body.title,
                  parse_coord_system(body.crs), body.address, body.urgency, body.reporter_name, body.reporter_phone,
                  body.external_system, body.external_id)
    return case_json(container.cases.open(principal, new))


@router.get("", summary="Cases in your scope (handlers: your unit's), newest first")
def list_cases(principal: CurrentPrincipal, container: AppContainer,
               state: Annotated[list[str] | None, Query()] = None, unit: str | None = None,
               limit: int = 50, offset: int = 0) -> dict[str, Any]:
    total, rows = container.cases.search(principal, states=frozenset(state or ()), lead_unit=unit,
                                         limit=limit, offset=offset)
    return {"total": total, "items": [case_json(r) for r in rows]}


@router.get("/{number}", summary="One case with its timeline and the actions you may take")
def get_case(number: str, principal: CurrentPrincipal, container: AppContainer) -> dict[str, Any]:
    row, steps = container.cases.get(principal, number)
    actions = [a.value for a in allowed_actions(to_aggregate(row), actor_of(principal))]
    return {**case_json(row), "timeline": [step_json(s) for s in steps], "actions": actions}


@router.post("/{number}/actions/{action}", summary="Take one step of the loop (see the transition table)")
def act(number: str, action: str, body: ActionBody, principal: CurrentPrincipal,
        container: AppContainer) -> dict[str, Any]:
    if action not in set(Action):
        raise Invalid("cases.unknown_action", action=action)
    check_attachment_ids(container.attachments, body.attachments)
    request = Request(Action(action), body.note, tuple(body.attachments), body.data)
    return case_json(container.cases.act(principal, number, request, version=body.version))
