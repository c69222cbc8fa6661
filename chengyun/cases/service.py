"""Use cases of the loop: open a case, take an action, read within scope. Each write commits once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, String, cast, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from chengyun.areas.service import AreaService
from chengyun.audit import AuditLog
from chengyun.audit.log import event
from chengyun.auth.model import Principal, Role
from chengyun.cases import repository as repo
from chengyun.cases.kpis import REPEAT_WINDOW
from chengyun.cases.model import Action, Actor, Case, CaseState, Guards, Request, Source, decide, evolve
from chengyun.cases.policies import CategoryFacts, LoopPolicies, check_push_down
from chengyun.cases.recent import OutOfDate, RecentCases, Remembered
from chengyun.cases.tables import CaseRow, TimelineRow
from chengyun.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from chengyun.org.places import UnitPlaces
from chengyun.shared.clock import Clock
from chengyun.shared.geo import CoordSystem, to_wgs84
from chengyun.shared.handling import HandlingLevel, Urgency
from chengyun.shared.privacy import PersonalDataVault, mask_phone, normalise_phone

MAX_TITLE = 200
MAX_DESCRIPTION = 4000
ROUTED_ACTIONS = frozenset({Action.DISPATCH, Action.REDISPATCH, Action.REOPEN})


@dataclass(frozen=True, slots=True)
class NewCase:
    """What opening a case needs; the place is a point (any coordinate system) inside the caller's scope."""

    source: Source
    category_code: str
    description: str
    lon: float
    lat: float
    title: str = ""
    crs: CoordSystem = CoordSystem.WGS84
    address: str = ""
    urgency: Urgency | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    external_system: str | None = None
    external_id: str | None = None
    attachments: tuple[str, ...] = ()


@dataclass
class CaseService:
    """The closed loop as the web layer, the CLI, intake and the sweep use it."""

    sessions: sessionmaker[Session]
    clock: Clock
    vault: PersonalDataVault
    audit: AuditLog
    areas: AreaService
    policies: LoopPolicies
    timezone: str = "Asia/Shanghai"
    number_prefix: str = "QY"
    # the rows this process wrote last (`cases/recent.py`)
    recent: RecentCases = field(default_factory=lambda: RecentCases(mutable=repo.JSON_COLUMNS))
    _tz: ZoneInfo = field(init=False)

    def __post_init__(self) -> None:
        self._tz = ZoneInfo(self.timezone)
        self._engine: Engine = self.sessions.kw["bind"]
        self._units = UnitPlaces(self.sessions)  # the dispatch guard's lookup

    # --- writes ----------------------------------------------------------------------------

    def open(self, principal: Principal, new: NewCase) -> CaseRow:
        """Validate, locate and store a new case (state `reported`); the same external id returns the first."""
        with repo.step_connection(self._engine) as conn:  # PostgreSQL: one statement in autocommit
            row, stamp = self._open(conn, principal, new)
        self.recent.put(row.number, stamp, repo.row_values(row))  # committed, nothing else wrote it: its stamp holds
        return row

    def open_in(self, conn: Connection, principal: Principal, new: NewCase) -> CaseRow:
        """`open` inside the caller's transaction, so the caller's own rows (intake's report) commit with the case
        or not at all."""
        return self._open(conn, principal, new)[0]

    def _open(self, conn: Connection, principal: Principal, new: NewCase) -> tuple[CaseRow, str | None]:
        _check_text(new)
        category = self.policies.category(new.category_code, new=True)
        chain = self.areas.locate(new.lon, new.lat, new.crs, principal)
        lon, lat = to_wgs84(new.lon, new.lat, new.crs)
        now = self.clock.now()
        day = f"{self.number_prefix}-{now.astimezone(self._tz):%Y%m%d}"
        existing = repo.by_external(conn, new.external_system, new.external_id)
        if existing is not None:
            return existing, None
        row = repo.new_row(new, category, chain, lon, lat, now, self._reporter(new))
        opened = event(self.clock, action="cases.open", actor=principal.username, actor_id=principal.user_id,
                       source=new.source.value, category=category.code)
        return row, repo.insert_case(conn, row, day, now - REPEAT_WINDOW, opened)

    def act(self, principal: Principal, number: str, request: Request, *, version: int | None = None) -> CaseRow:
        """Apply one action; `version` (when given) must match, else Conflict and nothing changes."""
        try:
            return self._act(principal, number, request, version)
        except Forbidden as refused:  # refusals are audited after the rollback, so the record survives it
            self.audit.record_now(action=f"cases.{request.action.value}", actor=principal.username,
                                  actor_id=principal.user_id, outcome="refused", target=number,
                                  code=refused.code, params={k: str(v) for k, v in refused.params.items()})
            raise

    def _act(self, principal: Principal, number: str, request: Request, version: int | None) -> CaseRow:
        now = self.clock.now()
        remembered = self.recent.get(number)
        if remembered is not None and version in (None, remembered.version):
            try:
                return self._step(principal, number, request, version, now, remembered)
            except (DomainError, OutOfDate):  # decided on a row that may be out of date: decide on a fresh read
                self.recent.drop(number)
        return self._step(principal, number, request, version, now, None)

    def _step(self, principal: Principal, number: str, request: Request, version: int | None, now: datetime,
              remembered: Remembered | None) -> CaseRow:
        """One step on the remembered row (written only if it is still current, else OutOfDate) or a fresh read."""
        with repo.step_connection(self._engine) as conn:
            row = self._visible(conn, principal, number, remembered)
            if version is not None and version != row.version:
                raise Conflict("cases.changed", number=number, expected=version, current=row.version)
            case = repo.to_aggregate(row)
            category = self.policies.category(row.category_code)
            request = self._complete(principal, row, case, category, request, now)
            entry = decide(case, request, actor_of(principal), now, self._guards(conn, row, category, request))
            values = {**repo.snapshot(evolve(case, entry)), "updated_at": now,
                      # the duty-list explanation of the current assignment
                      "route_note": entry.data.get("route", row.route_note)}
            stamp = repo.write_step(conn, row, values, entry, remembered.stamp if remembered else None)
        repo.apply(row, values)
        self.recent.put(number, stamp, repo.row_values(row))
        return row

    def _complete(self, principal: Principal, row: CaseRow, case: Case,
                  category: CategoryFacts, request: Request, now: datetime) -> Request:
        """Fill in what the caller need not know: the duty-list route, due dates, moved due dates."""
        data: dict[str, Any] = dict(request.data)
        if request.action in ROUTED_ACTIONS:
            self._fill_route(principal, row, case, category, data, now)
        elif request.action == Action.RESUME and case.suspended_at and case.handling_due:
            data.setdefault("handling_due", self.policies.shift_for_pause(case.handling_due, case.suspended_at, now))
        elif request.action == Action.APPROVE_EXTENSION and case.extension_pending and case.handling_due:
            data.setdefault("handling_due", self.policies.extended(case.handling_due, case.extension_pending))
        elif request.action == Action.ESCALATE:
            nxt = case.handling_level.next_up()
            data.setdefault("handling_level", nxt.value if nxt else case.handling_level.value)
        return Request(request.action, request.note, request.attachments, _jsonable(data))

    def _fill_route(self, principal: Principal, row: CaseRow, case: Case,
                    category: CategoryFacts, data: dict[str, Any], now: datetime) -> None:
        chain = tuple((ref.code, ref.level.value) for ref in self.areas.chain(row.area_code))
        # first dispatch: the lowest tier able to handle it; after an escalation: that tier or above
        route = self.policies.route(category, chain, case.handling_level if case.escalations else None)
        if not data.get("lead_unit"):
            if route.lead_unit is None:
                raise Invalid("cases.no_route", number=row.number, reason=str(route.explanation.get("code", "")))
            data["lead_unit"] = route.lead_unit
            data["assist_units"] = list(route.assist_units)
            data["route"] = route.explanation
            if route.handling_level is not None:
                data["handling_level"] = route.handling_level.value
        unit = str(data["lead_unit"])
        check_push_down(unit, self._units.get(unit), row.category_code, category.admission, principal.scope_path)
        claim_due, handling_due = self.policies.due_dates(now, category, Urgency(row.urgency), route)
        data.setdefault("claim_due", claim_due)
        data.setdefault("handling_due", handling_due)

    def _guards(self, conn: Connection, row: CaseRow, category: CategoryFacts, request: Request) -> Guards:
        main = request.data.get("main_case")
        target = repo.by_number(conn, str(main)) if main else None
        merged_into = repo.by_number(conn, row.merged_into) if request.action == Action.UNMERGE and row.merged_into \
            else None
        return Guards(
            self_handle_allowed=category.self_handle,
            merge_target_open=target is not None and target.id != row.id and _is_open(target),
            main_case_open=merged_into is not None and _is_open(merged_into),
        )

    def _reporter(self, new: NewCase) -> dict[str, str | None]:
        if not new.reporter_phone:
            return {"name": new.reporter_name, "hash": None, "encrypted": None, "masked": None}
        phone = normalise_phone(new.reporter_phone)
        return {"name": new.reporter_name, "hash": self.vault.match_hash(phone),
                "encrypted": self.vault.encrypt(phone), "masked": mask_phone(phone)}

    # --- reads -----------------------------------------------------------------------------

    def get(self, principal: Principal, number: str) -> tuple[CaseRow, list[TimelineRow]]:
        """A case and its timeline, if the caller's scope covers it (else the same NotFound as for none)."""
        with self.sessions() as session:
            row = self._visible(session.connection(), principal, number)
            steps = list(session.scalars(select(TimelineRow).where(TimelineRow.case_id == row.id)
                                         .order_by(TimelineRow.seq)))
            session.expunge_all()
        return row, steps

    def merged_into(self, principal: Principal, number: str) -> list[CaseRow]:
        """The cases merged into this main case that the caller may see, oldest first."""
        with self.sessions() as session:
            rows = list(session.scalars(select(CaseRow).where(CaseRow.merged_into == number).order_by(CaseRow.id)))
            session.expunge_all()
        return [row for row in rows if _may_see(principal, row)]

    def search(self, principal: Principal, *, states: frozenset[str] = frozenset(), lead_unit: str | None = None,
               overdue_at: datetime | None = None, area_path: str | None = None, limit: int = 50,
               offset: int = 0) -> tuple[int, list[CaseRow]]:
        """Cases in the caller's scope (handlers: those their unit leads or assists) with the total count.

        Newest first; with `overdue_at`, only cases red on the sweep or past their handling due date at that time,
        the longest overdue first; with `area_path`, only those below that area (narrowing, never widening).
        """
        if not 1 <= limit <= 500 or offset < 0:
            raise Invalid("cases.bad_page", limit=limit, offset=offset)
        stmt = select(CaseRow)
        if principal.role == Role.HANDLER and principal.unit_code:
            # the lead unit and the assisting units both see the case (assist_units is a JSON list of codes)
            assisting = cast(CaseRow.assist_units, String).contains(f'"{principal.unit_code}"', autoescape=True)
            stmt = stmt.where(or_(CaseRow.lead_unit == principal.unit_code, assisting))
        else:
            stmt = stmt.where(CaseRow.area_path.startswith(principal.scope_path, autoescape=True))
        if states:
            stmt = stmt.where(CaseRow.state.in_(sorted(states)))
        if lead_unit:
            stmt = stmt.where(CaseRow.lead_unit == lead_unit)
        if area_path:
            stmt = stmt.where(CaseRow.area_path.startswith(area_path, autoescape=True))
        order: tuple[Any, ...] = (CaseRow.id.desc(),)
        if overdue_at is not None:
            stmt = stmt.where(or_(CaseRow.deadline_level == "red", CaseRow.handling_due < overdue_at))
            order = (CaseRow.handling_due.is_(None), CaseRow.handling_due, CaseRow.id)
        with self.sessions() as session:
            total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
            rows = list(session.scalars(stmt.order_by(*order).limit(limit).offset(offset)))
            session.expunge_all()
        return total, rows

    def _visible(self, conn: Connection, principal: Principal, number: str,
                 remembered: Remembered | None = None) -> CaseRow:
        row = repo.detached(remembered.values) if remembered is not None else repo.by_number(conn, number)
        if row is None or not _may_see(principal, row):
            raise NotFound("cases.not_found", number=number)
        return row


def _may_see(principal: Principal, row: CaseRow) -> bool:
    if principal.can_see_path(row.area_path):
        return True
    unit = principal.unit_code
    return principal.role == Role.HANDLER and unit is not None and (
        unit == row.lead_unit or unit in (row.assist_units or []))


def _is_open(row: CaseRow) -> bool:
    """Still being worked on: not closed, followed up, rejected or merged itself."""
    return row.state not in {s.value for s in (CaseState.CLOSED, CaseState.FOLLOWED_UP, CaseState.REJECTED,
                                                CaseState.MERGED)}


def actor_of(principal: Principal) -> Actor:
    """The loop's view of a signed-in principal."""
    user_id = principal.user_id or None  # 0 is the system (the deadline sweep)
    return Actor(user_id, principal.role, principal.unit_code, principal.display_name)


def _check_text(new: NewCase) -> None:
    if not new.description.strip():
        raise Invalid("cases.description_required")
    if len(new.description) > MAX_DESCRIPTION:
        raise Invalid("cases.description_too_long", max=MAX_DESCRIPTION, length=len(new.description))
    if len(new.title) > MAX_TITLE:
        raise Invalid("cases.title_too_long", max=MAX_TITLE, length=len(new.title))
    if bool(new.external_system) != bool(new.external_id):
        raise Invalid("cases.external_incomplete")


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    """Timeline data is stored as JSON: datetimes as ISO text, levels and units as strings."""
    return {k: (v.isoformat() if isinstance(v, datetime) else v.value if isinstance(v, HandlingLevel) else v)
            for k, v in data.items()}


__all__ = ["CaseService", "Forbidden", "NewCase"]
