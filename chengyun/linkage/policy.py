"""Linkage policy, pure: run and notification states, the retry schedule, escalation, checklist, ack tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from chengyun.auth.model import Principal, Role
from chengyun.errors import Invalid
from chengyun.linkage.model import Plan

MAX_ATTEMPTS = 8
FIRST_DELAY = timedelta(seconds=15)
MAX_DELAY = timedelta(minutes=10)
LEASE = timedelta(minutes=1)  # a notification being sent is not taken by a concurrent runner meanwhile
ACK_TOKEN_DAYS = 7
MAX_NOTE = 500


class RunState(StrEnum):
    """Where a linkage run stands (stored codes)."""

    ACTIVE = "active"  # nobody has acknowledged yet: escalation runs
    ACKNOWLEDGED = "acknowledged"  # somebody confirmed: no further tiers; deliveries of earlier tiers go on
    CLOSED = "closed"  # the alarm cleared or was handled: nothing more is sent


class NoticeStatus(StrEnum):
    """Where one notification stands (stored codes)."""

    PENDING = "pending"  # waiting for (another) attempt
    SENT = "sent"  # the channel accepted it
    LOGGED = "logged"  # recorded by the SMS logging sink: nothing left the machine
    FAILED = "failed"  # gave up (or nobody could be resolved for the party)
    ACKNOWLEDGED = "acknowledged"  # the recipient confirmed
    CANCELLED = "cancelled"  # the run closed before it could be sent


DELIVERED = frozenset({NoticeStatus.SENT, NoticeStatus.LOGGED, NoticeStatus.ACKNOWLEDGED})


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed try: 15 s, doubling, at most 10 min."""
    return min(FIRST_DELAY * (1 << min(max(attempts - 1, 0), 16)), MAX_DELAY)


def after_attempt(ok: bool, sink: bool, retryable: bool, attempts: int,
                  now: datetime) -> tuple[NoticeStatus, datetime | None]:
    """(status, next try) after the `attempts`-th try: sent or logged, back off, or give up."""
    if ok:
        return (NoticeStatus.LOGGED if sink else NoticeStatus.SENT), None
    if not retryable or attempts >= MAX_ATTEMPTS:
        return NoticeStatus.FAILED, None
    return NoticeStatus.PENDING, now + retry_delay(attempts)


def tier_due_at(plan: Plan, tier: int, started_at: datetime) -> datetime | None:
    """When tier `tier` goes out if nobody acknowledges; None past the last tier."""
    if tier >= len(plan.tiers):
        return None
    return started_at + timedelta(minutes=plan.tiers[tier].after_min)


def tiers_due(plan: Plan, current: int, started_at: datetime, now: datetime) -> list[int]:
    """The tiers after `current` whose time has come (several when the runner was late)."""
    due = []
    for tier in range(current + 1, len(plan.tiers)):
        at = tier_due_at(plan, tier, started_at)
        if at is None or at > now:
            break
        due.append(tier)
    return due


def escalates(state: str) -> bool:
    """Only a run nobody has acknowledged (and not closed) escalates."""
    return state == RunState.ACTIVE


def check_step(progress: Mapping[str, Any], plan: Plan, code: str, *, done: bool, by: str, by_id: int | None,
               at: datetime) -> dict[str, Any]:
    """The checklist progress with one step ticked (or unticked), or Invalid for a step the plan lacks."""
    if plan.step(code) is None:
        raise Invalid("linkage.unknown_step", step=code[:40], plan=plan.key)
    out = dict(progress)
    out[code] = {"done": done, "by": by[:100], "by_id": by_id, "at": at.astimezone(UTC).isoformat()}
    return out


def clean_note(note: str | None) -> str:
    """An acknowledgement note: one paragraph of printable text, at most 500 characters."""
    text = " ".join((note or "").split())
    if len(text) > MAX_NOTE:
        raise Invalid("linkage.note_too_long", limit=MAX_NOTE)
    return text


# --- acknowledge tokens ----------------------------------------------------------------------------------------


def _signature(key: bytes, notification_id: int, expires: int) -> str:
    digest = hmac.new(key, f"ack:{notification_id}:{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def make_ack_token(key: bytes, notification_id: int, expires: datetime) -> str:
    """`<id>.<expiry epoch>.<HMAC>`: proves the bearer received notification `id`; valid until `expires`."""
    stamp = int(expires.timestamp())
    return f"{notification_id}.{stamp}.{_signature(key, notification_id, stamp)}"


def read_ack_token(key: bytes, token: str, now: datetime) -> int | None:
    """The notification id of a valid, unexpired token; None for anything else (never says which)."""
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 120 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    notification_id, stamp = int(parts[0]), int(parts[1])
    if not hmac.compare_digest(_signature(key, notification_id, stamp), parts[2]):
        return None
    return notification_id if now.timestamp() <= stamp else None


def token_key(secret: str) -> bytes:
    """The ack-token key derived from the instance secret (separate from every other use of it)."""
    return hashlib.sha256(f"chengyun:linkage-ack:{secret}".encode()).digest()


# --- who may do what -------------------------------------------------------------------------------------------

VIEW_ROLES = frozenset({Role.ADMIN, Role.OPERATOR, Role.HANDLER, Role.GRID_WORKER, Role.AUDITOR})
CHECK_ROLES = frozenset({Role.ADMIN, Role.OPERATOR, Role.HANDLER, Role.GRID_WORKER})
ACK_FOR_OTHERS = frozenset({Role.ADMIN, Role.OPERATOR})  # e.g. the fire liaison confirmed on the phone


def may_view(principal: Principal, area_path: str, *, recipient: bool) -> bool:
    """A recipient of the run, or staff whose scope contains the device's area."""
    return recipient or (principal.role in VIEW_ROLES and bool(area_path) and principal.can_see_path(area_path))


def may_acknowledge(principal: Principal, notice_user_id: int | None, area_path: str) -> bool:
    """The notification's own user, or an operator (admin) in scope acknowledging on the recipient's behalf."""
    if notice_user_id is not None and notice_user_id == principal.user_id:
        return True
    return principal.role in ACK_FOR_OTHERS and bool(area_path) and principal.can_see_path(area_path)


def may_check(principal: Principal, area_path: str, *, recipient: bool) -> bool:
    """Responders tick the checklist: staff (not auditors) who received the run or whose scope contains it."""
    return principal.role in CHECK_ROLES and may_view(principal, area_path, recipient=recipient)
