"""The screen's live feed inside one process: one thread polls the tails (new cases, timeline steps …) by id once a
second while somebody listens, and fans each event out to the listeners whose scope contains it.

A listener is one server-sent-events stream. It may start from a cursor (the browser's Last-Event-ID after a
reconnect, or the cursor the page was rendered with): the events between that cursor and what the poller has
published are read from the database for it alone, so a page that lost its connection — or a server restart —
misses nothing. Ids committed out of order are looked for again for a while (`model.GapTracker`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from chengyun.errors import Unavailable
from chengyun.screen.model import Cursor, Event, GapTracker
from chengyun.screen.sources import TAILS, newest_ids

log = logging.getLogger("chengyun.screen")
POLL_INTERVAL_S = 1.0
IDLE_STOP_S = 30.0  # the poller stops this long after the last listener left
BURST = 200  # more new events than this in one poll (a bulk import): listeners reload instead of replaying
CATCH_UP_LIMIT = 500  # a listener further behind than this gets a reset (reload everything) instead
QUEUE_SIZE = 2000


@dataclass(eq=False)
class Listener:
    """One stream: its scope path, its event loop and queue of (event, cursor text), and what it was sent already."""

    scope_path: str
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[tuple[Event, str] | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    sent: set[str] = field(default_factory=set)  # keys of the catch-up events, not to be sent twice
    overflowed: bool = False  # too much to stream: the page should reload (from `reset_to`, when known)
    reset_to: str | None = None
    ended: bool = False

    def wants(self, event: Event) -> bool:
        """Whether the event lies inside this listener's scope."""
        return event.area_path.startswith(self.scope_path)

    def push(self, item: tuple[Event, str] | None) -> None:
        """Queue an event (runs on the listener's loop); a full queue marks the stream for a reset."""
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True

    def end(self) -> None:
        """End the stream (the feed is closing); the browser will reconnect to whoever serves next."""
        self.ended = True
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)

    def reset(self, cursor: str) -> None:
        """Tell the stream to send a reset (reload everything) that moves its cursor to `cursor`."""
        self.overflowed, self.reset_to = True, cursor
        with contextlib.suppress(asyncio.QueueFull):  # a full queue is woken anyway
            self.queue.put_nowait(None)


@dataclass(frozen=True, slots=True)
class Subscription:
    """A registered listener and the events it must be sent first (oldest first, with their cursors); or, when it
    was too far behind, `reset_to`: the cursor to send with a reset (the page reloads instead)."""

    listener: Listener
    catch_up: list[tuple[Event, str]]
    reset_to: str | None = None


@dataclass
class LiveFeed:
    """The per-process poller and its listeners."""

    sessions: sessionmaker[Session]
    now: Callable[[], datetime]
    interval_s: float = POLL_INTERVAL_S
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _listeners: set[Listener] = field(default_factory=set)
    _thread: threading.Thread | None = None
    _cursor: Cursor = field(default_factory=lambda: Cursor({}))
    _gaps: dict[str, GapTracker] = field(default_factory=dict)
    _idle_since: float | None = None
    _closed: bool = False

    def subscribe(self, scope_path: str, loop: asyncio.AbstractEventLoop, after: Cursor | None) -> Subscription:
        """Register a listener (starting the poller if needed) and read what it missed since `after` (blocking)."""
        listener = Listener(scope_path, loop)
        with self._lock:
            if self._closed:
                raise Unavailable("screen.closing")
            if self._thread is None:
                self._start()
            self._listeners.add(listener)
            published = self._cursor
        if after is None or after.covers(published):
            return Subscription(listener, [])
        catch_up, reset = self._catch_up(scope_path, after, published)
        if reset:
            return Subscription(listener, [], published.text())
        listener.sent = {event.key for event, _ in catch_up}
        return Subscription(listener, catch_up)

    def unsubscribe(self, listener: Listener) -> None:
        """Forget a listener (its stream ended)."""
        with self._lock:
            self._listeners.discard(listener)

    def close(self) -> None:
        """Stop polling for good (the process is ending) and end the open streams."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
            listeners = list(self._listeners)
        for listener in listeners:
            with contextlib.suppress(RuntimeError):  # its loop is closed already
                listener.loop.call_soon_threadsafe(listener.end)
        if thread is not None:
            thread.join(timeout=5 * self.interval_s)

    def listeners(self) -> int:
        """How many streams are open in this process."""
        with self._lock:
            return len(self._listeners)

    def poll(self) -> list[tuple[Event, str]]:
        """One poll of every tail: the new events with the cursor after each, sent to the listeners in scope.

        More than BURST new events at once (a bulk import) are not streamed one by one: the cursor jumps to the
        newest ids and every listener is told to reload instead.
        """
        now, mono = self.now(), time.monotonic()
        with self.sessions() as session:
            found = self._read(session, now, mono)
            if len(found) > BURST:
                self._skip(session, now)
                return []
        published: list[tuple[Event, str]] = []
        cursor = self._cursor
        for event in found:
            cursor = cursor.after([event])
            published.append((event, cursor.text()))
        with self._lock:
            self._cursor = cursor
            listeners = list(self._listeners)
        for item in published:
            for listener in listeners:
                if listener.wants(item[0]) and item[0].key not in listener.sent:
                    listener.loop.call_soon_threadsafe(listener.push, item)
        return published

    def _read(self, session: Session, now: datetime, mono: float) -> list[Event]:
        """Every tail's events after its newest id seen (and its missed ids), at most BURST + 1 each."""
        found: list[Event] = []
        for name, tail in TAILS.items():
            gaps = self._gaps.setdefault(name, GapTracker(self._cursor.get(name)))
            events = tail(session, gaps.newest, gaps.pending(mono), now, BURST + 1)
            gaps.saw((e.seq for e in events), mono)
            found += events
        return found

    def _skip(self, session: Session, now: datetime) -> None:
        """Jump to the newest ids and send every listener one reset (with that cursor) instead of a flood."""
        cursor = Cursor(newest_ids(session, now))
        with self._lock:
            self._cursor = cursor
            self._gaps = {name: GapTracker(cursor.get(name)) for name in TAILS}
            listeners = list(self._listeners)
        for listener in listeners:
            listener.loop.call_soon_threadsafe(listener.reset, cursor.text())

    def _start(self) -> None:
        """Start polling from the newest ids now (called with the lock held)."""
        with self.sessions() as session:
            self._cursor = Cursor(newest_ids(session, self.now()))
        self._gaps = {name: GapTracker(self._cursor.get(name)) for name in TAILS}
        self._idle_since = None
        self._thread = threading.Thread(target=self._run, name="screen-live", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._should_stop():
            started = time.monotonic()
            try:
                self.poll()
            except Exception:  # a database hiccup: log it and try again at the next tick
                log.warning("screen feed poll failed", exc_info=True)
            time.sleep(max(0.05, self.interval_s - (time.monotonic() - started)))

    def _should_stop(self) -> bool:
        """True (and the thread forgotten) once nobody has listened for IDLE_STOP_S."""
        with self._lock:
            if self._closed:
                return True
            if self._listeners:
                self._idle_since = None
                return False
            now = time.monotonic()
            self._idle_since = self._idle_since or now
            if now - self._idle_since < IDLE_STOP_S:
                return False
            self._thread = None
            return True

    def _catch_up(self, scope_path: str, after: Cursor, upto: Cursor) -> tuple[list[tuple[Event, str]], bool]:
        """The events in scope after `after` up to what the poller published, each with its cursor."""
        now, events, reset = self.now(), [], False
        with self.sessions() as session:
            for name, tail in TAILS.items():
                if after.get(name) >= upto.get(name):
                    continue
                found = tail(session, after.get(name), (), now, CATCH_UP_LIMIT + 1, scope_path)
                reset = reset or len(found) > CATCH_UP_LIMIT
                events += [e for e in found[:CATCH_UP_LIMIT] if e.seq <= upto.get(name)]
        cursor, out = after, []
        for event in sorted(events, key=lambda e: (e.at, e.key)):
            cursor = cursor.after([event])
            out.append((event, cursor.text()))
        return out, reset
