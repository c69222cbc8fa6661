"""The CSV side of the area import, and the raw record both formats are read into before validation.

Pure: text in, data out. `chengyun.areas.parsing` validates the records and builds the drafts.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

import shapely.wkt
from shapely.errors import ShapelyError
from shapely.geometry import mapping

from chengyun.areas.model import AreaLevel, ImportProblem
from chengyun.shared.geo import CoordSystem

# Larger than any accepted file, so a long geometry cell is never refused by the csv module's own limit
# (131,072 characters by default); raising the process-wide limit only ever accepts more.
FIELD_SIZE_LIMIT = 64 * 1024 * 1024
FILE = "file"  # `where` of problems that concern the whole file


@dataclass(frozen=True)
class CsvOptions:
    """The columns of a division-code CSV; without a parent column the parent is read from the code's prefix."""

    code_col: str = "code"
    name_col: str = "name"
    parent_col: str | None = "parent"
    level_col: str | None = None
    level: AreaLevel | None = None  # forces the level of every row
    geometry_col: str | None = None  # a GeoJSON geometry object or WKT per row
    source_crs: CoordSystem = CoordSystem.WGS84


@dataclass(frozen=True, slots=True)
class RawArea:
    """One feature or row before validation: the texts as found, and the field names for messages."""

    where: str
    code: str | None
    name: str | None
    level: str | None
    parent: str | None
    geometry: object  # a GeoJSON-like geometry mapping, or None
    code_field: str
    name_field: str
    parent_field: str | None  # None: the parent is derived from the code's prefix
    problems: tuple[ImportProblem, ...] = ()


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One data row: `number` counts like a spreadsheet (the header is usually row 1)."""

    number: int
    values: dict[str, str]


@dataclass(frozen=True, slots=True)
class CsvTable:
    """The header (None when the text holds no non-blank row) and the non-blank data rows."""

    header: list[str] | None
    rows: list[CsvRow]


def csv_records(text: str, options: CsvOptions) -> list[RawArea] | ImportProblem:
    """Every data row as a raw record, or the one problem that makes the whole file unreadable."""
    table = read_table(text)
    if table.header is None:
        return ImportProblem("areas.import.empty_file", FILE, {})
    wanted = (options.code_col, options.name_col, options.parent_col, options.level_col, options.geometry_col)
    missing = [column for column in wanted if column is not None and column not in table.header]
    if missing:
        return ImportProblem("areas.import.missing_columns", "header",
                             {"missing": ", ".join(missing), "found": ", ".join(table.header)})
    if not table.rows:
        return ImportProblem("areas.import.empty_file", FILE, {})
    return [row_record(row, options) for row in table.rows]


def read_table(text: str) -> CsvTable:
    """Split comma-separated text into a header and rows; blank lines are skipped but still counted."""
    if csv.field_size_limit() < FIELD_SIZE_LIMIT:
        csv.field_size_limit(FIELD_SIZE_LIMIT)
    header: list[str] | None = None
    rows: list[CsvRow] = []
    for number, fields in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        cells = [field.strip() for field in fields]
        if not any(cells):
            continue
        if header is None:
            header = cells
            continue
        values: dict[str, str] = {}
        for column, cell in zip(header, cells, strict=False):
            values.setdefault(column, cell)
        rows.append(CsvRow(number, values))
    return CsvTable(header, rows)


def row_record(row: CsvRow, options: CsvOptions) -> RawArea:
    """One row as a raw record; `where` reads like "row 17 (510113002001)"."""
    values = row.values
    code = values.get(options.code_col) or None
    shown = code if code is None or len(code) <= 40 else code[:39] + "…"
    where = f"row {row.number} ({shown})" if shown else f"row {row.number}"
    geometry: object = None
    problems: tuple[ImportProblem, ...] = ()
    cell = values.get(options.geometry_col, "") if options.geometry_col else ""
    if cell:
        try:
            geometry = geometry_from_cell(cell)
        except ValueError as exc:
            problems = (ImportProblem("areas.import.bad_coordinates", where,
                                      {"reason": "unreadable", "msg": str(exc)[:200]}),)
    return RawArea(
        where, code, values.get(options.name_col) or None,
        (values.get(options.level_col) or None) if options.level_col else None,
        (values.get(options.parent_col) or None) if options.parent_col else None,
        geometry, options.code_col, options.name_col, options.parent_col, problems,
    )


def geometry_from_cell(text: str) -> object:
    """A cell holding a GeoJSON geometry object or WKT, as a GeoJSON-like mapping.

    Raises ValueError (with a readable message) when the cell is neither.
    """
    if text.startswith("{"):
        try:
            return json.loads(text)
        except RecursionError:
            raise ValueError("GeoJSON nested too deeply") from None
    try:
        return dict(mapping(shapely.wkt.loads(text)))
    except (ShapelyError, AttributeError, TypeError) as exc:
        raise ValueError(f"neither GeoJSON nor WKT: {exc}") from None
