"""Character n-gram TF-IDF features for Chinese text, vectorised with numpy; pure, no I/O.

An n-gram is encoded exactly as one int64 (21 bits per Unicode code point, three at most), so the vocabulary is a
sorted array, a lookup is one probe of a hash index (keyindex.py), and every feature decodes back to its text for
explanations. This is what lets prediction run at thousands of messages per second on one core, where
scikit-learn's Python-level analyzer (and jieba's word segmentation, ~640 messages/s) cannot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix

from chengyun.triage.keyindex import KeyIndex, build_index

BITS = 21  # enough for every Unicode code point
MAX_N = 3
SEPARATOR = 0  # never a code point of cleaned text: n-grams never span two texts
SMALL = 20_000  # up to this many known n-grams, count them with numpy alone

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def clean(text: str, max_chars: int) -> str:
    """Full-width ASCII → half-width, lower case, runs of whitespace and control characters → one space."""
    return clean_many([text], max_chars)[0]


def clean_many(texts: Sequence[str], max_chars: int) -> list[str]:
    """`clean` of every text, with the character mapping done once on all their code points (str.translate with a
    table is ~50× slower on Chinese text); lower-casing first gives the same result, as no mapped character changes
    under `lower` other than as its image does."""
    lowered = [t[: max_chars * 2].lower() for t in texts]
    codes = np.frombuffer("".join(lowered).encode("utf-32-le"), dtype=np.uint32).copy()
    full_width = (codes - 0xFF01) < 0x5E  # unsigned: below the range wraps round to a large number
    codes[full_width] -= 0xFEE0
    codes[(codes < 32) | ((codes - 127) < 33) | (codes == 0x200B) | ((codes - 0x200E) < 2)
          | ((codes - 0x202A) < 5) | (codes == 0x3000)] = 32
    joined = codes.tobytes().decode("utf-32-le")
    ends = np.cumsum([len(t) for t in lowered]).tolist()
    return [" ".join(joined[start:end].split())[:max_chars] for start, end in zip([0, *ends], ends, strict=False)]


def _codes(texts: Sequence[str]) -> tuple[IntArray, IntArray]:
    """All texts' code points joined by separators, and the index of the text each position belongs to."""
    joined = "\x00".join(texts) + "\x00"
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    doc = np.cumsum(codes == SEPARATOR) - (codes == SEPARATOR)
    return codes, doc.astype(np.int64)


def ngram_keys(texts: Sequence[str], ngram_max: int = MAX_N) -> tuple[IntArray, IntArray]:
    """(text index, n-gram key) for every 1..ngram_max-gram inside each text (spaces do not start or end one)."""
    codes, doc = _codes(texts)
    keys: list[IntArray] = []
    docs: list[IntArray] = []
    for n in range(1, ngram_max + 1):
        if len(codes) < n:
            break
        key = codes[: len(codes) - n + 1].copy()
        valid = key > SEPARATOR
        for k in range(1, n):
            nxt = codes[k: len(codes) - n + 1 + k]
            key = (key << BITS) | nxt
            valid &= nxt > SEPARATOR
        if n > 1:  # a multi-character n-gram must not start or end with a space
            valid &= (codes[: len(codes) - n + 1] != 32) & (codes[n - 1:] != 32)
        else:
            valid &= codes != 32
        keys.append(key[valid])
        docs.append(doc[: len(codes) - n + 1][valid])
    return np.concatenate(docs), np.concatenate(keys)


def decode(key: int) -> str:
    """The text of an n-gram key."""
    chars = []
    while key:
        chars.append(chr(key & ((1 << BITS) - 1)))
        key >>= BITS
    return "".join(reversed(chars))


def decode_many(keys: IntArray) -> list[str]:
    """The texts of many n-gram keys at once (`decode` of each)."""
    mask = (1 << BITS) - 1
    chars = np.stack([(keys >> (BITS * (MAX_N - 1 - i))) & mask for i in range(MAX_N)], axis=1).astype(np.uint32)
    chars = np.take_along_axis(chars, np.argsort(chars == 0, axis=1, kind="stable"), axis=1)  # first char first
    texts: list[str] = np.ascontiguousarray(chars).view(f"<U{MAX_N}").ravel().tolist()
    return texts


def _count(docs: IntArray, cols: IntArray, rows: int, columns: int) -> tuple[IntArray, IntArray, FloatArray]:
    """(indptr, indices, counts) of the distinct (doc, col) pairs, in CSR order."""
    if len(cols) <= SMALL:  # a short text: one small sort beats scipy's checks and conversions
        cells, counts = np.unique(docs * columns + cols, return_counts=True)
        row, col = np.divmod(cells, max(columns, 1))
        return np.searchsorted(row, np.arange(rows + 1)), col, counts.astype(np.float64)
    matrix = csr_matrix((np.ones(len(cols)), (docs, cols)), shape=(rows, max(columns, 1)))  # sums duplicates
    return matrix.indptr.astype(np.int64), matrix.indices.astype(np.int64), np.asarray(matrix.data, np.float64)


@dataclass(frozen=True)
class Rows:
    """TF-IDF rows in CSR form (`indptr`, `indices`, `data`), `columns` wide; `matrix()` wraps them for scipy."""

    indptr: IntArray
    indices: IntArray
    data: FloatArray
    columns: int

    def matrix(self) -> csr_matrix:
        """The same rows as a scipy CSR matrix (no copy)."""
        return csr_matrix((self.data, self.indices, self.indptr), shape=(len(self.indptr) - 1, self.columns))


@dataclass(frozen=True)
class Vectoriser:
    """A fitted vocabulary (sorted n-gram keys) with its inverse document frequencies."""

    vocabulary: IntArray
    idf: FloatArray
    ngram_max: int
    max_chars: int

    def transform(self, texts: Sequence[str]) -> csr_matrix:
        """Sublinear TF × IDF, L2-normalised rows; unknown n-grams are ignored."""
        return self.rows(texts).matrix()

    def rows(self, texts: Sequence[str]) -> Rows:
        """`transform` as plain arrays: rows in text order, columns ascending within a row."""
        docs, keys = ngram_keys(clean_many(texts, self.max_chars), self.ngram_max)
        cols = self._index.lookup(keys)
        known = cols >= 0
        indptr, indices, counts = _count(docs[known], cols[known], len(texts), len(self.vocabulary))
        data = (1.0 + np.log(counts)) * self.idf[indices]
        squares = np.zeros(len(texts))
        filled = np.flatnonzero(np.diff(indptr))
        if len(filled):  # summed as scipy's row sums are (reduceat), so the values are bit-identical
            squares[filled] = np.add.reduceat(data * data, indptr[filled])
        norms = np.sqrt(squares)
        norms[norms == 0] = 1.0
        data /= np.repeat(norms, np.diff(indptr))
        return Rows(indptr, indices, data, len(self.vocabulary))

    def term(self, column: int) -> str:
        """The text of one feature column."""
        return self.terms[column]

    @cached_property
    def terms(self) -> list[str]:
        """The text of every feature column (decoded once, on first use)."""
        return decode_many(self.vocabulary)

    @cached_property
    def explains(self) -> npt.NDArray[np.bool_]:
        """Per column: does its text hold a letter or digit (punctuation explains nothing to an operator)."""
        return np.array([any(ch.isalnum() for ch in term) for term in self.terms], dtype=bool)

    @cached_property
    def _index(self) -> KeyIndex:
        return build_index(self.vocabulary)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the fitted fields only; the caches are rebuilt on first use."""
        return {name: self.__dict__[name] for name in self.__dataclass_fields__}


def fit_vectoriser(texts: Sequence[str], *, ngram_max: int = MAX_N, min_df: int = 2,
                   max_chars: int = 2000) -> Vectoriser:
    """Learn the n-grams seen in at least `min_df` texts and their smoothed IDF (as scikit-learn's)."""
    docs, keys = ngram_keys(clean_many(texts, max_chars), ngram_max)
    pairs = np.unique(np.stack([keys, docs]), axis=1) if len(keys) else np.zeros((2, 0), dtype=np.int64)
    vocabulary, df = np.unique(pairs[0], return_counts=True)
    keep = df >= min_df
    vocabulary, df = vocabulary[keep], df[keep]
    idf = np.log((1.0 + len(texts)) / (1.0 + df)) + 1.0
    return Vectoriser(vocabulary.astype(np.int64), idf.astype(np.float64), ngram_max, max_chars)


def side_by_side(left: Rows, right: Rows, weight: float) -> Rows:
    """Two blocks of the same rows as one: `right`'s columns follow `left`'s, its values times `weight`."""
    left_counts, right_counts = np.diff(left.indptr), np.diff(right.indptr)
    size = len(left.data) + len(right.data)
    at_left = np.arange(len(left.data)) + np.repeat(right.indptr[:-1], left_counts)  # k → its row's start + offset
    at_right = np.arange(len(right.data)) + np.repeat(left.indptr[1:], right_counts)  # after that row's left cells
    indices, data = np.empty(size, dtype=np.int64), np.empty(size, dtype=np.float64)
    indices[at_left], data[at_left] = left.indices, left.data
    indices[at_right], data[at_right] = right.indices + left.columns, right.data * weight
    return Rows(left.indptr + right.indptr, indices, data, left.columns + right.columns)


@dataclass(frozen=True)
class LeadVectoriser:
    """The whole text's n-grams beside those of its opening characters (`lead.max_chars`), that block weighted by
    `weight`: a citizen message begins with its subject, which names the matter more plainly than the body."""

    body: Vectoriser
    lead: Vectoriser
    weight: float

    @property
    def vocabulary(self) -> IntArray:
        """Both blocks' n-gram keys, in column order."""
        return np.concatenate([self.body.vocabulary, self.lead.vocabulary])

    def transform(self, texts: Sequence[str]) -> csr_matrix:
        """Both blocks side by side (each L2-normalised on its own, the lead block then weighted)."""
        return self.rows(texts).matrix()

    def rows(self, texts: Sequence[str]) -> Rows:
        """`transform` as plain arrays."""
        return side_by_side(self.body.rows(texts), self.lead.rows(texts), self.weight)

    def term(self, column: int) -> str:
        """The text of one feature column."""
        return self.terms[column]

    @cached_property
    def terms(self) -> list[str]:
        """The text of every feature column (a term of the opening appears once per block)."""
        return self.body.terms + self.lead.terms

    @cached_property
    def explains(self) -> npt.NDArray[np.bool_]:
        """Per column: does its text hold a letter or digit."""
        return np.concatenate([self.body.explains, self.lead.explains])

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the fitted fields only; the caches are rebuilt on first use."""
        return {name: self.__dict__[name] for name in self.__dataclass_fields__}


def fit_features(texts: Sequence[str], *, ngram_max: int = MAX_N, min_df: int = 2, max_chars: int = 2000,
                 lead_chars: int = 0, lead_weight: float = 0.0) -> Vectoriser | LeadVectoriser:
    """`fit_vectoriser`, with a block for the opening `lead_chars` characters when both lead settings are positive
    (and the opening has n-grams seen in `min_df` texts)."""
    body = fit_vectoriser(texts, ngram_max=ngram_max, min_df=min_df, max_chars=max_chars)
    if lead_chars <= 0 or lead_weight <= 0:
        return body
    lead = fit_vectoriser(texts, ngram_max=ngram_max, min_df=min_df, max_chars=min(lead_chars, max_chars))
    return LeadVectoriser(body, lead, lead_weight) if len(lead.vocabulary) else body
