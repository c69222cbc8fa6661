"""Deadlines on the Chinese working calendar: concrete 2026 dates, pauses, extensions, status and the 2027 fallback."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from chengyun.cases.calendar import WorkingCalendar, parse_hours
from chengyun.cases.deadlines import DeadlinePolicy, Level
from chengyun.errors import Invalid
from chengyun.shared.handling import LimitUnit, TimeLimit

SH = ZoneInfo("Asia/Shanghai")
POLICY = DeadlinePolicy()
CAL = POLICY.calendar


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An aware Asia/Shanghai datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=SH)


def due(start: datetime, limit: str) -> datetime:
    """The due date in Asia/Shanghai, for readable assertions."""
    return POLICY.due_at(start, TimeLimit.parse(limit)).astimezone(SH)


# --- the calendar itself ------------------------------------------------------------------------------------------


def test_library_has_the_real_2026_spring_festival_arrangement() -> None:
    holidays = [date(2026, 2, 15) + timedelta(days=i) for i in range(9)]
    assert all(chinese_calendar.is_holiday(d) for d in holidays)  # 15–23 February, Sunday to Monday
    assert chinese_calendar.is_workday(date(2026, 2, 14))  # 调休 Saturday before
    assert chinese_calendar.is_workday(date(2026, 2, 28))  # 调休 Saturday after
    assert [d for d in holidays if CAL.is_working_day(d)] == []
    assert CAL.is_working_day(date(2026, 2, 14)) and CAL.is_working_day(date(2026, 2, 28))
    assert not CAL.is_working_day(date(2026, 3, 1))  # an ordinary Sunday


def test_national_day_2026_and_its_make_up_saturday() -> None:
    assert [d.day for d in (date(2026, 10, i) for i in range(1, 12)) if CAL.is_working_day(d)] == [8, 9, 10]
    assert date(2026, 10, 10).weekday() == 5  # the 调休 day is a Saturday


def test_spans_are_the_default_working_hours_in_utc() -> None:
    spans = CAL.spans(date(2026, 3, 9))
    assert [(datetime.fromtimestamp(a / 1e6, SH).time(), datetime.fromtimestamp(b / 1e6, SH).time())
            for a, b in spans] == [(time(9), time(12)), (time(13, 30), time(17, 30))]
    assert CAL.spans(date(2026, 2, 16)) == ()
    assert CAL.working_time(local(2026, 3, 9, 0), local(2026, 3, 10, 0)) == timedelta(hours=7)


def test_2027_falls_back_to_monday_to_friday_and_says_so() -> None:
    assert CAL.calendar_known(date(2026, 12, 31))
    assert not CAL.calendar_known(date(2027, 1, 4))
    assert CAL.is_working_day(date(2027, 1, 1))  # really New Year's Day, but the library has no 2027 data yet
    assert not CAL.is_working_day(date(2027, 1, 2))
    assert due(local(2026, 12, 31, 16), "1wd") == local(2027, 1, 1, 17, 30)
    state = POLICY.status(local(2026, 12, 31, 16), local(2027, 1, 1, 17, 30), local(2027, 1, 1, 10),
                          unit=LimitUnit.WORKING_DAYS)
    assert state.calendar_known is False
    assert POLICY.status(local(2026, 12, 1, 9), local(2026, 12, 2, 17, 30), local(2026, 12, 2, 10),
                         unit=LimitUnit.WORKING_DAYS).calendar_known is True


def test_overrides_add_a_local_holiday_and_mark_a_year_known() -> None:
    cal = WorkingCalendar.build(holidays=[date(2027, 1, 1), date(2026, 3, 10)], known_years=[2027])
    policy = DeadlinePolicy(cal)
    assert cal.calendar_known(date(2027, 6, 1))
    assert policy.due_at(local(2026, 12, 31, 16), TimeLimit.parse("1wd")) == local(2027, 1, 4, 17, 30)
    assert policy.due_at(local(2026, 3, 9, 16), TimeLimit.parse("1wd")) == local(2026, 3, 11, 17, 30)
    workday = WorkingCalendar(extra_workdays=frozenset({date(2026, 3, 8)}))  # an extra working Sunday
    assert DeadlinePolicy(workday).due_at(local(2026, 3, 7, 10), TimeLimit.parse("1wd")) == local(2026, 3, 8, 17, 30)


def test_configurable_hours_and_time_zone() -> None:
    cal = WorkingCalendar.build(timezone="Asia/Urumqi", hours="10:00-14:00, 15:00-19:00")
    assert cal.hours == ((time(10), time(14)), (time(15), time(19)))
    urumqi = ZoneInfo("Asia/Urumqi")
    start = datetime(2026, 3, 9, 18, 0, tzinfo=urumqi)
    assert DeadlinePolicy(cal).due_at(start, TimeLimit.parse("2wh")) == datetime(2026, 3, 10, 11, 0, tzinfo=urumqi)


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"timezone": "Mars/Olympus"}, "calendar.bad_timezone"),
    ({"hours": ()}, "calendar.bad_hours"),
    ({"hours": ((time(9), time(12)), (time(11), time(17)))}, "calendar.bad_hours"),
    ({"hours": ((time(12), time(9)),)}, "calendar.bad_hours"),
    ({"extra_holidays": frozenset({date(2026, 3, 9)}), "extra_workdays": frozenset({date(2026, 3, 9)})},
     "calendar.override_conflict"),
])
def test_bad_calendar_data_is_refused(kwargs: dict[str, object], code: str) -> None:
    with pytest.raises(Invalid) as caught:
        WorkingCalendar(**kwargs)  # type: ignore[arg-type]
    assert caught.value.code == code


def test_bad_hours_text_is_refused() -> None:
    with pytest.raises(Invalid) as caught:
        parse_hours("9h-noon")
    assert caught.value.code == "calendar.bad_hours"


# --- due_at --------------------------------------------------------------------------------------------------------


def test_friday_afternoon_one_working_day_is_the_make_up_saturday_before_spring_festival() -> None:
    assert due(local(2026, 2, 13, 16), "1wd") == local(2026, 2, 14, 17, 30)
    assert due(local(2026, 2, 13, 16), "2wd") == local(2026, 2, 24, 17, 30)  # the whole festival is skipped
    assert due(local(2026, 2, 14, 10), "1wd") == local(2026, 2, 24, 17, 30)  # dispatched on the 调休 Saturday


def test_ordinary_friday_afternoon_one_working_day_is_monday_evening() -> None:
    assert due(local(2026, 3, 6, 16), "1wd") == local(2026, 3, 9, 17, 30)
    assert due(local(2026, 2, 27, 16), "1wd") == local(2026, 2, 28, 17, 30)  # the later 调休 Saturday


def test_working_hours_across_spring_festival() -> None:
    # Fri 15:00–17:30 (2.5 h) + 调休 Sat (7 h) + Tue 24th 09:00–12:00, 13:30–17:00 (6.5 h) = 16 h
    assert due(local(2026, 2, 13, 15), "16wh") == local(2026, 2, 24, 17, 0)


def test_working_hours_across_national_day() -> None:
    # Wed 30 Sep 1.5 h + Thu 8 Oct 7 h + Fri 9 Oct 7 h + 调休 Sat 10 Oct 0.5 h
    assert due(local(2026, 9, 30, 16), "16wh") == local(2026, 10, 10, 9, 30)
    assert due(local(2026, 9, 30, 16), "1wd") == local(2026, 10, 8, 17, 30)
    assert due(local(2026, 9, 24, 10), "1wd") == local(2026, 9, 28, 17, 30)  # Mid-Autumn 25–27 Sep skipped


@pytest.mark.parametrize(("start", "limit", "expected"), [
    (local(2026, 3, 9, 7, 0), "2wh", local(2026, 3, 9, 11, 0)),  # before work: counts from 09:00
    (local(2026, 3, 9, 12, 30), "1wh", local(2026, 3, 9, 14, 30)),  # lunch break: counts from 13:30
    (local(2026, 3, 9, 20, 0), "1wh", local(2026, 3, 10, 10, 0)),  # evening: next morning
    (local(2026, 3, 7, 10, 0), "1wh", local(2026, 3, 9, 10, 0)),  # Saturday: Monday
    (local(2026, 3, 9, 9, 0), "7wh", local(2026, 3, 9, 17, 30)),  # ends at the close, not the next opening
    (local(2026, 3, 9, 11, 0), "1wh", local(2026, 3, 9, 12, 0)),
    (local(2026, 3, 9, 11, 0), "2wh", local(2026, 3, 9, 14, 30)),  # jumps the lunch break
    (local(2026, 3, 8, 10, 0), "1wd", local(2026, 3, 9, 17, 30)),  # Sunday: end of Monday
    (local(2026, 3, 9, 7, 0), "1wd", local(2026, 3, 10, 17, 30)),  # the start day never counts
    (local(2026, 3, 9, 20, 0), "5wd", local(2026, 3, 16, 17, 30)),
])
def test_starts_outside_working_hours(start: datetime, limit: str, expected: datetime) -> None:
    assert due(start, limit) == expected


def test_calendar_limits_ignore_holidays() -> None:
    assert due(local(2026, 2, 14, 23, 0), "2h") == local(2026, 2, 15, 1, 0)
    assert due(local(2026, 2, 14, 10, 0), "3d") == local(2026, 2, 17, 10, 0)
    assert POLICY.due_at(local(2026, 2, 14, 10), TimeLimit.parse("24h")).tzinfo is UTC


def test_naive_datetimes_are_rejected() -> None:
    naive = datetime(2026, 3, 9, 10, 0)
    for call in (lambda: POLICY.due_at(naive, TimeLimit.parse("1wd")),
                 lambda: POLICY.due_at(naive, TimeLimit.parse("2h")),
                 lambda: POLICY.status(local(2026, 3, 9, 9), local(2026, 3, 10, 17, 30), naive,
                                       unit=LimitUnit.WORKING_DAYS),
                 lambda: POLICY.due_with_pauses(local(2026, 3, 9, 9), TimeLimit.parse("1wd"), [(naive, None)],
                                                now=local(2026, 3, 9, 12)),
                 lambda: CAL.is_working_day(CAL.local_day(naive))):
        with pytest.raises(Invalid) as caught:
            call()
        assert caught.value.code == "deadline.naive_datetime"


def test_years_far_outside_the_range_are_refused() -> None:
    with pytest.raises(Invalid) as caught:
        POLICY.due_at(datetime(2300, 1, 1, tzinfo=UTC), TimeLimit.parse("1wh"))
    assert caught.value.code == "calendar.out_of_range"


# --- pauses and extensions -----------------------------------------------------------------------------------------


def test_pause_spanning_spring_festival_counts_only_its_working_time() -> None:
    start, limit = local(2026, 2, 12, 9), TimeLimit.parse("16wh")
    assert POLICY.due_at(start, limit).astimezone(SH) == local(2026, 2, 14, 11, 0)
    # 10 h used by Fri 12:00; suspended until Wed 25th 12:00; 4 h that afternoon, 2 h on Thursday morning
    pauses = [(local(2026, 2, 13, 12), local(2026, 2, 25, 12))]
    assert POLICY.due_with_pauses(start, limit, pauses).astimezone(SH) == local(2026, 2, 26, 11, 0)


def test_pause_inside_the_holiday_moves_a_working_due_not_a_calendar_due() -> None:
    pauses = [(local(2026, 2, 15, 10), local(2026, 2, 22, 10))]
    start = local(2026, 2, 13, 10)
    assert POLICY.due_with_pauses(start, TimeLimit.parse("2wd"), pauses) == POLICY.due_at(start, TimeLimit.parse("2wd"))
    assert POLICY.due_with_pauses(start, TimeLimit.parse("5d"), pauses).astimezone(SH) == local(2026, 2, 25, 10)


def test_several_pauses_overlapping_and_before_the_start() -> None:
    start, limit = local(2026, 3, 9, 9), TimeLimit.parse("7wh")  # due Mon 17:30 without pauses
    pauses = [(local(2026, 3, 9, 8), local(2026, 3, 9, 10)),  # only 09:00–10:00 after the start counts
              (local(2026, 3, 9, 14), local(2026, 3, 9, 15)),
              (local(2026, 3, 9, 14, 30), local(2026, 3, 9, 16))]  # overlaps the previous one: 14:00–16:00
    assert POLICY.due_with_pauses(start, limit, pauses).astimezone(SH) == local(2026, 3, 10, 12, 0)
    applied = POLICY.due_at(start, limit)
    for begin, end in [(local(2026, 3, 9, 9), local(2026, 3, 9, 10)), (local(2026, 3, 9, 14), local(2026, 3, 9, 16))]:
        applied = POLICY.shift_for_pause(applied, begin, end, unit=limit.unit)
    assert applied.astimezone(SH) == local(2026, 3, 10, 12, 0)  # one by one equals all at once


def test_pause_after_the_due_does_not_rescue_an_overdue_case() -> None:
    start, limit = local(2026, 3, 9, 9), TimeLimit.parse("2wh")
    late = [(local(2026, 3, 9, 15), local(2026, 3, 10, 15))]
    assert POLICY.due_with_pauses(start, limit, late) == POLICY.due_at(start, limit)


def test_open_pause_counts_up_to_now_and_needs_now() -> None:
    start, limit = local(2026, 3, 9, 9), TimeLimit.parse("7wh")
    pauses = [(local(2026, 3, 9, 10), None)]
    assert POLICY.due_with_pauses(start, limit, pauses, now=local(2026, 3, 9, 11)).astimezone(SH) == \
        local(2026, 3, 10, 10, 0)
    with pytest.raises(Invalid) as caught:
        POLICY.due_with_pauses(start, limit, pauses)
    assert caught.value.code == "deadline.open_pause_needs_now"


def test_a_pause_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(Invalid) as caught:
        POLICY.due_with_pauses(local(2026, 3, 9, 9), TimeLimit.parse("1wd"),
                               [(local(2026, 3, 9, 12), local(2026, 3, 9, 11))])
    assert caught.value.code == "deadline.bad_pause"


def test_extension_counts_in_its_own_measure_then_pauses_apply() -> None:
    start = local(2026, 2, 11, 10)
    base = POLICY.due_at(start, TimeLimit.parse("2wd"))
    assert base.astimezone(SH) == local(2026, 2, 13, 17, 30)
    assert POLICY.extend(base, TimeLimit.parse("1wd")).astimezone(SH) == local(2026, 2, 14, 17, 30)
    assert POLICY.extend(base, TimeLimit.parse("2wh")).astimezone(SH) == local(2026, 2, 14, 11, 0)
    assert POLICY.extend(base, TimeLimit.parse("3d")).astimezone(SH) == local(2026, 2, 16, 17, 30)
    extended = POLICY.extend(base, TimeLimit.parse("1wd"))
    paused = POLICY.paused_due(start, extended, [(local(2026, 2, 12, 9), local(2026, 2, 12, 12))],
                               unit=LimitUnit.WORKING_DAYS)
    assert paused.astimezone(SH) == local(2026, 2, 24, 12, 0)


# --- status --------------------------------------------------------------------------------------------------------


def test_status_goes_green_yellow_red_in_working_time() -> None:
    start = local(2026, 3, 9, 9)
    deadline = POLICY.due_at(start, TimeLimit.parse("2wd"))  # Wed 11 Mar 17:30; 21 working hours in all

    def at(year: int, month: int, day: int, hour: int, minute: int = 0) -> tuple[Level, float, timedelta]:
        state = POLICY.status(start, deadline, local(year, month, day, hour, minute), unit=LimitUnit.WORKING_DAYS)
        return state.level, state.elapsed_fraction, state.remaining

    assert at(2026, 3, 10, 17, 30) == (Level.GREEN, 14 / 21, timedelta(hours=7))
    assert at(2026, 3, 11, 11, 0)[:2] == (Level.GREEN, 16 / 21)  # ≈ 76 %
    assert at(2026, 3, 11, 12, 0)[:2] == (Level.YELLOW, 17 / 21)  # ≈ 81 %
    assert at(2026, 3, 11, 13, 30)[:2] == (Level.YELLOW, 17 / 21)  # the lunch break does not count
    assert at(2026, 3, 11, 17, 30) == (Level.YELLOW, 1.0, timedelta(0))
    assert at(2026, 3, 11, 17, 31) == (Level.RED, 1.0, timedelta(0))  # overdue, though no working time passed yet
    assert at(2026, 3, 12, 10, 0) == (Level.RED, 22 / 21, -timedelta(hours=1))


def test_status_stands_still_over_the_holiday_for_working_limits_only() -> None:
    start = local(2026, 2, 13, 9)
    wd = POLICY.due_at(start, TimeLimit.parse("3wd"))
    first, last = (POLICY.status(start, wd, local(2026, 2, d, 10), unit=LimitUnit.WORKING_DAYS) for d in (16, 22))
    assert first.elapsed_fraction == last.elapsed_fraction and first.remaining == last.remaining
    cal_due = POLICY.due_at(start, TimeLimit.parse("20d"))
    early, later = (POLICY.status(start, cal_due, local(2026, 2, d, 10), unit=LimitUnit.DAYS) for d in (16, 22))
    assert later.remaining == early.remaining - timedelta(days=6)
    assert later.elapsed_fraction > early.elapsed_fraction


def test_status_while_suspended() -> None:
    start, limit = local(2026, 3, 9, 9), TimeLimit.parse("2wd")
    pauses = [(local(2026, 3, 10, 9), None)]
    states = []
    for now in (local(2026, 3, 10, 11), local(2026, 3, 12, 15)):
        deadline = POLICY.due_with_pauses(start, limit, pauses, now=now)
        states.append(POLICY.status(start, deadline, now, pauses, unit=limit.unit))
    assert all(s.paused for s in states)
    assert states[0].remaining == states[1].remaining == timedelta(hours=14)
    assert states[1].due > states[0].due
    assert all(s.level is Level.GREEN for s in states)  # the clock stopped at 7/21 of the limit


def test_status_with_a_closed_pause_is_exactly_full_at_the_moved_due() -> None:
    start, limit = local(2026, 2, 12, 9), TimeLimit.parse("16wh")
    pauses: list[tuple[datetime, datetime | None]] = [(local(2026, 2, 13, 12), local(2026, 2, 25, 12))]
    deadline = POLICY.due_with_pauses(start, limit, pauses)
    state = POLICY.status(start, deadline, deadline, pauses, unit=limit.unit)
    assert (state.elapsed_fraction, state.remaining, state.level, state.paused) == (1.0, timedelta(0),
                                                                                      Level.YELLOW, False)


def test_warning_threshold_is_data() -> None:
    start = local(2026, 3, 9, 9)
    deadline = POLICY.due_at(start, TimeLimit.parse("10h"))
    assert DeadlinePolicy(warn_at=0.5).status(start, deadline, local(2026, 3, 9, 15), unit=LimitUnit.HOURS).level \
        is Level.YELLOW
    assert POLICY.status(start, deadline, local(2026, 3, 9, 15), unit=LimitUnit.HOURS).level is Level.GREEN
    with pytest.raises(Invalid) as caught:
        DeadlinePolicy(warn_at=1.5)
    assert caught.value.code == "deadline.bad_warning"
