"""Every source the screen's panels and layers may name, and every tail the live stream follows, in one place."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from chengyun.screen import iot
from chengyun.screen.model import Event
from chengyun.screen.panels import FEED_SIZE
from chengyun.screen.queries import (
    Context,
    case_tail,
    hot,
    kpis,
    open_cases,
    overdue,
    resources,
    step_tail,
    today,
    trend,
    workers,
)


class Tail(Protocol):
    """One table the stream follows by id: its events after an id (and missed ids), or its latest ones."""

    def __call__(self, session: Session, after: int, gaps: Sequence[int], now: datetime, limit: int,
                 path: str = "/", latest: bool = False) -> list[Event]: ...


TAILS: dict[str, Tail] = {"cases": case_tail, "steps": step_tail, "alarms": iot.alarm_tail}


def newest_ids(session: Session, now: datetime) -> dict[str, int]:
    """The newest id of every tail now (where a fresh stream starts)."""
    ids = {}
    for name, tail in TAILS.items():
        last = tail(session, 0, (), now, 1, "/", latest=True)
        ids[name] = last[-1].seq if last else 0
    return ids


def feed(ctx: Context) -> list[Event]:
    """The latest FEED_SIZE events of every tail in the focus, newest first (before the stream takes over)."""
    events: list[Event] = []
    for tail in TAILS.values():
        events += tail(ctx.session, 0, (), ctx.now, FEED_SIZE, ctx.path, latest=True)
    return sorted(events, key=lambda e: (e.at, e.key), reverse=True)[:FEED_SIZE]


Source = Callable[[Context], Any]
SOURCES: dict[str, Source] = {
    "today": today, "kpis": kpis, "overdue": overdue, "trend_7": trend(7), "trend_30": trend(30), "hot": hot,
    "feed": feed, "open_cases": open_cases, "workers": workers, "alarms": iot.alarms, "devices": iot.devices,
    "resources": resources,
}
