"""Hot issues: clusters of similar reports in a sliding window, ranked by a documented score; pure, no I/O.

score = ln(1 + reporters)                      distinct reporters count most (one person writing ten times is one voice)
      + w_repeat · ln(count / reporters)       repeated reports still add a little
      + w_likes  · ln(1 + likes)               support, where the source has likes
      + w_spread · ln(places)                  distinct place keys (an issue seen across places is wider)
      + w_growth · growth                      (recent − earlier) / (recent + earlier) over the window's two halves
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from chengyun.triage.hot_cluster import ClusterParams, Features, IntArray, central, cluster_labels, top_terms
from chengyun.triage.hot_places import common_place, place_key

TITLE_CHARS = 30
PLACE_CHARS = 200  # place mentions are read from the subject and the start of the text


@dataclass(frozen=True)
class HotItem:
    """One report as the hot-issue analysis sees it; `reporter` is an opaque (hashed) key."""

    id: str
    text: str  # subject + body
    at: datetime
    reporter: str
    place: str | None = None  # area code or normalised address; extracted from the text when None
    likes: int = 0
    category: str | None = None
    subject: str = ""  # used for the title when given


@dataclass(frozen=True)
class HotParams:
    """Clustering and ranking settings."""

    cluster: ClusterParams = field(default_factory=ClusterParams)
    w_repeat: float = 0.25
    w_likes: float = 0.3
    w_spread: float = 0.5
    w_growth: float = 0.5
    min_size: int = 2  # smaller clusters are not hot issues
    limit: int = 15


@dataclass(frozen=True)
class HotIssue:
    """A ranked cluster of reports with the figures behind its score."""

    title: str
    terms: tuple[str, ...]
    place: str | None
    first: datetime
    last: datetime
    count: int
    reporters: int
    likes: int
    places: int
    growth: float
    score: float
    ids: tuple[str, ...]  # oldest first


def in_window(items: Sequence[HotItem], end: datetime, days: float) -> list[HotItem]:
    """The items with end − days < at ≤ end."""
    start = end - timedelta(days=days)
    return [item for item in items if start < item.at <= end]


def item_place(item: HotItem) -> str | None:
    """The item's place key, or the most specific place its text names."""
    return item.place or place_key(item.subject + " " + item.text[:PLACE_CHARS])


def growth(times: Sequence[datetime], start: datetime, end: datetime) -> float:
    """(recent − earlier) / (recent + earlier), halves split at the window's middle; 0 when empty."""
    middle = start + (end - start) / 2
    recent = sum(t > middle for t in times)
    earlier = len(times) - recent
    return (recent - earlier) / len(times) if times else 0.0


def score(count: int, reporters: int, likes: int, places: int, grow: float, params: HotParams) -> float:
    """The documented hot score (module docstring)."""
    return (math.log1p(reporters) + params.w_repeat * math.log(count / max(reporters, 1))
            + params.w_likes * math.log1p(max(likes, 0)) + params.w_spread * math.log(max(places, 1))
            + params.w_growth * grow)


def title_of(item: HotItem) -> str:
    """The item's subject, or its text's first clause, cut to TITLE_CHARS."""
    text = " ".join((item.subject or item.text).split())
    if not item.subject:
        text = text.split("。")[0]
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1] + "…"


def describe(items: Sequence[HotItem], members: IntArray, feats: Features, span: tuple[datetime, datetime],
             params: HotParams) -> HotIssue:
    """The hot issue made of `members` (indices into items) within the window `span`."""
    chosen = sorted((items[int(i)] for i in members), key=lambda it: (it.at, it.id))
    places = [p for p in map(item_place, chosen) if p]
    named = [it.place for it in chosen if it.place] or [it.subject + " " + it.text[:PLACE_CHARS] for it in chosen]
    reporters = len({it.reporter for it in chosen})
    likes = sum(max(it.likes, 0) for it in chosen)
    grow = growth([it.at for it in chosen], *span)
    count = len(chosen)
    return HotIssue(
        title=title_of(items[central(feats, members)]), terms=top_terms(feats, members),
        place=Counter(named).most_common(1)[0][0] if chosen[0].place else common_place(named),
        first=chosen[0].at, last=chosen[-1].at, count=count, reporters=reporters, likes=likes,
        places=len(set(places)), growth=grow, score=score(count, reporters, likes, len(set(places)), grow, params),
        ids=tuple(it.id for it in chosen))


def groups(labels: IntArray, min_size: int) -> list[IntArray]:
    """Member indices of each label with at least `min_size` members."""
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    return [part for part in np.split(order, bounds) if len(part) >= min_size] if len(labels) else []


def rank(items: Sequence[HotItem], span: tuple[datetime, datetime], params: HotParams) -> list[HotIssue]:
    """All clusters of the items, best score first."""
    labels, feats = cluster_labels([it.text for it in items], params.cluster)
    issues = [describe(items, members, feats, span, params) for members in groups(labels, params.min_size)]
    return sorted(issues, key=lambda h: (-h.score, h.first, h.ids))


def hot_issues(items: Sequence[HotItem], end: datetime, days: float = 30,
               params: HotParams | None = None) -> list[HotIssue]:
    """The top `params.limit` hot issues among the items of the `days` ending at `end`."""
    params = params or HotParams()
    return rank(in_window(items, end, days), (end - timedelta(days=days), end), params)[: params.limit]
