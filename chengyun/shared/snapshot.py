"""A read-mostly table kept in memory: reloaded when its stored version changes, checked at most every few seconds.

The catalogue, the duty list and the area index are read on every case action and written rarely. Asking the
database "did it change?" on every read would double the statements of a step, so each process checks at most
every `every_s` seconds; writes through the owning service call `forget()` and are seen at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")
DEFAULT_EVERY_S = 2.0


class Snapshot(Generic[T]):
    """`get()` returns the loaded value; `version(session)` is a cheap fingerprint, `load(session)` the full read."""

    def __init__(self, sessions: sessionmaker[Session], version: Callable[[Session], Hashable],
                 load: Callable[[Session], T], *, every_s: float = DEFAULT_EVERY_S) -> None:
        self._sessions = sessions
        self._version_of = version
        self._load = load
        self._every_s = every_s
        self._value: T | None = None
        self._version: Hashable = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def get(self) -> T:
        """The value, reloaded first when the stored version moved since the last check."""
        value = self._value
        if value is not None and time.monotonic() - self._checked < self._every_s:
            return value
        with self._sessions() as session:
            version = self._version_of(session)
            with self._lock:
                if self._value is None or version != self._version:
                    self._value = self._load(session)
                    self._version = version
                self._checked = time.monotonic()
                return self._value

    def forget(self) -> None:
        """Drop the value so the next `get()` reloads it (after a write through this process)."""
        with self._lock:
            self._value = None
