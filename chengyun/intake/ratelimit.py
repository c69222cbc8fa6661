"""A small in-process token bucket per client (IP address) for the anonymous endpoints; pure, time injected.

Each client has `burst` tokens and regains `per_hour` of them an hour, continuously; a request spends one (a
photo upload as well as a report). One process keeps its own buckets: several workers each allow the rate, which is
good enough to stop a script flooding the street's inbox (a shared limiter in Redis is the scale-out answer).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from threading import Lock


@dataclass
class RateLimiter:
    """Token buckets keyed by client; `allow` spends a token or says how many seconds until one is back."""

    burst: int
    per_hour: float
    max_clients: int = 10_000  # the least recently seen clients are forgotten beyond this (they start full again)
    _buckets: OrderedDict[str, tuple[float, float]] = field(default_factory=OrderedDict, init=False)
    _lock: Lock = field(default_factory=Lock, init=False)

    def allow(self, client: str, now: float) -> tuple[bool, float]:
        """(True, 0) when `client` may go on at `now` (seconds, monotonic); else (False, seconds to wait)."""
        if self.burst <= 0:
            return False, float("inf")
        rate = self.per_hour / 3600.0
        with self._lock:
            tokens, seen = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + max(now - seen, 0.0) * rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[client] = (tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        if allowed:
            return True, 0.0
        return False, (1.0 - tokens) / rate if rate > 0 else float("inf")
