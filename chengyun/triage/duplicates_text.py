"""Text side of duplicate detection: normalised character shingles, MinHash signatures and LSH band keys; pure.

Everything is vectorised over a batch of texts with numpy. datasketch was measured first (bench/bench_duplicates.py
`--datasketch`): 400–730 µs to sketch one message of up to 300 characters (SHA-1 per shingle in Python) and
5.6–6.6 KB of memory per report in `MinHashLSH` — 7–12 minutes and 6 GB for a million reports before any spatial or
time key. Here a shingle is its code points packed into one integer, and each permutation is a multiply-add-shift hash
(Dietzfelbinger's strongly universal scheme for 32-bit keys), which numpy computes for a whole batch at once.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from chengyun.triage.duplicates_table import ranks

U32Array = npt.NDArray[np.uint32]
U64Array = npt.NDArray[np.uint64]
I64Array = npt.NDArray[np.int64]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX = np.uint64(0xBF58476D1CE4E5B9)
_CODEPOINT_BITS = 21  # every Unicode code point fits; k ≤ 3 code points pack exactly into 63 bits
_SEED = 20261124
_NOT_WORD = re.compile(r"[\W_]+")  # everything but letters (any script) and digits
_CHUNK_VALUES = 1 << 22  # shingles × permutations hashed at once (32 MiB of uint64)


@dataclass(frozen=True)
class Shingled:
    """Sorted distinct 32-bit shingle hashes of a batch, CSR-style: text i owns values[offsets[i]:offsets[i+1]]."""

    values: U32Array
    offsets: I64Array

    def of(self, i: int) -> U32Array:
        """The shingle hashes of text i."""
        return self.values[self.offsets[i]: self.offsets[i + 1]]


def normalise_text(text: str, max_chars: int) -> str:
    """NFKC (full-width → half-width), lower case, letters and digits only, at most `max_chars` of them."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text).lower())[:max_chars]


def shingle(texts: Sequence[str], k: int) -> Shingled:
    """Distinct k-character shingles of already normalised texts; a text shorter than k is one shingle, "" none."""
    if not 1 <= k <= 3:
        raise ValueError("shingle length must be 1, 2 or 3 characters")
    padded = [t.ljust(k, "\0") if t else "" for t in texts]
    lengths = np.fromiter((len(t) for t in padded), dtype=np.int64, count=len(padded))
    points = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    counts = np.maximum(lengths - k + 1, 0)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    first = np.repeat(starts, counts) + ranks(counts)  # the first code point of every shingle
    packed = np.zeros(len(first), dtype=np.uint64)
    for j in range(k):
        packed = (packed << np.uint64(_CODEPOINT_BITS)) | points[first + j]
    hashed = ((packed * _GOLDEN) >> np.uint64(32)).astype(np.uint64)
    owner = np.repeat(np.arange(len(texts), dtype=np.uint64), counts)
    distinct = np.sort((owner << np.uint64(32)) | hashed)  # np.sort + mask: np.unique hashes, 5× slower here
    first_of_run = np.ones(len(distinct), dtype=bool)  # (a batch of empty texts has no shingle at all)
    first_of_run[1:] = distinct[1:] != distinct[:-1]
    distinct = distinct[first_of_run]
    owners = (distinct >> np.uint64(32)).astype(np.int64)
    offsets = np.searchsorted(owners, np.arange(len(texts) + 1)).astype(np.int64)
    return Shingled((distinct & np.uint64(0xFFFFFFFF)).astype(np.uint32), offsets)


def permutations(num_perm: int) -> tuple[U64Array, U64Array]:
    """The fixed (a odd, b) 64-bit pairs of the multiply-add-shift hashes; the same in every process."""
    rng = np.random.default_rng(_SEED)
    a = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)
    return a, b


def signatures(shingled: Shingled, num_perm: int) -> U32Array:
    """MinHash signatures (texts × num_perm); a text without shingles gets all 0xFFFFFFFF and must not be indexed."""
    a, b = permutations(num_perm)
    n = len(shingled.offsets) - 1
    out = np.full((n, num_perm), 0xFFFFFFFF, dtype=np.uint32)
    present = np.flatnonzero(np.diff(shingled.offsets) > 0)
    step = max(1, _CHUNK_VALUES // num_perm)
    first = 0
    while first < len(present):
        last = int(np.searchsorted(shingled.offsets[present], shingled.offsets[present[first]] + step, side="left"))
        chunk = present[first: max(last, first + 1)]
        lo, hi = int(shingled.offsets[chunk[0]]), int(shingled.offsets[chunk[-1] + 1])
        values = shingled.values[lo:hi].astype(np.uint64)[:, None]
        hashed = (values * a[None, :] + b[None, :]) >> np.uint64(32)
        out[chunk] = np.minimum.reduceat(hashed, shingled.offsets[chunk] - lo, axis=0).astype(np.uint32)
        first += len(chunk)
    return out


def band_hashes(sigs: U32Array, bands: int) -> U64Array:
    """One 64-bit hash per (text, band) of the band's rows, band number mixed in (texts × bands)."""
    n, num_perm = sigs.shape
    if num_perm % bands:
        raise ValueError("num_perm must be a multiple of bands")
    rows = num_perm // bands
    grouped = sigs.reshape(n, bands, rows).astype(np.uint64)
    acc = np.broadcast_to(np.arange(1, bands + 1, dtype=np.uint64) * _GOLDEN, (n, bands)).copy()
    for r in range(rows):
        acc = ((acc ^ grouped[:, :, r]) * _MIX) ^ (acc >> np.uint64(29))
    return acc


def jaccard_many(query: U32Array, shingled: Shingled, rows: I64Array) -> npt.NDArray[np.float64]:
    """Exact Jaccard of one sorted shingle set against the sets of `rows`, vectorised; 0 where either is empty."""
    starts, ends = shingled.offsets[rows], shingled.offsets[rows + 1]
    lengths = ends - starts
    result = np.zeros(len(rows), dtype=np.float64)
    if len(query) == 0 or len(rows) == 0 or not lengths.any():
        return result
    flat = shingled.values[np.repeat(starts, lengths) + ranks(lengths)]
    pos = np.minimum(np.searchsorted(query, flat), len(query) - 1)
    hit = (query[pos] == flat).astype(np.int64)
    bounds = np.concatenate(([0], np.cumsum(lengths)))
    inter = np.add.reduceat(np.append(hit, 0), bounds[:-1]) * (lengths > 0)
    union = len(query) + lengths - inter
    np.divide(inter, union, out=result, where=union > 0)
    return result
