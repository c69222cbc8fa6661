"""When a rule may fire and which time counts: time-of-day windows on every day, working days or days off; pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from chengyun.cases.calendar import WorkingCalendar

DAY_MINUTES = 24 * 60
MAX_SCAN_DAYS = 800  # a schedule with no active day within this many days never completes a count


class Days(StrEnum):
    """Which local days a schedule's windows apply to (working days follow the Chinese calendar with 调休)."""

    EVERY_DAY = "every_day"
    WORKING_DAYS = "working_days"
    DAYS_OFF = "days_off"


@dataclass(frozen=True, slots=True)
class Schedule:
    """Local time-of-day windows `[start, end)` in minutes after midnight (end ≤ 1440) on the chosen days.

    A window written across midnight (`22:00-06:00`) is stored as two windows of the same local day."""

    windows: tuple[tuple[int, int], ...] = ((0, DAY_MINUTES),)
    days: Days = Days.EVERY_DAY

    @property
    def always(self) -> bool:
        """True when the schedule covers all time (no gating, no counting)."""
        return self.days is Days.EVERY_DAY and self.windows == ((0, DAY_MINUTES),)


def parse_window(text: str) -> tuple[tuple[int, int], ...]:
    """`07:00-21:00` as minutes; `22:00-06:00` splits at midnight; ValueError on anything else."""
    start_text, end_text = (part.strip() for part in text.split("-"))
    start, end = _minutes(start_text), _minutes(end_text)
    if start == end:
        raise ValueError(text)
    if start < end:
        return ((start, end),)
    return tuple(w for w in ((0, end), (start, DAY_MINUTES)) if w[0] < w[1])


def _minutes(text: str) -> int:
    if text == "24:00":
        return DAY_MINUTES
    moment = time.fromisoformat(text)
    if moment.second or moment.microsecond or moment.tzinfo is not None:
        raise ValueError(text)
    return moment.hour * 60 + moment.minute


def merge_windows(windows: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Sorted, overlapping or touching windows joined."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tuple(merged)


@dataclass(eq=False)
class ScheduleClock:
    """A schedule bound to a time zone and a working calendar: is an instant inside, and when does counted time
    reach a length. Day spans are cached; one clock per schedule per engine."""

    schedule: Schedule
    calendar: WorkingCalendar
    _zone: ZoneInfo = field(init=False)
    _spans: dict[date, tuple[tuple[float, float], ...]] = field(default_factory=dict, init=False)
    _day: tuple[float, float, tuple[tuple[float, float], ...]] = field(default=(1.0, 0.0, ()), init=False)

    def __post_init__(self) -> None:
        self._zone = ZoneInfo(self.calendar.timezone)

    def active(self, ts: float) -> bool:
        """True when the epoch instant `ts` lies inside a window of an applicable local day."""
        if self.schedule.always:
            return True
        first, last, spans = self._day
        if not first <= ts < last:
            day = datetime.fromtimestamp(ts, self._zone).date()
            first, last = self._bounds(day)
            spans = self.spans(day)
            self._day = (first, last, spans)
        return any(a <= ts < b for a, b in spans)

    def advance(self, start: float, seconds: float) -> float | None:
        """The instant at which `seconds` of scheduled time have passed since `start`; None when never."""
        if self.schedule.always:
            return start + seconds
        day = datetime.fromtimestamp(start, self._zone).date()
        left = seconds
        for _ in range(MAX_SCAN_DAYS):
            for a, b in self.spans(day):
                a = max(a, start)
                if b <= a:
                    continue
                if b - a >= left:
                    return a + left
                left -= b - a
            day += timedelta(days=1)
        return None

    def counted(self, start: float, end: float) -> float:
        """Scheduled seconds between two instants (0 when `end` is not after `start`)."""
        if end <= start:
            return 0.0
        if self.schedule.always:
            return end - start
        total, day = 0.0, datetime.fromtimestamp(start, self._zone).date()
        while self._bounds(day)[0] < end:
            total += sum(max(0.0, min(b, end) - max(a, start)) for a, b in self.spans(day))
            day += timedelta(days=1)
        return total

    def spans(self, day: date) -> tuple[tuple[float, float], ...]:
        """The epoch intervals of one local day's windows; empty when the day does not apply."""
        cached = self._spans.get(day)
        if cached is None:
            cached = tuple((self._epoch(day, a), self._epoch(day, b)) for a, b in self.schedule.windows) \
                if self._applies(day) else ()
            self._spans[day] = cached
        return cached

    def _applies(self, day: date) -> bool:
        days = self.schedule.days
        if days is Days.EVERY_DAY:
            return True
        return self.calendar.is_working_day(day) == (days is Days.WORKING_DAYS)

    def _bounds(self, day: date) -> tuple[float, float]:
        return self._epoch(day, 0), self._epoch(day, DAY_MINUTES)

    def _epoch(self, day: date, minutes: int) -> float:
        moment = datetime.combine(day, time(0), self._zone) + timedelta(minutes=minutes)
        # wall-clock arithmetic: re-attach the zone so a DST change inside the day lands on local time
        return datetime.combine(moment.date(), moment.time(), self._zone).timestamp()
