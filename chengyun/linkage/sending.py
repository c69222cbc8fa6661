"""Delivering due notifications: lease, send through the channels (a few at once), record, log every attempt.

A due notification is leased first (`next_attempt_at` moved a minute ahead in the same UPDATE that picks it), so
a concurrent runner skips it; the sends of one batch run in a small thread pool, so a slow robot does not hold up
the SMS to the fire brigade; each outcome is written with its delivery-log row in one short transaction.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, insert, select, update

from chengyun.adapters.notify import DeliveryResult, Message, Notifier, Recipient
from chengyun.errors import DomainError
from chengyun.linkage.channels import ChannelKind
from chengyun.linkage.messages import with_link
from chengyun.linkage.policy import LEASE, NoticeStatus, after_attempt
from chengyun.linkage.tables import LinkageRunRow, NotificationAttemptRow, NotificationRow
from chengyun.shared.privacy import PersonalDataVault

log = logging.getLogger("chengyun.linkage")
N, R = NotificationRow, LinkageRunRow


@dataclass
class DeliveryReport:
    """What one `deliver_due` run did."""

    attempted: int = 0
    sent: int = 0
    logged: int = 0  # accepted by the SMS logging sink: recorded, not sent
    retrying: int = 0
    failed: int = 0


class Dispatcher:
    """Sends due notifications and records the outcomes."""

    def __init__(self, engine: Engine, vault: PersonalDataVault, notifier: Notifier,
                 ack_url: Callable[[int, datetime], str | None], locale: str, workers: int = 8) -> None:
        self._engine, self._vault, self._notifier = engine, vault, notifier
        self._ack_url, self._locale, self._workers = ack_url, locale, workers

    def deliver_due(self, now: datetime, limit: int = 200) -> DeliveryReport:
        """Send up to `limit` due notifications; failures wait (15 s doubling to 10 min) or give up."""
        report = DeliveryReport()
        leased = self._lease(now, limit)
        if not leased:
            return report
        with ThreadPoolExecutor(max_workers=max(1, min(self._workers, len(leased))),
                                thread_name_prefix="chengyun-notify") as pool:
            futures = {pool.submit(self._send, row, now): row for row in leased}
            for future in as_completed(futures):
                result, duration_ms = future.result()
                self._record(futures[future], result, duration_ms, now, report)
        return report

    def _lease(self, now: datetime, limit: int) -> list[Any]:
        due = (select(N.id).where(N.status == NoticeStatus.PENDING.value, N.next_attempt_at <= now)
               .order_by(N.next_attempt_at, N.id).limit(limit))
        with self._engine.begin() as conn:
            ids = list(conn.scalars(due))
            if not ids:
                return []
            stmt = (update(N).where(N.id.in_(ids), N.status == NoticeStatus.PENDING.value, N.next_attempt_at <= now)
                    .values(next_attempt_at=now + LEASE)
                    .returning(N.id, N.run_id, N.channel, N.user_id, N.target_encrypted, N.title, N.message,
                               N.markdown, N.attempts, N.recipient_label))
            return list(conn.execute(stmt).all())

    def _send(self, row: Row[Any], now: datetime) -> tuple[DeliveryResult, float]:
        """One attempt (in a pool thread): no database access here."""
        started = time.perf_counter()
        recipient = self._recipient(row)
        if recipient is None:
            return DeliveryResult.failed("the address cannot be decrypted (instance secret changed)",
                                         retryable=False), 0.0
        message = Message(row.title, row.message, row.markdown)
        if row.channel != ChannelKind.IN_APP:
            message = with_link(message, self._ack_url(row.id, now), self._locale)
        result = self._notifier.send(message, recipient)
        return result, (time.perf_counter() - started) * 1000

    def _recipient(self, row: Row[Any]) -> Recipient | None:
        target: dict[str, Any] = {}
        if row.target_encrypted:
            try:
                target = json.loads(self._vault.decrypt(row.target_encrypted))
            except DomainError:
                return None
        return Recipient(row.channel, str(target.get("address", "")), row.recipient_label, target.get("secret"),
                         tuple(target.get("mentions") or ()), str(target.get("msgtype", "markdown")), row.user_id)

    def _record(self, row: Row[Any], result: DeliveryResult, duration_ms: float, now: datetime,
                report: DeliveryReport) -> None:
        attempts = row.attempts + 1
        status, next_at = after_attempt(result.ok, result.sink, result.retryable, attempts, now)
        with self._engine.begin() as conn:
            conn.execute(update(N).where(N.id == row.id, N.status == NoticeStatus.PENDING.value).values(
                status=status.value, attempts=attempts, next_attempt_at=next_at, last_status=result.status_code,
                last_error=None if result.ok else result.error, sent_at=now if result.ok else None))
            conn.execute(insert(NotificationAttemptRow).values(
                notification_id=row.id, attempt=attempts, at=now, ok=result.ok, sink=result.sink,
                status_code=result.status_code, error=None if result.ok else result.error,
                duration_ms=round(duration_ms, 3)))
            if result.ok:
                conn.execute(update(R).where(R.id == row.run_id, R.first_notified_at.is_(None))
                             .values(first_notified_at=now))
        report.attempted += 1
        report.sent += status == NoticeStatus.SENT
        report.logged += status == NoticeStatus.LOGGED
        report.retrying += status == NoticeStatus.PENDING
        report.failed += status == NoticeStatus.FAILED
        if status == NoticeStatus.FAILED:
            log.warning("linkage notification %s (%s) failed after %s attempts: %s", row.id, row.channel, attempts,
                        result.error)
