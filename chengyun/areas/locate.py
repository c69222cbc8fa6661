"""Point location: the smallest area containing a point, via an STRtree over every area polygon.

Single lookups go through a cell raster first (see `raster.py`); only points in cells crossed by a
boundary pay for the exact GEOS query.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from chengyun.areas.model import AreaLevel, AreaRef
from chengyun.areas.raster import MIXED, OUTSIDE, CellRaster

NO_ITEM = np.iinfo(np.int64).max
MAX_CACHED_CELLS = 500_000  # candidate lists kept for mixed cells; a city-sized raster has fewer


@dataclass(frozen=True, slots=True)
class AreaNode:
    """What the index keeps of an area: its reference, parent and (optional) polygon."""

    code: str
    name: str
    level: AreaLevel
    parent_code: str | None
    geometry: BaseGeometry | None


class AreaIndex:
    """Immutable index: build once from all areas, then locate points without touching storage.

    Points on a shared border belong to both neighbours; the answer is then the deepest level first
    and the smallest code among equals, so the result is deterministic.
    """

    def __init__(self, nodes: Iterable[AreaNode]) -> None:
        self._nodes = {node.code: node for node in nodes}
        shaped = sorted(
            (n for n in self._nodes.values() if n.geometry is not None and not n.geometry.is_empty),
            key=lambda n: (-n.level.depth, n.code),
        )
        self._codes = [n.code for n in shaped]
        geoms = [n.geometry for n in shaped]
        for geom in geoms:
            shapely.prepare(geom)
        self._tree = shapely.STRtree(geoms)
        self._level_trees = _level_trees(shaped)
        self._chains: dict[str, tuple[AreaRef, ...]] = {}
        self._geoms = geoms
        self._raster: CellRaster | None = None
        self._raster_lock = threading.Lock()  # one build: concurrent first lookups wait for it, not repeat it
        self._cell_candidates: dict[int, tuple[tuple[int, BaseGeometry], ...]] = {}  # filled as mixed cells are hit
        self._deepest = [n.geometry for n in shaped if n.level == shaped[0].level] if shaped else []

    def __len__(self) -> int:
        return len(self._nodes)

    @property
    def polygon_count(self) -> int:
        """How many areas carry a polygon."""
        return len(self._codes)

    def locate_code(self, lon: float, lat: float) -> str | None:
        """Code of the smallest area covering the point, or None outside every polygon."""
        if not self._codes:
            return None
        raster = self._raster or self.raster()
        item = raster.cell(lon, lat)
        if item == MIXED:
            item = self._item_in_mixed_cell(raster, lon, lat)
        return None if item == OUTSIDE else self._codes[item]

    def raster(self) -> CellRaster:
        """The cell raster, built on first use (a few hundred ms for a street) and kept."""
        if self._raster is None:
            with self._raster_lock:
                if self._raster is None:
                    self._raster = CellRaster(self._tree.geometries.tolist(), self._deepest, self._items_many)
        return self._raster

    def _item_in_mixed_cell(self, raster: CellRaster, lon: float, lat: float) -> int:
        """Exact answer in a cell a boundary crosses: test the cell's few candidates in priority order."""
        key = raster.key(lon, lat)
        if key is None:
            return self._exact_item(lon, lat)
        candidates = self._cell_candidates.get(key)
        if candidates is None:
            if len(self._cell_candidates) >= MAX_CACHED_CELLS:
                self._cell_candidates.clear()
            items = np.sort(self._tree.query(shapely.box(*raster.bounds(key))))
            candidates = self._cell_candidates[key] = tuple((int(i), self._geoms[i]) for i in items)
        for item, geom in candidates:
            if shapely.intersects_xy(geom, lon, lat):
                return item
        return OUTSIDE

    def _exact_item(self, lon: float, lat: float) -> int:
        hits = self._tree.query(shapely.Point(lon, lat), predicate="intersects")
        # items are sorted deepest-first then by code, so the smallest item index wins
        return OUTSIDE if len(hits) == 0 else int(hits.min())

    def locate(self, lon: float, lat: float) -> tuple[AreaRef, ...] | None:
        """The whole chain 市/区/街道/社区/网格/微网格 (root first) of the smallest covering area."""
        code = self.locate_code(lon, lat)
        return None if code is None else self.chain(code)

    def locate_many(self, lons: Sequence[float] | NDArray[np.float64],
                    lats: Sequence[float] | NDArray[np.float64]) -> list[str | None]:
        """Vectorised `locate_code` for a batch of points (one GEOS call for the whole batch)."""
        items = self._items_many(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
        return [None if i == OUTSIDE else self._codes[int(i)] for i in items]

    def _items_many(self, lons: NDArray[np.float64], lats: NDArray[np.float64]) -> NDArray[np.int64]:
        """Exact item index per point (OUTSIDE where none): level by level, deepest first.

        Items are sorted deepest-first, so a hit on a deeper level always beats any shallower one and
        each point stops at the first level that covers it.
        """
        points = shapely.points(lons, lats)
        best = np.full(len(points), OUTSIDE, dtype=np.int64)
        todo = np.arange(len(points))
        for tree, offset in self._level_trees:
            if len(todo) == 0:
                break
            inputs, items = tree.query(points[todo], predicate="intersects")
            if len(inputs) == 0:
                continue
            level_best = np.full(len(todo), NO_ITEM, dtype=np.int64)
            np.minimum.at(level_best, inputs, items)
            found = level_best != NO_ITEM
            best[todo[found]] = level_best[found] + offset
            todo = todo[~found]
        return best

    def chain(self, code: str) -> tuple[AreaRef, ...]:
        """Root-first chain of references from the top of the tree down to `code`."""
        cached = self._chains.get(code)
        if cached is not None:
            return cached
        refs: list[AreaRef] = []
        current: str | None = code
        while current is not None:
            node = self._nodes[current]
            refs.append(AreaRef(node.code, node.name, node.level))
            current = node.parent_code
        chain = tuple(reversed(refs))
        self._chains[code] = chain
        return chain

    def node(self, code: str) -> AreaNode | None:
        """The indexed node for a code, if any."""
        return self._nodes.get(code)


def _level_trees(shaped: Sequence[AreaNode]) -> list[tuple[shapely.STRtree, int]]:
    """One STRtree per level over the deepest-first item order, with each level's first item index."""
    trees: list[tuple[shapely.STRtree, int]] = []
    start = 0
    for end in range(1, len(shaped) + 1):
        if end == len(shaped) or shaped[end].level != shaped[start].level:
            trees.append((shapely.STRtree([n.geometry for n in shaped[start:end]]), start))
            start = end
    return trees
