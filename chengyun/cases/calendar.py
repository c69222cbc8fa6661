"""The Chinese working calendar as data: statutory holidays, 调休 make-up days, working hours, a time zone."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar

from chengyun.errors import Invalid

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)
MIN_YEAR, MAX_YEAR = 1971, 2199  # instants outside these years are refused, not computed
DEFAULT_HOURS: tuple[tuple[time, time], ...] = ((time(9, 0), time(12, 0)), (time(13, 30), time(17, 30)))

Span = tuple[int, int]  # [start, end) in UTC microseconds since EPOCH


def to_us(at: datetime) -> int:
    """Microseconds since 1970-01-01 UTC of an aware datetime; naive ones raise Invalid."""
    return (aware(at) - EPOCH) // ONE_US


def from_us(us: int) -> datetime:
    """The aware UTC datetime `us` microseconds after 1970-01-01 UTC."""
    return EPOCH + timedelta(microseconds=us)


def aware(at: datetime) -> datetime:
    """`at` itself when it carries a time zone; naive datetimes raise Invalid('deadline.naive_datetime')."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise Invalid("deadline.naive_datetime", value=at.isoformat())
    return at


def parse_hours(text: str) -> tuple[tuple[time, time], ...]:
    """Working hours from `09:00-12:00,13:30-17:30`; malformed text raises Invalid('calendar.bad_hours')."""
    try:
        pairs = [part.split("-") for part in text.split(",") if part.strip()]
        return tuple((time.fromisoformat(a.strip()), time.fromisoformat(b.strip())) for a, b in pairs)
    except ValueError:
        raise Invalid("calendar.bad_hours", value=text) from None


@dataclass(frozen=True, eq=False)
class _Year:
    """Working microseconds per local day of one year, cumulative: `cum[i]` is before day i (0 = 1 January)."""

    first: date
    cum: list[int]


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days (chinese_calendar plus local overrides, Monday–Friday where it has no data) and working hours."""

    timezone: str = "Asia/Shanghai"
    hours: tuple[tuple[time, time], ...] = DEFAULT_HOURS
    extra_holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    known_years: frozenset[int] = frozenset()  # years whose full arrangement the overrides supply
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _workdays: dict[date, bool] = field(default_factory=dict, init=False, repr=False, compare=False)
    _days: dict[date, tuple[Span, ...]] = field(default_factory=dict, init=False, repr=False, compare=False)
    _years: dict[int, _Year] = field(default_factory=dict, init=False, repr=False, compare=False)
    _offsets: dict[int, int] = field(default_factory=dict, init=False, repr=False, compare=False)
    _library_years: dict[int, bool] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "_zone", ZoneInfo(self.timezone))
        except (ZoneInfoNotFoundError, ValueError):
            raise Invalid("calendar.bad_timezone", value=self.timezone) from None
        bounds = [moment for pair in self.hours for moment in pair]
        if not self.hours or any(a >= b for a, b in pairwise(bounds)):
            raise Invalid("calendar.bad_hours", value=",".join(f"{a}-{b}" for a, b in self.hours))
        both = self.extra_holidays & self.extra_workdays
        if both:
            raise Invalid("calendar.override_conflict", value=min(both).isoformat())

    @classmethod
    def build(cls, timezone: str = "Asia/Shanghai", hours: str | None = None, holidays: Iterable[date] = (),
              workdays: Iterable[date] = (), known_years: Iterable[int] = ()) -> WorkingCalendar:
        """A calendar from configuration-shaped data (hours as `09:00-12:00,13:30-17:30`)."""
        return cls(timezone, parse_hours(hours) if hours else DEFAULT_HOURS, frozenset(holidays),
                   frozenset(workdays), frozenset(known_years))

    def calendar_known(self, day: date) -> bool:
        """True when the year's official holiday arrangement is known; False means the Monday–Friday fallback."""
        return day.year in self.known_years or self._library_knows(day.year)

    def known_between(self, first: datetime, last: datetime) -> bool:
        """True when every local day from `first` to `last` lies in a known year."""
        a, b = sorted((self.local_day(first).year, self.local_day(last).year))
        return all(year in self.known_years or self._library_knows(year) for year in range(a, b + 1))

    def is_working_day(self, day: date) -> bool:
        """Overrides first, then the official arrangement (holidays and 调休), else Monday to Friday (cached)."""
        working = self._workdays.get(day)
        if working is None:
            if day in self.extra_holidays or day in self.extra_workdays:
                working = day in self.extra_workdays
            elif self._library_knows(day.year):
                working = bool(chinese_calendar.is_workday(day))
            else:
                working = day.weekday() < 5
            self._workdays[day] = working
        return working

    def local_day(self, at: datetime) -> date:
        """The calendar date of `at` in this calendar's time zone."""
        return aware(at).astimezone(self._zone).date()

    def spans(self, day: date) -> tuple[Span, ...]:
        """The working intervals of a local day in UTC microseconds; empty on a day off (cached)."""
        cached = self._days.get(day)
        if cached is None:
            cached = tuple(self._span(day, a, b) for a, b in self.hours) if self.is_working_day(day) else ()
            self._days[day] = cached
        return cached

    def day_end(self, day: date) -> datetime:
        """The end of the last working interval of a working day."""
        spans = self.spans(day)
        if not spans:
            raise Invalid("calendar.not_a_working_day", value=day.isoformat())
        return from_us(spans[-1][1])

    def nth_working_day_after(self, day: date, n: int) -> date:
        """The n-th working day strictly after `day` (n ≥ 1)."""
        while n > 0:
            day += timedelta(days=1)
            if day.year > MAX_YEAR:
                raise Invalid("calendar.out_of_range", value=day.isoformat())
            n -= self.is_working_day(day)
        return day

    def clock(self, at: datetime) -> int:
        """Working microseconds from this calendar's (arbitrary) origin to `at`; only differences mean anything."""
        us = to_us(at)
        day = self.local_day(at)
        total = self._day_start_clock(day)
        for start, end in self.spans(day):
            if us <= start:
                break
            total += min(us, end) - start
        return total

    def instant(self, clock: int) -> datetime:
        """The earliest instant whose `clock` reaches the given value (the end of an interval, not the next start)."""
        year = self._year_of_clock(clock)
        table = self._year(year)
        rest = clock - self._offset(year)
        index = bisect.bisect_left(table.cum, rest) - 1
        rest -= table.cum[index]
        for start, end in self.spans(table.first + timedelta(days=index)):
            if rest <= end - start:
                return from_us(start + rest)
            rest -= end - start
        raise AssertionError("cumulative table and day spans disagree")  # pragma: no cover

    def working_time(self, start: datetime, end: datetime) -> timedelta:
        """Working time between two instants (negative when `end` is before `start`)."""
        return timedelta(microseconds=self.clock(end) - self.clock(start))

    def _span(self, day: date, a: time, b: time) -> Span:
        return (to_us(datetime.combine(day, a, self._zone)), to_us(datetime.combine(day, b, self._zone)))

    def _library_knows(self, year: int) -> bool:
        known = self._library_years.get(year)
        if known is None:
            try:
                chinese_calendar.is_workday(date(year, 6, 1))
                known = True
            except NotImplementedError:
                known = False
            self._library_years[year] = known
        return known

    def _year(self, year: int) -> _Year:
        table = self._years.get(year)
        if table is None:
            if not MIN_YEAR <= year <= MAX_YEAR:
                raise Invalid("calendar.out_of_range", value=str(year))
            first, cum, day = date(year, 1, 1), [0], date(year, 1, 1)
            while day.year == year:
                cum.append(cum[-1] + sum(end - start for start, end in self.spans(day)))
                day += timedelta(days=1)
            table = self._years[year] = _Year(first, cum)
        return table

    def _offset(self, year: int) -> int:
        """Clock value at local midnight of 1 January; the first year asked for is the origin."""
        if not MIN_YEAR <= year <= MAX_YEAR + 1:
            raise Invalid("calendar.out_of_range", value=str(year))
        if not self._offsets:
            self._offsets[year] = 0
        if year not in self._offsets:
            near = min(self._offsets, key=lambda known: abs(known - year))
            step = 1 if year > near else -1
            for y in range(near + step, year + step, step):
                prev = self._offsets[y - step]
                self._offsets[y] = prev + self._year(y - 1).cum[-1] if step == 1 else prev - self._year(y).cum[-1]
        return self._offsets[year]

    def _day_start_clock(self, day: date) -> int:
        table = self._year(day.year)
        return self._offset(day.year) + table.cum[day.toordinal() - table.first.toordinal()]

    def _year_of_clock(self, clock: int) -> int:
        """The year in which the clock reaches `clock` (offset(year) < clock ≤ offset(year + 1))."""
        below = [year for year, offset in self._offsets.items() if offset < clock]
        year = max(below) if below else min(self._offsets, default=2000)
        while clock <= self._offset(year):
            year -= 1
        while clock > self._offset(year + 1):
            year += 1
        return year
