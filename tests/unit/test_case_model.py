"""The loop's transition table and aggregate: the happy path, side flows, refusals, and random sequences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chengyun.auth.model import Role
from chengyun.cases.model import (
    ALLOWED,
    Action,
    Actor,
    Case,
    CaseState,
    Guards,
    Rating,
    Request,
    TimelineEntry,
    allowed_actions,
    decide,
    evolve,
    replay,
)
from chengyun.errors import DomainError, Forbidden, Invalid, InvalidTransition
from chengyun.shared.handling import HandlingLevel

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
OPERATOR = Actor(1, Role.OPERATOR, "center", "值班员")
HANDLER = Actor(2, Role.HANDLER, "cg", "城管处置员")
OTHER_HANDLER = Actor(3, Role.HANDLER, "zj", "住建处置员")
GRID = Actor(4, Role.GRID_WORKER, None, "网格员")
RESIDENT = Actor(5, Role.RESIDENT, None, "居民")
DUES = {"claim_due": T0 + timedelta(hours=8), "handling_due": T0 + timedelta(days=5)}
DATA: dict[Action, dict[str, Any]] = {
    Action.DISPATCH: {"lead_unit": "cg", "assist_units": ["zj"], **DUES},
    Action.REDISPATCH: {"lead_unit": "cg", **DUES},
    Action.REOPEN: dict(DUES),
    Action.FOLLOW_UP: {"rating": "satisfied"},
    Action.REQUEST_EXTENSION: {"limit": "3wd"},
    Action.APPROVE_EXTENSION: {"handling_due": T0 + timedelta(days=8)},
    Action.MERGE: {"main_case": "QY-20261123-000001"},
    Action.ESCALATE: {"handling_level": "street"},
}


def step(case: Case, action: Action, actor: Actor = OPERATOR, note: str = "说明", guards: Guards = Guards(),
         **data: Any) -> tuple[Case, TimelineEntry]:
    request = Request(action, note=note, attachments=("sha256:abc",), data={**DATA.get(action, {}), **data})
    entry = decide(case, request, actor, T0 + timedelta(minutes=case.version), guards)
    return evolve(case, entry), entry


def run(*actions: tuple[Action, Actor] | Action, case: Case | None = None) -> tuple[Case, list[TimelineEntry]]:
    case = case or Case()
    entries = []
    for item in actions:
        action, actor = item if isinstance(item, tuple) else (item, OPERATOR)
        case, entry = step(case, action, actor)
        entries.append(entry)
    return case, entries


def test_the_whole_loop_from_report_to_follow_up() -> None:
    case, entries = run(Action.ACCEPT, Action.REGISTER, Action.DISPATCH, (Action.CLAIM, HANDLER),
                        (Action.HANDLE, HANDLER), (Action.SUBMIT_RESULT, HANDLER), Action.VERIFY_PASS,
                        Action.CLOSE, Action.FOLLOW_UP)
    assert case.state == CaseState.FOLLOWED_UP and case.version == 9
    assert case.lead_unit == "cg" and case.assist_units == ("zj",) and case.rating == Rating.SATISFIED
    assert case.claimed_at is not None and case.closed_at is not None and case.handling_due == DUES["handling_due"]
    assert [e.to_state for e in entries][:3] == [CaseState.VERIFYING, CaseState.REGISTERED, CaseState.DISPATCHED]
    assert replay(Case(), entries) == case


def test_return_needs_a_reason_and_goes_back_to_the_dispatcher() -> None:
    case, _ = run(Action.REGISTER, Action.DISPATCH)
    with pytest.raises(Invalid) as err:
        step(case, Action.RETURN, HANDLER, note="  ")
    assert err.value.code == "cases.reason_required"
    case, entry = step(case, Action.RETURN, HANDLER, note="不属于本单位职责")
    assert case.state == CaseState.RETURNED and case.returns == 1 and entry.note == "不属于本单位职责"
    case, _ = step(case, Action.REDISPATCH, lead_unit="zj")
    assert case.state == CaseState.DISPATCHED and case.lead_unit == "zj"


def test_only_the_lead_unit_claims_and_handles() -> None:
    case, _ = run(Action.REGISTER, Action.DISPATCH)
    with pytest.raises(Forbidden) as err:
        step(case, Action.CLAIM, OTHER_HANDLER)
    assert err.value.code == "cases.not_lead_unit"
    assert Action.CLAIM not in allowed_actions(case, OTHER_HANDLER)
    assert Action.CLAIM in allowed_actions(case, HANDLER)


def test_a_resident_cannot_dispatch_and_an_illegal_step_is_precise() -> None:
    case, _ = run(Action.REGISTER)
    with pytest.raises(Forbidden) as forbidden:
        step(case, Action.DISPATCH, RESIDENT)
    assert forbidden.value.code == "cases.role_not_allowed"
    with pytest.raises(InvalidTransition) as illegal:
        step(case, Action.CLOSE)
    assert illegal.value.code == "cases.invalid_transition"
    assert illegal.value.params == {"action": "close", "state": "registered"}


def test_failed_verification_goes_back_to_handling() -> None:
    case, _ = run(Action.REGISTER, Action.DISPATCH, (Action.CLAIM, HANDLER), (Action.SUBMIT_RESULT, HANDLER))
    case, _ = step(case, Action.VERIFY_FAIL, GRID, note="现场仍有垃圾")
    assert case.state == CaseState.HANDLING


def test_unsatisfied_follow_up_may_reopen_and_satisfied_may_not() -> None:
    closed, _ = run(Action.REGISTER, Action.DISPATCH, (Action.CLAIM, HANDLER), (Action.SUBMIT_RESULT, HANDLER),
                    Action.VERIFY_PASS, Action.CLOSE)
    happy, _ = step(closed, Action.FOLLOW_UP, RESIDENT, rating="satisfied")
    with pytest.raises(InvalidTransition) as err:
        step(happy, Action.REOPEN, note="复查")
    assert err.value.code == "cases.reopen_needs_unsatisfied"
    unhappy, _ = step(closed, Action.FOLLOW_UP, RESIDENT, rating="unsatisfied")
    reopened, _ = step(unhappy, Action.REOPEN, note="居民不满意")
    assert reopened.state == CaseState.DISPATCHED and reopened.rating is None and reopened.closed_at is None


def test_bad_rating_is_refused() -> None:
    closed, _ = run(Action.REGISTER, Action.DISPATCH, (Action.CLAIM, HANDLER), (Action.SUBMIT_RESULT, HANDLER),
                    Action.VERIFY_PASS, Action.CLOSE)
    with pytest.raises(Invalid) as err:
        step(closed, Action.FOLLOW_UP, rating="great")
    assert err.value.code == "cases.bad_rating"


def test_extension_request_then_approval_moves_the_due_date() -> None:
    case, _ = run(Action.REGISTER, Action.DISPATCH, (Action.CLAIM, HANDLER))
    case, _ = step(case, Action.REQUEST_EXTENSION, HANDLER, note="需协调产权单位")
    assert case.extension_pending == "3wd"
    with pytest.raises(InvalidTransition):
        step(case, Action.REQUEST_EXTENSION, HANDLER, note="再次申请")
    case, _ = step(case, Action.APPROVE_EXTENSION)
    assert case.extension_pending is None and case.handling_due == T0 + timedelta(days=8)
    with pytest.raises(InvalidTransition) as err:
        step(case, Action.DENY_EXTENSION, note="不同意")
    assert err.value.code == "cases.no_extension_pending"


def test_suspend_and_resume_return_to_the_same_state_and_record_the_pause() -> None:
    case, _ = run(Action.REGISTER, Action.DISPATCH, (Action.CLAIM, HANDLER))
    case, _ = step(case, Action.SUSPEND, note="等待天气好转")
    assert case.state == CaseState.SUSPENDED and case.resume_to == CaseState.CLAIMED
    case, entry = step(case, Action.RESUME, handling_due=T0 + timedelta(days=6))
    assert case.state == CaseState.CLAIMED and entry.to_state == CaseState.CLAIMED
    assert len(case.pauses) == 1 and case.handling_due == T0 + timedelta(days=6)


def test_merge_needs_an_open_main_case_and_is_undoable() -> None:
    case, _ = run(Action.REGISTER)
    with pytest.raises(InvalidTransition):
        step(case, Action.MERGE)
    merged, _ = step(case, Action.MERGE, guards=Guards(merge_target_open=True))
    assert merged.state == CaseState.MERGED and merged.merged_into == "QY-20261123-000001"
    with pytest.raises(InvalidTransition) as closed:  # undoable only while the main case is open
        step(merged, Action.UNMERGE)
    assert closed.value.code == "cases.main_case_closed"
    back, _ = step(merged, Action.UNMERGE, guards=Guards(main_case_open=True))
    assert back.state == CaseState.REGISTERED and back.merged_into is None


def test_self_handle_only_when_the_category_allows_it() -> None:
    with pytest.raises(Forbidden) as err:
        step(Case(), Action.SELF_HANDLE, GRID)
    assert err.value.code == "cases.self_handle_not_allowed"
    case, _ = step(Case(), Action.SELF_HANDLE, GRID, guards=Guards(self_handle_allowed=True))
    assert case.state == CaseState.CLOSED and case.self_handled


def test_escalation_goes_up_and_clears_the_assignment() -> None:
    case, _ = run(Action.REGISTER, Action.DISPATCH)
    with pytest.raises(Invalid) as err:
        step(case, Action.ESCALATE, handling_level="community", note="超出权限")
    assert err.value.code == "cases.escalate_not_higher"
    case, _ = step(case, Action.ESCALATE, note="超出社区权限")
    assert case.state == CaseState.REGISTERED and case.handling_level == HandlingLevel.STREET
    assert case.lead_unit is None and case.escalations == 1


def test_oversized_note_is_refused_before_anything_changes() -> None:
    case, _ = run(Action.REGISTER, Action.DISPATCH)
    with pytest.raises(Invalid) as err:
        step(case, Action.URGE, note="催" * 2001)
    assert err.value.code == "cases.note_too_long"


ACTORS = st.sampled_from([OPERATOR, HANDLER, OTHER_HANDLER, GRID, RESIDENT, Actor(9, Role.ADMIN)])
RATINGS = st.sampled_from(list(Rating))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(list(Action)), ACTORS, st.booleans(), RATINGS, st.booleans()),
                max_size=60))
def test_random_sequences_stay_in_the_table_and_replay_to_the_current_case(
    steps: list[tuple[Action, Actor, bool, Rating, bool]],
) -> None:
    case, entries = Case(), []
    for action, actor, with_note, rating, guard in steps:
        request = Request(action, note="原因" if with_note else "",
                          data={**DATA.get(action, {}), "rating": rating.value})
        try:
            entry = decide(case, request, actor, T0 + timedelta(minutes=len(entries)), Guards(guard, guard, guard))
        except DomainError:
            continue  # a refused request leaves the case exactly as it was
        rule = ALLOWED[action]
        assert entry.from_state == case.state and entry.from_state in rule.sources
        assert entry.to_state == (rule.target or (case.resume_to if rule.resumes else case.state))
        case = evolve(case, entry)
        entries.append(entry)
        assert case.state in set(CaseState)
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    assert replay(Case(), entries) == case
    assert case.version == len(entries)
