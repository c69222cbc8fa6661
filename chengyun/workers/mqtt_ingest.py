"""The MQTT ingest worker: messages from the consumer's queue through the pipeline, in batches.

One processing thread (this loop) and paho's network thread. Each round takes up to `max_messages` queued
messages, checks them, and, when they produced transitions or quarantine records, flushes those to their sinks
before acknowledging the round's messages: a message whose alarm was not stored is never acknowledged. Under load
the rounds are full (one sink call per 500 messages); when traffic is light a round is one message, so an alarm
waits for nothing. Every second the engine ticks (offline, inactivity, windows) and last-seen times go to the
device service; every few seconds the counters are stored. A sink that fails is retried with back-off while the
queue absorbs the traffic (and sheds, visibly, once full).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from chengyun.adapters.mqtt import Chunk
from chengyun.ingest.model import CounterSnapshot
from chengyun.ingest.pipeline import Pipeline

if TYPE_CHECKING:
    from chengyun.bootstrap import Container

log = logging.getLogger("chengyun.ingest.worker")


class Source(Protocol):
    """Where queued messages come from and go back to when processed (`MqttConsumer`)."""

    def take(self, max_items: int = 500, timeout: float = 0.05) -> list[Chunk]: ...

    def ack(self, generation: int, mids: list[int]) -> None: ...


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    """How the worker batches: messages per round, the wait for a first message, and the periodic jobs."""

    max_messages: int = 500
    max_wait_s: float = 0.05
    tick_every_s: float = 1.0
    seen_every_s: float = 1.0
    stats_every_s: float = 5.0
    refresh_every_s: float = 1.0
    freeze_every_s: float = 10.0
    max_backoff_s: float = 5.0


@dataclass
class IngestWorker:
    """Runs the pipeline over a message source until stopped."""

    source: Source
    pipeline: Pipeline
    policy: BatchPolicy = field(default_factory=BatchPolicy)
    clock: Callable[[], float] = time.time
    on_stats: Callable[[CounterSnapshot], object] | None = None  # e.g. store the counters for the CLI
    refresh: Callable[[], object] | None = None  # e.g. let the device directory pick up changes
    rounds: int = 0
    _due: dict[str, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _frozen_at: int = 0

    def run(self, stop: threading.Event) -> None:
        """Process until `stop` is set, then flush what was processed (one last try) and run the periodic jobs."""
        self._stop = stop
        while not stop.is_set():
            self.step()
        self._flush_until_done()
        self._periodic(force=True)

    def step(self) -> int:
        """One round: take, check, flush what must be durable, acknowledge; then the periodic jobs. Messages."""
        chunks = self.source.take(self.policy.max_messages, self.policy.max_wait_s)
        handled = 0
        for received_at, _, items in chunks:
            self.pipeline.handle_many([(topic, payload) for topic, payload, _ in items], received_at)
            handled += len(items)
        if self.pipeline.pending and not self._flush_until_done():
            return handled  # stopping with a batch unstored: its messages stay unacknowledged (redelivered)
        for _, generation, items in chunks:
            self.source.ack(generation, [mid for _, _, mid in items if mid])
        self.rounds += 1
        self._periodic()
        return handled

    def _flush_until_done(self) -> bool:
        """Flush, retrying with back-off until it succeeds or the worker is stopping; whether it succeeded."""
        backoff = 0.1
        while True:
            try:
                self.pipeline.flush()
                return True
            except Exception:
                log.exception("storing a batch failed; retrying in %.1f s", backoff)
                if self._stop.wait(backoff):
                    return False
                backoff = min(backoff * 2, self.policy.max_backoff_s)

    def _periodic(self, force: bool = False) -> None:
        now = self.clock()
        p = self.policy
        if self._is_due("refresh", now, p.refresh_every_s, force) and self.refresh is not None:
            self._quietly("directory refresh", self.refresh)
        if self._is_due("tick", now, p.tick_every_s, force) and self.pipeline.tick(now):
            self._flush_until_done()
        if self._is_due("seen", now, p.seen_every_s, force):
            self._quietly("marking devices seen", self.pipeline.flush_seen)
        if self._is_due("freeze", now, p.freeze_every_s, force):
            self._freeze()
        if self._is_due("stats", now, p.stats_every_s, force) and self.on_stats is not None:
            snapshot = self.pipeline.counters()
            on_stats = self.on_stats
            self._quietly("storing counters", lambda: on_stats(snapshot))

    def _freeze(self) -> None:
        """Move what exists now out of the cyclic collector's reach once the devices seen grew by a tenth: the
        per-device state is long-lived, and full collections scanning it paused the worker for 100-300 ms at
        100,000 devices (the latency tail). Garbage already unreachable at that instant is kept, once."""
        devices = len(self.pipeline.window)
        if devices > self._frozen_at * 1.1 + 1000:
            gc.freeze()
            self._frozen_at = devices

    def _is_due(self, job: str, now: float, every: float, force: bool) -> bool:
        if force or now >= self._due.get(job, 0.0):
            self._due[job] = now + every
            return True
        return False

    @staticmethod
    def _quietly(what: str, job: Callable[[], object]) -> None:
        try:
            job()
        except Exception:
            log.exception("%s failed (tried again at the next interval)", what)


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """How one ingest worker process connects: broker, shared-subscription group (None: a plain subscription),
    its id, an optional partition (k of n: only devices with `partition_of(id, n) == k`) and its queue."""

    broker_url: str
    worker_id: str
    group: str | None = "chengyun"
    partition: tuple[int, int] | None = None
    queue_size: int = 20_000
    receive_maximum: int = 65_535
    session_expiry_s: int = 0
    policy: BatchPolicy = field(default_factory=BatchPolicy)


def run_ingest(container: Container, options: WorkerOptions, stop: threading.Event,
               ready: Callable[[], object] | None = None) -> CounterSnapshot:
    """Run one worker until `stop` is set: the container's devices, rules and alarms behind the pipeline; the
    final counters. `Unavailable` when the broker cannot be reached at start."""
    from chengyun.adapters.mqtt import Broker, MqttConsumer
    from chengyun.ingest.model import partition_of, subscription
    from chengyun.ingest.repository import QuarantineStore
    from chengyun.ingest.service import make_pipeline

    store = QuarantineStore(container.engine)
    pipeline = make_pipeline(container, worker_id=options.worker_id)
    gc.collect()
    gc.freeze()  # the device directory is long-lived: keep it out of the collector's scans (latency tail)
    started = time.time()
    accept = None
    if options.partition is not None:
        k, n = options.partition

        def accept(topic: bytes) -> bool:
            parts = topic.split(b"/")
            return len(parts) != 4 or partition_of(parts[2].decode(errors="replace"), n) == k

    consumer = MqttConsumer(
        Broker.parse(options.broker_url), client_id=f"chengyun-ingest-{options.worker_id}",
        topic_filter=subscription(None if options.partition else options.group),
        on_shed=lambda shed, at: pipeline.shed([(t, p) for t, p, _ in shed], at, reason={"queue": options.queue_size}),
        queue_size=options.queue_size, receive_maximum=options.receive_maximum,
        session_expiry_s=options.session_expiry_s, accept=accept)
    worker = IngestWorker(consumer, pipeline, options.policy,
                          on_stats=lambda c: store.save_counters(options.worker_id, started, time.time(), c),
                          refresh=container.devices.directory)
    consumer.start()
    log.info("ingest worker %s running (%s)", options.worker_id, consumer.topic_filter)
    try:
        if ready is not None:
            ready()
        worker.run(stop)
    finally:
        consumer.stop()
    return pipeline.counters()
