"""Reading a device file (CSV or .xlsx): one row per device, with its place, resident and contacts. Pure.

Columns (header row; Chinese names accepted): device_id, type, name, place (a gazetteer code, or a name or
address), address, lon, lat (WGS84), building, unit, room, resident_name, resident_phone, resident_address,
resident_notes, contact1_name, contact1_relation, contact1_phone … contact5_*. Every problem is returned with the
row (the header is row 1), the column and the value; the caller refuses the whole file when there is any.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from chengyun.areas.model import ImportProblem
from chengyun.devices.model import DEVICE_ID
from chengyun.errors import Invalid
from chengyun.shared.privacy import normalise_phone
from chengyun.shared.tabular import TableProblem, csv_rows, xlsx_rows

FILE, HEADER = "file", "header"
MAX_ROWS = 100_000
MAX_CONTACTS = 5
MAX_SHOWN = 80
CONTACT_FIELDS = ("name", "relation", "phone")
COLUMNS = ("device_id", "type", "name", "place", "address", "lon", "lat", "building", "unit", "room",
           "resident_name", "resident_phone", "resident_address", "resident_notes",
           *(f"contact{n}_{f}" for n in range(1, MAX_CONTACTS + 1) for f in CONTACT_FIELDS))
MAX_LEN = {"name": 100, "place": 200, "address": 200, "building": 20, "unit": 20, "room": 20,
           "resident_name": 50, "resident_address": 200, "resident_notes": 500,
           **{f"contact{n}_name": 50 for n in range(1, MAX_CONTACTS + 1)},
           **{f"contact{n}_relation": 20 for n in range(1, MAX_CONTACTS + 1)}}
_ALIASES = {
    "设备编号": "device_id", "设备id": "device_id", "编号": "device_id", "类型": "type", "设备类型": "type",
    "type_code": "type", "名称": "name", "设备名称": "name", "地点": "place", "位置": "place", "地址": "address",
    "经度": "lon", "longitude": "lon", "lng": "lon", "纬度": "lat", "latitude": "lat", "楼栋": "building",
    "栋": "building", "单元": "unit", "房号": "room", "室": "room", "户号": "room", "住户姓名": "resident_name",
    "住户电话": "resident_phone", "住户地址": "resident_address", "备注": "resident_notes",
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True, slots=True)
class ContactDraft:
    """A contact as written: name, relation (儿子, 女儿, 邻居 …), mobile number (normalised, 11 digits)."""

    name: str
    relation: str
    phone: str


@dataclass(frozen=True, slots=True)
class ResidentDraft:
    """The resident a device watches over: name, optional mobile (normalised), address, notes."""

    name: str
    phone: str | None = None
    address: str = ""
    notes: str = ""


@dataclass(frozen=True, slots=True)
class DeviceDraft:
    """One clean row: a device to register or update (its place is resolved later against the gazetteer)."""

    row: int
    device_id: str
    type_code: str
    name: str = ""
    place: str = ""
    address: str = ""
    lon: float | None = None
    lat: float | None = None
    building: str = ""
    unit: str = ""
    room: str = ""
    resident: ResidentDraft | None = None
    contacts: tuple[ContactDraft, ...] = ()


@dataclass(frozen=True, slots=True)
class DeviceParse:
    """The drafts of the rows without problems, and every problem found."""

    drafts: tuple[DeviceDraft, ...]
    problems: tuple[ImportProblem, ...]


def parse_devices(data: bytes, filename: str, types: Sequence[str]) -> DeviceParse:
    """A CSV (UTF-8) or .xlsx file → drafts and problems; `types` are the known device type codes."""
    lines = _xlsx(data) if filename.lower().endswith(".xlsx") else _csv(data)
    if isinstance(lines, ImportProblem):
        return DeviceParse((), (lines,))
    if len(lines) < 2:
        return DeviceParse((), (ImportProblem("devices.import.empty_file", FILE, {}),))
    columns = _columns(lines[0][1])
    if isinstance(columns, ImportProblem):
        return DeviceParse((), (columns,))
    drafts: list[DeviceDraft] = []
    problems: list[ImportProblem] = []
    first: dict[str, int] = {}
    for number, cells in lines[1:]:
        values = {name: cells[i] if i < len(cells) else "" for name, i in columns.items()}
        row = RowReader(number, values)
        draft = row.read(types)
        if draft is not None and draft.device_id in first:
            row.problem("devices.import.duplicate_id", "device_id", draft.device_id, first=first[draft.device_id])
        elif draft is not None:
            first[draft.device_id] = number
        problems += row.problems
        if draft is not None and not row.problems:
            drafts.append(draft)
    return DeviceParse(tuple(drafts), tuple(problems))


def _csv(data: bytes) -> list[tuple[int, tuple[str, ...]]] | ImportProblem:
    return _rows_or_problem(csv_rows(data, MAX_ROWS + 1))


def _xlsx(data: bytes) -> list[tuple[int, tuple[str, ...]]] | ImportProblem:
    return _rows_or_problem(xlsx_rows(data, MAX_ROWS + 1))


def _rows_or_problem(rows: list[tuple[int, tuple[str, ...]]] | TableProblem,
                     ) -> list[tuple[int, tuple[str, ...]]] | ImportProblem:
    if not isinstance(rows, TableProblem):
        return rows
    params: dict[str, object] = {"limit": MAX_ROWS} if rows.reason == "too_many_rows" else rows.params
    return ImportProblem(f"devices.import.{rows.reason}", FILE, params)


def _columns(header: Sequence[str]) -> dict[str, int] | ImportProblem:
    found: dict[str, int] = {}
    for index, cell in enumerate(header):
        text = cell.strip().lstrip("*").strip().lower()
        name = text if text in COLUMNS else _ALIASES.get(text)
        if name is None:
            return ImportProblem("devices.import.unknown_column", HEADER, {"column": cell[:40],
                                                                            "known": ", ".join(COLUMNS[:14])})
        if name in found:
            return ImportProblem("devices.import.duplicate_column", HEADER, {"column": name, "value": cell})
        found[name] = index
    missing = [c for c in ("device_id", "type") if c not in found]
    if missing:
        return ImportProblem("devices.import.missing_columns", HEADER,
                             {"missing": ", ".join(missing), "found": ", ".join(header)[:200]})
    return found


class RowReader:
    """One row's cells (column → text) and the problems found in them; also checks a single API registration."""

    def __init__(self, number: int, values: Mapping[str, str]) -> None:
        self.number, self.values = number, values
        self.problems: list[ImportProblem] = []

    def problem(self, code: str, column: str, value: str, **params: object) -> None:
        """Record a problem with one cell."""
        shown = value if len(value) <= MAX_SHOWN else value[: MAX_SHOWN - 1] + "…"
        self.problems.append(ImportProblem(code, f"row {self.number}", {"column": column, "value": shown,
                                                                        **params}))

    def read(self, types: Sequence[str]) -> DeviceDraft | None:
        """The draft, or None when the device id or type is unusable (problems recorded)."""
        device_id, type_code = self.values.get("device_id", ""), self.values.get("type", "")
        if not DEVICE_ID.match(device_id):
            self.problem("devices.import.bad_device_id", "device_id", device_id)
        if type_code not in types:
            self.problem("devices.import.unknown_type", "type", type_code, known=", ".join(types))
        self._texts()
        lon, lat = self._point()
        resident, contacts = self._resident(), self._contacts()
        if contacts and resident is None:
            self.problem("devices.import.contacts_without_resident", "resident_name", "")
        if self.problems:
            return None
        text = self.values.get
        return DeviceDraft(self.number, device_id, type_code, text("name", ""), text("place", ""),
                           text("address", ""), lon, lat, text("building", ""), text("unit", ""), text("room", ""),
                           resident, contacts)

    def _texts(self) -> None:
        for column, value in self.values.items():
            if _CONTROL.search(value):
                self.problem("devices.import.bad_text", column, _CONTROL.sub("?", value))
            elif column in MAX_LEN and len(value) > MAX_LEN[column]:
                self.problem("devices.import.too_long", column, value, limit=MAX_LEN[column])

    def _point(self) -> tuple[float | None, float | None]:
        lon_text, lat_text = self.values.get("lon", ""), self.values.get("lat", "")
        if not lon_text and not lat_text:
            return None, None
        lon, lat = _number(lon_text), _number(lat_text)
        if lon is None or lat is None or not (-180 <= lon <= 180 and -90 <= lat <= 90):
            self.problem("devices.import.bad_point", "lon", f"{lon_text},{lat_text}")
            return None, None
        return lon, lat

    def _phone(self, column: str) -> str | None:
        raw = self.values.get(column, "")
        if not raw:
            return None
        try:
            return normalise_phone(raw)
        except Invalid:
            self.problem("devices.import.bad_phone", column, raw[:3] + "…" if len(raw) > 3 else raw)
            return None

    def _resident(self) -> ResidentDraft | None:
        name, phone = self.values.get("resident_name", ""), self._phone("resident_phone")
        extra = any(self.values.get(c) for c in ("resident_phone", "resident_address", "resident_notes"))
        if not name:
            if extra:
                self.problem("devices.import.missing_value", "resident_name", "")
            return None
        return ResidentDraft(name, phone, self.values.get("resident_address", ""),
                             self.values.get("resident_notes", ""))

    def _contacts(self) -> tuple[ContactDraft, ...]:
        contacts = []
        for n in range(1, MAX_CONTACTS + 1):
            name, relation = self.values.get(f"contact{n}_name", ""), self.values.get(f"contact{n}_relation", "")
            phone = self._phone(f"contact{n}_phone")
            if not (name or relation or self.values.get(f"contact{n}_phone")):
                continue
            if not name or phone is None:
                column = f"contact{n}_name" if not name else f"contact{n}_phone"
                if not name or not self.values.get(column):
                    self.problem("devices.import.contact_incomplete", column, "", n=n)
                continue
            contacts.append(ContactDraft(name, relation, phone))
        return tuple(contacts)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
