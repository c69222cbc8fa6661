"""Storage of devices: saving an import (devices upserted by id, residents by home and name, contacts replaced),
the last-seen batch update, the offline sweep, and the rows the in-memory directory is built from."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Row, Table, bindparam, func, or_, select, text, update
from sqlalchemy.orm import Session

from chengyun.db.types import UTCDateTime
from chengyun.devices.model import DeviceFacts, DeviceStatus
from chengyun.devices.placing import PlacedDevice
from chengyun.devices.tables import CareContactRow, CareResidentRow, DeviceRow
from chengyun.shared.privacy import PersonalDataVault, mask_phone

CHUNK = 500
T = TypeVar("T")
Issue = Callable[[str], tuple[str, str]]  # device id → (token, stored hash)

_devices: Table = DeviceRow.__table__  # type: ignore[assignment]  # declared tables are Tables
_MARK_SEEN = (
    update(_devices)
    .where(_devices.c.device_id == bindparam("b_id"),
           or_(_devices.c.last_seen_at.is_(None), _devices.c.last_seen_at < bindparam("b_seen", type_=UTCDateTime())))
    .values(last_seen_at=bindparam("b_seen", type_=UTCDateTime()), status=DeviceStatus.ONLINE.value)
)
# PostgreSQL: the batch as two arrays, joined in one UPDATE (text and timestamptz arrays, bound by psycopg)
_MARK_SEEN_PG = text(
    "UPDATE devices SET last_seen_at = v.seen, status = 'online' "
    "FROM unnest(CAST(:ids AS text[]), CAST(:seen AS timestamptz[])) AS v(id, seen) "
    "WHERE devices.device_id = v.id AND (devices.last_seen_at IS NULL OR devices.last_seen_at < v.seen)")
PG_BATCH = 20_000
DIRECTORY_COLUMNS = (DeviceRow.device_id, DeviceRow.type_code, DeviceRow.area_code, DeviceRow.area_path,
                     DeviceRow.place_code, DeviceRow.compound_code, DeviceRow.household, DeviceRow.resident_id,
                     DeviceRow.credential_hash, DeviceRow.active)
_COMPARED = ("type_code", "name", "area_code", "area_path", "place_code", "compound_code", "building", "unit",
             "room", "household", "lon", "lat", "resident_id", "active")


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did; `tokens` holds the new devices' credentials, shown this once and never stored."""

    created: int
    updated: int
    unchanged: int
    tokens: dict[str, str] = field(default_factory=dict)


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """Slices of at most `size` items (IN lists stay short on both databases)."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def facts_of(row: Row[Any]) -> DeviceFacts:
    """The directory's facts from a row selected with `DIRECTORY_COLUMNS`."""
    places = tuple(c for c in dict.fromkeys((row.place_code, row.compound_code)) if c)
    return DeviceFacts(row.device_id, row.type_code, row.area_code, row.area_path, places, row.household,
                       row.resident_id)


class DeviceRepository:
    """Reads and writes of devices and residents inside the caller's session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def save(self, placed: Sequence[PlacedDevice], *, vault: PersonalDataVault, issue: Issue, now: datetime,
             source: str) -> ImportResult:
        """Upsert devices by id (a new one gets a credential from `issue`), their residents and contacts."""
        existing = self._existing([p.draft.device_id for p in placed])
        residents = _Residents(self.session, vault, now, [p.home for p in placed])
        created = updated = unchanged = 0
        tokens: dict[str, str] = {}
        for item in placed:
            resident_id, resident_changed = residents.upsert(item)
            wanted = _values(item, resident_id)
            row = existing.get(item.draft.device_id)
            if row is None:
                token, hashed = issue(item.draft.device_id)
                tokens[item.draft.device_id] = token
                self.session.add(DeviceRow(device_id=item.draft.device_id, credential_hash=hashed,
                                           status=DeviceStatus.OFFLINE.value, source=source[:100], created_at=now,
                                           updated_at=now, **wanted))
                created += 1
            elif any(getattr(row, name) != value for name, value in wanted.items()):
                for name, value in wanted.items():
                    setattr(row, name, value)
                row.updated_at, row.source = now, source[:100]
                updated += 1
            elif resident_changed:
                updated += 1
            else:
                unchanged += 1
        self.session.flush()
        return ImportResult(created, updated, unchanged, tokens)

    def _existing(self, device_ids: Sequence[str]) -> dict[str, DeviceRow]:
        found: dict[str, DeviceRow] = {}
        for part in chunks(device_ids):
            found.update((r.device_id, r) for r in self.session.scalars(
                select(DeviceRow).where(DeviceRow.device_id.in_(part))))
        return found

    def mark_seen(self, batch: Mapping[str, float]) -> int:
        """Set last_seen_at (when newer) and status online for each device id → epoch seconds; rows changed."""
        if not batch:
            return 0
        seen = {device_id: datetime.fromtimestamp(ts, UTC) for device_id, ts in batch.items()}
        conn = self.session.connection()
        if conn.dialect.name == "postgresql":  # one statement for the whole batch
            ids, times = list(seen), list(seen.values())
            return sum(max(int(conn.execute(_MARK_SEEN_PG, {"ids": ids[i:i + PG_BATCH],
                                                            "seen": times[i:i + PG_BATCH]}).rowcount), 0)
                       for i in range(0, len(ids), PG_BATCH))
        result = conn.execute(_MARK_SEEN, [{"b_id": device_id, "b_seen": at} for device_id, at in seen.items()])
        return max(int(result.rowcount), 0)

    def sweep_offline(self, cutoffs: Mapping[str, datetime]) -> list[str]:
        """Mark offline the online devices of each type last seen before its cutoff; their ids."""
        gone: list[str] = []
        for type_code, cutoff in sorted(cutoffs.items()):
            stmt = (update(_devices)
                    .where(_devices.c.status == DeviceStatus.ONLINE.value, _devices.c.type_code == type_code,
                           _devices.c.last_seen_at < cutoff)
                    .values(status=DeviceStatus.OFFLINE.value).returning(_devices.c.device_id))
            gone += sorted(self.session.scalars(stmt))
        return gone

    def directory_rows(self, since: datetime | None = None) -> list[Row[Any]]:
        """The rows the directory needs: all devices, or those changed at or after `since`."""
        stmt = select(*DIRECTORY_COLUMNS)
        if since is not None:
            stmt = stmt.where(DeviceRow.updated_at >= since)
        return list(self.session.execute(stmt))

    def directory_version(self) -> tuple[Any, ...]:
        """A cheap fingerprint of what the directory holds: count and latest change."""
        return tuple(self.session.execute(select(func.count(), func.max(DeviceRow.updated_at))).one())


def _values(item: PlacedDevice, resident_id: int | None) -> dict[str, Any]:
    draft = item.draft
    return {"type_code": draft.type_code, "name": draft.name, "area_code": item.area_code,
            "area_path": item.area_path, "place_code": item.place_code, "compound_code": item.compound_code,
            "building": draft.building, "unit": draft.unit, "room": draft.room, "household": item.household,
            "lon": item.lon, "lat": item.lat, "resident_id": resident_id, "active": True}


class _Residents:
    """Residents of one import, keyed by (home, name): read once, created or updated once per import."""

    def __init__(self, session: Session, vault: PersonalDataVault, now: datetime, homes: Sequence[str]) -> None:
        self.session, self.vault, self.now = session, vault, now
        self.rows: dict[tuple[str, str], CareResidentRow] = {}
        for part in chunks(sorted(set(homes))):
            for row in session.scalars(select(CareResidentRow).where(CareResidentRow.home.in_(part))):
                self.rows[(row.home, row.name)] = row
        self.done: dict[tuple[str, str], tuple[int, bool]] = {}

    def upsert(self, item: PlacedDevice) -> tuple[int | None, bool]:
        """The resident's id and whether this import changed it (the first row naming a resident wins)."""
        draft = item.draft.resident
        if draft is None:
            return None, False
        key = (item.home, draft.name)
        if key in self.done:
            return self.done[key]
        row = self.rows.get(key)
        changed = row is None
        if row is None:
            row = CareResidentRow(home=item.home, name=draft.name, created_at=self.now, updated_at=self.now)
            self.session.add(row)
        phone_hash = self.vault.match_hash(draft.phone) if draft.phone else None
        if row.phone_hash != phone_hash or changed:
            row.phone_hash = phone_hash
            row.phone_encrypted = self.vault.encrypt(draft.phone) if draft.phone else None
            row.phone_masked = mask_phone(draft.phone) if draft.phone else None
            changed = True
        wanted = {"address": draft.address, "notes": draft.notes, "area_code": item.area_code,
                  "area_path": item.area_path}
        if any(getattr(row, k) != v for k, v in wanted.items()):
            for k, v in wanted.items():
                setattr(row, k, v)
            changed = True
        self.session.flush()
        changed = self._contacts(row, item) or changed
        if changed:
            row.updated_at = self.now
        self.done[key] = (row.id, changed)
        return row.id, changed

    def _contacts(self, row: CareResidentRow, item: PlacedDevice) -> bool:
        """Replace the resident's contacts with the row's, when the row lists any and they differ."""
        wanted = item.draft.contacts
        if not wanted:
            return False
        stored = list(self.session.scalars(select(CareContactRow).where(CareContactRow.resident_id == row.id)
                                           .order_by(CareContactRow.seq)))
        same = [(c.seq, c.name, c.relation, c.phone_hash) for c in stored] == [
            (n, c.name, c.relation, self.vault.match_hash(c.phone)) for n, c in enumerate(wanted, start=1)]
        if same:
            return False
        for contact in stored:
            self.session.delete(contact)
        self.session.flush()
        self.session.add_all(CareContactRow(resident_id=row.id, seq=n, name=c.name, relation=c.relation,
                                            phone_hash=self.vault.match_hash(c.phone),
                                            phone_encrypted=self.vault.encrypt(c.phone),
                                            phone_masked=mask_phone(c.phone))
                             for n, c in enumerate(wanted, start=1))
        return True
