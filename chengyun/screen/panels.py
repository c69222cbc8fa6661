"""The big screen (一屏全观) as descriptions: every panel and map layer once — what it shows, from which query,
how it refreshes, where it sits. Pure, no I/O.

A panel names a *source* (a query in `screen.queries.SOURCES`, run once per request however many panels read it)
and a `value` function that picks its figures out of the source's result; one front-end component per `kind`
draws it. A map layer names a source that returns `LayerPoint`s and says how to draw them (palette per class,
symbol, pulse). Adding a layer — the IoT alarms and devices — is one `Layer` here and one source function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from chengyun.cases.kpis import CLOSED_LEVELS, KpiReport
from chengyun.screen.model import Intake, Trend
from chengyun.triage.hot import HotIssue

SOURCES_ORDER = ("grid", "citizen", "sensor", "upstream", "district")  # cases.model.Source, busiest first
TOP_CLASSES = 8
TOP_HOT = 6
FEED_SIZE = 30
KPI_DAYS = 30  # the three rates and friends: the last 30 local days, today included (the KPI page's default)
HOT_DAYS = 30


class Kind(StrEnum):
    """Which front-end component draws a panel."""

    NUMBER = "number"
    BAR = "bar"
    PIE = "pie"
    LINE = "line"
    TABLE = "table"
    FEED = "feed"
    MAP_LAYER = "map-layer"


class Format(StrEnum):
    """How a number is shown."""

    COUNT = "count"
    PERCENT = "percent"
    HOURS = "hours"


class Slot(StrEnum):
    """Where on the 1920×1080 screen a panel sits: the figure row above the map, the side columns, below it."""

    TILES = "tiles"
    LEFT = "left"
    RIGHT = "right"
    BOTTOM = "bottom"


@dataclass(frozen=True, slots=True)
class Refresh:
    """When the page asks again: after live case events (debounced), every `every_s` seconds, or it is the feed."""

    on_events: bool = False
    every_s: int | None = None
    live: bool = False  # fed by the stream itself


@dataclass(frozen=True, slots=True)
class Panel:
    """One panel: id, title (translation key), kind, source query, the value it picks, refresh policy, place.

    `labels` says how the keys of a bar/pie/line are named: an i18n prefix (`pages.cases.sources.`), or
    `category` (catalogue names) or `area` (area names).
    """

    id: str
    title: str
    kind: Kind
    source: str
    value: Callable[[Any], Any]
    refresh: Refresh
    slot: Slot
    format: Format = Format.COUNT
    labels: str | None = None


@dataclass(frozen=True, slots=True)
class Layer:
    """One map layer: its points come from `source` (a list of `LayerPoint`), coloured by class via `palette`.

    Legend labels are `legend` + class. `pulse` draws a ripple that grows with the point's rank (alarms). `link`
    is the console page a click opens, with `{id}` standing for the point's id (a point may carry its own).
    `labels` names the points' labels like a panel's keys (`alarm_type`, `device_type`; None: shown as they are).
    """

    id: str
    title: str
    source: str
    palette: Mapping[str, str]
    legend: str
    refresh: Refresh
    symbol: str = "circle"
    size: int = 7
    pulse: bool = False
    default_on: bool = True
    link: str | None = None
    labels: str | None = None
    kind: Kind = field(default=Kind.MAP_LAYER)


def _sources(intake: Intake) -> list[tuple[str, int]]:
    return [(s, intake.by_source.get(s, 0)) for s in SOURCES_ORDER]


def _classes(intake: Intake) -> list[tuple[str, int]]:
    ranked = sorted(intake.by_class.items(), key=lambda kv: (-kv[1], kv[0]))
    return ranked[:TOP_CLASSES]


def _levels(report: KpiReport) -> list[tuple[str, float | None]]:
    return [(lv, report.total.closed_share_by_level.get(lv)) for lv in CLOSED_LEVELS]


def _trend(trend: Trend) -> tuple[Sequence[str], list[tuple[str, Sequence[int]]]]:
    return trend.days, [("cases", trend.reported), ("closed", trend.closed)]


def _hot(issues: Sequence[HotIssue]) -> list[dict[str, Any]]:
    return [{"title": i.title, "place": i.place, "count": i.count, "reporters": i.reporters,
             "growth": round(i.growth, 2), "score": round(i.score, 2), "cases": list(i.ids[-5:])}
            for i in issues[:TOP_HOT]]


def _kpi(name: str) -> Callable[[KpiReport], float | None]:
    """The KPI page's figure `name` (a rate or an average) of the total row."""

    def value(report: KpiReport) -> float | None:
        figure: float | None = getattr(report.total, name)
        return figure

    return value


ON_CASES = Refresh(on_events=True, every_s=60)
SLOW = Refresh(on_events=True, every_s=300)

PANELS: tuple[Panel, ...] = (
    Panel("today_total", "screen.panel.today_total", Kind.NUMBER, "today", lambda i: i.total, ON_CASES, Slot.TILES),
    Panel("response_rate", "screen.panel.response_rate", Kind.NUMBER, "kpis", _kpi("response_rate"), ON_CASES,
          Slot.TILES, Format.PERCENT),
    Panel("resolution_rate", "screen.panel.resolution_rate", Kind.NUMBER, "kpis", _kpi("resolution_rate"),
          ON_CASES, Slot.TILES, Format.PERCENT),
    Panel("satisfaction_rate", "screen.panel.satisfaction_rate", Kind.NUMBER, "kpis", _kpi("satisfaction_rate"),
          ON_CASES, Slot.TILES, Format.PERCENT),
    Panel("on_time_rate", "screen.panel.on_time_rate", Kind.NUMBER, "kpis", _kpi("on_time_closure_rate"),
          ON_CASES, Slot.TILES, Format.PERCENT),
    Panel("overdue", "screen.panel.overdue", Kind.NUMBER, "overdue", lambda n: n, ON_CASES, Slot.TILES),
    Panel("avg_claim_hours", "screen.panel.avg_claim_hours", Kind.NUMBER, "kpis", _kpi("avg_claim_hours"),
          ON_CASES, Slot.TILES, Format.HOURS),
    Panel("avg_handling_hours", "screen.panel.avg_handling_hours", Kind.NUMBER, "kpis",
          _kpi("avg_handling_hours"), ON_CASES, Slot.TILES, Format.HOURS),
    Panel("intake_by_source", "screen.panel.intake_by_source", Kind.PIE, "today", _sources, ON_CASES, Slot.LEFT,
          labels="pages.cases.sources."),
    Panel("intake_by_class", "screen.panel.intake_by_class", Kind.BAR, "today", _classes, ON_CASES, Slot.LEFT,
          labels="category"),
    Panel("closed_by_level", "screen.panel.closed_by_level", Kind.PIE, "kpis", _levels, SLOW, Slot.LEFT,
          Format.PERCENT, labels="handling_level."),
    Panel("hot", "screen.panel.hot", Kind.TABLE, "hot", _hot, Refresh(every_s=300), Slot.RIGHT),
    Panel("feed", "screen.panel.feed", Kind.FEED, "feed", lambda events: events, Refresh(live=True), Slot.RIGHT),
    Panel("trend_7", "screen.panel.trend_7", Kind.BAR, "trend_7", _trend, SLOW, Slot.BOTTOM,
          labels="screen.series."),
    Panel("trend_30", "screen.panel.trend_30", Kind.LINE, "trend_30", _trend, SLOW, Slot.BOTTOM,
          labels="screen.series."),
)

CASE_PALETTE = {"triage": "#4da3ff", "green": "#36cfc9", "yellow": "#fadb14", "red": "#ff4d4f",
                "suspended": "#8c8c8c"}
WORKER_PALETTE = {"fresh": "#95de64", "stale": "#b37feb"}
# for the IoT layers (issue #6): alarms pulse by severity (signals.Severity codes), devices by status
SEVERITY_PALETTE = {"critical": "#ff2d2d", "major": "#ff8c1a", "minor": "#ffd400", "warning": "#40a9ff",
                    "indeterminate": "#bfbfbf"}
DEVICE_PALETTE = {"online": "#52c41a", "offline": "#8c8c8c", "alarm": "#ff4d4f"}
# emergency resources: the gazetteer's points of interest of these categories (places.category codes)
RESOURCE_PALETTE = {"fire": "#fa541c", "micro_fire_station": "#ff9c6e", "fire_hydrant": "#ff85c0",
                    "aed": "#73d13d", "shelter": "#13c2c2", "supplies": "#ffc53d", "outfall": "#69c0ff"}

LAYERS: tuple[Layer, ...] = (
    Layer("cases", "screen.layer.cases", "open_cases", CASE_PALETTE, "screen.class.", Refresh(live=True, every_s=300),
          link="/cases/{id}"),
    Layer("workers", "screen.layer.workers", "workers", WORKER_PALETTE, "screen.class.", Refresh(every_s=60),
          symbol="triangle", size=11),
    # the IoT layers (issue #6): sources in screen/iot.py; a further layer is one more line here and one source
    Layer("alarms", "screen.layer.alarms", "alarms", SEVERITY_PALETTE, "screen.class.", Refresh(live=True, every_s=60),
          size=8, pulse=True, link="/alarms/{id}", labels="alarm_type"),
    Layer("devices", "screen.layer.devices", "devices", DEVICE_PALETTE, "screen.class.", Refresh(every_s=300),
          symbol="rect", size=4, default_on=False, link="/devices/{id}", labels="device_type"),
    Layer("resources", "screen.layer.resources", "resources", RESOURCE_PALETTE, "screen.resource.",
          Refresh(every_s=900), symbol="diamond", size=10, default_on=False),
)


def panel(panel_id: str) -> Panel:
    """The description of one panel (KeyError for an unknown id; callers check ids first)."""
    return _BY_ID[panel_id]


def layer(layer_id: str) -> Layer:
    """The description of one layer (KeyError for an unknown id)."""
    return _LAYER_BY_ID[layer_id]


_BY_ID = {p.id: p for p in PANELS}
_LAYER_BY_ID = {lay.id: lay for lay in LAYERS}
