"""Use cases of devices: register and import (all or nothing, idempotent), status from ingestion, scoped reads,
contacts for authorised sending (audited), and the in-memory directory the hot path reads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from chengyun.areas.model import ImportProblem
from chengyun.areas.service import AreaService
from chengyun.audit import AuditLog, record
from chengyun.auth.model import Principal, Role
from chengyun.devices.catalogue import DeviceType, load_device_types
from chengyun.devices.directory import DeviceDirectory, credential_key, new_token, token_hash
from chengyun.devices.model import Contact, check_device_id
from chengyun.devices.placing import place_devices, place_one
from chengyun.devices.repository import DeviceRepository, ImportResult, facts_of
from chengyun.devices.tables import CareContactRow, CareResidentRow, DeviceRow
from chengyun.devices.tabular import DeviceDraft, RowReader, parse_devices
from chengyun.devices.views import device_json, resident_json
from chengyun.errors import Conflict, Forbidden, Invalid, NotFound
from chengyun.places.service import PlaceService
from chengyun.shared.clock import Clock
from chengyun.shared.privacy import PersonalDataVault

MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_PROBLEMS_SHOWN = 50
MAX_PAGE = 500
READERS = frozenset({Role.ADMIN, Role.OPERATOR, Role.HANDLER, Role.GRID_WORKER, Role.AUDITOR})
MANAGERS = frozenset({Role.ADMIN})
DIRECTORY_EVERY_S = 2.0
DIRECTORY_LOOK_BACK = timedelta(minutes=10)  # transactions still in flight when a change was first seen


@dataclass
class DeviceService:
    """Devices of the street: writes in one transaction each with their audit record; reads scoped by area."""

    sessions: sessionmaker[Session]
    clock: Clock
    audit: AuditLog
    vault: PersonalDataVault
    areas: AreaService
    places: PlaceService
    secret_key: str = field(repr=False)
    types_path: Path | None = None
    offline_after_beats: int = 3  # a device is offline after this many heartbeat intervals without a message
    directory_every_s: float = DIRECTORY_EVERY_S  # how often the directory asks the database for changes
    _key: bytes = field(init=False, repr=False)
    _types: dict[str, DeviceType] | None = field(init=False, default=None)
    _directory: DeviceDirectory | None = field(init=False, default=None)
    _version: tuple[Any, ...] = field(init=False, default=())
    _checked: float = field(init=False, default=0.0)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._key = credential_key(self.secret_key)

    # --- types and the directory ---------------------------------------------------------------------

    def types(self) -> dict[str, DeviceType]:
        """The device types (the street's file when configured, else the packaged defaults), loaded once."""
        if self._types is None:
            self._types = load_device_types(self.types_path)
        return self._types

    def directory(self) -> DeviceDirectory:
        """Every active device in memory; changes stored by any process are read at most every 2 s."""
        directory = self._directory
        if directory is not None and time.monotonic() - self._checked < self.directory_every_s:
            return directory
        with self._lock:
            if self._directory is None:
                self._directory = self._load_directory()
            else:
                self._refresh(self._directory)
            self._checked = time.monotonic()
            return self._directory

    def _load_directory(self) -> DeviceDirectory:
        directory = DeviceDirectory(self._key, self.types())
        with self.sessions() as session:
            repo = DeviceRepository(session)
            self._version = repo.directory_version()
            for row in repo.directory_rows():
                if row.active:
                    directory.put(facts_of(row), row.credential_hash)
        return directory

    def _refresh(self, directory: DeviceDirectory, *, force: bool = False) -> None:
        """Apply the rows changed since the last look (with a look-back), when the stored fingerprint moved."""
        with self.sessions() as session:
            repo = DeviceRepository(session)
            version = repo.directory_version()
            if version == self._version and not force:
                return
            latest = version[1] if len(version) > 1 else None
            since = (latest - DIRECTORY_LOOK_BACK) if isinstance(latest, datetime) else None
            for row in repo.directory_rows(since):
                if row.active:
                    directory.put(facts_of(row), row.credential_hash)
                else:
                    directory.remove(row.device_id)
            self._version = version

    def _changed(self) -> None:
        """After a write through this process: the directory (if built) sees it at once."""
        with self._lock:
            if self._directory is not None:
                self._refresh(self._directory, force=True)

    # --- writes -------------------------------------------------------------------------------------

    def register(self, principal: Principal, fields: Mapping[str, str]) -> tuple[dict[str, Any], str]:
        """One device from the same columns as an import (admins); its token is returned this once."""
        self._require(principal, MANAGERS, "devices.manage")
        reader = RowReader(1, {k: str(v).strip() for k, v in fields.items() if v is not None})
        draft = reader.read(list(self.types()))
        if draft is None:
            _refuse(reader.problems, "devices.invalid_device")
        with self.sessions() as session:
            if session.scalar(select(DeviceRow.id).where(DeviceRow.device_id == draft.device_id)) is not None:
                raise Conflict("devices.exists", device_id=draft.device_id)
        placed = place_one(draft, self.places.gazetteer(), self.areas.index().locate, principal.scope_path)
        if isinstance(placed, ImportProblem):
            _refuse([placed], "devices.invalid_device")
        result = self._save([placed], source="api", actor=principal.username, actor_id=principal.user_id,
                            issue=self._issue)
        return self.get(principal, draft.device_id), result.tokens[draft.device_id]

    def import_file(self, data: bytes, filename: str, *, actor: str, actor_id: int | None = None,
                    scope_path: str = "/") -> ImportResult:
        """Devices from a CSV or .xlsx file, all or nothing, upserted by device id (a re-import changes nothing)."""
        if len(data) > MAX_IMPORT_BYTES:
            raise Invalid("devices.import.too_large", size=len(data), limit=MAX_IMPORT_BYTES)
        parsed = parse_devices(data, filename, list(self.types()))
        if parsed.problems:
            _refuse(list(parsed.problems))
        return self.import_drafts(parsed.drafts, source=filename, actor=actor, actor_id=actor_id,
                                  scope_path=scope_path)

    def import_principal(self, principal: Principal, data: bytes, filename: str) -> ImportResult:
        """An import by a signed-in admin: only devices inside the admin's scope."""
        self._require(principal, MANAGERS, "devices.manage")
        return self.import_file(data, filename, actor=principal.username, actor_id=principal.user_id,
                                scope_path=principal.scope_path)

    def import_drafts(self, drafts: Sequence[DeviceDraft], *, source: str, actor: str, actor_id: int | None = None,
                      scope_path: str = "/", issue: Callable[[str], str] | None = None) -> ImportResult:
        """Place and store clean drafts all or nothing; `issue` makes a new device's token (random by default)."""
        if not drafts:
            raise Invalid("devices.import.empty_file", where=source)
        placed, problems = place_devices(drafts, self.places.gazetteer(), self.areas.index().locate, scope_path)
        if problems:
            _refuse(problems)
        maker = self._issue if issue is None else (lambda device_id: self._issued(issue(device_id)))
        return self._save(placed, source=source, actor=actor, actor_id=actor_id, issue=maker)

    def _save(self, placed: Sequence[Any], *, source: str, actor: str, actor_id: int | None,
              issue: Callable[[str], tuple[str, str]]) -> ImportResult:
        with self.sessions.begin() as session:
            result = DeviceRepository(session).save(placed, vault=self.vault, issue=issue, now=self.clock.now(),
                                                    source=source)
            record(session, self.clock, action="devices.import", actor=actor, actor_id=actor_id,
                   target=source[:200] or None, created=result.created, updated=result.updated,
                   unchanged=result.unchanged)
        self._changed()
        return result

    def _issue(self, device_id: str) -> tuple[str, str]:
        return self._issued(new_token())

    def _issued(self, token: str) -> tuple[str, str]:
        return token, token_hash(self._key, token)

    def reset_token(self, principal: Principal, device_id: str) -> str:
        """A new credential for a device (admins); the old one stops working at once. Shown this once."""
        self._require(principal, MANAGERS, "devices.manage")
        token, hashed = self._issue(device_id)
        with self.sessions.begin() as session:
            row = self._visible(session, principal, device_id)
            row.credential_hash, row.updated_at = hashed, self.clock.now()
            record(session, self.clock, action="devices.reset_token", actor=principal.username,
                   actor_id=principal.user_id, target=f"device:{device_id}")
        self._changed()
        return token

    # --- status from ingestion -------------------------------------------------------------------------

    def mark_seen(self, batch: Mapping[str, float]) -> int:
        """Record that devices were heard from (device id → epoch seconds): last_seen_at when newer, online."""
        if not batch:
            return 0
        with self.sessions.begin() as session:
            return DeviceRepository(session).mark_seen(batch)

    def sweep_offline(self, now: datetime) -> list[str]:
        """Mark offline the online devices silent for `offline_after_beats` heartbeat intervals; their ids."""
        cutoffs = {code: now - timedelta(seconds=kind.heartbeat_s * self.offline_after_beats)
                   for code, kind in self.types().items()}
        with self.sessions.begin() as session:
            return DeviceRepository(session).sweep_offline(cutoffs)

    # --- reads ----------------------------------------------------------------------------------------

    def search(self, principal: Principal, *, type_code: str | None = None, status: str | None = None,
               area_code: str | None = None, q: str | None = None, household: str | None = None,
               offset: int = 0, limit: int = 100) -> dict[str, Any]:
        """A page of active devices inside the caller's scope (or one area of it), filtered."""
        self._require(principal, READERS, "devices.read")
        prefix = self.areas.get(principal, area_code).path if area_code else principal.scope_path
        stmt = select(DeviceRow).where(DeviceRow.active.is_(True),
                                       DeviceRow.area_path.startswith(prefix, autoescape=True))
        if type_code:
            stmt = stmt.where(DeviceRow.type_code == type_code)
        if status:
            stmt = stmt.where(DeviceRow.status == status)
        if household:
            stmt = stmt.where(DeviceRow.household == household)
        if q:
            stmt = stmt.where(DeviceRow.device_id.startswith(q, autoescape=True)
                              | DeviceRow.name.contains(q, autoescape=True))
        with self.sessions() as session:
            total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
            rows = session.scalars(stmt.order_by(DeviceRow.device_id).offset(max(offset, 0))
                                   .limit(min(max(limit, 1), MAX_PAGE))).all()
            return {"total": int(total), "items": [device_json(r, self.types()) for r in rows]}

    def get(self, principal: Principal, device_id: str) -> dict[str, Any]:
        """One device in scope with its resident and contacts, phones masked."""
        self._require(principal, READERS, "devices.read")
        with self.sessions() as session:
            row = self._visible(session, principal, device_id)
            out = device_json(row, self.types())
            resident = session.get(CareResidentRow, row.resident_id) if row.resident_id else None
            contacts = self._contact_rows(session, resident.id) if resident else []
            out["resident"] = resident_json(resident, contacts) if resident else None
            return out

    def contacts_of(self, device_id: str, *, actor: str = "system", actor_id: int | None = None,
                    reason: str = "") -> list[Contact]:
        """The contacts of the device's resident, in order, with plain phones for authorised sending (the reveal
        is audited; empty when the device watches over nobody)."""
        with self.sessions.begin() as session:
            row = session.scalar(select(DeviceRow).where(DeviceRow.device_id == device_id))
            if row is None:
                raise NotFound("devices.not_found", device_id=device_id)
            if row.resident_id is None:
                return []
            contacts = [Contact(c.seq, c.name, c.relation, self.vault.decrypt(c.phone_encrypted), c.phone_masked)
                        for c in self._contact_rows(session, row.resident_id)]
            if contacts:
                record(session, self.clock, action="contact.reveal", actor=actor, actor_id=actor_id,
                       target=f"device:{device_id}", resident=row.resident_id, count=len(contacts),
                       reason=reason[:200])
            return contacts

    def count(self) -> int:
        """How many active devices are stored."""
        with self.sessions() as session:
            return int(session.scalar(select(func.count()).where(DeviceRow.active.is_(True))) or 0)

    @staticmethod
    def _contact_rows(session: Session, resident_id: int) -> list[CareContactRow]:
        return list(session.scalars(select(CareContactRow).where(CareContactRow.resident_id == resident_id)
                                    .order_by(CareContactRow.seq)))

    def _visible(self, session: Session, principal: Principal, device_id: str) -> DeviceRow:
        """The device when it exists and lies in the caller's scope; otherwise the same 404 (refusal audited)."""
        row = session.scalar(select(DeviceRow).where(DeviceRow.device_id == check_device_id(device_id)))
        if row is not None and principal.can_see_path(row.area_path):
            return row
        if row is not None:
            self.audit.record_now(action="scope.refused", actor=principal.username, actor_id=principal.user_id,
                                  outcome="refused", target=f"device:{device_id}")
        raise NotFound("devices.not_found", device_id=device_id)

    def _require(self, principal: Principal, roles: frozenset[Role], permission: str) -> None:
        if principal.role in roles:
            return
        self.audit.record_now(action="permission.refused", actor=principal.username, actor_id=principal.user_id,
                              outcome="refused", target=permission)
        raise Forbidden("auth.permission_denied", permission=permission, role=principal.role.value)


def _refuse(problems: Sequence[ImportProblem], code: str = "devices.import_invalid") -> NoReturn:
    raise Invalid(code, problems=list(problems[:MAX_PROBLEMS_SHOWN]), count=len(problems))
