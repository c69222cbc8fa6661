"""Groups of similar texts: character 2–3-gram TF-IDF, sparse cosine neighbours above a threshold, connected
components; pure, no I/O.

Character unigrams and n-grams found in more than `max_df` of the texts are dropped before the similarity: they carry
little topic and make the sparse product nearly dense. Each text keeps only its `neighbours` most similar texts, so
the product and the graph stay sparse and tens of thousands of texts cluster in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import squareform

from chengyun.triage.features import BITS, clean, decode, ngram_keys

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
CHUNK = 2048  # rows of the similarity product computed at once


@dataclass(frozen=True)
class ClusterParams:
    """How similar two reports must be to join one cluster, and the bounds that keep it sparse."""

    threshold: float = 0.12  # least average cosine similarity inside a cluster (tuned on fujian3, see BENCHMARKS.md)
    link: float = 0.2  # least similarity of a pair that links two texts into one candidate component
    max_block: int = 3000  # a larger component is cut at a rising link before the (quadratic) average linkage
    neighbours: int = 20  # most similar texts kept per text
    max_df: float = 0.05  # n-grams in a larger share of the texts are ignored …
    min_df_cap: int = 50  # … unless they are in at most this many (a small window keeps all its n-grams)
    terms_per_text: int = 40  # a text keeps only its most weighted n-grams
    max_chars: int = 100  # only the start of a text (subject + first lines) is compared


@dataclass(frozen=True)
class Features:
    """Row-normalised TF-IDF of the texts, and the n-gram key of each column."""

    matrix: csr_matrix
    keys: IntArray

    def term(self, column: int) -> str:
        """The n-gram of a column."""
        return decode(int(self.keys[column]))


def _normalise(matrix: csr_matrix) -> csr_matrix:
    """Rows scaled to unit length (empty rows stay empty)."""
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    matrix.data /= np.repeat(norms, np.diff(matrix.indptr))
    return matrix


def _has_ideograph(keys: IntArray) -> npt.NDArray[np.bool_]:
    """Whether each n-gram key holds a CJK ideograph (masks such as "**" and URL pieces carry no topic)."""
    found = np.zeros(len(keys), dtype=bool)
    for shift in range(0, BITS * 3, BITS):
        code = (keys >> shift) & ((1 << BITS) - 1)
        found |= (code >= 0x3400) & (code <= 0x9FFF)
    return found


def features(texts: Sequence[str], params: ClusterParams) -> Features:
    """Sublinear TF × smoothed IDF over the 2–3-grams in at least two texts and not too many (`max_df`)."""
    n = len(texts)
    docs, keys = ngram_keys([clean(t, params.max_chars) for t in texts], 3)
    multi = (keys >= (1 << BITS)) & _has_ideograph(keys)
    vocabulary, inverse = np.unique(keys[multi], return_inverse=True)
    cells, counts = np.unique(inverse.ravel() * max(n, 1) + docs[multi], return_counts=True)
    cols, rows = np.divmod(cells, max(n, 1))
    df = np.bincount(cols, minlength=len(vocabulary))
    kept = (df >= 2) & (df <= max(params.max_df * n, params.min_df_cap))
    new_col = np.cumsum(kept) - 1
    mask = kept[cols]
    cols, rows, counts = new_col[cols[mask]], rows[mask], counts[mask]
    idf = np.log((1.0 + n) / (1.0 + df[kept])) + 1.0
    data = (1.0 + np.log(counts)) * idf[cols]
    matrix = _strongest(csr_matrix((data, (rows, cols)), shape=(n, int(kept.sum()))), params.terms_per_text)
    return Features(_normalise(matrix), vocabulary[kept].astype(np.int64))


def _strongest(matrix: csr_matrix, k: int) -> csr_matrix:
    """Each row's k largest values only: the similarity product then costs far less, and rests on distinctive terms."""
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    scaled = matrix.data / (2.0 * matrix.data.max()) if matrix.nnz else matrix.data
    order = np.argsort(rows - scaled, kind="stable")  # by row, then by value descending (values < 1 after scaling)
    rank = np.arange(len(order)) - matrix.indptr[rows[order]]
    keep = np.sort(order[rank < k])
    kept_rows = rows[keep]
    indptr = np.searchsorted(kept_rows, np.arange(matrix.shape[0] + 1))
    return csr_matrix((matrix.data[keep], matrix.indices[keep], indptr), shape=matrix.shape)


def _top_k(block: csr_matrix, offset: int, params: ClusterParams) -> tuple[IntArray, IntArray]:
    """(row, column) of each row's `neighbours` best similarities ≥ threshold, the diagonal excluded."""
    block = block.tocoo()
    rows, cols, sims = block.row.astype(np.int64) + offset, block.col.astype(np.int64), block.data
    keep = (sims >= params.threshold) & (rows != cols)
    rows, cols, sims = rows[keep], cols[keep], sims[keep]
    order = np.lexsort((-sims, rows))
    rows, cols = rows[order], cols[order]
    starts = np.searchsorted(rows, rows, side="left")
    rank = np.arange(len(rows)) - starts
    keep = rank < params.neighbours
    return rows[keep], cols[keep]


def neighbour_graph(matrix: csr_matrix, params: ClusterParams) -> csr_matrix:
    """Symmetric adjacency: i–j when either is among the other's nearest neighbours above the threshold."""
    n = matrix.shape[0]
    transposed = matrix.T.tocsc()
    found = [_top_k(matrix[start:start + CHUNK] @ transposed, start, params) for start in range(0, n, CHUNK)]
    rows = np.concatenate([r for r, _ in found]) if found else np.zeros(0, dtype=np.int64)
    cols = np.concatenate([c for _, c in found]) if found else np.zeros(0, dtype=np.int64)
    graph = csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n))
    return (graph + graph.T).tocsr()


def _average_linkage(matrix: csr_matrix, members: IntArray, threshold: float) -> list[IntArray]:
    """The members split so that each part's average pairwise similarity stays ≥ threshold."""
    block = matrix[members]
    distance = 1.0 - (block @ block.T).toarray()
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(np.clip(distance, 0.0, 2.0), checks=False), method="average")
    parts = fcluster(tree, t=1.0 - threshold, criterion="distance")
    return [members[parts == part] for part in np.unique(parts)]


def _refine(matrix: csr_matrix, members: IntArray, params: ClusterParams, link: float) -> list[IntArray]:
    """One component refined by average linkage; one too large for it is first cut at a higher link threshold."""
    if len(members) < 2:
        return [members]
    if len(members) <= params.max_block or link >= params.threshold:
        return _average_linkage(matrix, members, params.threshold)
    link = min(link + 0.05, params.threshold)
    sub = matrix[members]
    graph = neighbour_graph(sub, replace(params, threshold=link))
    _, labels = connected_components(graph, directed=False)
    return [part for label in np.unique(labels)
            for part in _refine(matrix, members[labels == label], params, link)]


def cluster_labels(texts: Sequence[str], params: ClusterParams) -> tuple[IntArray, Features]:
    """A cluster label per text and the features used.

    Texts are first linked into components where a pair's similarity reaches `link`; each component is then cut by
    average linkage at `threshold`, so one chain of pairwise-similar texts does not merge unrelated topics.
    """
    feats = features(texts, params)
    labels = np.zeros(len(texts), dtype=np.int64)
    if not texts:
        return labels, feats
    _, components = connected_components(
        neighbour_graph(feats.matrix, replace(params, threshold=params.link)), directed=False)
    order = np.argsort(components, kind="stable")
    bounds = np.flatnonzero(np.diff(components[order])) + 1
    label = 0
    for members in np.split(order, bounds):
        for part in _refine(feats.matrix, members.astype(np.int64), params, params.link):
            labels[part] = label
            label += 1
    return labels, feats


def _mean(feats: Features, members: IntArray) -> tuple[IntArray, FloatArray]:
    """(columns, values) of the members' mean vector where it is not zero."""
    block = feats.matrix[members]
    columns, inverse = np.unique(block.indices, return_inverse=True)
    return columns.astype(np.int64), np.bincount(inverse.ravel(), weights=block.data) / len(members)


def central(feats: Features, members: IntArray) -> int:
    """The member whose vector is closest to the members' mean (the cluster's most typical text)."""
    columns, values = _mean(feats, members)
    similarity = feats.matrix[members][:, columns] @ values
    return int(members[int(np.argmax(similarity))])


def _readable(term: str) -> bool:
    """A trigram of ideographs (digits and Latin letters allowed in the middle only)."""
    return len(term) == 3 and all("\u3400" <= c <= "\u9fff" for c in term[::2])


def top_terms(feats: Features, members: IntArray, k: int = 3) -> tuple[str, ...]:
    """The readable trigrams weighing most in the members' mean vector, none overlapping one taken before."""
    columns, values = _mean(feats, members)
    chosen: list[str] = []
    for column in columns[np.argsort(-values, kind="stable")][: k * 20]:
        term = feats.term(int(column))
        if _readable(term) and not any(term[:2] in t or term[1:] in t for t in chosen):
            chosen.append(term)
        if len(chosen) == k:
            break
    return tuple(chosen)
