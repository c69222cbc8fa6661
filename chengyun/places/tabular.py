"""Reading a gazetteer file (CSV or .xlsx) of roads, points of interest and compound aliases. Pure.

Every problem is returned with the spreadsheet row (the header is row 1), the column and the value; the caller
refuses the whole file when there is any. Coordinates are converted to WGS84 from the file's datum.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from chengyun.areas.model import ImportProblem
from chengyun.errors import Invalid
from chengyun.shared.geo import CoordSystem, to_wgs84
from chengyun.shared.tabular import TableProblem, csv_rows, xlsx_rows

FILE, HEADER = "file", "header"
MAX_ROWS = 50_000
MAX_SHOWN = 80
COLUMNS = ("code", "kind", "name", "category", "lon", "lat", "address", "aliases", "line")
_ALIASES = {
    "编码": "code", "编号": "code", "代码": "code", "类型": "kind", "种类": "kind", "名称": "name", "地名": "name",
    "类别": "category", "分类": "category", "经度": "lon", "longitude": "lon", "lng": "lon", "纬度": "lat",
    "latitude": "lat", "地址": "address", "别名": "aliases", "alias": "aliases", "走向": "line", "线路": "line",
    "坐标串": "line",
}
_KINDS = {"road": "road", "道路": "road", "路": "road", "街巷": "road", "poi": "poi", "兴趣点": "poi",
          "地点": "poi", "设施": "poi", "compound": "compound", "小区": "compound", "院落": "compound"}
_MAX_LEN = {"code": 40, "name": 100, "category": 40, "address": 200}
_SEPARATORS = str.maketrans({"；": ";", "、": ";", "，": ";", ",": ";", "|": ";"})


@dataclass(frozen=True, slots=True)
class PlaceDraft:
    """One clean row: a road or POI to store, or (kind compound) aliases for an existing compound."""

    row: int
    code: str
    kind: str
    name: str
    category: str | None
    lon: float | None
    lat: float | None
    address: str
    aliases: tuple[str, ...]
    line: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class GazetteerParse:
    """The drafts of the rows without problems, and every problem found."""

    drafts: tuple[PlaceDraft, ...]
    problems: tuple[ImportProblem, ...]


def parse_places(data: bytes, filename: str, compounds: Mapping[str, str],
                 crs: CoordSystem = CoordSystem.WGS84) -> GazetteerParse:
    """A CSV (UTF-8) or .xlsx file → drafts and problems; `compounds` maps the known compound codes to names."""
    lines = _xlsx(data) if filename.lower().endswith(".xlsx") else _csv(data)
    if isinstance(lines, ImportProblem):
        return GazetteerParse((), (lines,))
    if len(lines) < 2:
        return GazetteerParse((), (ImportProblem("places.import.empty_file", FILE, {}),))
    columns = _columns(lines[0][1])
    if isinstance(columns, ImportProblem):
        return GazetteerParse((), (columns,))
    drafts: list[PlaceDraft] = []
    problems: list[ImportProblem] = []
    first: dict[str, int] = {}
    for number, cells in lines[1:]:
        values = {name: cells[i] if i < len(cells) else "" for name, i in columns.items()}
        row = _Row(number, values, crs)
        draft = row.read(compounds)
        if draft is not None and draft.code in first:
            row.problem("places.import.duplicate_code", "code", draft.code, first=first[draft.code])
        elif draft is not None:
            first[draft.code] = number
        problems += row.problems
        if draft is not None and not row.problems:
            drafts.append(draft)
    return GazetteerParse(tuple(drafts), tuple(problems))


def _csv(data: bytes) -> list[tuple[int, tuple[str, ...]]] | ImportProblem:
    return _rows_or_problem(csv_rows(data, MAX_ROWS + 1))


def _xlsx(data: bytes) -> list[tuple[int, tuple[str, ...]]] | ImportProblem:
    return _rows_or_problem(xlsx_rows(data, MAX_ROWS + 1))


def _rows_or_problem(rows: list[tuple[int, tuple[str, ...]]] | TableProblem,
                     ) -> list[tuple[int, tuple[str, ...]]] | ImportProblem:
    if not isinstance(rows, TableProblem):
        return rows
    params: dict[str, object] = {"limit": MAX_ROWS} if rows.reason == "too_many_rows" else rows.params
    return ImportProblem(f"places.import.{rows.reason}", FILE, params)


def _columns(header: Sequence[str]) -> dict[str, int] | ImportProblem:
    found: dict[str, int] = {}
    for index, cell in enumerate(header):
        text = cell.strip().lstrip("*").strip().lower()
        name = text if text in COLUMNS else _ALIASES.get(text)
        if name is None:
            continue
        if name in found:
            return ImportProblem("places.import.duplicate_column", HEADER, {"column": name, "value": cell})
        found[name] = index
    missing = [c for c in ("code", "kind", "name") if c not in found]
    if missing:
        return ImportProblem("places.import.missing_columns", HEADER,
                             {"missing": ", ".join(missing), "found": ", ".join(header)[:200]})
    return found


class _Row:
    """One data row's cells and the problems found in them."""

    def __init__(self, number: int, values: Mapping[str, str], crs: CoordSystem) -> None:
        self.number, self.values, self.crs = number, values, crs
        self.problems: list[ImportProblem] = []

    def problem(self, code: str, column: str, value: str, **params: object) -> None:
        """Record a problem with one cell."""
        shown = value if len(value) <= MAX_SHOWN else value[: MAX_SHOWN - 1] + "…"
        self.problems.append(ImportProblem(code, f"row {self.number}", {"column": column, "value": shown,
                                                                        **params}))

    def read(self, compounds: Mapping[str, str]) -> PlaceDraft | None:
        """The draft, or None when a required cell is unreadable (problems recorded)."""
        code, kind, name = self._required("code"), self._kind(), self.values.get("name", "")
        for column, limit in _MAX_LEN.items():
            if len(self.values.get(column, "")) > limit:
                self.problem("places.import.too_long", column, self.values[column], limit=limit)
        aliases = tuple(dict.fromkeys(a.strip() for a in self.values.get("aliases", "").translate(_SEPARATORS)
                                      .split(";") if a.strip()))
        if code is None or kind is None:
            return None
        if kind == "compound":
            return self._compound(code, aliases, compounds)
        if not name:
            self.problem("places.import.missing_value", "name", "")
        line = self._line() if kind == "road" else ()
        point = self._point(required=not line) or (_middle(line) if line else None)
        return PlaceDraft(self.number, code, kind, name, self.values.get("category") or None,
                          point[0] if point else None, point[1] if point else None,
                          self.values.get("address", ""), aliases, line)

    def _compound(self, code: str, aliases: tuple[str, ...], compounds: Mapping[str, str]) -> PlaceDraft | None:
        if code not in compounds:
            self.problem("places.import.unknown_compound", "code", code)
        if not aliases:
            self.problem("places.import.missing_value", "aliases", "")
        return PlaceDraft(self.number, code, "compound", compounds.get(code, ""), None, None, None, "", aliases, ())

    def _required(self, column: str) -> str | None:
        cell = self.values.get(column, "")
        if not cell:
            self.problem("places.import.missing_value", column, "")
            return None
        return cell

    def _kind(self) -> str | None:
        cell = self._required("kind")
        kind = _KINDS.get(cell.strip().lower()) if cell else None
        if cell and kind is None:
            self.problem("places.import.bad_kind", "kind", cell)
        return kind

    def _point(self, *, required: bool) -> tuple[float, float] | None:
        lon_text, lat_text = self.values.get("lon", ""), self.values.get("lat", "")
        if not lon_text and not lat_text and not required:
            return None
        lon = self._number("lon", lon_text)
        lat = self._number("lat", lat_text)
        if lon is None or lat is None:
            return None
        return self._wgs84("lon", f"{lon_text},{lat_text}", lambda: to_wgs84(lon, lat, self.crs))

    def _number(self, column: str, text: str) -> float | None:
        if not text:
            self.problem("places.import.missing_value", column, "")
            return None
        try:
            return float(text)
        except ValueError:
            self.problem("places.import.bad_number", column, text)
            return None

    def _wgs84(self, column: str, text: str, convert: Callable[[], tuple[float, float]]) -> tuple[float, float] | None:
        try:
            return convert()
        except Invalid:
            self.problem("places.import.out_of_range", column, text)
            return None

    def _line(self) -> tuple[tuple[float, float], ...]:
        """`lon,lat;lon,lat;…` (or `lon lat;…`), at least two points."""
        text = self.values.get("line", "")
        if not text:
            return ()
        points = []
        for part in text.replace("；", ";").split(";"):
            pair = part.replace(",", " ").replace("，", " ").split()
            try:
                lon, lat = float(pair[0]), float(pair[1])
                points.append(to_wgs84(lon, lat, self.crs))
            except (ValueError, IndexError, Invalid):
                self.problem("places.import.bad_line", "line", text)
                return ()
        if len(points) < 2:
            self.problem("places.import.bad_line", "line", text)
            return ()
        return tuple(points)


def _middle(line: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """The vertex in the middle of a road's course: its representative point."""
    return line[len(line) // 2]
