"""An open-addressing hash index from non-negative int64 keys to column numbers, vectorised with numpy; pure.

`searchsorted` over a vocabulary of ~100k n-grams costs a cache miss per halving (17 of them a key); a hash slot
is found in about one probe, which makes the vocabulary lookup of a batch several times cheaper.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]

EMPTY = -1  # never a key: n-gram keys are non-negative
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the top bits of key × 2^64/φ
LOAD = 3  # at least this many slots per key: few probes, including for the many unknown keys


@dataclass(frozen=True)
class KeyIndex:
    """Slots of keys (EMPTY where free) and the column stored with each; the table size is a power of two."""

    keys: IntArray
    columns: IntArray
    bits: int

    def _slot(self, keys: IntArray) -> IntArray:
        hashed = (keys.view(np.uint64) * _MULTIPLIER) >> np.uint64(64 - self.bits)
        return hashed.astype(np.int64)

    def lookup(self, keys: IntArray) -> IntArray:
        """The column of every key, or -1 for a key that is not in the index."""
        keys = np.ascontiguousarray(keys, dtype=np.int64)
        found = np.full(len(keys), -1, dtype=np.int64)
        active = np.arange(len(keys))
        slots = self._slot(keys)
        mask = (1 << self.bits) - 1
        while len(active):
            held = self.keys[slots]
            hit = held == keys[active]
            found[active[hit]] = self.columns[slots[hit]]
            go_on = ~hit & (held != EMPTY)
            active, slots = active[go_on], (slots[go_on] + 1) & mask
        return found


def build_index(keys: IntArray) -> KeyIndex:
    """Index distinct non-negative keys; `lookup(keys)` then answers `arange(len(keys))`."""
    bits = max(3, int(np.ceil(np.log2(max(LOAD * len(keys), 1)))))
    table = KeyIndex(np.full(1 << bits, EMPTY, dtype=np.int64), np.full(1 << bits, -1, dtype=np.int64), bits)
    pending = np.arange(len(keys))
    slots = table._slot(np.ascontiguousarray(keys, dtype=np.int64))
    mask = (1 << bits) - 1
    while len(pending):
        free = table.keys[slots] == EMPTY
        _, first = np.unique(slots[free], return_index=True)  # one key per free slot a round
        placed = np.flatnonzero(free)[first]
        table.keys[slots[placed]] = keys[pending[placed]]
        table.columns[slots[placed]] = pending[placed]
        waiting = np.ones(len(pending), dtype=bool)
        waiting[placed] = False
        pending, slots = pending[waiting], (slots[waiting] + 1) & mask
    return table
