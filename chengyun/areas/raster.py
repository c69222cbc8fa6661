"""A uniform cell raster over the area polygons that answers most point lookups without GEOS.

A cell that no polygon boundary touches lies wholly inside the same polygons as its centre, and so
does every such cell joined to it by a shared edge. Each connected region of boundary-free cells is
therefore classified once, at one centre, with the exact STRtree query. Only cells a boundary
touches are "mixed" and fall back to the exact query. The raster is exact, not an approximation: it
only decides when the slow path can be skipped.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Sequence

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy import ndimage
from shapely.geometry.base import BaseGeometry

OUTSIDE = -1
MIXED = -2
MAX_CELLS = 4_000_000
CELLS_PER_AREA_SIDE = 24
EDGE_SLACK = 1e-6  # in cells: rounding must never put a boundary point in a cell not marked mixed

BatchLocator = Callable[[NDArray[np.float64], NDArray[np.float64]], NDArray[np.int64]]


class CellRaster:
    """Cell lookup: `cell(lon, lat)` gives an item index, OUTSIDE, or MIXED (ask the exact index)."""

    def __init__(self, geoms: Sequence[BaseGeometry], deepest: Sequence[BaseGeometry],
                 locate_items: BatchLocator) -> None:
        minx, miny, maxx, maxy = (float(v) for v in shapely.total_bounds(np.asarray(geoms, dtype=object)))
        side_y = _cell_side(deepest, (minx, miny, maxx, maxy))
        side_x = side_y / max(math.cos(math.radians((miny + maxy) / 2)), 0.1)
        self.nx = max(1, math.ceil((maxx - minx) / side_x))
        self.ny = max(1, math.ceil((maxy - miny) / side_y))
        self.x0, self.y0, self.x1, self.y1 = minx, miny, maxx, maxy
        self.inv_x, self.inv_y = 1.0 / side_x, 1.0 / side_y
        mixed = self._boundary_cells(geoms, min(side_x, side_y))
        regions, count = ndimage.label(~mixed)  # 4-connected: neighbours that share an edge
        labels, first = np.unique(regions.ravel(), return_index=True)  # one cell per region
        first = first[labels > 0]  # label 0 marks the mixed cells
        cy, cx = np.divmod(first, self.nx)
        answer = np.full(count + 1, MIXED, dtype=np.int32)
        answer[labels[labels > 0]] = locate_items(minx + (cx + 0.5) * side_x, miny + (cy + 0.5) * side_y)
        items = answer[regions]
        self.cells: array[int] = array("i", items.tobytes())
        self.regions = int(count)
        self.mixed_share = float(mixed.mean())

    def __len__(self) -> int:
        return self.nx * self.ny

    def cell(self, lon: float, lat: float) -> int:
        """Item index for the point's cell; MIXED when a boundary touches it or the point is not a number."""
        fx = (lon - self.x0) * self.inv_x
        fy = (lat - self.y0) * self.inv_y
        if 0.0 <= fx < self.nx and 0.0 <= fy < self.ny:
            return self.cells[int(fy) * self.nx + int(fx)]
        if lon < self.x0 or lon > self.x1 or lat < self.y0 or lat > self.y1:
            return OUTSIDE  # the raster covers every polygon
        return MIXED  # on the far edge of the raster, or not a number

    def key(self, lon: float, lat: float) -> int | None:
        """Flat index of the point's cell, or None off the raster (or not a number)."""
        fx = (lon - self.x0) * self.inv_x
        fy = (lat - self.y0) * self.inv_y
        if 0.0 <= fx < self.nx and 0.0 <= fy < self.ny:
            return int(fy) * self.nx + int(fx)
        return None

    def bounds(self, key: int) -> tuple[float, float, float, float]:
        """The cell's box (minx, miny, maxx, maxy), widened by EDGE_SLACK like the boundary test."""
        cy, cx = divmod(key, self.nx)
        ex, ey = EDGE_SLACK / self.inv_x, EDGE_SLACK / self.inv_y
        return (self.x0 + cx / self.inv_x - ex, self.y0 + cy / self.inv_y - ey,
                self.x0 + (cx + 1) / self.inv_x + ex, self.y0 + (cy + 1) / self.inv_y + ey)

    def _boundary_cells(self, geoms: Sequence[BaseGeometry], side: float) -> NDArray[np.bool_]:
        """Every cell a boundary passes through or touches.

        Boundaries are cut into segments shorter than a quarter cell; each segment marks the cells its
        bounding box (widened by EDGE_SLACK) overlaps, at most 2 × 2, which always include the cells
        the segment itself touches.
        """
        lines = shapely.segmentize(shapely.boundary(np.asarray(geoms, dtype=object)), side / 4)
        parts = shapely.get_parts(shapely.get_parts(lines))  # polygons with holes give multi-lines
        coords, ring = shapely.get_coordinates(parts, return_index=True)
        same_line = ring[1:] == ring[:-1]
        start, end = coords[:-1][same_line], coords[1:][same_line]
        fx = (np.stack([start[:, 0], end[:, 0]]) - self.x0) * self.inv_x
        fy = (np.stack([start[:, 1], end[:, 1]]) - self.y0) * self.inv_y
        lo_x = np.floor(fx.min(axis=0) - EDGE_SLACK).astype(np.int64)
        hi_x = np.floor(fx.max(axis=0) + EDGE_SLACK).astype(np.int64)
        lo_y = np.floor(fy.min(axis=0) - EDGE_SLACK).astype(np.int64)
        hi_y = np.floor(fy.max(axis=0) + EDGE_SLACK).astype(np.int64)
        mixed = np.zeros((self.ny, self.nx), dtype=bool)
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                cx, cy = lo_x + dx, lo_y + dy
                ok = (cx <= hi_x) & (cy <= hi_y) & (cx >= 0) & (cx < self.nx) & (cy >= 0) & (cy < self.ny)
                mixed[cy[ok], cx[ok]] = True
        return mixed


def _cell_side(deepest: Sequence[BaseGeometry], bounds: tuple[float, float, float, float]) -> float:
    """Cell side in degrees of latitude: a fraction of the typical smallest area, capped by MAX_CELLS."""
    minx, miny, maxx, maxy = bounds
    extent = max(maxx - minx, maxy - miny, 1e-9)
    areas = shapely.area(np.asarray(deepest, dtype=object)) if len(deepest) else np.array([extent * extent])
    typical = math.sqrt(float(np.median(areas))) or extent
    floor = math.sqrt((maxx - minx) * (maxy - miny) / MAX_CELLS)
    return max(typical / CELLS_PER_AREA_SIDE, floor, extent / 100_000)
