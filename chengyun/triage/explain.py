"""Why a label was suggested: the n-grams of a text whose weight × TF-IDF value pushed most towards it; pure.

Contributions are computed for a whole batch in one gather (only for each text's suggested labels), so an
explained classification costs little more than a bare label.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

from chengyun.triage.features import LeadVectoriser, Rows, Vectoriser

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
TINY = float(np.nextafter(0.0, 1.0))  # the smallest positive float: `value >= TINY` is `value > 0`


@dataclass(frozen=True)
class Weights:
    """A fitted linear classifier's weights laid out for prediction and for explanations."""

    by_column: FloatArray  # (features, classes), C order: what `rows @ by_column` needs without a copy
    intercept: FloatArray  # (classes,)
    per_label: FloatArray  # (labels, features): the weights pushing towards each label (binary: −w and +w)

    @classmethod
    def of(cls, classifier: Any) -> Weights:
        """Read `coef_` and `intercept_` of a scikit-learn linear classifier."""
        coef = np.asarray(classifier.coef_, dtype=np.float64)
        per_label = np.vstack([-coef[0], coef[0]]) if coef.shape[0] == 1 else coef
        return cls(np.ascontiguousarray(coef.T), np.asarray(classifier.intercept_, dtype=np.float64),
                   np.ascontiguousarray(per_label))


def explain(rows: Rows, labels: IntArray, weights: Weights, vectoriser: Vectoriser | LeadVectoriser,
            top_terms: int) -> list[list[tuple[str, ...]]]:
    """Per row, per label in `labels[row]`: up to `top_terms` distinct terms with a positive contribution, largest
    first.

    Ties keep column order, terms without a letter or digit are left out, and a term that counts in both the whole
    text and its opening is named once (where it weighs most).
    """
    keep = vectoriser.explains[rows.indices]
    row_of = np.repeat(np.arange(len(labels)), np.diff(rows.indptr))[keep]
    columns = rows.indices[keep]
    flat = labels.T[:, row_of] * weights.per_label.shape[1] + columns  # (labels per row, kept cells)
    contribution = np.take(weights.per_label, flat) * rows.data[keep]
    bounds = np.concatenate([[0], np.cumsum(keep)])[rows.indptr].tolist()  # each row's kept cells
    terms = vectoriser.terms
    depth = top_terms * (2 if isinstance(vectoriser, LeadVectoriser) else 1)  # a term may count twice
    return [_best(contribution[:, start:end], columns[start:end], terms, top_terms, depth)
            for start, end in pairwise(bounds)]


def _best(block: FloatArray, columns: IntArray, terms: list[str], top_terms: int,
          depth: int) -> list[tuple[str, ...]]:
    """For each row of `block` (one label's contributions of one text's cells), the distinct terms of the largest,
    looked for among the `depth` largest cells."""
    width = block.shape[1]
    floor = np.full(block.shape[0], TINY)  # a contribution must be positive
    if width > depth:  # and at least the depth-th largest of its row (all of them when tied)
        floor = np.maximum(np.partition(block, width - depth, axis=1)[:, width - depth], TINY)
    label, position = np.nonzero(block >= floor[:, None])
    chosen: list[list[tuple[float, int, int]]] = [[] for _ in range(block.shape[0])]
    for k, value, p, column in zip(label.tolist(), block[label, position].tolist(), position.tolist(),
                                   columns[position].tolist(), strict=True):
        chosen[k].append((-value, p, column))
    return [tuple(dict.fromkeys(terms[column] for _, _, column in sorted(c)))[:top_terms] for c in chosen]
