"""Outbound webhook policy (回传), pure: a case step's payload, the body's signature and the retry schedule.

No I/O here: the service (`intake/webhooks.py`) reads the steps, stores deliveries and does the HTTP.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from chengyun.errors import Invalid

EVENT = "case.step"
MAX_ATTEMPTS = 12
FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)
TIMEOUT_S = 5.0
SIGNATURE_PREFIX = "sha256="
CLOSED_STATES = frozenset({"closed", "followed_up", "rejected", "merged"})
_SYSTEM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
MIN_SECRET, MAX_SECRET, MAX_URL = 16, 200, 500


class DeliveryState(StrEnum):
    """Where one delivery stands (stored codes)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up after MAX_ATTEMPTS; an admin may retry it


@dataclass(frozen=True, slots=True)
class Step:
    """One timeline entry as the payload needs it."""

    seq: int
    action: str
    from_state: str
    to_state: str
    at: datetime
    note: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


def check_system(system: str) -> str:
    """An identifier-like system name (letters, digits, `_.-`, at most 40), or Invalid."""
    cleaned = system.strip()
    if not _SYSTEM.match(cleaned):
        raise Invalid("webhooks.bad_system", system=system[:60])
    return cleaned


def check_url(url: str) -> str:
    """An absolute http(s) URL with a host and no credentials in it, or Invalid."""
    cleaned = url.strip()
    try:
        parts = urlsplit(cleaned)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.username is None
        _ = parts.port  # a malformed port raises ValueError
    except ValueError:
        ok = False
    if not ok or len(cleaned) > MAX_URL or any(ch.isspace() for ch in cleaned):
        raise Invalid("webhooks.bad_url", url=cleaned[:120])
    return cleaned


def check_secret(secret: str) -> str:
    """A shared secret of 16 to 200 printable characters, or Invalid."""
    if not MIN_SECRET <= len(secret) <= MAX_SECRET or not secret.isprintable():
        raise Invalid("webhooks.bad_secret", min=MIN_SECRET, max=MAX_SECRET)
    return secret


def status_of(state: str) -> str:
    """`closed` for a finished case (closed, followed up, rejected, merged), else `open`."""
    return "closed" if state in CLOSED_STATES else "open"


def due_after(previous: datetime | None, step: Step) -> datetime | None:
    """The handling due date after a step: a step that sets one carries it; an escalation clears it."""
    if step.action == "escalate":
        return None
    value = step.data.get("handling_due")
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value)
    return previous


def payload(system: str, external_id: str, number: str, step: Step, handling_due: datetime | None,
            tz: tzinfo) -> dict[str, Any]:
    """What the upstream system receives for one step; times are ISO 8601 with the local offset."""
    return {
        "system": system, "external_id": external_id, "case_number": number, "version": step.seq,
        "action": step.action, "from_state": step.from_state, "to_state": step.to_state,
        "status": status_of(step.to_state), "note": step.note, "at": step.at.astimezone(tz).isoformat(),
        "handling_due": handling_due.astimezone(tz).isoformat() if handling_due else None,
    }


def payloads(system: str, external_id: str, number: str, steps: list[Step],
             tz: tzinfo) -> list[dict[str, Any]]:
    """One payload per step (seq order), each with the handling due date as it stood after that step."""
    out, due = [], None
    for step in sorted(steps, key=lambda s: s.seq):
        due = due_after(due, step)
        out.append(payload(system, external_id, number, step, due, tz))
    return out


def body(data: Mapping[str, Any]) -> bytes:
    """The exact bytes sent (compact UTF-8 JSON, sorted keys), so a stored payload always signs the same."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign(secret: str, raw: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of the body>`: the X-Chengyun-Signature header."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode("utf-8"), raw, hashlib.sha256).hexdigest()


def verify(secret: str, raw: bytes, header: str | None) -> bool:
    """What a receiver checks: the header matches the body's signature (constant-time comparison)."""
    return bool(header) and hmac.compare_digest(sign(secret, raw), header or "")


def headers(delivery_id: int, signature: str) -> dict[str, str]:
    """The request headers of one delivery."""
    return {"Content-Type": "application/json", "X-Chengyun-Event": EVENT,
            "X-Chengyun-Delivery": str(delivery_id), "X-Chengyun-Signature": signature}


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed try: 30 s, doubling, at most 1 h."""
    return min(FIRST_DELAY * (1 << min(max(attempts - 1, 0), 20)), MAX_DELAY)


def after_failure(attempts: int, now: datetime) -> tuple[DeliveryState, datetime | None]:
    """(state, next try) after `attempts` failed tries: back off, or give up after MAX_ATTEMPTS."""
    if attempts >= MAX_ATTEMPTS:
        return DeliveryState.FAILED, None
    return DeliveryState.PENDING, now + retry_delay(attempts)


def succeeded(status: int) -> bool:
    """Any 2xx answer is a delivery; redirects are not followed and count as failures."""
    return 200 <= status < 300


def short_error(text: str, limit: int = 200) -> str:
    """One line of at most `limit` characters for `last_error`."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
