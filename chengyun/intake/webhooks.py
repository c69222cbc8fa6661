"""Outbound webhooks (回传): an upstream system gets every step of the cases it sent, signed, retried and logged.

`enqueue_changes` scans the cases changed since a webhook's newest delivery (with a look-back for transactions still
in flight) and adds one pending delivery per step not yet queued; the unique (webhook, case, version) makes a second
run, or a concurrent one, insert nothing. `deliver_due` POSTs only the head of each case's queue, so an upstream
system sees version 5 only after version 4 was accepted. No delivery row is written in the loop's hot path.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx2 as httpx
from sqlalchemy import Connection, Engine, Row, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, sessionmaker

import chengyun
from chengyun.audit import AuditLog, record
from chengyun.cases.tables import CaseRow, TimelineRow
from chengyun.errors import Conflict, DomainError, Invalid, NotFound
from chengyun.intake import delivery as policy
from chengyun.intake.delivery import DeliveryState, Step
from chengyun.intake.tables import DeliveryRow, WebhookRow
from chengyun.shared.clock import Clock
from chengyun.shared.privacy import PersonalDataVault

log = logging.getLogger("chengyun.webhooks")
LOOK_BACK = timedelta(minutes=5)  # steps committed late (long transactions) are still found
LEASE = timedelta(minutes=2)  # a delivery being sent is not picked by a concurrent runner meanwhile
CHUNK = 200
USER_AGENT = f"chengyun-webhooks/{chengyun.__version__}"
D, W = DeliveryRow, WebhookRow


@dataclass(frozen=True, slots=True)
class WebhookInfo:
    """A registered webhook as admins see it (never the secret), with its delivery counts."""

    system: str
    url: str
    active: bool
    created_at: datetime
    pending: int = 0
    delivered: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class DeliveryInfo:
    """One entry of the delivery log."""

    id: int
    case_number: str
    case_version: int
    action: str
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any]


@dataclass
class DeliveryReport:
    """What one `deliver_due` run did."""

    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    gave_up: int = 0


@dataclass
class WebhookService:
    """Registration, the change scan, delivery with retries, and the log."""

    sessions: sessionmaker[Session]
    clock: Clock
    vault: PersonalDataVault
    audit: AuditLog
    timezone: str = "Asia/Shanghai"
    timeout_s: float = policy.TIMEOUT_S

    def __post_init__(self) -> None:
        self._engine: Engine = self.sessions.kw["bind"]
        self._tz = ZoneInfo(self.timezone)

    # --- administration ----------------------------------------------------------------------

    def register(self, system: str, url: str, secret: str, *, actor: str, actor_id: int | None = None) -> WebhookInfo:
        """Add the system's webhook, or change its URL and secret and reactivate it; the secret is stored encrypted."""
        system, url = policy.check_system(system), policy.check_url(url)
        encrypted = self.vault.encrypt(policy.check_secret(secret))
        try:
            with self.sessions.begin() as session:
                row = session.scalar(select(W).where(W.system == system))
                created = row is None
                if row is None:
                    row = WebhookRow(system=system, created_at=self.clock.now())
                    session.add(row)
                row.url, row.secret_encrypted, row.active = url, encrypted, True
                session.flush()
                record(session, self.clock, action="webhooks.register", actor=actor, actor_id=actor_id,
                       target=f"webhook:{system}", url=url, created=created)
                return _info(row)
        except IntegrityError as exc:  # registered concurrently under the same name
            raise Conflict("webhooks.changed", system=system) from exc

    def deactivate(self, system: str, *, actor: str, actor_id: int | None = None) -> WebhookInfo:
        """Stop scanning and sending for this system; its log is kept and registering again resumes it."""
        with self.sessions.begin() as session:
            row = self._hook(session, system)
            row.active = False
            record(session, self.clock, action="webhooks.deactivate", actor=actor, actor_id=actor_id,
                   target=f"webhook:{row.system}")
            return _info(row)

    def list(self) -> list[WebhookInfo]:
        """Every webhook with its pending, delivered and failed counts."""
        with self.sessions() as session:
            counts: dict[int, dict[str, int]] = {}
            for hook_id, state, n in session.execute(select(D.webhook_id, D.state, func.count())
                                                     .group_by(D.webhook_id, D.state)):
                counts.setdefault(hook_id, {})[state] = n
            rows = session.scalars(select(W).order_by(W.system)).all()
            return [_info(row, counts.get(row.id, {})) for row in rows]

    def deliveries(self, system: str, *, state: str | None = None,
                   limit: int = 100) -> builtins.list[DeliveryInfo]:
        """The system's delivery log, newest first, optionally only one state."""
        if state is not None and state not in set(DeliveryState):
            raise Invalid("webhooks.bad_state", state=state[:20])
        with self.sessions() as session:
            hook = self._hook(session, system)
            stmt = select(D).where(D.webhook_id == hook.id).order_by(D.id.desc()).limit(max(1, min(limit, 500)))
            if state is not None:
                stmt = stmt.where(D.state == state)
            return [_delivery(row) for row in session.scalars(stmt)]

    def retry(self, delivery_id: int, *, actor: str = "system", actor_id: int | None = None) -> DeliveryInfo:
        """Make a failed (or waiting) delivery due now with a fresh set of attempts."""
        with self.sessions.begin() as session:
            row = session.get(D, delivery_id)
            if row is None:
                raise NotFound("webhooks.delivery_not_found", delivery=delivery_id)
            if row.state == DeliveryState.DELIVERED:
                raise Conflict("webhooks.already_delivered", delivery=delivery_id)
            row.state, row.attempts, row.next_attempt_at = DeliveryState.PENDING.value, 0, self.clock.now()
            record(session, self.clock, action="webhooks.retry", actor=actor, actor_id=actor_id,
                   target=f"delivery:{delivery_id}", case=row.payload.get("case_number"), version=row.case_version)
            return _delivery(row)

    @staticmethod
    def _hook(session: Session, system: str) -> WebhookRow:
        row = session.scalar(select(W).where(W.system == system.strip()))
        if row is None:
            raise NotFound("webhooks.not_found", system=system[:60])
        return row

    # --- the change scan ---------------------------------------------------------------------

    def enqueue_changes(self) -> int:
        """Queue one pending delivery per step (seq > 0) of each upstream case not queued yet; returns how many."""
        with self._engine.connect() as conn:
            hooks = conn.execute(select(W.id, W.system).where(W.active).order_by(W.id)).all()
        return sum(self._enqueue(hook_id, system) for hook_id, system in hooks)

    def _enqueue(self, hook_id: int, system: str) -> int:
        now = self.clock.now()
        added = 0
        with self._engine.begin() as conn:
            newest = conn.scalar(select(func.max(D.created_at)).where(D.webhook_id == hook_id))
            since = newest - LOOK_BACK if newest is not None else None
            behind = _behind(conn, hook_id, system, since)
            for start in range(0, len(behind), CHUNK):
                cases = behind[start:start + CHUNK]
                added += _insert_missing(conn, self._new_rows(conn, hook_id, system, cases, now))
        return added

    def _new_rows(self, conn: Connection, hook_id: int, system: str, cases: Sequence[Row[Any]],
                  now: datetime) -> builtins.list[dict[str, Any]]:
        """Delivery rows for the steps of these cases that this webhook has not queued yet."""
        ids = [case.id for case in cases]
        have = {(case_id, version) for case_id, version in conn.execute(
            select(D.case_id, D.case_version).where(D.webhook_id == hook_id, D.case_id.in_(ids)))}
        steps: dict[int, list[Step]] = {}
        for r in conn.execute(select(TimelineRow).where(TimelineRow.case_id.in_(ids), TimelineRow.seq > 0)
                              .order_by(TimelineRow.case_id, TimelineRow.seq)).mappings():
            steps.setdefault(r["case_id"], []).append(
                Step(r["seq"], r["action"], r["from_state"], r["to_state"], r["at"], r["note"], r["data"] or {}))
        rows = []
        for case in cases:
            for data in policy.payloads(system, case.external_id, case.number, steps.get(case.id, []), self._tz):
                if (case.id, data["version"]) not in have:
                    rows.append({"webhook_id": hook_id, "case_id": case.id, "case_version": data["version"],
                                 "payload": data, "state": DeliveryState.PENDING.value, "attempts": 0,
                                 "next_attempt_at": now, "created_at": now})
        return rows

    # --- delivery ----------------------------------------------------------------------------

    def deliver_due(self, limit: int = 100) -> DeliveryReport:
        """POST up to `limit` due deliveries, each case's steps in order; a failing webhook waits for the next run."""
        report = DeliveryReport()
        resting: set[int] = set()  # webhooks that failed in this run: one slow or dead receiver costs one timeout
        secrets: dict[int, str | None] = {}
        batch = self._due(limit, resting)
        if not batch:
            return report  # the usual tick: no client built
        with httpx.Client(timeout=self.timeout_s, follow_redirects=False,
                          headers={"User-Agent": USER_AGENT}) as client:
            while batch:
                for due in batch:
                    if due.webhook_id not in resting and not self._attempt(client, due, secrets, report):
                        resting.add(due.webhook_id)
                batch = self._due(limit - report.attempted, resting) if report.attempted < limit else []
        return report

    def _due(self, limit: int, resting: set[int]) -> Sequence[Row[Any]]:
        """Due pending deliveries of active webhooks that have no earlier undelivered step of the same case."""
        earlier = aliased(DeliveryRow)
        blocked = exists().where(earlier.webhook_id == D.webhook_id, earlier.case_id == D.case_id,
                                 earlier.case_version < D.case_version,
                                 earlier.state != DeliveryState.DELIVERED.value)
        stmt = (select(D.id, D.webhook_id, D.payload, D.attempts, W.url, W.secret_encrypted)
                .join(W, W.id == D.webhook_id)
                .where(D.state == DeliveryState.PENDING.value, D.next_attempt_at <= self.clock.now(), W.active,
                       ~blocked)
                .order_by(D.next_attempt_at, D.id).limit(limit))
        if resting:
            stmt = stmt.where(D.webhook_id.not_in(resting))
        with self._engine.connect() as conn:
            return conn.execute(stmt).all()

    def _attempt(self, client: httpx.Client, due: Row[Any], secrets: dict[int, str | None],
                 report: DeliveryReport) -> bool:
        """Send one delivery and record the outcome; False when it failed."""
        if not self._lease(due.id):
            return True  # a concurrent runner took it
        if due.webhook_id not in secrets:
            secrets[due.webhook_id] = self._secret(due.secret_encrypted)
        secret = secrets[due.webhook_id]
        status, error = self._post(client, due, secret) if secret is not None else (None, "secret undecryptable")
        ok = status is not None and policy.succeeded(status)
        self._record(due, ok, status, error, report)
        return ok

    def _lease(self, delivery_id: int) -> bool:
        now = self.clock.now()
        with self._engine.begin() as conn:
            taken = conn.execute(update(D).where(D.id == delivery_id, D.state == DeliveryState.PENDING.value,
                                                 D.next_attempt_at <= now).values(next_attempt_at=now + LEASE))
        return taken.rowcount == 1

    def _secret(self, encrypted: str) -> str | None:
        try:
            return self.vault.decrypt(encrypted)
        except DomainError:  # the instance secret changed: the webhook must be registered again
            return None

    def _post(self, client: httpx.Client, due: Row[Any], secret: str) -> tuple[int | None, str | None]:
        """(HTTP status or None, error text or None); the answer's body is never read."""
        raw = policy.body(due.payload)
        try:
            with client.stream("POST", due.url, content=raw,
                               headers=policy.headers(due.id, policy.sign(secret, raw))) as response:
                status = response.status_code
                return status, None if policy.succeeded(status) else f"HTTP {status} {response.reason_phrase}"
        except httpx.HTTPError as exc:
            return None, policy.short_error(f"{type(exc).__name__}: {exc}")

    def _record(self, due: Row[Any], ok: bool, status: int | None, error: str | None,
                report: DeliveryReport) -> None:
        now, attempts = self.clock.now(), due.attempts + 1
        state, next_at = (DeliveryState.DELIVERED, None) if ok else policy.after_failure(attempts, now)
        with self._engine.begin() as conn:
            conn.execute(update(D).where(D.id == due.id).values(
                state=state.value, attempts=attempts, next_attempt_at=next_at, last_status=status,
                last_error=None if ok else policy.short_error(error or "failed"),
                delivered_at=now if ok else None))
        report.attempted += 1
        report.delivered += ok
        report.retrying += state == DeliveryState.PENDING
        report.gave_up += state == DeliveryState.FAILED
        if state == DeliveryState.FAILED:
            log.warning("webhook delivery %s gave up after %s attempts: %s", due.id, attempts, error)


def _behind(conn: Connection, hook_id: int, system: str, since: datetime | None) -> Sequence[Any]:
    """The system's cases (changed since `since`) whose version is past the newest step queued for this webhook."""
    queued = (select(func.coalesce(func.max(D.case_version), 0))
              .where(D.webhook_id == hook_id, D.case_id == CaseRow.id).scalar_subquery())
    stmt = (select(CaseRow.id, CaseRow.number, CaseRow.external_id)
            .where(CaseRow.external_system == system, CaseRow.external_id.is_not(None), CaseRow.version > queued)
            .order_by(CaseRow.id))
    if since is not None:
        stmt = stmt.where(CaseRow.updated_at >= since)
    return conn.execute(stmt).all()


def _insert_missing(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Insert the rows, skipping any a concurrent run stored first (the unique step is the last defence)."""
    if not rows:
        return 0
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    added = 0
    for start in range(0, len(rows), 500):
        stmt = dialect.insert(DeliveryRow).values(rows[start:start + 500]).on_conflict_do_nothing().returning(D.id)
        added += len(conn.execute(stmt).all())
    return added


def _info(row: WebhookRow, counts: dict[str, int] | None = None) -> WebhookInfo:
    counts = counts or {}
    return WebhookInfo(row.system, row.url, row.active, row.created_at, counts.get("pending", 0),
                       counts.get("delivered", 0), counts.get("failed", 0))


def _delivery(row: DeliveryRow) -> DeliveryInfo:
    payload = dict(row.payload or {})
    return DeliveryInfo(row.id, str(payload.get("case_number", "")), row.case_version, str(payload.get("action", "")),
                        row.state, row.attempts, row.next_attempt_at, row.last_status, row.last_error, row.created_at,
                        row.delivered_at, payload)
