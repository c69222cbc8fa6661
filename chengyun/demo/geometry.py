"""Pure geometry for the demo street: an irregular boundary, Voronoi partitions and an exact snap to a grid.

Shapes are drawn in a local frame in kilometres (x east, y north) so that Lloyd relaxation gives cells of similar
real size, then moved to WGS84 lon/lat. The last step nodes every leaf boundary on a 1e-7° grid and rebuilds the
leaves from the faces of that one noded line work, so that children tile their parents exactly (no gaps, no
overlaps, shared borders with identical vertices) and every parent is the exact union of its children.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import LineString, MultiPoint, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

GRID = 1e-7  # degrees, about 1 cm: the precision of every stored coordinate
KM_GRID = 1e-6  # km: "shares a border" tolerance (and fallback snap) when merging fragments in the local frame
KM_PER_DEG_LAT = 110.85  # at 30.8°N
KM_PER_DEG_LON_EQUATOR = 111.32

Points = NDArray[np.float64]
G = TypeVar("G", bound=BaseGeometry)


def street_boundary(rng: np.random.Generator, area_km2: float = 35.0, vertices: int = 160) -> Polygon:
    """An irregular, star-shaped polygon of `area_km2` around the origin of the km frame."""
    theta = np.linspace(0.0, 2.0 * math.pi, vertices, endpoint=False)
    radius = np.ones_like(theta)
    for k in range(2, 9):
        amplitude = rng.uniform(0.03, 0.16) / math.sqrt(k - 1)
        radius += amplitude * np.cos(k * theta + rng.uniform(0.0, 2.0 * math.pi))
    radius += rng.normal(0.0, 0.008, vertices)
    stretch, turn = rng.uniform(1.15, 1.45), rng.uniform(0.0, math.pi)
    x, y = radius * np.cos(theta) * stretch, radius * np.sin(theta) / stretch
    ring = np.column_stack([x * math.cos(turn) - y * math.sin(turn), x * math.sin(turn) + y * math.cos(turn)])
    shape = Polygon(ring)
    scaled = shapely.transform(shape, lambda c: c * math.sqrt(area_km2 / shape.area))
    return _single(scaled)


def random_points(polygon: BaseGeometry, n: int, rng: np.random.Generator) -> Points:
    """`n` points drawn uniformly inside `polygon` (rejection sampling in its bounding box)."""
    xmin, ymin, xmax, ymax = polygon.bounds
    found = np.empty((0, 2))
    shapely.prepare(polygon)
    while len(found) < n:
        batch = rng.uniform((xmin, ymin), (xmax, ymax), size=(max(16, 4 * n), 2))
        found = np.vstack([found, batch[shapely.contains_xy(polygon, batch[:, 0], batch[:, 1])]])
    return found[:n]


def partition(polygon: Polygon, n: int, rng: np.random.Generator, lloyd_steps: int = 4) -> list[Polygon]:
    """Split `polygon` into `n` single-polygon cells: Voronoi of seed points, relaxed, clipped to the parent."""
    if n <= 1:
        return [polygon]
    points = random_points(polygon, n, rng)
    for _ in range(lloyd_steps):
        cells = _clipped_cells(polygon, points)
        centres = shapely.get_coordinates(shapely.centroid(cells))
        outside = ~shapely.contains_xy(polygon, centres[:, 0], centres[:, 1])
        if outside.any():
            centres[outside] = shapely.get_coordinates(shapely.point_on_surface(cells[outside]))
        points = centres
    return merge_fragments(list(_clipped_cells(polygon, points)), KM_GRID)


def _clipped_cells(polygon: Polygon, points: Points) -> NDArray[np.object_]:
    diagram = shapely.voronoi_polygons(MultiPoint(points), extend_to=polygon, ordered=True)
    cells: NDArray[np.object_] = shapely.intersection(shapely.get_parts(diagram), polygon)
    return cells


def merge_fragments(cells: Sequence[BaseGeometry], grid: float) -> list[Polygon]:
    """Keep each cell's largest part; give every other part to the cell that shares its longest border.

    `grid` is the tolerance for "shares a border"; a union that leaves a crack is snap-rounded to it.
    """
    mains: list[Polygon] = []
    pending: list[Polygon] = []
    for cell in cells:
        parts = sorted(polygon_parts(cell), key=lambda p: p.area, reverse=True)
        if not parts:
            raise ValueError("a cell has no area")
        mains.append(parts[0])
        pending.extend(parts[1:])
    while pending:
        left: list[Polygon] = []
        for fragment in pending:
            target = _longest_border(fragment, mains, grid)
            if target is None:
                left.append(fragment)
                continue
            merged = sorted(_join(mains[target], fragment, grid), key=lambda p: p.area, reverse=True)
            mains[target] = merged[0]
            left.extend(merged[1:])
        if len(left) >= len(pending):
            raise ValueError("fragments that border no cell")
        pending = left
    return mains


def _join(main: Polygon, fragment: Polygon, grid: float) -> list[Polygon]:
    parts = polygon_parts(shapely.union(main, fragment))
    return parts if len(parts) == 1 else polygon_parts(shapely.union(main, fragment, grid_size=grid))


def _longest_border(fragment: Polygon, mains: Sequence[Polygon], tolerance: float) -> int | None:
    candidates = np.array(mains, dtype=object)
    near = np.flatnonzero(shapely.dwithin(candidates, fragment, tolerance))
    if not len(near):
        return None
    shared = shapely.intersection(fragment.boundary, shapely.buffer(candidates[near], tolerance))
    lengths = shapely.length(shared)
    best = int(np.argmax(lengths))
    return int(near[best]) if lengths[best] > 0 else None


def polygon_parts(geom: BaseGeometry) -> list[Polygon]:
    """The polygons with area inside any geometry (collections are flattened; lines and points dropped)."""
    if isinstance(geom, Polygon):
        return [geom] if geom.area > 0 else []
    if hasattr(geom, "geoms"):
        return [p for part in geom.geoms for p in polygon_parts(part)]
    return []


def to_lonlat(geom: G, lon0: float, lat0: float) -> G:
    """Move a shape from the local km frame to WGS84 lon/lat around (lon0, lat0)."""
    km_per_deg_lon = KM_PER_DEG_LON_EQUATOR * math.cos(math.radians(lat0))
    scale = np.array([1.0 / km_per_deg_lon, 1.0 / KM_PER_DEG_LAT])
    origin = np.array([lon0, lat0])
    moved: G = shapely.transform(geom, lambda c: origin + c * scale)
    return moved


def snap_tiling(leaves: Sequence[Polygon], grid: float = GRID) -> list[Polygon]:
    """The leaves rebuilt on `grid` from one noded line work, so that they tile their union exactly."""
    lines = shapely.union_all(shapely.boundary(np.array(leaves, dtype=object)), grid_size=grid)
    faces = [f for f in shapely.get_parts(shapely.polygonize(shapely.get_parts(lines))) if f.area > 0]
    owner = _owners(faces, leaves)
    groups: list[list[Polygon]] = [[] for _ in leaves]
    for face, leaf in zip(faces, owner, strict=True):
        groups[leaf].append(face)
    if any(not group for group in groups):
        raise ValueError("a leaf vanished when snapped to the grid")
    cells = [g[0] if len(g) == 1 else shapely.union_all(g, grid_size=grid) for g in groups]
    return merge_fragments(cells, grid)


def _owners(faces: Sequence[Polygon], leaves: Sequence[Polygon]) -> list[int]:
    tree = STRtree(list(leaves))
    probes = shapely.point_on_surface(np.array(faces, dtype=object))
    owner = [-1] * len(faces)
    hits = tree.query(probes, predicate="within")
    for face, leaf in sorted(zip(hits[0].tolist(), hits[1].tolist(), strict=True), reverse=True):
        owner[face] = leaf  # the lowest leaf index wins where float leaves overlapped
    for face, probe in enumerate(probes):
        if owner[face] < 0:
            owner[face] = int(tree.query_nearest(probe)[0])
    return owner


def union_exact(polygons: Sequence[Polygon], grid: float = GRID) -> Polygon:
    """The union of polygons that share noded borders on `grid`; it must be one polygon."""
    return _single(shapely.union_all(np.array(polygons, dtype=object), grid_size=grid))


def _single(geom: BaseGeometry) -> Polygon:
    if not isinstance(geom, Polygon) or geom.is_empty or not geom.is_valid:
        raise ValueError(f"expected one valid polygon, got {geom.geom_type}")
    return geom


def river_line(rng: np.random.Generator, reach_km: float = 5.0) -> LineString:
    """A meandering river crossing the local km frame near its origin."""
    heading = rng.uniform(0.0, math.pi)
    along = np.linspace(-reach_km, reach_km, 80)
    wiggle = 0.35 * np.sin(along * rng.uniform(0.8, 1.6) + rng.uniform(0.0, 6.0)) + rng.uniform(-0.8, 0.8)
    x = along * math.cos(heading) - wiggle * math.sin(heading)
    y = along * math.sin(heading) + wiggle * math.cos(heading)
    return LineString(np.column_stack([x, y]))


def points_in(polygon: BaseGeometry, centre: tuple[float, float], spread: float, n: int,
              rng: np.random.Generator, decimals: int = 7) -> Points:
    """`n` points near `centre` (normal spread), rounded to `decimals`, each inside `polygon`."""
    shapely.prepare(polygon)
    found = np.empty((0, 2))
    for attempt in itertools.count():
        if attempt < 12:
            batch = rng.normal(centre, spread / 2**attempt, size=(4 * n + 8, 2))
        else:
            batch = random_points(polygon, 4 * n + 8, rng)
        batch = np.round(batch, decimals)
        found = np.vstack([found, batch[shapely.contains_xy(polygon, batch[:, 0], batch[:, 1])]])
        if len(found) >= n:
            break
    return found[:n]
