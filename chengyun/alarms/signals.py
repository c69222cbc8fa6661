"""What the rule engine emits and the alarm service consumes: a fire or clear of one rule on one device; pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    """Alarm severities, most severe first (the common IoT-platform set)."""

    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    WARNING = "warning"
    INDETERMINATE = "indeterminate"


SEVERITY_RANK = {s: i for i, s in enumerate(Severity)}  # 0 = most severe


class Change(StrEnum):
    """A rule starts (fire) or stops (clear) holding for a device."""

    FIRE = "fire"
    CLEAR = "clear"


@dataclass(frozen=True, slots=True)
class Transition:
    """One rule changed its verdict for one device at `at` (UTC epoch seconds).

    `alarm_type` (e.g. `gas_leak`) is what linkage plans and case categories key on; a household rule reports the
    household's anchor device. `params` explain it in translatable form, e.g. {"property": "gas_lel", "value": 25.0,
    "threshold": 20.0}; a re-fire of an active alarm is a FIRE again (the service updates the alarm)."""

    rule_id: str
    alarm_type: str
    severity: Severity
    change: Change
    device_id: str
    at: float
    params: Mapping[str, object] = field(default_factory=dict)
