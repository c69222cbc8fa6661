"""The parameters of each rule kind as typed data, parsed from a rule's `params` mapping; pure."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from chengyun.alarms.rule_fields import Fields, bad
from chengyun.alarms.signals import SEVERITY_RANK, Severity
from chengyun.errors import Invalid

Scalar = str | int | float | bool


class Kind(StrEnum):
    """The rule kinds; each has one evaluator."""

    THRESHOLD = "threshold"
    REPEATING = "repeating"
    INACTIVITY = "inactivity"
    OFFLINE = "offline"
    RATE = "rate"
    EVENT = "event"
    COMPOSITE = "composite"


class Direction(StrEnum):
    """Whether high values (`above`, e.g. gas) or low values (`below`, e.g. hydrant pressure) are the problem."""

    ABOVE = "above"
    BELOW = "below"


class Activity(StrEnum):
    """What counts as a sign of life for an inactivity rule."""

    INCREASE = "increase"  # the property rose (a cumulative meter moved)
    CHANGE = "change"  # the property changed at all
    MATCH = "match"  # the property showed `value` (an event such as door_opened)
    PRESENT = "present"  # the property was reported


@dataclass(frozen=True, slots=True)
class Level:
    """An escalation step: at this value an active alarm fires again with a more severe severity."""

    at: float
    severity: Severity


@dataclass(frozen=True, slots=True)
class ThresholdParams:
    """Fire when `property` reaches `fire_at` (≥ above, ≤ below) for `hold` seconds; clear once past `clear_at`
    (< above, > below): the gap between them is the hysteresis. Booleans count as 1 and 0."""

    property: str
    direction: Direction
    fire_at: float
    clear_at: float
    hold: float = 0.0
    escalate: tuple[Level, ...] = ()


@dataclass(frozen=True, slots=True)
class RepeatingParams:
    """Fire when the condition is met `count` times within `window` seconds; clear once fewer remain in it.

    The condition is `property` reaching `fire_at` (a rising edge counts once with `edges`, every reading without),
    or, with `value`, the property showing that value (every matching reading counts)."""

    property: str
    direction: Direction
    fire_at: float
    value: Scalar | None
    count: int
    window: float
    edges: bool = True


@dataclass(frozen=True, slots=True)
class InactivityParams:
    """Fire when no activity was seen for `duration` seconds (scheduled time only, when the rule has a schedule);
    clear at the next activity. Activity: see `Activity`; `min_delta` is the smallest rise or change that counts."""

    property: str
    activity: Activity
    duration: float
    value: Scalar | None = None
    min_delta: float = 0.0


@dataclass(frozen=True, slots=True)
class OfflineParams:
    """Fire when no message of any kind arrived for `timeout` seconds; clear at the next message."""

    timeout: float


@dataclass(frozen=True, slots=True)
class RateParams:
    """Fire when `property` rises (or falls) by `rate` per `per` seconds between two readings at most `max_gap` apart;
    clear when a later reading shows the rate below `clear_rate`."""

    property: str
    direction: Direction
    rate: float
    per: float
    clear_rate: float
    max_gap: float


@dataclass(frozen=True, slots=True)
class EventParams:
    """Fire at once when `property` shows `value`; clear `clear_after` seconds after the last such reading, or when
    the property shows `clear_value`; with neither, clear when the property shows any other value."""

    property: str
    value: Scalar
    clear_after: float | None = None
    clear_value: Scalar | None = None


@dataclass(frozen=True, slots=True)
class CompositeParams:
    """Fire for a household when every listed rule holds there (on all of its devices that the rule applies to);
    clear when one stops holding."""

    all: tuple[str, ...]


Params = (ThresholdParams | RepeatingParams | InactivityParams | OfflineParams | RateParams | EventParams
          | CompositeParams)


def parse_params(kind: Kind, rule: str, where: str, data: Mapping[str, object], severity: Severity) -> Params:
    """Typed parameters of a kind from a mapping; any problem raises Invalid naming the rule and the field."""
    fields = Fields(rule, where, data)
    params = _PARSERS[kind](fields, severity)
    fields.done()
    return params


def _threshold(f: Fields, severity: Severity) -> ThresholdParams:
    direction = f.choice("direction", Direction, Direction.ABOVE)
    fire_at = f.number("fire_at")
    clear_at = f.number("clear_at", fire_at)
    if (clear_at > fire_at) if direction is Direction.ABOVE else (clear_at < fire_at):
        raise Invalid("alarms.rules.bad_hysteresis", rule=f.rule, field=f.path("clear_at"), fire_at=fire_at,
                      clear_at=clear_at, direction=direction.value)
    levels = tuple(_level(f, i, raw) for i, raw in enumerate(_items(f, "escalate")))
    _check_levels(f, levels, fire_at, direction, severity)
    return ThresholdParams(f.text("property"), direction, fire_at, clear_at, f.duration("for", 0.0, positive=False),
                           levels)


def _items(f: Fields, key: str) -> list[object]:
    raw = f.raw(key, [])
    if not isinstance(raw, list):
        raise bad(f.rule, f.path(key), raw, "list")
    return raw


def _level(f: Fields, index: int, raw: object) -> Level:
    step = Fields(f.rule, f.path(f"escalate[{index}]"), raw)
    level = Level(step.number("at"), step.choice("severity", Severity))
    step.done()
    return level


def _check_levels(f: Fields, levels: tuple[Level, ...], fire_at: float, direction: Direction,
                  severity: Severity) -> None:
    previous_at, previous_rank = fire_at, SEVERITY_RANK[severity]
    for index, level in enumerate(levels):
        farther = level.at > previous_at if direction is Direction.ABOVE else level.at < previous_at
        if not farther or SEVERITY_RANK[level.severity] >= previous_rank:
            raise bad(f.rule, f.path(f"escalate[{index}]"), f"{level.at:g} {level.severity.value}",
                      "farther value, more severe")
        previous_at, previous_rank = level.at, SEVERITY_RANK[level.severity]


def _repeating(f: Fields, severity: Severity) -> RepeatingParams:
    prop = f.text("property")
    value = f.scalar("value", None)
    direction = f.choice("direction", Direction, Direction.ABOVE)
    fire_at = f.number("fire_at", None) if value is None else None
    if value is None and fire_at is None:
        raise Invalid("alarms.rules.missing_field", rule=f.rule, field=f.path("fire_at"))
    return RepeatingParams(prop, direction, fire_at or 0.0, value, f.count("count", minimum=2),
                           f.duration("window"), f.flag("edges", True))


def _inactivity(f: Fields, severity: Severity) -> InactivityParams:
    prop = f.text("property")
    value = f.scalar("value", None)
    activity = f.choice("activity", Activity, Activity.MATCH if value is not None else Activity.INCREASE)
    if activity is Activity.MATCH and value is None:
        raise Invalid("alarms.rules.missing_field", rule=f.rule, field=f.path("value"))
    return InactivityParams(prop, activity, f.duration("for"), value, f.number("min_delta", 0.0, minimum=0))


def _offline(f: Fields, severity: Severity) -> OfflineParams:
    return OfflineParams(f.duration("timeout"))


def _rate(f: Fields, severity: Severity) -> RateParams:
    prop, direction = f.text("property"), f.choice("direction", Direction, Direction.ABOVE)
    rate = f.number("rate", minimum=0)
    per = f.duration("per", 60.0)
    clear_rate = f.number("clear_rate", rate, minimum=0)
    if clear_rate > rate:
        raise bad(f.rule, f.path("clear_rate"), clear_rate, f"<= {rate:g}")
    return RateParams(prop, direction, rate, per, clear_rate, f.duration("max_gap", 10 * per))


def _event(f: Fields, severity: Severity) -> EventParams:
    return EventParams(f.text("property", "event"), f.scalar("value"), f.duration("clear_after", None),
                       f.scalar("clear_value", None))


def _composite(f: Fields, severity: Severity) -> CompositeParams:
    names = _items(f, "all")
    if len(names) < 2 or not all(isinstance(name, str) for name in names):
        raise bad(f.rule, f.path("all"), names, "list of 2+ rule ids")
    return CompositeParams(tuple(str(name) for name in names))


_PARSERS: dict[Kind, Callable[[Fields, Severity], Params]] = {
    Kind.THRESHOLD: _threshold, Kind.REPEATING: _repeating, Kind.INACTIVITY: _inactivity, Kind.OFFLINE: _offline,
    Kind.RATE: _rate, Kind.EVENT: _event, Kind.COMPOSITE: _composite,
}
