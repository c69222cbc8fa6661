"""Properties of the deadline policy over 2025–2027 (known years and the Monday–Friday fallback alike)."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
from hypothesis import given, settings
from hypothesis import strategies as st

from chengyun.cases.calendar import WorkingCalendar
from chengyun.cases.deadlines import DeadlinePolicy, Level, Pause
from chengyun.shared.handling import LimitUnit, TimeLimit

SH = ZoneInfo("Asia/Shanghai")
POLICY = DeadlinePolicy()
CAL = POLICY.calendar
CHECK = settings(deadline=None, max_examples=150)  # no wall-clock limits in unit tests

instants = st.datetimes(min_value=datetime(2025, 6, 1), max_value=datetime(2027, 6, 30),
                        timezones=st.just(UTC))
units = st.sampled_from(list(LimitUnit))
amounts = st.integers(min_value=1, max_value=40)
limits = st.builds(TimeLimit, amounts, units)
closed_pauses = st.lists(st.tuples(instants, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=12))),
                         max_size=4).map(lambda raw: [(begin, begin + length) for begin, length in raw])


def _pauses(raw: list[tuple[datetime, datetime]]) -> list[Pause]:
    return [(begin, end) for begin, end in raw]


@CHECK
@given(instants, limits)
def test_due_is_after_the_start_and_in_utc(start: datetime, limit: TimeLimit) -> None:
    due = POLICY.due_at(start, limit)
    assert due > start
    assert due.utcoffset() == timedelta(0)


@CHECK
@given(instants, instants, limits)
def test_due_is_monotonic_in_the_start(a: datetime, b: datetime, limit: TimeLimit) -> None:
    early, late = sorted((a, b))
    assert POLICY.due_at(early, limit) <= POLICY.due_at(late, limit)


@CHECK
@given(instants, amounts, amounts, units)
def test_due_is_strictly_monotonic_in_the_amount(start: datetime, m: int, n: int, unit: LimitUnit) -> None:
    small, large = sorted((m, n))
    first, second = POLICY.due_at(start, TimeLimit(small, unit)), POLICY.due_at(start, TimeLimit(large, unit))
    assert first < second if small < large else first == second


@CHECK
@given(instants, amounts)
def test_working_hours_use_exactly_that_much_working_time(start: datetime, hours: int) -> None:
    due = POLICY.due_at(start, TimeLimit(hours, LimitUnit.WORKING_HOURS))
    assert CAL.working_time(start, due) == timedelta(hours=hours)
    assert CAL.working_time(start, due - timedelta(microseconds=1)) < timedelta(hours=hours)  # the earliest instant


@CHECK
@given(instants, amounts)
def test_working_days_end_a_working_day_that_many_working_days_later(start: datetime, days: int) -> None:
    due = POLICY.due_at(start, TimeLimit(days, LimitUnit.WORKING_DAYS)).astimezone(SH)
    assert CAL.is_working_day(due.date()) and (due.hour, due.minute) == (17, 30)
    first = start.astimezone(SH).date()
    between = [first + timedelta(days=i) for i in range(1, (due.date() - first).days + 1)]
    assert sum(CAL.is_working_day(d) for d in between) == days


@CHECK
@given(instants, limits, closed_pauses)
def test_status_at_the_due_is_exactly_full(start: datetime, limit: TimeLimit, raw: list[tuple[datetime, datetime]]) \
        -> None:
    pauses = _pauses(raw)
    due = POLICY.due_with_pauses(start, limit, pauses)
    state = POLICY.status(start, due, due, pauses, unit=limit.unit)
    assert state.elapsed_fraction == 1.0
    assert state.remaining == timedelta(0)
    assert state.level is Level.YELLOW
    assert POLICY.status(start, due, due + timedelta(microseconds=1), pauses, unit=limit.unit).level is Level.RED


@CHECK
@given(instants, limits, closed_pauses, st.tuples(instants, st.timedeltas(timedelta(0), timedelta(days=30))))
def test_adding_a_pause_never_moves_the_due_earlier(start: datetime, limit: TimeLimit,
                                                    raw: list[tuple[datetime, datetime]],
                                                    extra: tuple[datetime, timedelta]) -> None:
    pauses = _pauses(raw)
    before = POLICY.due_with_pauses(start, limit, pauses)
    after = POLICY.due_with_pauses(start, limit, [*pauses, (extra[0], extra[0] + extra[1])])
    assert after >= before >= POLICY.due_at(start, limit)
    assert POLICY.due_with_pauses(start, limit, []) == POLICY.due_at(start, limit)


@CHECK
@given(instants, limits, closed_pauses, instants, instants)
def test_elapsed_fraction_never_goes_back(start: datetime, limit: TimeLimit, raw: list[tuple[datetime, datetime]],
                                          a: datetime, b: datetime) -> None:
    pauses = _pauses(raw)
    due = POLICY.due_with_pauses(start, limit, pauses)
    early, late = (POLICY.status(start, due, now, pauses, unit=limit.unit) for now in sorted((a, b)))
    assert early.elapsed_fraction <= late.elapsed_fraction
    assert early.remaining >= late.remaining
    assert (late.level is Level.RED) == (max(a, b) > due)


@CHECK
@given(instants, limits, st.sets(st.dates(date(2025, 6, 1), date(2027, 6, 30)), max_size=20))
def test_a_local_holiday_never_moves_a_due_earlier(start: datetime, limit: TimeLimit, holidays: set[date]) -> None:
    local = DeadlinePolicy(WorkingCalendar(extra_holidays=frozenset(holidays)))
    assert local.due_at(start, limit) >= POLICY.due_at(start, limit)


@CHECK
@given(instants, limits, limits)
def test_an_extension_moves_the_due_later(start: datetime, limit: TimeLimit, by: TimeLimit) -> None:
    due = POLICY.due_at(start, limit)
    assert POLICY.extend(due, by) > due


@functools.cache
def _oracle_workday(day: date) -> bool:
    """Independent of the implementation: the library's answer, Monday–Friday where it has no data."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def _oracle_working_minute(at: datetime) -> bool:
    """Independent of the implementation: is the local minute starting at `at` working time?"""
    here = at.astimezone(SH)
    minute = here.hour * 60 + here.minute
    return (9 * 60 <= minute < 12 * 60 or 13 * 60 + 30 <= minute < 17 * 60 + 30) and _oracle_workday(here.date())


@settings(deadline=None, max_examples=40)
@given(instants.map(lambda at: at.replace(second=0, microsecond=0)), st.integers(min_value=1, max_value=10))
def test_working_hours_match_a_minute_by_minute_oracle(start: datetime, hours: int) -> None:
    at, left = start, hours * 60
    while left:
        left -= _oracle_working_minute(at)
        at += timedelta(minutes=1)
    assert POLICY.due_at(start, TimeLimit(hours, LimitUnit.WORKING_HOURS)) == at
