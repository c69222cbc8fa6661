"""The in-process live hub: wakes a user's open server-sent-event streams when something new is stored for them.

It carries no data — the stream reads the new rows itself — so a wake-up lost between processes costs at most
one poll interval (the stream also polls the database), and one delivered twice shows nothing twice.
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType


class Subscription:
    """One open stream's wake-up flag, bound to the event loop it was created in."""

    def __init__(self, hub: LiveHub, user_id: int, loop: asyncio.AbstractEventLoop) -> None:
        self.hub, self.user_id, self.loop = hub, user_id, loop
        self.event = asyncio.Event()

    async def wait(self, timeout_s: float) -> bool:
        """True when woken within `timeout_s`, False on timeout; the flag is cleared either way."""
        try:
            await asyncio.wait_for(self.event.wait(), timeout_s)
            return True
        except TimeoutError:
            return False
        finally:
            self.event.clear()

    def wake(self) -> None:
        """Set the flag from any thread."""
        try:
            self.loop.call_soon_threadsafe(self.event.set)
        except RuntimeError:  # the loop has closed: the stream is gone
            self.hub.unsubscribe(self)

    def close(self) -> None:
        """Stop receiving wake-ups."""
        self.hub.unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


class LiveHub:
    """Thread-safe fan-out of "new for user N" to that user's subscriptions in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: dict[int, set[Subscription]] = {}

    def subscribe(self, user_id: int) -> Subscription:
        """A subscription for the running event loop (call from inside it)."""
        sub = Subscription(self, user_id, asyncio.get_running_loop())
        with self._lock:
            self._subs.setdefault(user_id, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Forget a subscription (idempotent)."""
        with self._lock:
            subs = self._subs.get(sub.user_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[sub.user_id]

    def publish(self, user_id: int) -> int:
        """Wake every open stream of the user; returns how many were woken."""
        with self._lock:
            subs = list(self._subs.get(user_id, ()))
        for sub in subs:
            sub.wake()
        return len(subs)

    def listeners(self, user_id: int | None = None) -> int:
        """How many streams are open (for one user, or in all)."""
        with self._lock:
            if user_id is not None:
                return len(self._subs.get(user_id, ()))
            return sum(len(s) for s in self._subs.values())
