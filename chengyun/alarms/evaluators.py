"""Pure evaluators for reading-driven kinds (threshold, repeating, rate of change); each keeps a tiny per-device state.

The contract every evaluator keeps (the engine relies on it):
- `feed(states, i, ts, values)` reads and replaces `states[i]` (None = nothing worth remembering) and returns an
  `Outcome` when the verdict changes (or escalates), else None;
- timed evaluators (`timed = True`) expose `due(state)`: the instant the state needs a look without a reading (a
  lower bound never moves earlier while the state lives), and `expire(states, i, at)` acting at that instant;
  their states carry `queued`, the deadline the engine has queued (0.0 = none);
- every state carries `active` (truthy while the rule holds); `assume(states, i, at)` makes a rule hold (restore
  after a restart) so that the next non-holding input clears it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from chengyun.alarms.rule_params import Direction, RateParams, RepeatingParams, ThresholdParams
from chengyun.alarms.schedule import ScheduleClock
from chengyun.alarms.signals import Change, Severity

Outcome = tuple[Change, Severity | None, dict[str, object]]  # severity None: the rule's own
States = list[Any]
FIRE, CLEAR = Change.FIRE, Change.CLEAR


def number(value: object) -> float | None:
    """A reading value as a float (booleans are 1 and 0); None for text or absence."""
    if value is None or isinstance(value, str):
        return None
    return float(value)  # type: ignore[arg-type]


class Evaluator:
    """Base: no state, never timed. `clock` gates firing to the rule's schedule (None = always)."""

    __slots__ = ("clock", "params", "rule_id", "timed")
    TIMED: ClassVar[bool] = False

    def __init__(self, rule_id: str, params: Any, clock: ScheduleClock | None) -> None:
        self.rule_id, self.params, self.clock = rule_id, params, clock
        self.timed = self.TIMED

    def open(self, ts: float) -> bool:
        """True when the schedule allows firing at `ts`."""
        return self.clock is None or self.clock.active(ts)

    def feed(self, states: States, i: int, ts: float, values: Mapping[str, object]) -> Outcome | None:
        """Take one reading; an Outcome when the verdict changes."""
        raise NotImplementedError

    def due(self, state: Any) -> float | None:
        """When the state needs a look without a reading (timed kinds only)."""
        return None

    def expire(self, states: States, i: int, at: float) -> Outcome | None:
        """Act at the due instant `at` (timed kinds only)."""
        return None

    def start(self, states: States, i: int, ts: float) -> None:
        """Begin watching a device known to be alive at `ts` before it sends anything (time-driven kinds)."""

    def assume(self, states: States, i: int, at: float) -> None:
        """Make the rule hold since `at` without emitting anything (restore after a restart)."""
        raise NotImplementedError


class _ThresholdState:
    __slots__ = ("active", "queued", "since", "value")

    def __init__(self, since: float, value: float, active: int = 0) -> None:
        self.active, self.since, self.value, self.queued = active, since, value, 0.0


class Threshold(Evaluator):
    """Hysteresis and minimum duration: fire once the value has been at `fire_at` or beyond for `hold` seconds (at
    once when 0), escalate when it passes a further level, clear when it goes back past `clear_at`. A reading that no
    longer meets `fire_at` while pending restarts the wait; outside the schedule nothing fires, clearing still does."""

    __slots__ = ("clear_at", "fire_at", "hold", "levels", "up")
    params: ThresholdParams

    def __init__(self, rule_id: str, params: ThresholdParams, clock: ScheduleClock | None) -> None:
        super().__init__(rule_id, params, clock)
        self.fire_at, self.clear_at, self.hold = params.fire_at, params.clear_at, params.hold
        self.up = params.direction is Direction.ABOVE
        self.levels = params.escalate
        self.timed = params.hold > 0

    def feed(self, states: States, i: int, ts: float, values: Mapping[str, object]) -> Outcome | None:
        """See the class docstring."""
        x = number(values.get(self.params.property))
        if x is None:
            return None
        s = states[i]
        if s is not None and s.active:
            if x < self.clear_at if self.up else x > self.clear_at:
                states[i] = None
                return CLEAR, None, self._explain(x, self.clear_at)
            return self._escalate(s, x)
        if not (x >= self.fire_at if self.up else x <= self.fire_at) or not self.open(ts):
            states[i] = None
            return None
        if s is None:
            s = states[i] = _ThresholdState(ts, x)
        s.value = x
        if ts - s.since >= self.hold:
            return self._fire(s, x)
        return None

    def due(self, state: _ThresholdState) -> float | None:
        """The end of the minimum duration while pending."""
        return None if state.active else state.since + self.hold

    def expire(self, states: States, i: int, at: float) -> Outcome | None:
        """The value held for the minimum duration: fire (inside the schedule), else forget the wait."""
        s = states[i]
        if not self.open(at):
            states[i] = None
            return None
        return self._fire(s, s.value)

    def assume(self, states: States, i: int, at: float) -> None:
        """Active at the base level."""
        states[i] = _ThresholdState(at, self.fire_at, 1)

    def _fire(self, s: _ThresholdState, x: float) -> Outcome:
        s.active = 1 + self._level(x)
        severity = self.levels[s.active - 2].severity if s.active > 1 else None
        return FIRE, severity, self._explain(x, self.fire_at)

    def _level(self, x: float) -> int:
        return sum(1 for level in self.levels if (x >= level.at if self.up else x <= level.at))

    def _escalate(self, s: _ThresholdState, x: float) -> Outcome | None:
        if not self.levels:
            return None
        reached = 1 + self._level(x)
        if reached <= s.active:
            return None
        s.active = reached
        level = self.levels[reached - 2]
        return FIRE, level.severity, self._explain(x, level.at)

    def _explain(self, x: float, threshold: float) -> dict[str, object]:
        return {"property": self.params.property, "value": x, "threshold": threshold}


class _RepeatingState:
    __slots__ = ("above", "active", "hits", "queued")

    def __init__(self) -> None:
        self.hits: tuple[float, ...] = ()
        self.above, self.active, self.queued = False, False, 0.0


class Repeating(Evaluator):
    """N times within a window: each hit is a reading meeting the condition (a rising edge only, with `edges`); fire
    when `count` hits lie within the last `window` seconds, clear when the oldest of them leaves the window. Only
    the last `count` hits are kept; hits outside the schedule do not count."""

    __slots__ = ()
    TIMED = True
    params: RepeatingParams

    def feed(self, states: States, i: int, ts: float, values: Mapping[str, object]) -> Outcome | None:
        """See the class docstring."""
        p = self.params
        raw = values.get(p.property)
        if raw is None:
            return None
        hit = self._meets(raw)
        s = states[i]
        if s is None:
            if not hit:
                return None
            s = states[i] = _RepeatingState()
        counts = hit and (p.value is not None or not p.edges or not s.above)
        if p.value is None:
            s.above = hit
        out = self._hit(s, ts) if counts and self.open(ts) else None
        if not (s.hits or s.above or s.active):
            states[i] = None
        return out

    def _meets(self, raw: object) -> bool:
        p = self.params
        if p.value is not None:
            return raw == p.value
        x = number(raw)
        return x is not None and (x >= p.fire_at if p.direction is Direction.ABOVE else x <= p.fire_at)

    def _hit(self, s: _RepeatingState, ts: float) -> Outcome | None:
        p = self.params
        cutoff = ts - p.window
        s.hits = (*(h for h in s.hits if h > cutoff), ts)[-p.count:]
        if s.active or len(s.hits) < p.count:
            return None
        s.active = True
        return FIRE, None, {"property": p.property, "count": len(s.hits), "window": p.window,
                            "threshold": p.value if p.value is not None else p.fire_at}

    def due(self, state: _RepeatingState) -> float | None:
        """When the window drops a hit: the clear point while active, else the clean-up of old hits."""
        if not state.hits:
            return None
        oldest = state.hits[-self.params.count] if state.active else state.hits[0]
        return oldest + self.params.window

    def expire(self, states: States, i: int, at: float) -> Outcome | None:
        """Drop hits that left the window; clear when fewer than `count` remain."""
        s = states[i]
        p = self.params
        s.hits = tuple(h for h in s.hits if h + p.window > at)
        out: Outcome | None = None
        if s.active and len(s.hits) < p.count:
            s.active = False
            out = CLEAR, None, {"property": p.property, "count": len(s.hits), "window": p.window}
        if not (s.hits or s.above or s.active):
            states[i] = None
        return out

    def assume(self, states: States, i: int, at: float) -> None:
        """Active as if `count` hits happened at `at` (clears one window later without new hits)."""
        s = states[i] = _RepeatingState()
        s.active, s.hits = True, (at,) * self.params.count


class _RateState:
    __slots__ = ("active", "ts", "value")

    def __init__(self, ts: float, value: float | None, active: bool = False) -> None:
        self.ts, self.value, self.active = ts, value, active


class Rate(Evaluator):
    """Rate of change between consecutive readings at most `max_gap` apart, scaled to `per` seconds: fire at `rate`
    or more (rise, or fall with direction `below`), clear when a later pair shows less than `clear_rate`. Older or
    equal timestamps are ignored; a wider gap only restarts the comparison."""

    __slots__ = ()
    params: RateParams

    def feed(self, states: States, i: int, ts: float, values: Mapping[str, object]) -> Outcome | None:
        """See the class docstring."""
        p = self.params
        x = number(values.get(p.property))
        if x is None:
            return None
        s = states[i]
        if s is None:
            states[i] = _RateState(ts, x)
            return None
        if ts <= s.ts:
            return None
        out: Outcome | None = None
        if s.value is not None and ts - s.ts <= p.max_gap:
            slope = (x - s.value) / (ts - s.ts) * p.per
            slope = slope if p.direction is Direction.ABOVE else -slope
            if not s.active and slope >= p.rate and self.open(ts):
                s.active = True
                out = FIRE, None, {"property": p.property, "rate": round(slope, 3), "threshold": p.rate,
                                   "per": p.per, "value": x}
            elif s.active and slope < p.clear_rate:
                s.active = False
                out = CLEAR, None, {"property": p.property, "rate": round(slope, 3), "threshold": p.clear_rate,
                                    "per": p.per, "value": x}
        s.ts, s.value = ts, x
        return out

    def assume(self, states: States, i: int, at: float) -> None:
        """Active with no baseline: the next reading sets one, the one after may clear."""
        states[i] = _RateState(at, None, True)
