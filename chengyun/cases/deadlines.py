"""Deadline policy: due dates, pauses (挂起), extensions (延期) and the green/yellow/red state of a case's clock.

Time is measured in the limit's own measure: calendar time for `h`/`d`, working time on the Chinese working
calendar for `wh`/`wd`. Every input must be timezone-aware; every output is aware UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from chengyun.cases.calendar import WorkingCalendar, aware, from_us, to_us
from chengyun.errors import Invalid
from chengyun.shared.handling import LimitUnit, TimeLimit

Pause = tuple[datetime, datetime | None]  # (suspended at, resumed at or None while still suspended)
HOUR_US = 3_600_000_000
CALENDAR_UNITS = frozenset({LimitUnit.HOURS, LimitUnit.DAYS})


class Level(StrEnum):
    """Traffic light of a deadline; stored codes, labels come from translations."""

    GREEN = "green"
    YELLOW = "yellow"  # at least `warn_at` of the limit has elapsed
    RED = "red"  # overdue: now is after the due instant


@dataclass(frozen=True, slots=True)
class DeadlineState:
    """Where a case stands against its due date, in the limit's own measure."""

    due: datetime
    level: Level
    elapsed_fraction: float  # active (unpaused) time used / active time allowed; 1.0 exactly at the due instant
    remaining: timedelta  # active time left; negative once past the limit
    paused: bool  # the clock is stopped at `now` (suspended)
    calendar_known: bool  # False when a working-time deadline relies on the Monday–Friday fallback


class _Measure(Protocol):
    """A monotonic clock in microseconds and its earliest inverse."""

    def clock(self, at: datetime) -> int: ...

    def instant(self, clock: int) -> datetime: ...


class _CalendarTime:
    """Plain elapsed time: every microsecond counts."""

    def clock(self, at: datetime) -> int:
        """Microseconds since 1970 UTC."""
        return to_us(at)

    def instant(self, clock: int) -> datetime:
        """The UTC instant of a clock value."""
        return from_us(clock)


_CALENDAR_TIME = _CalendarTime()


@dataclass(frozen=True)
class DeadlinePolicy:
    """Pure deadline arithmetic over one working calendar; cheap enough to sweep ~100k open cases."""

    calendar: WorkingCalendar = field(default_factory=WorkingCalendar)
    warn_at: float = 0.8  # yellow from this fraction of the limit on

    def __post_init__(self) -> None:
        if not 0.0 < self.warn_at < 1.0:
            raise Invalid("deadline.bad_warning", value=str(self.warn_at))

    def due_at(self, start: datetime, limit: TimeLimit) -> datetime:
        """The due instant of `limit` counted from `start`.

        `h`/`d`: start + N×1 h / N×24 h of elapsed time.
        `wh`: N hours counted inside working intervals of working days; a start outside working time counts from the
        next working interval, and a due that falls on the end of an interval stays there (Mon 09:00 + 7wh → Mon 17:30).
        `wd`: the end of the last working interval of the N-th working day strictly after the local day of `start`
        (Friday 16:00 + 1wd → end of the next working day; Sunday + 1wd → end of Monday).
        """
        start = aware(start).astimezone(UTC)
        if limit.unit is LimitUnit.HOURS:
            return start + timedelta(hours=limit.amount)
        if limit.unit is LimitUnit.DAYS:
            return start + timedelta(days=limit.amount)
        cal = self.calendar
        if limit.unit is LimitUnit.WORKING_HOURS:
            return cal.instant(cal.clock(start) + limit.amount * HOUR_US)
        return cal.day_end(cal.nth_working_day_after(cal.local_day(start), limit.amount))

    def extend(self, due: datetime, by: TimeLimit) -> datetime:
        """An approved extension (延期): `due` moved later by `by` in by's own measure, as if `due` were a start.

        Extend the due without pauses, then apply pauses with `paused_due`; an extension to a fixed new date needs no
        call: pass that date as `due`.
        """
        return self.due_at(due, by)

    def shift_for_pause(self, due: datetime, paused_from: datetime, paused_to: datetime, *,
                        unit: LimitUnit) -> datetime:
        """`due` moved later by one pause's time in the unit's measure; a pause that begins after the due (overdue
        already, in that measure) changes nothing. Applying pauses one by one in time order equals `paused_due`."""
        measure = self._measure(unit)
        begin, end, target = measure.clock(paused_from), measure.clock(paused_to), measure.clock(due)
        if end < begin:
            raise Invalid("deadline.bad_pause", start=paused_from.isoformat(), end=paused_to.isoformat())
        if begin >= target or end == begin:
            return aware(due).astimezone(UTC)
        return measure.instant(target + end - begin)

    def paused_due(self, start: datetime, due: datetime, pauses: Sequence[Pause], *, unit: LimitUnit,
                   now: datetime | None = None) -> datetime:
        """`due` (from due_at or extend) pushed back by the paused time after `start`; open pauses count up to `now`.

        The result is the first instant at which the active (unpaused) time since `start` reaches the active time
        from `start` to `due`: for working-time units only working time inside a pause counts, else all of it.
        """
        for begin, end in self._closed_pauses(start, pauses, now):
            due = self.shift_for_pause(due, begin, end, unit=unit)
        return aware(due).astimezone(UTC)

    def due_with_pauses(self, start: datetime, limit: TimeLimit, pauses: Sequence[Pause], *,
                        now: datetime | None = None) -> datetime:
        """`due_at(start, limit)` pushed back by the pauses (see `paused_due`); never earlier than without them."""
        return self.paused_due(start, self.due_at(start, limit), pauses, unit=limit.unit, now=now)

    def status(self, start: datetime, due: datetime, now: datetime, pauses: Sequence[Pause] = (), *,
               unit: LimitUnit) -> DeadlineState:
        """The state at `now` of a clock started at `start`, due at `due` (already moved by the same `pauses`).

        Fraction = active time from start to now / active time from start to due, in the unit's measure; yellow from
        `warn_at`, red when `now` is after `due`.
        """
        measure = self._measure(unit)
        spans = self._closed_pauses(start, pauses, now)
        origin = measure.clock(start)
        allowed = self._active(measure, origin, due, spans)
        used = max(0, self._active(measure, origin, now, spans))
        fraction = used / allowed if allowed > 0 else float(now >= due)
        level = Level.RED if now > due else Level.YELLOW if fraction >= self.warn_at else Level.GREEN
        known = unit in CALENDAR_UNITS or self.calendar.known_between(start, max(due, now))
        return DeadlineState(aware(due).astimezone(UTC), level, fraction, timedelta(microseconds=allowed - used),
                             _paused_at(pauses, now), known)

    def _measure(self, unit: LimitUnit) -> _Measure:
        return _CALENDAR_TIME if unit in CALENDAR_UNITS else self.calendar

    @staticmethod
    def _active(measure: _Measure, origin: int, until: datetime, spans: list[tuple[datetime, datetime]]) -> int:
        """Unpaused time from the clock value `origin` (the start) to `until`, in microseconds of the measure."""
        total = measure.clock(until) - origin
        for begin, end in spans:
            if begin >= until:
                break
            total -= measure.clock(min(end, until)) - measure.clock(begin)
        return total

    @staticmethod
    def _closed_pauses(start: datetime, pauses: Sequence[Pause],
                       now: datetime | None) -> list[tuple[datetime, datetime]]:
        """Pauses clipped to after `start`, open ones closed at `now`, sorted and merged where they overlap."""
        spans: list[tuple[datetime, datetime]] = []
        for begin, end in pauses:
            if end is None:
                if now is None:
                    raise Invalid("deadline.open_pause_needs_now", start=aware(begin).isoformat())
                end = max(aware(begin), aware(now))
            if aware(end) < aware(begin):
                raise Invalid("deadline.bad_pause", start=begin.isoformat(), end=end.isoformat())
            begin = max(begin, aware(start))
            if end > begin:
                spans.append((begin, end))
        spans.sort()
        merged: list[tuple[datetime, datetime]] = []
        for begin, end in spans:
            if merged and begin <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((begin, end))
        return merged


def _paused_at(pauses: Sequence[Pause], now: datetime) -> bool:
    """True when `now` lies inside a pause (an open pause covers everything after its start)."""
    return any(begin <= now and (end is None or now < end) for begin, end in pauses)
