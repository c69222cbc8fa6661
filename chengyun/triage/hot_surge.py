"""Surge warnings: a category or a cluster of similar reports growing unusually fast against its own history; pure.

The last `recent_days` are compared with the `history` periods of the same length before them. A group is warned
when its recent count is at least `min_count`, at least `min_ratio` × its historical mean, and above the Poisson
upper quantile of that mean (the chance of so many reports by chance is below `alpha`). The mean is floored at
`min_rate` so that a brand-new topic with no history still needs `min_count` reports to be warned.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from scipy.stats import poisson

from chengyun.triage.hot import HotItem, HotParams, groups, in_window, title_of
from chengyun.triage.hot_cluster import central, cluster_labels


@dataclass(frozen=True)
class SurgeParams:
    """What counts as a surge."""

    recent_days: int = 7
    history: int = 8  # earlier periods of `recent_days` each
    min_count: int = 5
    min_ratio: float = 2.0
    alpha: float = 0.001
    min_rate: float = 0.5  # floor of the historical mean per period
    hot: HotParams = field(default_factory=HotParams)


@dataclass(frozen=True)
class Surge:
    """One warning and the figures that triggered it."""

    kind: str  # "category" | "cluster"
    key: str  # the category code, or the cluster's title
    recent: int  # reports in the last `recent_days`
    history: tuple[int, ...]  # reports in each earlier period, oldest first
    mean: float
    std: float
    upper: int  # Poisson (1 − alpha) quantile of max(mean, min_rate)
    p_value: float  # P(X ≥ recent) for X ~ Poisson(max(mean, min_rate))
    ratio: float  # recent / max(mean, min_rate)
    ids: tuple[str, ...]  # the recent reports


def period_counts(times: Sequence[datetime], end: datetime, params: SurgeParams) -> tuple[int, list[int]]:
    """(recent count, counts of the earlier periods oldest first) of the given times."""
    length = timedelta(days=params.recent_days)
    counts = [0] * (params.history + 1)
    for t in times:
        back = (end - t) // length if t <= end else -1
        if 0 <= back <= params.history:
            counts[params.history - back] += 1
    return counts[-1], counts[:-1]


def check(kind: str, key: str, recent_items: Sequence[HotItem], history: Sequence[int],
          params: SurgeParams) -> Surge | None:
    """A surge when the recent count passes every test of the module docstring, else None."""
    recent = len(recent_items)
    mean = sum(history) / len(history) if history else 0.0
    std = math.sqrt(sum((h - mean) ** 2 for h in history) / len(history)) if history else 0.0
    rate = max(mean, params.min_rate)
    upper = int(poisson.ppf(1.0 - params.alpha, rate))
    p_value = float(poisson.sf(recent - 1, rate))
    if recent < params.min_count or recent < params.min_ratio * rate or recent <= upper:
        return None
    return Surge(kind, key, recent, tuple(history), mean, std, upper, p_value, recent / rate,
                 tuple(sorted(it.id for it in recent_items)))


def _span(params: SurgeParams) -> float:
    """Days covered by the recent and the history periods together."""
    return float(params.recent_days * (params.history + 1))


def category_surges(items: Sequence[HotItem], end: datetime, params: SurgeParams | None = None) -> list[Surge]:
    """Categories whose last `recent_days` jump above their own history, strongest first."""
    params = params or SurgeParams()
    by_category: dict[str, list[HotItem]] = defaultdict(list)
    for item in in_window(items, end, _span(params)):
        if item.category:
            by_category[item.category].append(item)
    return _sorted(_checked("category", {k: (k, v) for k, v in by_category.items()}, end, params))


def cluster_surges(items: Sequence[HotItem], end: datetime, params: SurgeParams | None = None) -> list[Surge]:
    """Clusters of similar reports (found over the history and recent periods) that jump, strongest first."""
    params = params or SurgeParams()
    chosen = in_window(items, end, _span(params))
    labels, feats = cluster_labels([it.text for it in chosen], params.hot.cluster)
    found: dict[str, tuple[str, list[HotItem]]] = {}
    for members in groups(labels, params.min_count):
        title = title_of(chosen[central(feats, members)])
        found[str(members[0])] = (title, [chosen[int(i)] for i in members])
    return _sorted(_checked("cluster", found, end, params))


def _checked(kind: str, found: dict[str, tuple[str, list[HotItem]]], end: datetime,
             params: SurgeParams) -> list[Surge]:
    """The surges among the groups (key → (shown key, items))."""
    recent_start = end - timedelta(days=params.recent_days)
    surges = []
    for key, members in found.values():
        _, history = period_counts([it.at for it in members], end, params)
        recent_items = [it for it in members if recent_start < it.at <= end]
        surge = check(kind, key, recent_items, history, params)
        if surge is not None:
            surges.append(surge)
    return surges


def _sorted(surges: list[Surge]) -> list[Surge]:
    """Least likely by chance first."""
    return sorted(surges, key=lambda s: (s.p_value, -s.recent, s.key))


def surge_warnings(items: Sequence[HotItem], end: datetime, params: SurgeParams | None = None) -> list[Surge]:
    """Category surges, then cluster surges."""
    return category_surges(items, end, params) + cluster_surges(items, end, params)
