"""Use cases of intake: accept a report durably, then turn it into a case (or leave it for an operator).

`submit` validates and stores the report in one transaction — once it returns, the report is never lost — and then
processes it: locate (geocode an address), check the category, open the case and link the report to it, all in one
transaction. A processing failure leaves the report `received` with the error and the time of the next try
(`process_due`, run by the scheduled jobs); a report that needs a person (no place, no category) waits in the
operator's review queue with the best candidates.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from chengyun.areas.service import AreaService
from chengyun.audit import record
from chengyun.auth.model import Principal, Role
from chengyun.cases import repository as cases_repo
from chengyun.cases.model import OPEN_STATES, Source
from chengyun.cases.service import CaseService, NewCase
from chengyun.categories.model import Catalogue
from chengyun.errors import DomainError, Forbidden, Invalid, NotFound
from chengyun.intake import repository as repo
from chengyun.intake.geocoding import Placed
from chengyun.intake.model import Channel, Report, ReportState, backoff_s, clean
from chengyun.intake.tables import ReportRow
from chengyun.shared.clock import Clock
from chengyun.shared.geo import CoordSystem, to_wgs84
from chengyun.shared.handling import Urgency
from chengyun.shared.privacy import PersonalDataVault, mask_phone, normalise_phone
from chengyun.triage.catalogue import Classifier, decide

log = logging.getLogger("chengyun.intake")
INTAKE = Principal(0, "intake", "受理", Role.OPERATOR, "", "/")
"""Who opens the case of a stored report: the system itself (the submitter's scope was checked at submit)."""
REVIEWERS = frozenset({Role.ADMIN, Role.OPERATOR})
OPEN_STATE_VALUES = frozenset(s.value for s in OPEN_STATES)


class Geocoder(Protocol):
    """What intake needs from the gazetteer: a point for an address (or the best candidates), an address for a
    point."""

    def place(self, text: str, scope_path: str | None = None) -> Placed:
        """((lon, lat) WGS84 when one place clearly matches, else None; candidates as dicts, best first)."""
        ...

    def describe(self, lon: float, lat: float) -> str:
        """A readable address for a WGS84 point ('' when unknown)."""
        ...


@dataclass(frozen=True, slots=True)
class Submitted:
    """What a channel answers: the stored report and whether this call created, repeated or updated it."""

    report: ReportRow
    outcome: str  # created | duplicate (same idempotency key) | updated | unchanged (same external id)


@dataclass
class IntakeService:
    """The one path from every channel to the loop."""

    sessions: sessionmaker[Session]
    clock: Clock
    vault: PersonalDataVault
    areas: AreaService
    cases: CaseService
    geocoder: Geocoder | None = None
    classifier: Classifier | None = None
    catalogue: Callable[[], Catalogue] | None = None  # the live category catalogue the classifier's labels name

    def __post_init__(self) -> None:
        self._engine: Engine = self.sessions.kw["bind"]

    # --- accepting ---------------------------------------------------------------------------

    def check(self, principal: Principal, report: Report) -> Report:
        """The cleaned report, or Invalid/NotFound naming what is wrong (a batch checks every row first)."""
        report = clean(report)
        self._check_category(report.category_code)
        self._checked_point(principal, report)
        return report

    def submit(self, principal: Principal, report: Report, *, process: bool = True,
               suppress: str | None = None) -> Submitted:
        """Validate and store the report (durable from here on), and make it a case when it can be.

        A report with a point and a category (and no cool-down to consult) is stored together with its case in
        one transaction; if opening the case fails, the report is stored alone with the reason (a person decides,
        or the retry job tries again). Everything else is stored, then processed. With `suppress` (a reason code)
        the report is kept as `suppressed` and opens nothing, e.g. an AI alert below its confidence threshold.
        """
        report = clean(report)
        self._check_category(report.category_code)
        lon, lat = self._checked_point(principal, report)
        key = f"{report.channel.value}:{principal.user_id}:{report.idempotency_key}" if report.idempotency_key \
            else None
        values = self._values(principal, report, key, lon, lat, self.clock.now())
        if lon is not None and lat is not None and not report.address and self.geocoder is not None:
            values["address"] = self.geocoder.describe(lon, lat)[:300]  # a GPS report gets a readable address
        values.update(self._settled(report, suppress, values["received_at"]))
        direct = bool(process and suppress is None and not report.follow_case and lon is not None
                      and report.category_code and not (report.dedup_key and report.cooldown_s))
        try:
            submitted = self._store(principal, report, key, values, open_case=direct)
        except IntegrityError:  # the same key or external id stored concurrently: answer with that one
            with self._engine.connect() as conn:
                found = self._earlier(conn, key, report)
            if found is None:
                raise
            return Submitted(found, "duplicate")
        except DomainError as exc:  # the case could not be opened (a rule said no): keep the report for a person
            if not direct:
                raise
            stored = self._store(principal, report, key, values, open_case=False)
            return Submitted(self._hold(stored.report, exc.code, exc.params), stored.outcome)
        except Exception as exc:  # storage trouble while opening the case: keep the report, retry later
            if not direct:
                raise
            log.exception("opening the case of a new report failed; it is kept and retried")
            stored = self._store(principal, report, key, values, open_case=False)
            return Submitted(self._retry_later(stored.report, type(exc).__name__), stored.outcome)
        if submitted.outcome == "created" and process and suppress is None and not direct:
            return Submitted(self.process(submitted.report.id), "created")
        return submitted

    def _store(self, principal: Principal, report: Report, key: str | None, values: dict[str, Any], *,
               open_case: bool) -> Submitted:
        """One transaction: the report (unless it is already here), with its case when `open_case`."""
        with self._engine.begin() as conn:
            earlier = self._earlier(conn, key, report)
            if earlier is not None:
                return self._repeat(conn, principal, earlier, report, values["received_at"])
            if open_case:  # the audit record of the case's opening names the submitter: one record, not two
                case = self.cases.open_in(conn, principal, self._new_case_of(report, values))
                values = {**values, "state": ReportState.OPENED.value, "case_id": case.id,
                          "case_number": case.number, "processed_at": values["received_at"]}
            row = repo.insert_report(conn, values)
            if not open_case:
                record(conn, self.clock, action="intake.receive", actor=principal.username,
                       actor_id=principal.user_id or None, target=f"report:{row.token}",
                       channel=report.channel.value, source=report.source.value)
        return Submitted(row, "created")

    @staticmethod
    def _new_case_of(report: Report, values: dict[str, Any]) -> NewCase:
        """The case of a report that has a point (already WGS84 in `values`) and a category."""
        return NewCase(
            source=report.source, category_code=report.category_code or "", description=report.description,
            lon=values["lon"], lat=values["lat"], title=report.title, crs=CoordSystem.WGS84, address=values["address"],
            urgency=report.urgency, reporter_name=report.reporter_name, reporter_phone=report.reporter_phone,
            external_system=report.external_system, external_id=report.external_id,
            attachments=report.attachments,
        )

    def _settled(self, report: Report, suppress: str | None, now: datetime) -> dict[str, Any]:
        """The fields of a report that is settled on arrival: suppressed by a cool-down, or joining a case."""
        if suppress is not None:
            return {"state": ReportState.SUPPRESSED.value, "last_error": suppress, "processed_at": now}
        return self._joined(report.follow_case, now) if report.follow_case else {}

    def _joined(self, number: str, now: datetime) -> dict[str, Any]:
        """The report joins an open case (the reporter follows it instead of opening another); else a clear error."""
        with self._engine.connect() as conn:
            case = cases_repo.by_number(conn, number)
        if case is None:
            raise NotFound("intake.follow_case_not_found", case=number)
        if case.state not in OPEN_STATE_VALUES:
            raise Invalid("intake.follow_case_closed", case=number, state=case.state)
        return {"state": ReportState.JOINED.value, "case_id": case.id, "case_number": case.number,
                "category_code": case.category_code, "processed_at": now}

    def _checked_point(self, principal: Principal, report: Report) -> tuple[float | None, float | None]:
        """The WGS84 point, refused when outside the jurisdiction or the caller's scope."""
        if report.lon is None or report.lat is None:
            return None, None
        self.areas.locate(report.lon, report.lat, report.crs, principal)
        return to_wgs84(report.lon, report.lat, report.crs)

    def _check_category(self, code: str | None) -> None:
        if code is None:
            return
        try:
            self.cases.policies.category(code, new=True)
        except (NotFound, Invalid) as exc:
            raise Invalid("intake.unknown_category", category=code) from exc

    @staticmethod
    def _earlier(conn: Connection, key: str | None, report: Report) -> ReportRow | None:
        if key is not None and (found := repo.by_idempotency_key(conn, key)) is not None:
            return found
        if report.external_system and report.external_id:
            return repo.by_external(conn, report.external_system, report.external_id)
        return None

    def _repeat(self, conn: Connection, principal: Principal, earlier: ReportRow, report: Report,
                now: datetime) -> Submitted:
        """The same report again: a repeated key answers the first; a changed upstream report updates it."""
        if report.idempotency_key and earlier.idempotency_key:
            return Submitted(earlier, "duplicate")
        if earlier.description == report.description and earlier.category_code == report.category_code:
            return Submitted(earlier, "unchanged")
        changes: dict[str, Any] = {"description": report.description,
                                   "payload": {**earlier.payload, "title": report.title}}
        if earlier.state != ReportState.OPENED.value:
            changes["category_code"] = report.category_code
        repo.set_fields(conn, earlier.id, **changes)
        record(conn, self.clock, action="intake.update", actor=principal.username,
               actor_id=principal.user_id or None, target=f"report:{earlier.token}", case=earlier.case_number)
        earlier.__dict__.update(changes)
        return Submitted(earlier, "updated")

    def _values(self, principal: Principal, report: Report, key: str | None, lon: float | None,
                lat: float | None, now: datetime) -> dict[str, Any]:
        return {
            "token": str(uuid.uuid4()), "channel": report.channel.value, "source": report.source.value,
            "submitted_by": principal.user_id or None, "idempotency_key": key,
            "external_system": report.external_system, "external_id": report.external_id,
            "dedup_key": report.dedup_key, "category_code": report.category_code,
            "reporter_hash": self._reporter_hash(report),
            "description": report.description, "address": report.address, "lon": lon, "lat": lat,
            "payload": self._payload(principal, report), "state": ReportState.RECEIVED.value, "attempts": 0,
            "next_attempt_at": now, "received_at": now,
        }

    def _reporter_hash(self, report: Report) -> str | None:
        """The keyed hash that matches one person's reports across channels (same as the case's)."""
        return self.vault.match_hash(normalise_phone(report.reporter_phone)) if report.reporter_phone else None

    def _payload(self, principal: Principal, report: Report) -> dict[str, Any]:
        """What the case needs later; personal data only encrypted, hashed or masked."""
        phone = normalise_phone(report.reporter_phone) if report.reporter_phone else None
        return {
            "title": report.title, "urgency": report.urgency.value if report.urgency else None,
            "crs": report.crs.value, "reporter_name": report.reporter_name,
            "phone_encrypted": self.vault.encrypt(phone) if phone else None,
            "phone_masked": mask_phone(phone) if phone else None,
            "email_encrypted": self.vault.encrypt(report.reporter_email) if report.reporter_email else None,
            "attachments": list(report.attachments), "media_urls": list(report.media_urls),
            "attributes": report.attributes, "handle_self": report.handle_self,
            "occurred_at": report.occurred_at.isoformat() if report.occurred_at else None,
            "cooldown_s": report.cooldown_s, "submitted_by_name": principal.username,
            "scope_path": principal.scope_path,
        }

    # --- processing --------------------------------------------------------------------------

    def process(self, report_id: int) -> ReportRow:
        """Make a received report a case, or leave it for review; a failure is recorded and retried later."""
        with self._engine.connect() as conn:
            row = repo.by_id(conn, report_id)
        if row is None:
            raise NotFound("intake.report_not_found", report=report_id)
        if row.state != ReportState.RECEIVED.value:
            return row
        try:
            return self._process(row)
        except DomainError as exc:  # a rule says no (e.g. the category was retired meanwhile): a person decides
            return self._hold(row, exc.code, exc.params)
        except Exception as exc:  # storage or a bug: keep it, say so, try again later
            log.exception("processing report %s failed", row.token)
            return self._retry_later(row, type(exc).__name__)

    def _process(self, row: ReportRow) -> ReportRow:
        now = self.clock.now()
        if row.dedup_key and (cooldown := row.payload.get("cooldown_s")):
            with self._engine.begin() as conn:
                if (earlier := repo.latest_opened(conn, row.dedup_key, now - timedelta(seconds=cooldown),
                                                  row.id)) is not None:
                    return self._mark(conn, row, state=ReportState.SUPPRESSED.value, case_id=earlier[0],
                                      case_number=earlier[1], processed_at=now)
        lon, lat = row.lon, row.lat
        if lon is None or lat is None:
            scope = row.payload.get("scope_path")
            point, candidates = self.geocoder.place(row.address, scope) if self.geocoder else (None, [])
            if point is None:
                return self._hold(row, "intake.address_not_placed", {"address": row.address,
                                                                      "candidates": candidates[:5]})
            lon, lat = point
        classified: dict[str, Any] = {}
        if row.category_code is None:
            code, evidence = self._classify(row.description)
            if code is None:
                return self._hold(row, "intake.needs_category", evidence)
            row.category_code = code  # the case is filed under it; stored with the evidence below
            classified = {"category_code": code, "payload": {**row.payload, "classification": evidence}}
        with self._engine.begin() as conn:
            case = self.cases.open_in(conn, INTAKE, self._new_case(row, lon, lat))
            return self._mark(conn, row, state=ReportState.OPENED.value, case_id=case.id, case_number=case.number,
                              lon=lon, lat=lat, processed_at=now, last_error=None, last_error_params=None,
                              **classified)

    def _classify(self, text: str) -> tuple[str | None, dict[str, Any]]:
        """The item the classifier is confident of (else None) and the evidence: model, confidence, suggestions."""
        if self.classifier is None or self.catalogue is None:
            return None, {}
        decision = decide(self.classifier.classify(text), self.catalogue())
        return decision.code, decision.as_params(self.classifier.active_version())

    def _new_case(self, row: ReportRow, lon: float, lat: float) -> NewCase:
        payload = row.payload
        phone = self.vault.decrypt(payload["phone_encrypted"]) if payload.get("phone_encrypted") else None
        return NewCase(
            source=Source(row.source), category_code=row.category_code or "", description=row.description,
            lon=lon, lat=lat, title=payload.get("title") or "", crs=CoordSystem.WGS84, address=row.address,
            urgency=Urgency(payload["urgency"]) if payload.get("urgency") else None,
            reporter_name=payload.get("reporter_name"), reporter_phone=phone,
            external_system=row.external_system, external_id=row.external_id,
            attachments=tuple(payload.get("attachments") or ()),
        )

    @staticmethod
    def _mark(conn: Connection, row: ReportRow, **values: Any) -> ReportRow:
        repo.set_fields(conn, row.id, **values)
        row.__dict__.update(values)
        return row

    def _hold(self, row: ReportRow, code: str, params: dict[str, Any]) -> ReportRow:
        """Leave the report for an operator, saying why (and with which candidates)."""
        with self._engine.begin() as conn:
            return self._mark(conn, row, state=ReportState.NEEDS_REVIEW.value, last_error=code,
                              last_error_params=_jsonable(params), processed_at=self.clock.now())

    def _retry_later(self, row: ReportRow, reason: str) -> ReportRow:
        attempts = row.attempts + 1
        with self._engine.begin() as conn:
            return self._mark(conn, row, attempts=attempts, last_error="intake.processing_failed",
                              last_error_params={"reason": reason},
                              next_attempt_at=self.clock.now() + timedelta(seconds=backoff_s(attempts)))

    def process_due(self, limit: int = 200) -> int:
        """Retry the received reports whose next try is due (the scheduled jobs call this); how many ran."""
        now = self.clock.now()
        table = repo.REPORTS
        with self._engine.connect() as conn:
            due = conn.execute(select(table.c.id).where(table.c.state == ReportState.RECEIVED.value,
                                                        table.c.next_attempt_at <= now)
                               .order_by(table.c.next_attempt_at).limit(limit)).scalars().all()
        for report_id in due:
            self.process(report_id)
        return len(due)

    # --- an operator's review ----------------------------------------------------------------

    def resolve(self, principal: Principal, token: str, *, lon: float | None = None, lat: float | None = None,
                crs: CoordSystem = CoordSystem.WGS84, category_code: str | None = None) -> ReportRow:
        """An operator places and/or classifies a report under review; it is then processed again."""
        if principal.role not in REVIEWERS:
            raise Forbidden("intake.review_not_allowed", role=principal.role.value)
        row = self.get(principal, token)
        if row.state != ReportState.NEEDS_REVIEW.value:
            raise Invalid("intake.not_under_review", state=row.state)
        self._check_category(category_code)
        changes: dict[str, Any] = {"state": ReportState.RECEIVED.value, "next_attempt_at": self.clock.now()}
        if lon is not None and lat is not None:
            changes["lon"], changes["lat"] = self._checked_point(principal, Report(
                Channel.CONSOLE, Source(row.source), "-", lon=lon, lat=lat, crs=crs))
        if category_code:
            changes["category_code"] = category_code
        with self._engine.begin() as conn:
            self._mark(conn, row, **changes)
            record(conn, self.clock, action="intake.resolve", actor=principal.username,
                   actor_id=principal.user_id, target=f"report:{token}", category=category_code)
        return self.process(row.id)

    # --- reads -------------------------------------------------------------------------------

    def get(self, principal: Principal, token: str) -> ReportRow:
        """A report by token: its submitter, or staff whose scope holds its place, may see it."""
        with self._engine.connect() as conn:
            row = repo.by_token(conn, token)
        if row is None or not self._may_see(principal, row):
            raise NotFound("intake.report_not_found", report=token)
        return row

    def by_token(self, token: str) -> ReportRow | None:
        """A report by its public token, for a channel that answers with the case number only (Open311)."""
        with self._engine.connect() as conn:
            return repo.by_token(conn, token)

    def first_of_case(self, number: str) -> ReportRow | None:
        """The report behind a case number (for tracking by number and phone), if the case came through intake."""
        with self._engine.connect() as conn:
            return repo.first_of_case(conn, number)

    def _may_see(self, principal: Principal, row: ReportRow) -> bool:
        if row.submitted_by is not None and row.submitted_by == principal.user_id:
            return True
        if principal.role not in REVIEWERS:
            return False
        if row.lon is None or row.lat is None:  # somewhere in the submitter's scope: overlapping scopes see it
            where = str(row.payload.get("scope_path") or "/")
            return where.startswith(principal.scope_path) or principal.scope_path.startswith(where)
        try:
            self.areas.locate(row.lon, row.lat, CoordSystem.WGS84, principal)
        except NotFound:
            return False
        return True

    def review_queue(self, principal: Principal, limit: int = 200) -> list[ReportRow]:
        """Reports waiting for an operator (no place, no category) and those whose processing keeps failing."""
        if principal.role not in REVIEWERS:
            raise Forbidden("intake.review_not_allowed", role=principal.role.value)
        table = repo.REPORTS
        waiting = (table.c.state == ReportState.NEEDS_REVIEW.value) | (
            (table.c.state == ReportState.RECEIVED.value) & (table.c.attempts > 0))
        with self._engine.connect() as conn:
            rows = conn.execute(select(table).where(waiting).order_by(table.c.received_at).limit(limit)).all()
        found = [repo.detached(r._mapping) for r in rows]
        return [row for row in found if self._may_see(principal, row)]

    def counts(self) -> dict[str, int]:
        """How many reports are in each state (for the console and the health of intake)."""
        table = repo.REPORTS
        with self._engine.connect() as conn:
            return {state: n for state, n in conn.execute(
                select(table.c.state, func.count()).group_by(table.c.state)).all()}


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, str | int | float | bool | list | dict) or v is None else str(v)
            for k, v in params.items()}
