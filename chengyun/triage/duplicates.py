"""Duplicate reports: the same problem from different people (text + place + time), 一址多诉 and 一人多诉; pure.

`DuplicateIndex` keeps reports in memory and answers, for one report, which indexed reports are probably the same
problem, with the evidence an operator needs before merging (并单): text similarity, metres apart, hours apart.
Text candidates come from MinHash LSH over character shingles (duplicates_text); each LSH band is filed together
with the h3 cell of the point, so that a lookup reads only reports in the neighbour ring of its cell, and with the
hour, so that it reads only reports inside the time window (duplicates_table). Every candidate is then checked
exactly: Jaccard of the shingle sets, haversine distance and time gap. A report without a point is compared on
text and time only (and on its address by `same_place`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

import numpy as np
import numpy.typing as npt
from h3.api import basic_int as h3

from chengyun.triage.duplicates_address import normalise_address
from chengyun.triage.duplicates_model import (
    CategoryRule,
    DuplicateParams,
    Match,
    MatchKind,
    ReportKey,
    _hash64,
    _mix,
    _seconds,
    haversine_m,
    ring_size,
)
from chengyun.triage.duplicates_table import BucketTable, Column, packed
from chengyun.triage.duplicates_text import Shingled, band_hashes, jaccard_many, normalise_text, shingle, signatures

__all__ = ["CategoryRule", "DuplicateIndex", "DuplicateParams", "Match", "MatchKind", "ReportKey", "normalise_address"]

F64Array = npt.NDArray[np.float64]
I64Array = npt.NDArray[np.int64]
U64Array = npt.NDArray[np.uint64]
BoolArray = npt.NDArray[np.bool_]
_BATCH = 20_000  # reports sketched at once by build(): bounds the temporary arrays
_TABLES = ("text_geo", "text_unplaced", "text_all", "nearby", "address", "reporter")


@dataclass(frozen=True)
class _Sketch:
    """The text of a batch: distinct shingles and one hash per LSH band (reports × bands)."""

    shingled: Shingled
    bands: U64Array
    has_text: BoolArray


@dataclass(frozen=True)
class _Found:
    """Rows that passed the exact checks, with metres (NaN where a point is missing) and hours apart."""

    rows: I64Array
    metres: F64Array
    hours: F64Array

    def where(self, keep: BoolArray) -> _Found:
        """The rows where keep is true."""
        return _Found(self.rows[keep], self.metres[keep], self.hours[keep])

    def where_placed(self) -> _Found:
        """The rows whose distance is known."""
        return self.where(~np.isnan(self.metres))

    def then(self, other: _Found) -> _Found:
        """These rows followed by the other's."""
        return _Found(np.concatenate((self.rows, other.rows)), np.concatenate((self.metres, other.metres)),
                      np.concatenate((self.hours, other.hours)))


def _batches(reports: Iterable[ReportKey], size: int) -> Iterator[list[ReportKey]]:
    """Consecutive lists of at most `size` reports."""
    it = iter(reports)
    while batch := list(islice(it, size)):
        yield batch


def _flat(buckets: U64Array, hours: I64Array) -> U64Array:
    """Packed keys of a (reports × n) bucket matrix, row by row, each with its report's hour."""
    return packed(buckets.ravel(), np.repeat(hours, buckets.shape[1]))


class DuplicateIndex:
    """Reports in memory, for text-duplicate, same-place and same-reporter lookups of one report."""

    def __init__(self, params: DuplicateParams | None = None) -> None:
        """An empty index; the h3 resolution of its spatial buckets is fixed here from the parameters."""
        self.params = params or DuplicateParams()
        self.resolution = self.params.cell_resolution()
        self._ids: list[str] = []
        self._row: dict[str, int] = {}
        self._cols = {name: Column(dtype) for name, dtype in (
            ("lon", np.float64), ("lat", np.float64), ("at", np.int64), ("alive", np.bool_),
            ("cell", np.uint64), ("address", np.uint64), ("reporter", np.uint64), ("shingles", np.uint32),
            ("offsets", np.int64))}
        self._cols["offsets"].extend([0])
        self._tables = {name: BucketTable() for name in _TABLES}

    def __len__(self) -> int:
        """Reports indexed and not removed."""
        return len(self._row)

    def __contains__(self, report_id: object) -> bool:
        """Whether a report id is indexed."""
        return report_id in self._row

    def add(self, report: ReportKey) -> None:
        """Index one report; a report with an id already indexed replaces it."""
        self.build([report])

    def build(self, reports: Iterable[ReportKey]) -> None:
        """Index many reports at once (sketched in batches, each table sorted once); same as add() for each."""
        pending: dict[str, list[tuple[U64Array, npt.NDArray[np.int32]]]] = {name: [] for name in _TABLES}
        for batch in _batches(reports, _BATCH):
            for name, (keys, rows) in self._append(batch).items():
                pending[name].append((keys, rows.astype(np.int32)))
        alive = self._alive()
        for name, entries in pending.items():
            if entries:
                keys = np.concatenate([k for k, _ in entries])
                rows = np.concatenate([r for _, r in entries])
                self._tables[name].add(keys, rows, alive)

    def remove(self, report_id: str) -> bool:
        """Forget a report (its table entries are dropped at the next merge); False when it was not indexed."""
        row = self._row.pop(report_id, None)
        if row is None:
            return False
        self._alive()[row] = False
        return True

    def _alive(self) -> BoolArray:
        """The alive flag of every row (a writable view)."""
        return np.asarray(self._cols["alive"].view(), dtype=np.bool_)

    def _col(self, name: str) -> npt.NDArray[np.generic]:
        """A stored column (a view)."""
        return self._cols[name].view()

    def _shingled(self) -> Shingled:
        """The stored shingle sets of all rows."""
        return Shingled(np.asarray(self._col("shingles"), dtype=np.uint32), np.asarray(self._col("offsets"), np.int64))

    def _sketch(self, texts: list[str]) -> _Sketch:
        """Shingles and LSH band hashes of texts."""
        p = self.params
        shingled = shingle([normalise_text(t, p.max_chars) for t in texts], p.shingle_chars)
        has_text = np.diff(shingled.offsets) > 0
        return _Sketch(shingled, band_hashes(signatures(shingled, p.num_perm), p.bands), has_text)

    def _cell(self, report: ReportKey) -> int:
        """The h3 cell of the report's point at the index resolution; 0 without a point."""
        if report.lon is None or report.lat is None:
            return 0
        return int(h3.latlng_to_cell(report.lat, report.lon, self.resolution))

    def _append(self, batch: list[ReportKey]) -> dict[str, tuple[U64Array, I64Array]]:
        """Store a batch's columns; return the packed table keys and rows to file for it."""
        batch = list({r.id: r for r in batch}.values())
        for report in batch:
            self.remove(report.id)
        first = len(self._ids)
        rows = np.arange(first, first + len(batch), dtype=np.int64)
        sketch = self._sketch([r.text for r in batch])
        cells = np.array([self._cell(r) for r in batch], dtype=np.uint64)
        seconds = np.array([_seconds(r.at) for r in batch], dtype=np.int64)
        self._store(batch, sketch, cells, seconds)
        return self._entries(batch, sketch, cells, seconds // 3600, rows)

    def _store(self, batch: list[ReportKey], sketch: _Sketch, cells: U64Array, seconds: I64Array) -> None:
        """Append the batch's rows to every column."""
        first = len(self._ids)
        for i, report in enumerate(batch):
            self._ids.append(report.id)
            self._row[report.id] = first + i
        c = self._cols
        c["lon"].extend([math.nan if r.lon is None else r.lon for r in batch])
        c["lat"].extend([math.nan if r.lat is None else r.lat for r in batch])
        c["at"].extend(seconds)
        c["alive"].extend(np.ones(len(batch), dtype=np.bool_))
        c["cell"].extend(cells)
        c["address"].extend([self._address_hash(r) for r in batch])
        c["reporter"].extend([_hash64(r.reporter_key) if r.reporter_key else 0 for r in batch])
        c["shingles"].extend(sketch.shingled.values)
        c["offsets"].extend(sketch.shingled.offsets[1:] + int(self._col("offsets")[-1]))

    def _address_hash(self, report: ReportKey) -> int:
        """The hash of the normalised address; 0 when there is none."""
        key = normalise_address(report.address_key or "")
        return _hash64(key) if key else 0

    def _entries(
        self, batch: list[ReportKey], sketch: _Sketch, cells: U64Array, hours: I64Array, rows: I64Array
    ) -> dict[str, tuple[U64Array, I64Array]]:
        """The packed keys and rows each table files for a batch."""
        placed = cells != 0
        text = sketch.has_text
        geo = _mix(sketch.bands ^ _mix(cells)[:, None])
        out = {
            "text_geo": (_flat(geo[text & placed], hours[text & placed]), rows[text & placed]),
            "text_unplaced": (_flat(sketch.bands[text & ~placed], hours[text & ~placed]), rows[text & ~placed]),
            "text_all": (_flat(sketch.bands[text], hours[text]), rows[text]),
            "nearby": (packed(_mix(cells[placed]), hours[placed]), rows[placed]),
        }
        for name in ("address", "reporter"):
            hashes = np.asarray(self._col(name)[rows], dtype=np.uint64)
            out[name] = (packed(hashes[hashes != 0], hours[hashes != 0]), rows[hashes != 0])
        n_bands = self.params.bands
        for name in ("text_geo", "text_unplaced", "text_all"):
            keys, chosen = out[name]
            out[name] = (keys, np.repeat(chosen, n_bands))
        return out

    def _hours(self, report: ReportKey, window_hours: float) -> tuple[int, int]:
        """The first and last hour buckets a window around the report touches."""
        at = _seconds(report.at)
        return math.floor((at - window_hours * 3600) / 3600), math.floor((at + window_hours * 3600) / 3600)

    def _disk(self, report: ReportKey, radius_m: float) -> U64Array:
        """The mixed cell keys of the ring of cells that holds every point within radius_m of the report."""
        cell = self._cell(report)
        cells = h3.grid_disk(cell, ring_size(cell, radius_m))
        return _mix(np.array(cells, dtype=np.uint64))

    def _check(self, report: ReportKey, rows: I64Array, window_hours: float, radius_m: float | None) -> _Found:
        """Keep distinct alive rows other than the report, within the window and (where both are placed) the radius.

        With radius_m None distance is measured but not required.
        """
        rows = np.unique(rows)
        rows = rows[self._alive()[rows]]
        own = self._row.get(report.id)
        if own is not None:
            rows = rows[rows != own]
        hours = np.abs(np.asarray(self._col("at"))[rows] - _seconds(report.at)) / 3600.0
        rows, hours = rows[hours <= window_hours], hours[hours <= window_hours]
        metres = np.full(len(rows), math.nan)
        if report.lon is not None and report.lat is not None:
            lons, lats = np.asarray(self._col("lon"))[rows], np.asarray(self._col("lat"))[rows]
            metres = haversine_m(report.lon, report.lat, lons, lats)
        found = _Found(rows, metres, hours)
        return found if radius_m is None else found.where(~(metres > radius_m))

    def _matches(self, found: _Found, sims: F64Array, kinds: list[MatchKind]) -> list[Match]:
        """Matches ranked by kind order, similarity (high first), metres, hours and id."""
        order = {kind: i for i, kind in enumerate(MatchKind)}
        out = [
            Match(self._ids[int(row)], kind, round(float(sim), 4),
                  None if math.isnan(m) else round(float(m), 1), round(float(h), 2))
            for row, sim, m, h, kind in zip(found.rows, sims, found.metres, found.hours, kinds, strict=True)
        ]
        return sorted(out, key=lambda x: (order[x.kind], -x.similarity, x.metres or 0.0, x.hours, x.id))

    def _similarity(self, report: ReportKey, rows: I64Array) -> F64Array:
        """Exact shingle Jaccard of the report's text with the rows' texts."""
        query = self._sketch([report.text]).shingled
        return jaccard_many(query.of(0), self._shingled(), rows)

    def similar(self, report: ReportKey) -> list[Match]:
        """Indexed reports about the same problem: Jaccard ≥ threshold, within the category's radius and window."""
        rule = self.params.rule(report.category)
        sketch = self._sketch([report.text])
        if not sketch.has_text[0]:
            return []
        first, last = self._hours(report, rule.window_hours)
        bands = sketch.bands[0]
        if report.has_point:
            geo = _mix(bands[:, None] ^ self._disk(report, rule.radius_m)[None, :]).ravel()
            rows = np.concatenate((self._tables["text_geo"].find(geo, first, last),
                                   self._tables["text_unplaced"].find(bands, first, last)))
        else:
            rows = self._tables["text_all"].find(bands, first, last)
        found = self._check(report, rows, rule.window_hours, rule.radius_m)
        sims = jaccard_many(sketch.shingled.of(0), self._shingled(), found.rows)
        keep = sims >= self.params.threshold
        return self._matches(found.where(keep), sims[keep], [MatchKind.TEXT] * int(keep.sum()))

    def same_place(self, report: ReportKey) -> list[Match]:
        """一址多诉: reports at the same normalised address, or within the category's radius, in the repeat window."""
        window = self.params.repeat_window_hours
        first, last = self._hours(report, window)
        address = self._address_hash(report)
        by_address = np.zeros(0, dtype=np.int64)
        if address:
            by_address = self._tables["address"].find(np.array([address], dtype=np.uint64), first, last)
            by_address = by_address[np.asarray(self._col("address"))[by_address] == address]
        found_a = self._check(report, by_address, window, None)
        found_n = _Found(found_a.rows[:0], found_a.metres[:0], found_a.hours[:0])
        if report.has_point:
            radius = self.params.rule(report.category).radius_m
            near = self._tables["nearby"].find(self._disk(report, radius), first, last)
            found_n = self._check(report, np.setdiff1d(near, found_a.rows), window, radius).where_placed()
        found = found_a.then(found_n)
        kinds = [MatchKind.ADDRESS] * len(found_a.rows) + [MatchKind.NEARBY] * len(found_n.rows)
        return self._matches(found, self._similarity(report, found.rows), kinds)

    def same_reporter(self, report: ReportKey) -> list[Match]:
        """一人多诉: reports with the same keyed reporter hash, from any channel, in the repeat window."""
        if not report.reporter_key:
            return []
        window = self.params.repeat_window_hours
        first, last = self._hours(report, window)
        key = _hash64(report.reporter_key)
        rows = self._tables["reporter"].find(np.array([key], dtype=np.uint64), first, last)
        rows = rows[np.asarray(self._col("reporter"))[rows] == key]
        found = self._check(report, rows, window, None)
        return self._matches(found, self._similarity(report, found.rows), [MatchKind.REPORTER] * len(found.rows))
