"""KPIs of the closed loop (三率 and friends): group kinds, the query's parameters, counts and rates. Pure, no I/O.

The cohort is every case in the caller's scope reported in [start, end). Definitions (numerator / denominator):

- response rate: claimed_at <= claim_due / dispatched (dispatched_at set)
- on-time closure rate: closed_at <= handling_due / closed cases that have a handling_due
- resolution rate: state closed or followed_up / state registered or later, excluding rejected and merged
- satisfaction rate: rating satisfied or basically_satisfied / rated
- return rate: returns > 0 / dispatched
- repeat-report rate (一人多诉): the reporter (phone hash) had another case in the REPEAT_WINDOW before this one /
  cases with a phone hash (a per-case flag set when the case is opened, so the rate adds up over days)
- average claim hours: claimed_at - dispatched_at; average handling hours: closed_at - dispatched_at
- closed share per handling level: closed cases at that level / closed cases (closed_at set)

A rate whose denominator is 0 is None, never 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from chengyun.errors import Invalid
from chengyun.shared.handling import HandlingLevel

DEFAULT_DAYS = 30
MAX_DAYS = 732  # two years (and a leap day) at most in one query
REPEAT_WINDOW = timedelta(days=30)


class GroupBy(StrEnum):
    """What the KPI rows are grouped by (API `group=`)."""

    COMMUNITY = "community"  # community_code
    LEVEL = "level"  # handling_level
    UNIT = "unit"  # lead_unit
    CATEGORY = "category"  # category_code
    CLASS = "class"  # first two characters of category_code
    DAY = "day"  # local date of reported_at
    WEEK = "week"  # Monday of the local ISO week of reported_at
    MONTH = "month"  # first day of the local month of reported_at

    @property
    def is_period(self) -> bool:
        """True for the time buckets; their keys are the bucket's first local date, YYYY-MM-DD."""
        return self in (GroupBy.DAY, GroupBy.WEEK, GroupBy.MONTH)


def parse_group(text: str | None) -> GroupBy:
    """The group kind, or Invalid('kpis.bad_group'); absent means community."""
    if text is None or text == "":
        return GroupBy.COMMUNITY
    if text not in set(GroupBy):
        raise Invalid("kpis.bad_group", value=text, allowed=", ".join(g.value for g in GroupBy))
    return GroupBy(text)


def _parse_day(text: str, name: str) -> date:
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid("kpis.bad_date", field=name, value=text) from None


def parse_range(start: str | None, end: str | None, now: datetime, tz: ZoneInfo) -> tuple[date, date]:
    """Local dates [from, to): `to` is exclusive; defaults are the last 30 local days up to and including today."""
    today = now.astimezone(tz).date()
    last = _parse_day(end, "to") if end else today + timedelta(days=1)
    first = _parse_day(start, "from") if start else last - timedelta(days=DEFAULT_DAYS)
    days = (last - first).days
    if days <= 0 or days > MAX_DAYS:
        raise Invalid("kpis.bad_range", start=first.isoformat(), end=last.isoformat(), max_days=MAX_DAYS)
    return first, last


@dataclass(frozen=True, slots=True)
class KpiQuery:
    """Whose cases (scope path prefix; a handler's unit), which report window (UTC) and how to group them."""

    scope_path: str
    group: GroupBy
    start: datetime
    end: datetime
    unit_code: str | None = None
    utc_offset_minutes: int = 0  # local time = UTC + offset, for the period buckets

    @property
    def local_days(self) -> tuple[date, date]:
        """The window as local dates [first, last)."""
        offset = timedelta(minutes=self.utc_offset_minutes)
        return (self.start + offset).date(), (self.end + offset).date()

    def from_day(self, day: date) -> KpiQuery:
        """The same query with its window starting at local `day` instead."""
        start = datetime.combine(day, time(), UTC) - timedelta(minutes=self.utc_offset_minutes)
        return replace(self, start=max(self.start, start))

    @classmethod
    def local(cls, scope_path: str, group: GroupBy, first: date, last: date, tz: ZoneInfo,
              unit_code: str | None = None) -> KpiQuery:
        """A query over local dates [first, last) in `tz` (offset taken at `first`; Asia/Shanghai has no DST)."""
        start = datetime.combine(first, time(), tz).astimezone(UTC)
        end = datetime.combine(last, time(), tz).astimezone(UTC)
        offset = datetime.combine(first, time(), tz).utcoffset() or timedelta()
        return cls(scope_path, group, start, end, unit_code, int(offset.total_seconds() // 60))


CLOSED_LEVELS: tuple[str, ...] = tuple(level.value for level in HandlingLevel)


@dataclass(frozen=True, slots=True)
class KpiCounts:
    """The additive numbers behind the rates; sums of hours so that groups add up to a correct total."""

    cases: int = 0
    dispatched: int = 0
    responded: int = 0
    closed: int = 0
    closed_with_due: int = 0
    closed_on_time: int = 0
    eligible: int = 0
    resolved: int = 0
    rated: int = 0
    satisfied: int = 0
    returned: int = 0
    with_phone: int = 0
    repeated: int = 0
    claim_n: int = 0
    claim_hours: float = 0.0
    handling_n: int = 0
    handling_hours: float = 0.0
    closed_by_level: Mapping[str, int] = field(default_factory=dict)

    def __add__(self, other: KpiCounts) -> KpiCounts:
        """Counts of two disjoint groups together."""
        values: dict[str, object] = {}
        for f in fields(self):
            if f.name == "closed_by_level":
                continue
            values[f.name] = getattr(self, f.name) + getattr(other, f.name)
        levels = {lv: self.closed_by_level.get(lv, 0) + other.closed_by_level.get(lv, 0) for lv in CLOSED_LEVELS}
        return KpiCounts(**values, closed_by_level=levels)  # type: ignore[arg-type]


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when there is nothing to divide by."""
    return numerator / denominator if denominator else None


@dataclass(frozen=True, slots=True)
class KpiRow:
    """One group's KPIs: its key (None for cases without one, e.g. no community), counts and rates."""

    key: str | None
    counts: KpiCounts
    response_rate: float | None
    on_time_closure_rate: float | None
    resolution_rate: float | None
    satisfaction_rate: float | None
    return_rate: float | None
    repeat_report_rate: float | None
    avg_claim_hours: float | None
    avg_handling_hours: float | None
    closed_share_by_level: Mapping[str, float | None]

    @classmethod
    def of(cls, key: str | None, c: KpiCounts) -> KpiRow:
        """Rates from counts; None wherever the denominator is 0."""
        return cls(
            key, c,
            response_rate=ratio(c.responded, c.dispatched),
            on_time_closure_rate=ratio(c.closed_on_time, c.closed_with_due),
            resolution_rate=ratio(c.resolved, c.eligible),
            satisfaction_rate=ratio(c.satisfied, c.rated),
            return_rate=ratio(c.returned, c.dispatched),
            repeat_report_rate=ratio(c.repeated, c.with_phone),
            avg_claim_hours=ratio(c.claim_hours, c.claim_n),
            avg_handling_hours=ratio(c.handling_hours, c.handling_n),
            closed_share_by_level={lv: ratio(c.closed_by_level.get(lv, 0), c.closed) for lv in CLOSED_LEVELS},
        )


@dataclass(frozen=True, slots=True)
class KpiReport:
    """The rows of one query, ordered by key (None last), and the total over all of them."""

    query: KpiQuery
    rows: tuple[KpiRow, ...]
    total: KpiRow


def report(query: KpiQuery, groups: Iterable[tuple[str | None, KpiCounts]]) -> KpiReport:
    """Rows and total from per-group counts (a handful of groups, never one per case); equal keys add up."""
    merged: dict[str | None, KpiCounts] = {}
    for key, counts in groups:
        merged[key] = merged[key] + counts if key in merged else counts
    ordered = sorted(merged.items(), key=lambda g: (g[0] is None, g[0] or ""))
    total = KpiCounts()
    for _, counts in ordered:
        total = total + counts
    return KpiReport(query, tuple(KpiRow.of(k, c) for k, c in ordered), KpiRow.of(None, total))
