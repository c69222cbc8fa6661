"""Point location: the smallest area containing a point, via an STRtree over every area polygon."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from chengyun.areas.model import AreaLevel, AreaRef


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
        self._chains: dict[str, tuple[AreaRef, ...]] = {}

    def __len__(self) -> int:
        return len(self._nodes)

    @property
    def polygon_count(self) -> int:
        """How many areas carry a polygon."""
        return len(self._codes)

    def locate_code(self, lon: float, lat: float) -> str | None:
        """Code of the smallest area covering the point, or None outside every polygon."""
        hits = self._tree.query(shapely.Point(lon, lat), predicate="intersects")
        if len(hits) == 0:
            return None
        # items are sorted deepest-first then by code, so the smallest item index wins
        return self._codes[int(hits.min())]

    def locate(self, lon: float, lat: float) -> tuple[AreaRef, ...] | None:
        """The whole chain 市/区/街道/社区/网格/微网格 (root first) of the smallest covering area."""
        code = self.locate_code(lon, lat)
        return None if code is None else self.chain(code)

    def locate_many(self, lons: Sequence[float] | NDArray[np.float64],
                    lats: Sequence[float] | NDArray[np.float64]) -> list[str | None]:
        """Vectorised `locate_code` for a batch of points (one GEOS call for the whole batch)."""
        points = shapely.points(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
        inputs, items = self._tree.query(points, predicate="intersects")
        best = np.full(len(points), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(best, inputs, items)
        return [None if b == np.iinfo(np.int64).max else self._codes[int(b)] for b in best]

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
