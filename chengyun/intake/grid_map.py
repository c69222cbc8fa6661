"""The grid worker's small map (我的任务地图): their scope area's outline, their open tasks as numbered pins coloured
and shaped by deadline (spread apart where they would cover one another), and their latest check-in — placed by
`web.minimap`, drawn as inline SVG by the page."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from chengyun.auth.model import Principal
from chengyun.bootstrap import Container
from chengyun.cases.pages import CLOCKED, is_overdue
from chengyun.cases.tables import CaseRow
from chengyun.errors import NotFound
from chengyun.patrol.tables import CheckinRow
from chengyun.web.minimap import Frame, LonLat, Spot, frame_for, rings_of, scale_bar, spread

LEVELS = ("normal", "due_soon", "overdue")  # drawing order: the most urgent pins are drawn last, on top
SCALE_BAR_UNITS = 90.0  # the scale bar is at most this long (viewBox units)
PIN_GAP = 36.0  # pins closer than this (viewBox units; a pin is 28-34 wide) are spread apart round their middle


@dataclass(frozen=True, slots=True)
class Pin:
    """One task on the map: its number in the list, its case number, its deadline level and where it is drawn."""

    index: int
    number: str
    title: str
    level: str
    spot: Spot


@dataclass(frozen=True, slots=True)
class GridMap:
    """Everything the page draws: frame, outline path, pins (drawing order), check-in, missing count, scale."""

    frame: Frame
    area_name: str
    outline: str
    pins: list[Pin]
    checkin: Spot | None
    checkin_at: datetime | None
    missing: int
    scale_m: float
    scale_units: float


def task_level(row: CaseRow, now: datetime) -> str:
    """`overdue` (red, or past its handling due date), `due_soon` (yellow), else `normal`; only while the case's
    clock runs."""
    if is_overdue(row, now):
        return "overdue"
    return "due_soon" if row.state in CLOCKED and row.deadline_level == "yellow" else "normal"


def area_outline(container: Container, principal: Principal) -> tuple[str, list[list[LonLat]]]:
    """The name and polygon rings of the principal's scope area (no rings when it has no stored boundary)."""
    try:
        area = container.areas.get(principal, principal.scope_code)
    except NotFound:
        return "", []
    return area.name, rings_of(json.loads(area.geometry) if area.geometry else None)


def build(container: Container, principal: Principal, tasks: Sequence[tuple[int, str, CaseRow]],
          checkin: CheckinRow | None) -> GridMap | None:
    """The map of the principal's area with the (index, level, case) tasks that have a point and the check-in;
    None when there is nothing to place at all."""
    name, rings = area_outline(container, principal)
    located = [(i, level, row, p) for i, level, row in tasks if (p := _point(row)) is not None]
    points = [p for *_, p in located] + ([(checkin.lon, checkin.lat)] if checkin is not None else [])
    frame = frame_for(rings, points)
    if frame is None:
        return None
    spots = spread([frame.spot(*p) for p in points], PIN_GAP, frame)  # the check-in (last) is kept clear too
    pins = [Pin(i, row.number, row.title or row.description[:40], level, spot)
            for (i, level, row, _), spot in zip(located, spots, strict=False)]
    pins.sort(key=lambda pin: (LEVELS.index(pin.level), -pin.index))
    metres, units = scale_bar(frame, SCALE_BAR_UNITS)
    return GridMap(frame=frame, area_name=name, outline=frame.path(rings), pins=pins,
                   checkin=spots[-1] if checkin is not None else None,
                   checkin_at=checkin.at if checkin is not None else None, missing=len(tasks) - len(located),
                   scale_m=metres, scale_units=units)


def _point(row: CaseRow) -> LonLat | None:
    return (row.lon, row.lat) if row.lon is not None and row.lat is not None else None
