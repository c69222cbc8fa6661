"""The vocabulary of duplicate detection: parameters, the report key, matches, distances and h3 rings; pure.

`DuplicateIndex` (duplicates.py) uses these; callers need only import from there.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import numpy as np
import numpy.typing as npt
from h3.api import basic_int as h3

F64Array = npt.NDArray[np.float64]
I64Array = npt.NDArray[np.int64]
U64Array = npt.NDArray[np.uint64]

EARTH_RADIUS_M = 6_371_008.8
_MIX = np.uint64(0xBF58476D1CE4E5B9)
_APOTHEM = math.sqrt(3) / 2  # a hexagon's inner radius over its edge
_EDGE_MARGIN = 0.8  # h3 cells are not regular: trust 80 % of the mean edge of the actual cell


@dataclass(frozen=True)
class CategoryRule:
    """How near in space and time two reports of a category must be to be the same problem."""

    radius_m: float = 200.0
    window_hours: float = 72.0


@dataclass(frozen=True)
class DuplicateParams:
    """Tuning of the index; categories differ by data (`rules`), never by code."""

    threshold: float = 0.3  # exact Jaccard of shingle sets: precision ≈ 0.92 on real messages (bench_duplicates)
    shingle_chars: int = 2
    num_perm: int = 64
    bands: int = 32  # 2 rows a band: a pair with Jaccard 0.3 becomes a candidate 95 % of the time, 0.5: 99.99 %
    max_chars: int = 300
    default_rule: CategoryRule = CategoryRule()
    rules: Mapping[str, CategoryRule] = field(default_factory=dict)
    repeat_window_hours: float = 720.0  # 一址多诉 / 一人多诉: same address or reporter within 30 days
    resolution: int | None = None  # h3 resolution of the spatial buckets; None: chosen from the smallest radius

    def rule(self, category: str) -> CategoryRule:
        """The category's rule, or the default one."""
        return self.rules.get(category, self.default_rule)

    def cell_resolution(self) -> int:
        """The finest h3 resolution whose cells still cover the smallest radius with their neighbour ring."""
        if self.resolution is not None:
            return self.resolution
        smallest = min([self.default_rule.radius_m, *(r.radius_m for r in self.rules.values())])
        for res in range(12, -1, -1):
            if float(h3.average_hexagon_edge_length(res, "m")) * _EDGE_MARGIN * _APOTHEM >= smallest:
                return res
        return 0


@dataclass(frozen=True)
class ReportKey:
    """What the index needs of a report; reporter_key is already a keyed hash, never a phone number or ID."""

    id: str
    text: str
    lon: float | None
    lat: float | None
    at: datetime
    category: str = ""
    address_key: str | None = None  # an address as written; the index normalises it
    reporter_key: str | None = None

    @property
    def has_point(self) -> bool:
        """Whether the report was located."""
        return self.lon is not None and self.lat is not None


class MatchKind(StrEnum):
    """Why a report was returned: similar text nearby, the same address, within the radius, the same reporter."""

    TEXT = "text"
    ADDRESS = "address"
    NEARBY = "nearby"
    REPORTER = "reporter"


@dataclass(frozen=True)
class Match:
    """One indexed report and the evidence: shingle Jaccard, metres apart (None without points), hours apart."""

    id: str
    kind: MatchKind
    similarity: float
    metres: float | None
    hours: float


def _hash64(value: str) -> int:
    """A stable non-zero 64-bit hash of a string (the same in every process)."""
    return int.from_bytes(hashlib.blake2b(value.encode(), digest_size=8).digest(), "little") | 1


def _mix(values: U64Array) -> U64Array:
    """Spread the bits of 64-bit values (cells are similar integers)."""
    mixed = (values ^ (values >> np.uint64(31))) * _MIX
    return mixed ^ (mixed >> np.uint64(29))


def haversine_m(lon: float, lat: float, lons: F64Array, lats: F64Array) -> F64Array:
    """Great-circle metres from one point to many."""
    p1, p2 = math.radians(lat), np.radians(lats)
    dp, dl = p2 - p1, np.radians(lons - lon)
    a = np.sin(dp / 2) ** 2 + math.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0))), dtype=np.float64)


def ring_size(cell: int, radius_m: float) -> int:
    """The k whose grid disk around the cell holds every point within radius_m of any point in the cell."""
    edge = math.sqrt(2 * float(h3.cell_area(cell, "m^2")) / (3 * math.sqrt(3))) * _EDGE_MARGIN
    return max(1, math.ceil((radius_m - _APOTHEM * edge) / (1.5 * edge)) + 1)


def _seconds(at: datetime) -> int:
    """Seconds since 1970 of a timezone-aware time."""
    if at.tzinfo is None:
        raise ValueError("report times must be timezone-aware")
    return math.floor(at.timestamp())
