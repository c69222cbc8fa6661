"""Pure geometry of the phone's small map: WGS84 lon/lat to coordinates of a fixed SVG viewBox, no I/O.

The frame is the area polygon's bounding box, taking in the points that lie near it (within REACH of its span);
without a polygon it is the points' own box. It is widened to at least MIN_SPAN_M metres each way, so a single
point, equal points or a sliver still get a sensible box, then fitted into the viewBox inside a margin with
longitude shrunk by cos(latitude), so shapes keep their aspect, and centred. Points farther out (a check-in
kilometres away) are clamped to the frame's edge and flagged `outside` rather than shrinking the area to a dot.
Pins that would cover one another (several tasks at one gate) are spread on a small circle round their middle,
each remembering where it belongs, so every number shows and every pin can be tapped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

WIDTH = 300.0  # viewBox units; the SVG scales to the card's width, about 1 CSS px per unit on a 360 px phone
HEIGHT = 220.0
MARGIN = 26.0  # free band round the drawing: a pin's touch circle (radius 26) at the edge stays inside the box
MIN_SPAN_M = 150.0  # the frame never shows less than this, east-west and north-south
REACH = 0.5  # points within this fraction of the polygon's span of its box widen the frame; farther are clamped
MAX_LAT = 85.0  # cos(latitude) stays well above zero
M_PER_DEG = 111_320.0  # metres per degree of latitude (and of longitude at the equator)
NICE_STEPS = (1, 2, 5)

LonLat = tuple[float, float]
Ring = Sequence[LonLat]


@dataclass(frozen=True, slots=True)
class Bounds:
    """A lon/lat box in degrees; west <= east and south <= north."""

    west: float
    south: float
    east: float
    north: float

    @classmethod
    def around(cls, points: Iterable[LonLat]) -> Bounds | None:
        """The smallest box holding the points; None when there are none."""
        pts = list(points)
        if not pts:
            return None
        lons, lats = [p[0] for p in pts], [p[1] for p in pts]
        return cls(min(lons), min(lats), max(lons), max(lats))

    def union(self, other: Bounds | None) -> Bounds:
        """The smallest box holding both."""
        if other is None:
            return self
        return Bounds(min(self.west, other.west), min(self.south, other.south),
                      max(self.east, other.east), max(self.north, other.north))

    def contains(self, lon: float, lat: float) -> bool:
        """Whether the point lies in the box, edges included."""
        return self.west <= lon <= self.east and self.south <= lat <= self.north

    def grown(self, fraction: float) -> Bounds:
        """The box with each side moved out by `fraction` of its larger span."""
        pad = fraction * max(self.east - self.west, self.north - self.south)
        return Bounds(self.west - pad, self.south - pad, self.east + pad, self.north + pad)

    def widened(self, min_span_m: float = MIN_SPAN_M) -> Bounds:
        """The box, centred where it was, at least `min_span_m` metres wide and high (never zero)."""
        lat = (self.south + self.north) / 2
        half_lat = max(self.north - self.south, min_span_m / M_PER_DEG) / 2
        half_lon = max(self.east - self.west, min_span_m / (M_PER_DEG * _cos(lat))) / 2
        lon = (self.west + self.east) / 2
        return Bounds(lon - half_lon, lat - half_lat, lon + half_lon, lat + half_lat)


@dataclass(frozen=True, slots=True)
class Spot:
    """A point placed in the viewBox; `outside` when it lay beyond the frame and was clamped to its edge; `home`
    where it belongs when it was moved aside to stop covering another."""

    x: float
    y: float
    outside: bool = False
    home: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class Frame:
    """A lon/lat box fitted into a width x height viewBox: one unit is the same distance both ways."""

    bounds: Bounds
    width: float
    height: float
    scale: float  # viewBox units per degree of latitude
    kx: float  # cos(latitude) at the box's middle: a degree of longitude is kx degrees of latitude long
    left: float  # x of the west edge
    top: float  # y of the north edge
    margin: float = MARGIN  # the free band round the drawing

    @classmethod
    def fit(cls, bounds: Bounds, width: float = WIDTH, height: float = HEIGHT, margin: float = MARGIN) -> Frame:
        """The box (widened first) scaled to fit inside the margin, keeping its aspect, centred."""
        box = bounds.widened()
        kx = _cos((box.south + box.north) / 2)
        span_x, span_y = (box.east - box.west) * kx, box.north - box.south
        scale = min((width - 2 * margin) / span_x, (height - 2 * margin) / span_y)
        return cls(box, width, height, scale, kx, (width - span_x * scale) / 2, (height - span_y * scale) / 2,
                   margin)

    @property
    def viewbox(self) -> str:
        """The SVG viewBox attribute."""
        return f"0 0 {self.width:g} {self.height:g}"

    @property
    def metres_per_unit(self) -> float:
        """Ground distance of one viewBox unit (the same east-west and north-south)."""
        return M_PER_DEG / self.scale

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        """The point's viewBox coordinates, unclamped (y grows southwards)."""
        return (self.left + (lon - self.bounds.west) * self.kx * self.scale,
                self.top + (self.bounds.north - lat) * self.scale)

    def spot(self, lon: float, lat: float) -> Spot:
        """The point in the viewBox, clamped to the frame's edge (and flagged) when it lies beyond it."""
        b = self.bounds
        inside = b.contains(lon, lat)
        x, y = self.xy(min(max(lon, b.west), b.east), min(max(lat, b.south), b.north))
        return Spot(x, y, outside=not inside)

    def path(self, rings: Iterable[Ring]) -> str:
        """SVG path data for the rings (draw with fill-rule evenodd for holes), at 0.1 unit precision."""
        parts = [self._ring_path(ring) for ring in rings]
        return "".join(p for p in parts if p)

    def _ring_path(self, ring: Ring) -> str:
        """One closed subpath; consecutive points that round to the same spot are dropped; under 3 left → ''."""
        out: list[str] = []
        for lon, lat in ring:
            x, y = self.xy(lon, lat)
            text = f"{x:.1f} {y:.1f}"
            if not out or out[-1] != text:
                out.append(text)
        if len(out) > 1 and out[0] == out[-1]:
            out.pop()
        return "M" + "L".join(out) + "Z" if len(out) >= 3 else ""


def spread(spots: Sequence[Spot], gap: float, frame: Frame) -> list[Spot]:
    """The spots in order, those closer than `gap` to another (chained) moved onto a circle round their group's
    middle with neighbours `gap` apart, the first at the top, clockwise, kept inside the frame's margin."""
    out = list(spots)
    for group in _crowds(spots, gap):
        cx = sum(spots[i].x for i in group) / len(group)
        cy = sum(spots[i].y for i in group) / len(group)
        radius = gap / (2 * math.sin(math.pi / len(group)))
        for k, i in enumerate(group):
            angle = 2 * math.pi * k / len(group) - math.pi / 2
            x = min(max(cx + radius * math.cos(angle), frame.margin), frame.width - frame.margin)
            y = min(max(cy + radius * math.sin(angle), frame.margin), frame.height - frame.margin)
            out[i] = Spot(x, y, spots[i].outside, home=(spots[i].x, spots[i].y))
    return out


def _crowds(spots: Sequence[Spot], gap: float) -> list[list[int]]:
    """Indexes of the spots in groups of two or more linked by distances under `gap`, each group in order."""
    groups: list[list[int]] = []
    for i, s in enumerate(spots):
        near = [g for g in groups if any(math.dist((s.x, s.y), (spots[j].x, spots[j].y)) < gap for j in g)]
        joined = [i]
        for g in near:  # the new spot links groups that were apart until now
            joined.extend(g)
            groups.remove(g)
        groups.append(sorted(joined))
    return [g for g in groups if len(g) > 1]


def frame_for(rings: Sequence[Ring], points: Sequence[LonLat], width: float = WIDTH,
              height: float = HEIGHT) -> Frame | None:
    """The frame showing the polygon whole and the points near it (or all points without a polygon); None when
    there is neither."""
    area = Bounds.around(p for ring in rings for p in ring)
    if area is None:
        box = Bounds.around(points)
        return Frame.fit(box, width, height) if box is not None else None
    reach = area.grown(REACH)
    return Frame.fit(area.union(Bounds.around(p for p in points if reach.contains(*p))), width, height)


def rings_of(geometry: Mapping[str, Any] | None) -> list[list[LonLat]]:
    """The rings of a GeoJSON Polygon or MultiPolygon as (lon, lat) lists; anything else has none."""
    if not geometry:
        return []
    kind, coords = geometry.get("type"), geometry.get("coordinates") or []
    polygons = [coords] if kind == "Polygon" else coords if kind == "MultiPolygon" else []
    return [[(float(p[0]), float(p[1])) for p in ring] for polygon in polygons for ring in polygon]


def scale_bar(frame: Frame, max_units: float) -> tuple[int, float]:
    """The longest round distance (1, 2 or 5 times a power of ten metres, at least 1 m) that fits in `max_units`,
    and its length in units."""
    most = max_units * frame.metres_per_unit
    power = 10 ** math.floor(math.log10(most)) if most >= 1 else 1
    metres = max((step * power for step in NICE_STEPS if step * power <= most), default=1)
    return metres, metres / frame.metres_per_unit


def _cos(lat: float) -> float:
    return math.cos(math.radians(min(max(lat, -MAX_LAT), MAX_LAT)))
