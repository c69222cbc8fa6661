"""What the public sees of a report and its case: states, times and the final answer; never people or notes.

A resident proves it is their report with its token (a random UUID the answer to the report gave them). The
rating (回访评价) is the loop's `follow_up` step, taken by intake on the reporter's behalf, once, after closing.
"""

from __future__ import annotations

import hmac
from typing import Any

from chengyun.bootstrap import Container
from chengyun.cases.model import Action, CaseState, Rating
from chengyun.cases.model import Request as StepRequest
from chengyun.cases.tables import CaseRow, TimelineRow
from chengyun.errors import Conflict, Invalid, NotFound
from chengyun.i18n import translate
from chengyun.intake.model import clean_text
from chengyun.intake.service import INTAKE
from chengyun.intake.tables import ReportRow

ANSWER_STEPS = frozenset({Action.CLOSE.value, Action.SELF_HANDLE.value})  # their note is the answer to the public
MAX_COMMENT = 500


def find_report(container: Container, token: str) -> ReportRow:
    """The report of a token; any unknown or malformed token is the same NotFound."""
    row = container.intake.by_token(token) if 0 < len(token) <= 36 else None
    if row is None:
        raise NotFound("intake.report_not_found", report=token[:36])
    return row


def token_for_case(container: Container, number: str, phone_last4: str) -> str:
    """The report token of a case, proven by the last four digits of the phone the reporter left (the masked
    phone shows them); a case without a phone, a wrong number or wrong digits are the same NotFound."""
    report = container.intake.first_of_case(number.strip()[:32]) if number.strip() else None
    masked = (report.payload or {}).get("phone_masked") if report is not None else None
    digits = phone_last4.strip()
    if report is None or not masked or len(digits) != 4 or not digits.isdigit() \
            or not hmac.compare_digest(str(masked)[-4:], digits):
        raise NotFound("public.case_not_found", number=number.strip()[:32])
    return report.token


def public_view(container: Container, token: str, locale: str) -> dict[str, Any]:
    """The tracking page's data: the report's state and, once it is a case, the case's public timeline."""
    report = find_report(container, token)
    view: dict[str, Any] = {
        "token": report.token, "state": report.state,
        "state_label": translate(f"intake.state.{report.state}", locale),
        "received_at": report.received_at, "description": report.description, "address": report.address,
        "case": None,
    }
    if report.case_number:
        row, steps = container.cases.get(INTAKE, report.case_number)
        view["case"] = _case_view(container, row, steps, locale)
    return view


def _case_view(container: Container, row: CaseRow, steps: list[TimelineRow], locale: str) -> dict[str, Any]:
    try:
        category = container.categories.get(row.category_code).name
    except NotFound:
        category = row.category_code
    return {
        "number": row.number, "state": row.state, "state_label": translate(f"cases.state.{row.state}", locale),
        "category": category, "reported_at": row.reported_at, "closed_at": row.closed_at, "rating": row.rating,
        "rating_label": translate(f"pages.cases.ratings.{row.rating}", locale) if row.rating else None,
        "can_rate": row.state == CaseState.CLOSED.value,
        "timeline": [_step(step, locale) for step in steps],
    }


def _step(step: TimelineRow, locale: str) -> dict[str, Any]:
    """One public step: what happened and when; the note only when it is the answer (close, self-handle)."""
    return {"action": step.action, "action_label": translate(f"cases.action.{step.action}", locale),
            "state": step.to_state, "state_label": translate(f"cases.state.{step.to_state}", locale),
            "at": step.at, "answer": step.note if step.action in ANSWER_STEPS and step.note else None,
            "rating": (step.data or {}).get("rating") if step.action == Action.FOLLOW_UP.value else None}


def rate(container: Container, token: str, rating: str, comment: str) -> CaseRow:
    """Record the reporter's rating of a closed case (follow_up), once; Conflict before closing or when rated."""
    report = find_report(container, token)
    if not report.case_number:
        raise Conflict("public.not_closed", state=report.state)
    row, _ = container.cases.get(INTAKE, report.case_number)
    if row.state == CaseState.FOLLOWED_UP.value or row.rating:
        raise Conflict("public.already_rated", number=row.number)
    if row.state != CaseState.CLOSED.value:
        raise Conflict("public.not_closed", state=row.state)
    if rating not in set(Rating):
        raise Invalid("cases.bad_rating", value=rating[:40])
    note = clean_text(comment, "comment", MAX_COMMENT, multiline=True)
    request = StepRequest(Action.FOLLOW_UP, note=note, data={"rating": rating, "by": "reporter", "channel": "public"})
    try:
        done: CaseRow = container.cases.act(INTAKE, row.number, request, version=row.version)
    except Conflict as exc:  # rated meanwhile (the version moved, or the state did)
        raise Conflict("public.already_rated", number=row.number) from exc
    return done
