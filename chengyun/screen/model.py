"""Values of the big screen: what its queries return, live events, the stream's resumable cursor. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from chengyun.errors import Invalid

# a case whose clock has not started yet (no dispatch) is "triage"; a paused one is "suspended"; otherwise its
# deadline colour, with "red" also for a case past its handling due date before the sweep noticed
TRIAGE_STATES = frozenset({"reported", "verifying", "registered", "returned"})
DONE_STATES = frozenset({"rejected", "closed", "followed_up", "merged"})
CASE_CLASSES = ("triage", "green", "yellow", "red", "suspended")
GAP_PATIENCE_S = 15.0  # an id skipped by a poll is looked for again this long (a transaction committed late)
MAX_GAPS = 1000
OFFLINE_SHARE = 5  # a bucket is drawn offline when 1/OFFLINE_SHARE of its devices or more are


def case_class(state: str, deadline_level: str | None, handling_due: datetime | None, now: datetime) -> str | None:
    """The colour class of a case on the map: triage, green, yellow, red or suspended; None once it is done."""
    if state in DONE_STATES:
        return None
    if state == "suspended":
        return "suspended"
    if state in TRIAGE_STATES:
        return "triage"
    if deadline_level == "red" or (handling_due is not None and handling_due < now):
        return "red"
    return "yellow" if deadline_level == "yellow" else "green"


def bucket_of(path: str, focus_path: str) -> str:
    """The area an object at `path` is counted under on an aggregated layer: the focus's grandchild on its way
    (a grid seen from the street, a microgrid from a community), or its own area when that lies higher."""
    own, depth = path.strip("/").split("/"), len(focus_path.strip("/").split("/"))
    return own[min(depth + 1, len(own) - 1)]


def bucket_class(total: int, alarming: int, offline: int) -> str:
    """A bucket's colour: `alarm` if any device alarms, `offline` when at least a fifth are offline, else online."""
    if alarming:
        return "alarm"
    return "offline" if offline * OFFLINE_SHARE >= total > 0 else "online"


@dataclass(frozen=True, slots=True)
class Intake:
    """Cases reported in a period, counted by source and by category class (the first two code digits)."""

    by_source: Mapping[str, int]
    by_class: Mapping[str, int]

    @property
    def total(self) -> int:
        """All cases of the period."""
        return sum(self.by_source.values())


@dataclass(frozen=True, slots=True)
class Trend:
    """Per local day of a window: cases reported that day and how many of those are closed (the KPI page's)."""

    days: tuple[str, ...]
    reported: tuple[int, ...]
    closed: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class LayerPoint:
    """One object on a map layer: where (WGS84), its id, a label, its colour class, a rank and a console link."""

    lon: float
    lat: float
    id: str
    label: str
    cls: str
    rank: int = 0  # e.g. an alarm's severity rank: the pulse grows with it
    link: str | None = None
    count: int = 0  # a bucket of `count` objects (an area's devices) rather than one object; `id` is the area
    tally: tuple[tuple[str, int], ...] = ()  # a bucket's objects by class, e.g. (("alarm", 2), ("offline", 31))


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened, as the screen's live feed shows it (a new case, a step of the loop, an alarm …).

    `tail` names the table it came from and `seq` its id there: the stream's cursor advances per tail.
    """

    tail: str
    seq: int
    kind: str  # case.new, case.step, alarm.raised, alarm.cleared …
    at: datetime
    area_path: str
    number: str = ""
    title: str = ""
    state: str = ""
    from_state: str = ""
    action: str = ""
    community_code: str | None = None
    lon: float | None = None
    lat: float | None = None
    cls: str | None = None  # the map class after the event (None: no longer on the map)
    layer: str = ""  # the map layer whose point the event moves (cases, alarms …)
    point_id: str = ""  # that point's id on its layer
    rank: int = 0
    data: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Unique over all tails: the page de-duplicates on it."""
        return f"{self.tail}:{self.seq}"


@dataclass(frozen=True, slots=True)
class Cursor:
    """How far a listener has seen each tail (the newest id per table); the SSE event id is its text form."""

    ids: Mapping[str, int]

    def text(self) -> str:
        """`cases:12;steps:40` — sent as the SSE `id:` and returned by the browser as Last-Event-ID."""
        return ";".join(f"{name}:{value}" for name, value in sorted(self.ids.items()))

    @classmethod
    def parse(cls, text: str, tails: Iterable[str]) -> Cursor:
        """The cursor of an id sent earlier; unknown tails are ignored, malformed text is refused."""
        known, ids = set(tails), {}
        for part in filter(None, text.strip().split(";")):
            name, _, value = part.partition(":")
            if not value.isdigit() or len(value) > 18:
                raise Invalid("screen.bad_cursor", value=text[:80])
            if name in known:
                ids[name] = int(value)
        return cls(ids)

    def get(self, tail: str) -> int:
        """The newest id seen of one tail (0: none)."""
        return self.ids.get(tail, 0)

    def after(self, events: Iterable[Event]) -> Cursor:
        """The cursor once these events are seen (never moves back)."""
        ids = dict(self.ids)
        for event in events:
            ids[event.tail] = max(ids.get(event.tail, 0), event.seq)
        return Cursor(ids)

    def covers(self, other: Cursor) -> bool:
        """True when this cursor is at or past `other` on every tail."""
        return all(self.get(name) >= value for name, value in other.ids.items())


@dataclass
class GapTracker:
    """The ids a tail skipped that may still appear (a transaction that took a lower id committed later).

    Ids are assigned in order but committed in any order (PostgreSQL sequences): after seeing 9 and 11, id 10 is
    looked for again for `patience` seconds, then given up (a rolled-back insert leaves a hole for ever).
    """

    newest: int = 0
    patience: float = GAP_PATIENCE_S
    waiting: dict[int, float] = field(default_factory=dict)  # id → when it was first missed (monotonic seconds)

    def pending(self, now: float) -> list[int]:
        """The missed ids still worth asking for, oldest first; older ones are dropped."""
        for seq in [s for s, since in self.waiting.items() if now - since > self.patience]:
            del self.waiting[seq]
        return sorted(self.waiting)

    def saw(self, ids: Iterable[int], now: float) -> None:
        """Record the ids one poll returned (new ones above `newest`, or late ones that filled a gap)."""
        for seq in sorted(ids):
            self.waiting.pop(seq, None)
            if seq > self.newest:
                first = max(self.newest + 1, seq - MAX_GAPS) if self.newest else seq
                for missing in range(first, seq):
                    self.waiting[missing] = now
                self.newest = seq
