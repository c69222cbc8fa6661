"""The case rows this process wrote last, so that the next step on one of them can skip its read.

A step reads the case, decides, and writes it back under the optimistic lock. On PostgreSQL the read is a third of a
step's cost (a round trip, its result's conversion), and the next step on a case is most often taken in the process
that took the last one (an operator registers then dispatches; a handler claims, handles and submits). So a step
remembers the row it wrote together with the database's *stamp* of that row version (PostgreSQL's `xmin`, the
transaction that wrote it) and the next step decides on the remembered row and writes only if the row still carries
that stamp. Anything else that changed the row meanwhile — another process's step, the deadline sweep, hand-written
SQL — gave it a new stamp, so the write matches nothing and the step is taken again on a fresh read: the remembered
row can make a step cheaper, never different. Databases without such a stamp (SQLite) remember nothing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_SIZE = 4096


class OutOfDate(Exception):
    """A remembered row no longer matches the database: the step is to be taken again on a fresh read."""


@dataclass(frozen=True, slots=True)
class Remembered:
    """A row's column values as this process wrote them, and the stamp the database gave that version."""

    stamp: str
    values: dict[str, Any]

    @property
    def version(self) -> int:
        """The row's optimistic-lock version."""
        return int(self.values["version"])


class RecentCases:
    """A bounded, thread-safe map of case number → the row last written here (least recently used dropped)."""

    def __init__(self, size: int = DEFAULT_SIZE, mutable: frozenset[str] | None = None) -> None:
        """`mutable`: the columns whose values are lists or dicts (JSON), copied on the way in and out; None: any."""
        if size < 0:
            raise ValueError("size must be >= 0")
        self._size = size
        self._mutable = mutable
        self._rows: OrderedDict[str, Remembered] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, number: str) -> Remembered | None:
        """The remembered row (values copied: the caller may change them), or None."""
        with self._lock:
            found = self._rows.get(number)
            if found is None:
                return None
            self._rows.move_to_end(number)
        return Remembered(found.stamp, self._copied(found.values))

    def put(self, number: str, stamp: str | None, values: Mapping[str, Any]) -> None:
        """Remember these values as the version with `stamp`; without a stamp, forget the number instead."""
        if stamp is None or self._size == 0:
            self.drop(number)
            return
        kept = Remembered(stamp, self._copied(values))
        with self._lock:
            self._rows[number] = kept
            self._rows.move_to_end(number)
            while len(self._rows) > self._size:
                self._rows.popitem(last=False)

    def drop(self, number: str) -> None:
        """Forget the number (its remembered row proved out of date)."""
        with self._lock:
            self._rows.pop(number, None)

    def _copied(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The values with their JSON lists and objects copied, so that no two rows share a mutable value."""
        copied = dict(values)
        for key in copied.keys() if self._mutable is None else self._mutable & copied.keys():
            copied[key] = _copy_json(copied[key])
        return copied

    def __len__(self) -> int:
        with self._lock:
            return len(self._rows)


def _copy_json(value: Any) -> Any:
    if isinstance(value, list):
        return [_copy_json(item) for item in value]
    if isinstance(value, dict):
        return {key: _copy_json(item) for key, item in value.items()}
    return value
