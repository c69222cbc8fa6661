"""Storage of ingestion: quarantine records written in batches, worker counters, and the reads of the CLI."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update

from chengyun.ingest.model import CounterSnapshot, QuarantineRecord
from chengyun.ingest.tables import QuarantineRow, WorkerStatsRow

MAX_PARAM_TEXT = 200


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _jsonable(params: Mapping[str, Any]) -> dict[str, Any]:
    """Params as JSON can store them: numbers, booleans and None kept, anything else as (short) text."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None or isinstance(value, bool | int | float):
            out[str(key)] = value
        else:
            out[str(key)] = str(value)[:MAX_PARAM_TEXT]
    return out


@dataclass(frozen=True, slots=True)
class QuarantinedMessage:
    """A stored refusal as the CLI and the API show it."""

    id: int
    topic: str
    payload: bytes
    size: int
    device_id: str | None
    reason: str
    params: Mapping[str, Any]
    received_at: datetime
    worker_id: str


@dataclass(frozen=True, slots=True)
class WorkerStats:
    """One worker's latest stored counters."""

    worker_id: str
    started_at: datetime
    updated_at: datetime
    counters: CounterSnapshot


class QuarantineStore:
    """The `ingest_quarantine` and `ingest_workers` tables; every write is one short transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, records: Sequence[QuarantineRecord]) -> int:
        """Store a batch of refused messages in one statement; how many."""
        if not records:
            return 0
        rows = [{"topic": r.topic, "payload": r.payload, "size": r.size, "device_id": r.device_id,
                 "reason": r.code, "params": _jsonable(r.params), "received_at": _utc(r.received_at),
                 "worker_id": r.worker_id} for r in records]
        with self.engine.begin() as conn:
            conn.execute(insert(QuarantineRow), rows)
        return len(rows)

    def save_counters(self, worker_id: str, started_at: float, now: float, counters: CounterSnapshot) -> None:
        """Replace the worker's stored counters (one row per worker id)."""
        values = {"updated_at": _utc(now), "counters": counters.as_dict(), "started_at": _utc(started_at)}
        with self.engine.begin() as conn:
            done = conn.execute(update(WorkerStatsRow).where(WorkerStatsRow.worker_id == worker_id).values(values))
            if not done.rowcount:
                conn.execute(insert(WorkerStatsRow).values(worker_id=worker_id, **values))

    def recent(self, *, limit: int = 50, reason: str | None = None, device_id: str | None = None,
               since: datetime | None = None) -> list[QuarantinedMessage]:
        """The latest refusals first, optionally of one reason, one device, or after a moment."""
        query = select(QuarantineRow).order_by(QuarantineRow.id.desc()).limit(max(1, min(limit, 1000)))
        if reason:
            query = query.where(QuarantineRow.reason == reason)
        if device_id:
            query = query.where(QuarantineRow.device_id == device_id)
        if since is not None:
            query = query.where(QuarantineRow.received_at >= since)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [QuarantinedMessage(r.id, r.topic, bytes(r.payload), r.size, r.device_id, r.reason, r.params or {},
                                   r.received_at, r.worker_id) for r in rows]

    def counts(self, *, since: datetime | None = None) -> dict[str, int]:
        """Stored refusals per reason code, most frequent first."""
        query = select(QuarantineRow.reason, func.count()).group_by(QuarantineRow.reason)
        if since is not None:
            query = query.where(QuarantineRow.received_at >= since)
        with self.engine.connect() as conn:
            pairs = [(str(reason), int(n)) for reason, n in conn.execute(query)]
        return dict(sorted(pairs, key=lambda p: (-p[1], p[0])))

    def workers(self) -> list[WorkerStats]:
        """Every worker's latest counters, most recently updated first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(WorkerStatsRow).order_by(WorkerStatsRow.updated_at.desc())).all()
        return [WorkerStats(r.worker_id, r.started_at, r.updated_at, CounterSnapshot.from_dict(r.counters or {}))
                for r in rows]

    def prune(self, before: datetime) -> int:
        """Delete refusals received before `before`; how many."""
        with self.engine.begin() as conn:
            return int(conn.execute(delete(QuarantineRow).where(QuarantineRow.received_at < before)).rowcount or 0)
