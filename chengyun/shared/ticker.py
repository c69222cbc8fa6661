"""A background thread that runs a job every few seconds inside `chengyun serve` until stopped."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Ticker:
    """Runs `job` every `interval_s` seconds in a daemon thread; a failing run is logged and retried next tick."""

    def __init__(self, job: Callable[[], object], interval_s: float, name: str) -> None:
        self._job = job
        self._interval = interval_s
        self._name = name
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"chengyun-{name}", daemon=True)

    def start(self) -> None:
        """Start the background loop."""
        self._thread.start()

    def stop(self) -> None:
        """Ask the loop to end and wait briefly for it."""
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._job()
            except Exception:  # never kills the server: logged, and the next tick tries again
                log.exception("%s failed", self._name)
