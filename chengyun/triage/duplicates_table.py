"""Storage for the duplicate index: growable numpy columns and a (bucket, hour) → row table; pure, in memory.

A Python dict of a million reports × 32 LSH bands costs gigabytes; a sorted uint64 array of (40-bit bucket hash,
24-bit hour) with an int32 row beside it costs 12 bytes an entry and answers "this bucket, these hours" with two
binary searches. Rows added one at a time go to a small dict first and are merged in bulk when it grows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

U64Array = npt.NDArray[np.uint64]
I64Array = npt.NDArray[np.int64]
I32Array = npt.NDArray[np.int32]
BoolArray = npt.NDArray[np.bool_]

HOUR_BITS = 24  # hours since 1970: good until the year 3883
MAX_HOUR = (1 << HOUR_BITS) - 1
_H = np.uint64(HOUR_BITS)
MIN_MERGE = 65_536  # delta entries tolerated before a merge; a quarter of the base beyond that


def packed(buckets: U64Array, hours: I64Array) -> U64Array:
    """The sort key of each entry: the top 40 bits of the bucket hash, then the hour."""
    clipped = np.clip(hours, 0, MAX_HOUR).astype(np.uint64)
    return ((buckets >> _H) << _H) | clipped


def ranks(counts: I64Array) -> I64Array:
    """0, 1, …, c-1 for every count c, concatenated."""
    total = int(counts.sum())
    return np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)


@dataclass
class Column:
    """A numpy array that grows by doubling; `view()` is the filled part."""

    dtype: npt.DTypeLike
    data: npt.NDArray[np.generic] = field(init=False)
    size: int = 0

    def __post_init__(self) -> None:
        self.data = np.zeros(16, dtype=self.dtype)

    def extend(self, values: npt.ArrayLike) -> None:
        """Append values at the end."""
        block = np.asarray(values, dtype=self.dtype)
        need = self.size + len(block)
        if need > len(self.data):
            grown = np.zeros(max(need, 2 * len(self.data)), dtype=self.dtype)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size: need] = block
        self.size = need

    def view(self) -> npt.NDArray[np.generic]:
        """The filled part (a view: writes go through)."""
        return self.data[: self.size]


@dataclass
class BucketTable:
    """Rows filed under (bucket hash, hour); `find` returns every row of the given buckets within an hour range."""

    keys: U64Array = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    rows: I32Array = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    delta: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    delta_size: int = 0

    def add(self, keys: U64Array, rows: npt.NDArray[np.integer], alive: BoolArray) -> None:
        """File rows[i] under the packed keys[i]; a large batch is merged into the sorted base at once."""
        if len(rows) >= MIN_MERGE:
            self._merge(keys, rows, alive)
            return
        for key, row in zip(keys.tolist(), rows.tolist(), strict=True):
            self.delta.setdefault(key >> HOUR_BITS, []).append((key & MAX_HOUR, row))
        self.delta_size += len(rows)
        if self.delta_size > max(MIN_MERGE, len(self.keys) // 4):
            self._merge(np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int32), alive)

    def _merge(self, keys: U64Array, rows: npt.NDArray[np.integer], alive: BoolArray) -> None:
        """Sort base, delta and a new batch into one base, dropping rows that are no longer alive."""
        d_keys = [(bucket << HOUR_BITS) | hour for bucket, items in self.delta.items() for hour, _ in items]
        d_rows = [row for items in self.delta.values() for _, row in items]
        all_keys = np.concatenate((self.keys, keys, np.array(d_keys, dtype=np.uint64)))
        all_rows = np.concatenate((self.rows, rows.astype(np.int32), np.array(d_rows, dtype=np.int32)))
        keep = alive[all_rows]
        all_keys, all_rows = all_keys[keep], all_rows[keep]
        order = np.argsort(all_keys, kind="stable")
        self.keys, self.rows = all_keys[order], all_rows[order]
        self.delta, self.delta_size = {}, 0

    def find(self, buckets: U64Array, first_hour: int, last_hour: int) -> I64Array:
        """Rows under any of the buckets with an hour in [first_hour, last_hour] (a row once per bucket hit)."""
        buckets = np.unique(buckets)
        low = packed(buckets, np.full(len(buckets), first_hour, dtype=np.int64))
        high = packed(buckets, np.full(len(buckets), last_hour, dtype=np.int64))
        left = np.searchsorted(self.keys, low, side="left")
        right = np.searchsorted(self.keys, high, side="right")
        counts = (right - left).astype(np.int64)
        found = self.rows[np.repeat(left, counts) + ranks(counts)].astype(np.int64)
        if not self.delta:
            return np.asarray(found, dtype=np.int64)
        extra = [
            row
            for bucket in (low >> _H).tolist()
            for hour, row in self.delta.get(bucket, ())
            if first_hour <= hour <= last_hour
        ]
        return np.concatenate((found, np.array(extra, dtype=np.int64)))

    def __len__(self) -> int:
        """Entries filed, dead rows included until the next merge."""
        return len(self.keys) + self.delta_size
