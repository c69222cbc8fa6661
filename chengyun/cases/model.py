"""The closed loop as data: states, actions, the one table of allowed transitions, and the case aggregate.

`decide` checks a request against the table and the guards and returns the timeline entry it would add;
`evolve` applies an entry to a case. The stored case is always `replay(opening entry, timeline)`, so the
history can be replayed to the current state. Pure: no I/O, no clock, no database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from chengyun.auth.model import Role
from chengyun.errors import Forbidden, Invalid, InvalidTransition
from chengyun.shared.handling import HandlingLevel, Urgency

MAX_NOTE = 2000
MAX_ATTACHMENTS = 9


class CaseState(StrEnum):
    """Where a case stands in the loop (stored codes)."""

    REPORTED = "reported"  # 已上报，待受理
    VERIFYING = "verifying"  # 核实中
    REJECTED = "rejected"  # 不予立案
    REGISTERED = "registered"  # 已立案，待派遣
    DISPATCHED = "dispatched"  # 已派遣，待签收
    RETURNED = "returned"  # 已退单，待改派
    CLAIMED = "claimed"  # 已签收
    HANDLING = "handling"  # 处置中
    RESULT_SUBMITTED = "result_submitted"  # 已反馈，待核查
    VERIFIED = "verified"  # 核查通过，待结案
    CLOSED = "closed"  # 已结案
    FOLLOWED_UP = "followed_up"  # 已回访
    SUSPENDED = "suspended"  # 挂起
    MERGED = "merged"  # 已并入主案


class Action(StrEnum):
    """Every step a person (or the sweep) can take on a case."""

    ACCEPT = "accept"
    REGISTER = "register"
    REJECT = "reject"
    DISPATCH = "dispatch"
    CLAIM = "claim"
    RETURN = "return"
    REDISPATCH = "redispatch"
    HANDLE = "handle"
    SUBMIT_RESULT = "submit_result"
    VERIFY_PASS = "verify_pass"  # noqa: S105 - an action name, not a password
    VERIFY_FAIL = "verify_fail"
    CLOSE = "close"
    FOLLOW_UP = "follow_up"
    REOPEN = "reopen"
    REQUEST_EXTENSION = "request_extension"
    APPROVE_EXTENSION = "approve_extension"
    DENY_EXTENSION = "deny_extension"
    SUSPEND = "suspend"
    RESUME = "resume"
    URGE = "urge"
    ESCALATE = "escalate"
    MERGE = "merge"
    UNMERGE = "unmerge"
    SELF_HANDLE = "self_handle"
    NOTE = "note"  # a remark in the timeline (e.g. an IoT alarm acknowledged or cleared); the state stays


class Source(StrEnum):
    """The five ways a problem reaches the operations center."""

    UPSTREAM = "upstream"
    DISTRICT = "district"
    GRID = "grid"
    SENSOR = "sensor"
    CITIZEN = "citizen"


S = CaseState
OPEN_STATES = frozenset(set(S) - {S.REJECTED, S.CLOSED, S.FOLLOWED_UP, S.MERGED})
IN_UNIT_STATES = frozenset({S.DISPATCHED, S.CLAIMED, S.HANDLING})  # the lead unit holds the case
STAY = None  # target meaning "the state does not change"

CENTER = frozenset({Role.ADMIN, Role.OPERATOR})
UNIT = frozenset({Role.HANDLER})
SYSTEM = frozenset({Role.SYSTEM})  # another part of the platform acting on a case (the alarm service)


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of the table: from which states, to which state, by whom, and what it needs."""

    sources: frozenset[CaseState]
    target: CaseState | None
    roles: frozenset[Role]
    needs_reason: bool = False
    resumes: bool = False  # target is the state the case was suspended or merged from


def _t(sources: Iterable[CaseState], target: CaseState | None, roles: frozenset[Role], **kw: bool) -> Transition:
    return Transition(frozenset(sources), target, roles, **kw)


ALLOWED: Mapping[Action, Transition] = {
    Action.ACCEPT: _t({S.REPORTED}, S.VERIFYING, CENTER),
    Action.REGISTER: _t({S.REPORTED, S.VERIFYING}, S.REGISTERED, CENTER),
    Action.REJECT: _t({S.REPORTED, S.VERIFYING}, S.REJECTED, CENTER, needs_reason=True),
    Action.DISPATCH: _t({S.REGISTERED}, S.DISPATCHED, CENTER),
    Action.CLAIM: _t({S.DISPATCHED}, S.CLAIMED, UNIT | CENTER),
    Action.RETURN: _t({S.DISPATCHED, S.CLAIMED}, S.RETURNED, UNIT, needs_reason=True),
    Action.REDISPATCH: _t({S.RETURNED, S.DISPATCHED, S.CLAIMED, S.HANDLING}, S.DISPATCHED, CENTER),
    Action.HANDLE: _t({S.CLAIMED, S.HANDLING}, S.HANDLING, UNIT),
    Action.SUBMIT_RESULT: _t({S.CLAIMED, S.HANDLING}, S.RESULT_SUBMITTED, UNIT),
    Action.VERIFY_PASS: _t({S.RESULT_SUBMITTED}, S.VERIFIED, CENTER | {Role.GRID_WORKER}),
    Action.VERIFY_FAIL: _t({S.RESULT_SUBMITTED}, S.HANDLING, CENTER | {Role.GRID_WORKER}, needs_reason=True),
    Action.CLOSE: _t({S.VERIFIED}, S.CLOSED, CENTER),
    Action.FOLLOW_UP: _t({S.CLOSED}, S.FOLLOWED_UP, CENTER | {Role.RESIDENT}),
    Action.REOPEN: _t({S.FOLLOWED_UP}, S.DISPATCHED, CENTER, needs_reason=True),
    Action.REQUEST_EXTENSION: _t(IN_UNIT_STATES, STAY, UNIT, needs_reason=True),
    Action.APPROVE_EXTENSION: _t(IN_UNIT_STATES, STAY, CENTER),
    Action.DENY_EXTENSION: _t(IN_UNIT_STATES, STAY, CENTER, needs_reason=True),
    Action.SUSPEND: _t({S.REGISTERED, S.DISPATCHED, S.CLAIMED, S.HANDLING, S.RETURNED}, S.SUSPENDED, CENTER,
                       needs_reason=True),
    Action.RESUME: _t({S.SUSPENDED}, STAY, CENTER, resumes=True),
    Action.URGE: _t(IN_UNIT_STATES | {S.RETURNED, S.RESULT_SUBMITTED}, STAY, CENTER),
    Action.ESCALATE: _t({S.REGISTERED, S.DISPATCHED, S.CLAIMED, S.HANDLING, S.RETURNED}, S.REGISTERED,
                        CENTER | UNIT, needs_reason=True),
    Action.MERGE: _t(OPEN_STATES - {S.SUSPENDED}, S.MERGED, CENTER),
    Action.UNMERGE: _t({S.MERGED}, STAY, CENTER, resumes=True),
    Action.SELF_HANDLE: _t({S.REPORTED}, S.CLOSED, frozenset({Role.GRID_WORKER})),
    Action.NOTE: _t(OPEN_STATES, STAY, CENTER | SYSTEM, needs_reason=True),
}


class Rating(StrEnum):
    """Follow-up satisfaction (回访评价)."""

    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    UNSATISFIED = "unsatisfied"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: user id, role, and the unit they belong to (handlers act for their unit)."""

    user_id: int | None
    role: Role
    unit_code: str | None = None
    name: str = ""


@dataclass(frozen=True, slots=True)
class Request:
    """An action with its note, attachments and action-specific data (units, due dates, rating …)."""

    action: Action
    note: str = ""
    attachments: tuple[str, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One immutable step of a case's history."""

    seq: int
    action: Action
    from_state: CaseState
    to_state: CaseState
    at: datetime
    actor_id: int | None
    actor_role: Role
    actor_unit: str | None
    note: str
    attachments: tuple[str, ...]
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Case:
    """The aggregate: everything the loop's rules look at. Storage adds the rest (text, place, reporter)."""

    state: CaseState = S.REPORTED
    version: int = 0
    urgency: Urgency = Urgency.NORMAL
    handling_level: HandlingLevel = HandlingLevel.COMMUNITY
    lead_unit: str | None = None
    assist_units: tuple[str, ...] = ()
    resume_to: CaseState | None = None  # the state before suspend or merge
    merged_into: str | None = None
    extension_pending: str | None = None  # the requested limit, e.g. "3wd"
    dispatched_at: datetime | None = None
    claim_due: datetime | None = None
    handling_due: datetime | None = None
    suspended_at: datetime | None = None
    pauses: tuple[tuple[datetime, datetime], ...] = ()
    claimed_at: datetime | None = None
    closed_at: datetime | None = None
    rating: Rating | None = None
    returns: int = 0
    escalations: int = 0
    urges: int = 0
    self_handled: bool = False


@dataclass(frozen=True, slots=True)
class Guards:
    """Facts from outside the aggregate that some actions need (category rules, merge target)."""

    self_handle_allowed: bool = False
    merge_target_open: bool = False
    main_case_open: bool = False  # the case this one was merged into is still open (a merge is undone only then)


def decide(case: Case, request: Request, actor: Actor, at: datetime, guards: Guards = Guards()) -> TimelineEntry:
    """The entry this request adds, or a precise error; the case itself is not changed."""
    rule = ALLOWED[request.action]
    if actor.role not in rule.roles and actor.role != Role.ADMIN:
        raise Forbidden("cases.role_not_allowed", action=request.action.value, role=actor.role.value)
    if case.state not in rule.sources:
        raise InvalidTransition("cases.invalid_transition", action=request.action.value, state=case.state.value)
    _check_input(request, rule)
    _check_guards(case, request, actor, guards)
    target = (case.resume_to or S.REGISTERED) if rule.resumes else (rule.target or case.state)
    return TimelineEntry(case.version + 1, request.action, case.state, target, at, actor.user_id, actor.role,
                         actor.unit_code, request.note.strip(), request.attachments, dict(request.data))


def _check_input(request: Request, rule: Transition) -> None:
    if rule.needs_reason and not request.note.strip():
        raise Invalid("cases.reason_required", action=request.action.value)
    if len(request.note) > MAX_NOTE:
        raise Invalid("cases.note_too_long", max=MAX_NOTE, length=len(request.note))
    if len(request.attachments) > MAX_ATTACHMENTS:
        raise Invalid("cases.too_many_attachments", max=MAX_ATTACHMENTS)
    for key in _REQUIRED_DATA.get(request.action, ()):
        if request.data.get(key) in (None, ""):
            raise Invalid("cases.data_required", action=request.action.value, field=key)


_REQUIRED_DATA: Mapping[Action, tuple[str, ...]] = {
    Action.DISPATCH: ("lead_unit", "claim_due", "handling_due"),
    Action.REDISPATCH: ("lead_unit", "claim_due", "handling_due"),
    Action.REOPEN: ("claim_due", "handling_due"),
    Action.FOLLOW_UP: ("rating",),
    Action.REQUEST_EXTENSION: ("limit",),
    Action.APPROVE_EXTENSION: ("handling_due",),
    Action.MERGE: ("main_case",),
    Action.ESCALATE: ("handling_level",),
}


LEAD_UNIT_ACTIONS = frozenset({Action.CLAIM, Action.RETURN, Action.HANDLE, Action.SUBMIT_RESULT,
                               Action.REQUEST_EXTENSION, Action.ESCALATE})


def _check_guards(case: Case, request: Request, actor: Actor, guards: Guards) -> None:
    action = request.action
    if actor.role == Role.HANDLER and action in LEAD_UNIT_ACTIONS and (
            actor.unit_code is None or actor.unit_code != case.lead_unit):
        raise Forbidden("cases.not_lead_unit", unit=actor.unit_code or "-")
    for applies, check in _GUARDS:
        if action in applies:
            check(case, request, guards)


def _result_not_empty(case: Case, request: Request, guards: Guards) -> None:
    if not request.attachments and not request.note.strip():
        raise Invalid("cases.result_empty")


def _rating_known(case: Case, request: Request, guards: Guards) -> None:
    if request.data.get("rating") not in set(Rating):
        raise Invalid("cases.bad_rating", value=str(request.data.get("rating")))


def _was_unsatisfied(case: Case, request: Request, guards: Guards) -> None:
    if case.rating != Rating.UNSATISFIED:
        raise InvalidTransition("cases.reopen_needs_unsatisfied")


def _no_pending_extension(case: Case, request: Request, guards: Guards) -> None:
    if case.extension_pending:
        raise InvalidTransition("cases.extension_already_pending")


def _pending_extension(case: Case, request: Request, guards: Guards) -> None:
    if not case.extension_pending:
        raise InvalidTransition("cases.no_extension_pending")


def _self_handle_allowed(case: Case, request: Request, guards: Guards) -> None:
    if not guards.self_handle_allowed:
        raise Forbidden("cases.self_handle_not_allowed")


def _merge_target_open(case: Case, request: Request, guards: Guards) -> None:
    if not guards.merge_target_open:
        raise InvalidTransition("cases.merge_target_not_open", main=str(request.data.get("main_case")))


def _main_case_open(case: Case, request: Request, guards: Guards) -> None:
    if not guards.main_case_open:
        raise InvalidTransition("cases.main_case_closed", main=str(case.merged_into))


def _check_escalation(case: Case, request: Request, guards: Guards) -> None:
    wanted = request.data.get("handling_level")
    if wanted not in set(HandlingLevel) or HandlingLevel(wanted).rank <= case.handling_level.rank:
        raise Invalid("cases.escalate_not_higher", level=str(wanted), current=case.handling_level.value)


Guard = Callable[[Case, Request, Guards], None]
_GUARDS: tuple[tuple[frozenset[Action], Guard], ...] = (
    (frozenset({Action.SUBMIT_RESULT}), _result_not_empty),
    (frozenset({Action.FOLLOW_UP}), _rating_known),
    (frozenset({Action.REOPEN}), _was_unsatisfied),
    (frozenset({Action.REQUEST_EXTENSION}), _no_pending_extension),
    (frozenset({Action.APPROVE_EXTENSION, Action.DENY_EXTENSION}), _pending_extension),
    (frozenset({Action.SELF_HANDLE}), _self_handle_allowed),
    (frozenset({Action.MERGE}), _merge_target_open),
    (frozenset({Action.UNMERGE}), _main_case_open),
    (frozenset({Action.ESCALATE}), _check_escalation),
)


def evolve(case: Case, entry: TimelineEntry) -> Case:
    """The case after one entry; deterministic, so replaying the timeline rebuilds the case."""
    changes: dict[str, Any] = {"state": entry.to_state, "version": entry.seq}
    changes.update(_EFFECTS.get(entry.action, _no_effect)(case, entry))
    return replace(case, **changes)


def replay(opening: Case, entries: Iterable[TimelineEntry]) -> Case:
    """Rebuild a case from its opening snapshot and its whole timeline."""
    case = opening
    for entry in entries:
        case = evolve(case, entry)
    return case


def when(value: Any) -> datetime:
    """A due date from entry data: a datetime, or its ISO text as stored in the timeline."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    raise Invalid("cases.bad_datetime", value=str(value))


def _no_effect(case: Case, entry: TimelineEntry) -> dict[str, Any]:
    return {}


def _dispatch(case: Case, entry: TimelineEntry) -> dict[str, Any]:
    d = entry.data
    return {"lead_unit": d["lead_unit"], "assist_units": tuple(d.get("assist_units", ())),
            "dispatched_at": entry.at, "claim_due": when(d["claim_due"]), "handling_due": when(d["handling_due"]),
            "claimed_at": None, "pauses": (), "extension_pending": None,
            "handling_level": HandlingLevel(d.get("handling_level", case.handling_level))}


def _reopen(case: Case, entry: TimelineEntry) -> dict[str, Any]:
    d = entry.data
    return {"dispatched_at": entry.at, "claim_due": when(d["claim_due"]), "handling_due": when(d["handling_due"]),
            "claimed_at": None, "closed_at": None, "rating": None, "pauses": ()}


def _suspend(case: Case, entry: TimelineEntry) -> dict[str, Any]:
    return {"resume_to": case.state, "suspended_at": entry.at}


def _resume(case: Case, entry: TimelineEntry) -> dict[str, Any]:
    pause = ((case.suspended_at, entry.at),) if case.suspended_at else ()
    # due dates moved by the paused time are computed by the service and carried in the entry
    handling_due = entry.data.get("handling_due")
    claim_due = entry.data.get("claim_due")
    return {"resume_to": None, "suspended_at": None, "pauses": case.pauses + pause,
            "handling_due": when(handling_due) if handling_due else case.handling_due,
            "claim_due": when(claim_due) if claim_due else case.claim_due}


_EFFECTS: Mapping[Action, Callable[[Case, TimelineEntry], dict[str, Any]]] = {
    Action.DISPATCH: _dispatch,
    Action.REDISPATCH: _dispatch,
    Action.CLAIM: lambda c, e: {"claimed_at": e.at},
    Action.RETURN: lambda c, e: {"returns": c.returns + 1},
    Action.CLOSE: lambda c, e: {"closed_at": e.at},
    Action.SELF_HANDLE: lambda c, e: {"closed_at": e.at, "self_handled": True},
    Action.FOLLOW_UP: lambda c, e: {"rating": Rating(e.data["rating"])},
    Action.REOPEN: _reopen,
    Action.REQUEST_EXTENSION: lambda c, e: {"extension_pending": str(e.data["limit"])},
    Action.APPROVE_EXTENSION: lambda c, e: {"extension_pending": None, "handling_due": when(e.data["handling_due"])},
    Action.DENY_EXTENSION: lambda c, e: {"extension_pending": None},
    Action.SUSPEND: _suspend,
    Action.RESUME: _resume,
    Action.URGE: lambda c, e: {"urges": c.urges + 1},
    Action.ESCALATE: lambda c, e: {"handling_level": HandlingLevel(e.data["handling_level"]),
                                   "escalations": c.escalations + 1, "lead_unit": None, "assist_units": (),
                                   "claim_due": None, "handling_due": None, "dispatched_at": None},
    Action.MERGE: lambda c, e: {"resume_to": c.state, "merged_into": str(e.data["main_case"])},
    Action.UNMERGE: lambda c, e: {"resume_to": None, "merged_into": None},
}


def allowed_actions(case: Case, actor: Actor) -> list[Action]:
    """Actions the table lets this actor try in the case's state (guards may still refuse)."""
    return [a for a, rule in ALLOWED.items()
            if case.state in rule.sources and (actor.role in rule.roles or actor.role == Role.ADMIN)
            and not (actor.role == Role.HANDLER and case.lead_unit and actor.unit_code != case.lead_unit)]
