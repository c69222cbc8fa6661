"""Pure evaluators for kinds that also act on time alone: event (auto-clear), inactivity and offline.

Same contract as `chengyun.alarms.evaluators`. Inactivity and offline count silence in scheduled time only when the
rule has a schedule (e.g. 12 daytime hours), otherwise in plain seconds."""

from __future__ import annotations

from collections.abc import Mapping

from chengyun.alarms.evaluators import CLEAR, FIRE, Evaluator, Outcome, States, number
from chengyun.alarms.rule_params import Activity, EventParams, InactivityParams, OfflineParams
from chengyun.alarms.schedule import ScheduleClock


class _EventState:
    __slots__ = ("active", "queued", "until")

    def __init__(self, until: float | None) -> None:
        self.active, self.until, self.queued = True, until, 0.0


class Event(Evaluator):
    """An event value (e.g. `sos_pressed`) fires at once, inside the schedule; it clears `clear_after` seconds after
    the last matching reading, or when the property shows `clear_value`, or (with neither) any other value.
    A repeat while active extends the auto-clear and emits nothing."""

    __slots__ = ()
    params: EventParams

    def __init__(self, rule_id: str, params: EventParams, clock: ScheduleClock | None) -> None:
        super().__init__(rule_id, params, clock)
        self.timed = params.clear_after is not None

    def feed(self, states: States, i: int, ts: float, values: Mapping[str, object]) -> Outcome | None:
        """See the class docstring."""
        p = self.params
        raw = values.get(p.property)
        if raw is None:
            return None
        s = states[i]
        if raw == p.value:
            until = ts + p.clear_after if p.clear_after is not None else None
            if s is not None:
                s.until = until if s.until is None or until is None else max(s.until, until)
                return None
            if not self.open(ts):
                return None
            states[i] = _EventState(until)
            return FIRE, None, {"property": p.property, "value": raw}
        if s is not None and (raw == p.clear_value if p.clear_value is not None else p.clear_after is None):
            states[i] = None
            return CLEAR, None, {"property": p.property, "value": raw}
        return None

    def due(self, state: _EventState) -> float | None:
        """The auto-clear instant."""
        return state.until

    def expire(self, states: States, i: int, at: float) -> Outcome | None:
        """Auto-clear."""
        states[i] = None
        return CLEAR, None, {"property": self.params.property, "after": self.params.clear_after}

    def assume(self, states: States, i: int, at: float) -> None:
        """Active since `at` (auto-clear counted from then)."""
        states[i] = _EventState(at + self.params.clear_after if self.params.clear_after is not None else None)


class _IdleState:
    __slots__ = ("active", "last", "queued", "since")

    def __init__(self, since: float, last: float | None, active: bool = False) -> None:
        self.since, self.last, self.active, self.queued = since, last, active, 0.0


class Inactivity(Evaluator):
    """No activity for `duration` (scheduled) seconds fires at the instant the silence reaches it; the next activity
    clears. The first reading with the property starts the watch (its value is the baseline for `increase`/
    `change`); a fall of a cumulative value (meter replaced) resets the baseline without counting as activity."""

    __slots__ = ()
    TIMED = True
    params: InactivityParams

    def feed(self, states: States, i: int, ts: float, values: Mapping[str, object]) -> Outcome | None:
        """See the class docstring."""
        raw = values.get(self.params.property)
        if raw is None:
            return None
        s = states[i]
        if s is None:
            states[i] = _IdleState(ts, number(raw))
            return None
        if ts < s.since or not self._activity(s, raw):
            return None
        s.since = ts
        if not s.active:
            return None
        s.active = False
        return CLEAR, None, {"property": self.params.property, "value": raw}

    def _activity(self, s: _IdleState, raw: object) -> bool:
        p = self.params
        if p.activity is Activity.PRESENT:
            return True
        if p.activity is Activity.MATCH:
            return raw == p.value
        x = number(raw)
        if x is None:
            return False
        last, s.last = s.last, x
        if last is None:
            return False
        if p.activity is Activity.CHANGE:
            return abs(x - last) > p.min_delta
        if x > last + p.min_delta:
            return True
        if x > last:  # a rise smaller than min_delta: keep the old baseline so small rises add up
            s.last = last
        return False

    def due(self, state: _IdleState) -> float | None:
        """The instant the silence reaches the duration (None while active)."""
        if state.active:
            return None
        if self.clock is None:
            return state.since + self.params.duration
        return self.clock.advance(state.since, self.params.duration)

    def expire(self, states: States, i: int, at: float) -> Outcome | None:
        """Silent long enough: fire."""
        s = states[i]
        s.active = True
        return FIRE, None, {"property": self.params.property, "since": s.since, "duration": self.params.duration}

    def start(self, states: States, i: int, ts: float) -> None:
        """Count silence from `ts` (no baseline value yet)."""
        if states[i] is None:
            states[i] = _IdleState(ts, None)

    def assume(self, states: States, i: int, at: float) -> None:
        """Silent and fired since `at`."""
        states[i] = _IdleState(at, None, True)


class _OfflineState:
    __slots__ = ("active", "last", "queued")

    def __init__(self, last: float, active: bool = False) -> None:
        self.last, self.active, self.queued = last, active, 0.0


class Offline(Evaluator):
    """No message of any kind for `timeout` (scheduled) seconds fires at that instant; any newer message clears.
    A message older than the last one seen says nothing about now and is ignored."""

    __slots__ = ()
    TIMED = True
    params: OfflineParams

    def feed(self, states: States, i: int, ts: float, values: Mapping[str, object]) -> Outcome | None:
        """See the class docstring."""
        s = states[i]
        if s is None:
            states[i] = _OfflineState(ts)
            return None
        if ts <= s.last:
            return None
        s.last = ts
        if not s.active:
            return None
        s.active = False
        return CLEAR, None, {"last_seen": ts}

    def due(self, state: _OfflineState) -> float | None:
        """The instant the device counts as offline (None while it does)."""
        if state.active:
            return None
        if self.clock is None:
            return state.last + self.params.timeout
        return self.clock.advance(state.last, self.params.timeout)

    def expire(self, states: States, i: int, at: float) -> Outcome | None:
        """Silent too long: fire."""
        s = states[i]
        s.active = True
        return FIRE, None, {"last_seen": s.last, "timeout": self.params.timeout}

    def start(self, states: States, i: int, ts: float) -> None:
        """Last seen at `ts`."""
        if states[i] is None:
            states[i] = _OfflineState(ts)

    def assume(self, states: States, i: int, at: float) -> None:
        """Offline since `at`."""
        states[i] = _OfflineState(at, True)
