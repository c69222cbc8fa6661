"""One device message in, one outcome out: topic, device, type, payload, credential, idempotency, rule engine.

The pipeline owns no I/O: the directory, the payload reader, the rule engine and the three sinks (transitions,
last-seen times, quarantine records) are injected. Anything a message can do wrong is counted and quarantined with
a precise reason; nothing a message contains can raise out of `handle`. Transitions, last-seen times and records
wait in memory until `flush`/`flush_seen` hands them on in batches; a sink that fails keeps its batch for the next
try (the worker acknowledges messages only after the batch that holds their transitions was stored).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from chengyun.alarms.signals import Transition
from chengyun.devices.model import DeviceFacts, MessageKind, Reading
from chengyun.errors import DomainError
from chengyun.ingest.model import (
    ACCEPTED,
    BAD_CREDENTIAL,
    DUPLICATE,
    ENGINE_FAILED,
    INTERNAL,
    NO_CREDENTIAL,
    SHED,
    TYPE_MISMATCH,
    UNKNOWN_DEVICE,
    WINDOW_SIZE,
    Counters,
    CounterSnapshot,
    IdempotencyWindow,
    Outcome,
    QuarantineRecord,
    Status,
    parse_topic,
    quarantine_record,
)

log = logging.getLogger("chengyun.ingest")

MAX_PENDING_RECORDS = 10_000  # quarantine records waiting for the store; beyond, messages are only counted
LOG_EVERY_S = 10.0


class Directory(Protocol):
    """The devices the pipeline accepts (the device service's in-memory `DeviceDirectory`)."""

    def facts(self, device_id: str) -> DeviceFacts | None: ...

    def type_of(self, device_id: str) -> Any: ...

    def verify(self, device_id: str, token: str | None) -> bool: ...


class Reader(Protocol):
    """Checks a payload against the device type: `chengyun.devices.payload.read_message`."""

    def __call__(self, device_type: Any, device_id: str, kind: MessageKind, payload: bytes, *,
                 now: float | None = None) -> tuple[Reading, str | None]: ...


class Engine(Protocol):
    """The rule engine: `chengyun.alarms.engine.RuleEngine`."""

    def feed(self, reading: Reading, device: DeviceFacts) -> list[Transition]: ...

    def tick(self, now: float) -> list[Transition]: ...


TransitionSink = Callable[[list[Transition]], object]  # e.g. the alarm service's batch apply
SeenSink = Callable[[Mapping[str, float]], object]  # device id -> epoch seconds, e.g. DeviceService.mark_seen
QuarantineSink = Callable[[list[QuarantineRecord]], object]  # e.g. QuarantineStore.add


@dataclass(frozen=True, slots=True)
class Flushed:
    """What one flush handed on."""

    transitions: int
    records: int


class Pipeline:
    """Checks device messages and feeds the rule engine; thread-safe (one lock), meant for one consumer thread
    plus occasional HTTP requests."""

    def __init__(self, directory: Directory, reader: Reader, engine: Engine, sink: TransitionSink, *,
                 mark_seen: SeenSink | None = None, quarantine: QuarantineSink | None = None,
                 worker_id: str = "w1", window: int = WINDOW_SIZE,
                 max_pending_records: int = MAX_PENDING_RECORDS) -> None:
        self.directory = directory
        self.reader = reader
        self.engine = engine
        self.sink = sink
        self.mark_seen = mark_seen
        self.quarantine = quarantine
        self.worker_id = worker_id
        self.window = IdempotencyWindow(window)
        self.max_pending_records = max_pending_records
        self._counters = Counters()
        self._unrecorded = 0
        self._transitions: list[Transition] = []
        self._seen: dict[str, float] = {}
        self._records: list[QuarantineRecord] = []
        self._lock = threading.Lock()
        self._logged = 0.0

    # --- messages -----------------------------------------------------------------------------------

    def handle(self, topic: str | bytes, payload: bytes, received_at: float) -> Outcome:
        """The outcome of one message received at `received_at` (UTC epoch seconds); never raises."""
        with self._lock:
            return self._guarded(topic, payload, received_at)

    def handle_many(self, messages: Iterable[tuple[str | bytes, bytes]], received_at: float) -> int:
        """Several messages received together (one lock for all); how many were accepted."""
        accepted = 0
        with self._lock:
            for topic, payload in messages:
                if self._guarded(topic, payload, received_at).status is Status.ACCEPTED:
                    accepted += 1
        return accepted

    def shed(self, messages: Iterable[tuple[str | bytes, bytes]], received_at: float, *,
             reason: Mapping[str, Any] | None = None) -> int:
        """Count and record messages dropped unprocessed (the consumer's queue was full); how many."""
        n = 0
        with self._lock:
            for topic, payload in messages:
                n += 1
                self._counters.shed += 1
                self._keep(quarantine_record(topic, payload, SHED, reason or {}, received_at, self.worker_id))
        if n:
            self._warn(f"shed {n} messages: the ingest queue is full")
        return n

    def tick(self, now: float) -> int:
        """Let the engine act on due deadlines (offline, inactivity, windows); how many transitions it produced."""
        with self._lock:
            try:
                produced = self.engine.tick(now)
            except Exception:
                log.exception("rule engine tick failed")
                return 0
            self._transitions.extend(produced)
            self._counters.transitions += len(produced)
            return len(produced)

    def _guarded(self, topic: str | bytes, payload: bytes, received_at: float) -> Outcome:
        try:
            return self._handle(topic, payload, received_at)
        except Exception as exc:  # a defect in a checker must never stop the consumer: quarantine and go on
            log.exception("ingest check failed")
            return self._refuse(topic, payload, received_at, INTERNAL, {"error": type(exc).__name__}, None)

    def check(self, topic: str | bytes, payload: bytes, received_at: float) -> Outcome:
        """Check a message without de-duplicating or feeding it (a gateway that forwards to the workers)."""
        with self._lock:
            try:
                checked = self._check(topic, payload, received_at)
            except Exception as exc:
                log.exception("ingest check failed")
                return self._refuse(topic, payload, received_at, INTERNAL, {"error": type(exc).__name__}, None)
            return checked if isinstance(checked, Outcome) else ACCEPTED

    def _handle(self, topic: str | bytes, payload: bytes, received_at: float) -> Outcome:
        checked = self._check(topic, payload, received_at)
        if isinstance(checked, Outcome):
            return checked
        reading, facts = checked
        if self.window.seen(reading.device_id, reading.msg_id):
            self._counters.duplicate += 1
            return DUPLICATE
        return self._feed(topic, payload, received_at, reading, facts)

    def _check(self, topic: str | bytes, payload: bytes, received_at: float) -> Outcome | tuple[Reading, DeviceFacts]:
        """The reading and its device, or the refusal (already counted and kept)."""
        try:
            device_type, device_id, kind = parse_topic(topic)
        except DomainError as exc:
            return self._refuse(topic, payload, received_at, exc.code, exc.params, None)
        directory = self.directory
        facts = directory.facts(device_id)
        if facts is None:
            return self._refuse(topic, payload, received_at, UNKNOWN_DEVICE, {"device_id": device_id}, device_id)
        if facts.type_code != device_type:
            return self._refuse(topic, payload, received_at, TYPE_MISMATCH,
                                {"device_id": device_id, "topic_type": device_type, "device_type": facts.type_code},
                                device_id)
        try:
            reading, token = self.reader(directory.type_of(device_id), device_id, kind, payload, now=received_at)
        except DomainError as exc:
            return self._refuse(topic, payload, received_at, exc.code, exc.params, device_id)
        if not directory.verify(device_id, token):
            code = NO_CREDENTIAL if not token else BAD_CREDENTIAL
            return self._refuse(topic, payload, received_at, code, {"device_id": device_id}, device_id)
        return reading, facts

    def _feed(self, topic: str | bytes, payload: bytes, received_at: float, reading: Reading,
              facts: DeviceFacts) -> Outcome:
        try:
            produced = self.engine.feed(reading, facts)
        except Exception as exc:
            log.exception("rule engine failed on a reading of %s", reading.device_id)
            return self._refuse(topic, payload, received_at, ENGINE_FAILED, {"error": type(exc).__name__},
                                reading.device_id)
        self.window.add(reading.device_id, reading.msg_id)
        self._seen[reading.device_id] = received_at
        self._counters.accepted += 1
        if not produced:
            return ACCEPTED
        self._transitions.extend(produced)
        self._counters.transitions += len(produced)
        return Outcome(Status.ACCEPTED, transitions=tuple(produced))

    def _refuse(self, topic: str | bytes, payload: bytes, received_at: float, code: str, params: Mapping[str, Any],
                device_id: str | None) -> Outcome:
        self._counters.refuse(code)
        self._keep(quarantine_record(topic, payload, code, params, received_at, self.worker_id, device_id))
        return Outcome(Status.QUARANTINED, code, params)

    def _keep(self, record: QuarantineRecord) -> None:
        if len(self._records) < self.max_pending_records:
            self._records.append(record)
        else:
            self._unrecorded += 1

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._logged >= LOG_EVERY_S:
            self._logged = now
            log.warning("%s (counters: %s)", message, self.counters().as_dict())

    # --- batches out ---------------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Transitions and quarantine records waiting for `flush`."""
        return len(self._transitions) + len(self._records)

    def flush(self) -> Flushed:
        """Hand the waiting transitions to the sink and the records to the quarantine store, in that order.

        A sink that raises gets the same batch (plus newer items) next time; the error propagates to the caller."""
        with self._lock:
            transitions, self._transitions = self._transitions, []
            records, self._records = self._records, []
        try:
            if transitions:
                self.sink(transitions)
        except BaseException:
            with self._lock:
                self._transitions[:0] = transitions
                self._records[:0] = records
            raise
        if records and self.quarantine is not None:
            try:
                self.quarantine(records)
            except BaseException:
                with self._lock:
                    room = max(0, self.max_pending_records - len(self._records))
                    self._unrecorded += max(0, len(records) - room)
                    self._records[:0] = records[:room]
                raise
        return Flushed(len(transitions), len(records) if self.quarantine is not None else 0)

    def flush_seen(self) -> int:
        """Hand the last-seen times gathered since the last call to `mark_seen` (kept for the next try on error)."""
        with self._lock:
            seen, self._seen = self._seen, {}
        if not seen or self.mark_seen is None:
            return 0
        try:
            self.mark_seen(seen)
        except BaseException:
            with self._lock:
                for device_id, at in seen.items():
                    if self._seen.get(device_id, 0.0) < at:
                        self._seen[device_id] = at
            raise
        return len(seen)

    def counters(self) -> CounterSnapshot:
        """The counts so far."""
        return self._counters.snapshot()

    @property
    def unrecorded(self) -> int:
        """Quarantined or shed messages counted but not kept as records (the pending list was full)."""
        return self._unrecorded
