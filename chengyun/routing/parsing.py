"""Pure parsing of a duty-list file (CSV text or .xlsx bytes) into rules, with a precise problem per row and column.

Nothing is read from disk or stored: known category, unit and area codes are passed in. Every problem found is
returned, never raised, naming the row as a spreadsheet shows it (the header is row 1), the column and the value;
importing all or nothing is the caller's job.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from chengyun.areas.model import AreaLevel, ImportProblem, infer_level, normalise_code, parse_level
from chengyun.errors import Invalid
from chengyun.routing.model import DutyRule
from chengyun.shared.handling import HandlingLevel, TimeLimit
from chengyun.shared.tabular import TableProblem, xlsx_rows

FILE, HEADER = "file", "header"  # `where` of problems about the whole file or its header
MAX_ROWS = 20_000
MAX_SHOWN = 80  # characters of a cell value repeated in a problem
COLUMNS = ("category", "area_level", "area", "handling_level", "lead_unit", "assist_units", "response_limit",
           "handling_limit")
REQUIRED_COLUMNS = ("category", "area_level", "handling_level", "lead_unit")
_ALIASES = {
    "category_code": "category", "事件分类": "category", "分类": "category", "分类编码": "category",
    "事项": "category", "level": "area_level", "区划层级": "area_level", "层级": "area_level",
    "area_code": "area", "区划": "area", "区划编码": "area", "区域": "area",
    "处置层级": "handling_level", "处置级别": "handling_level",
    "lead": "lead_unit", "主办单位": "lead_unit", "主办": "lead_unit", "牵头单位": "lead_unit",
    "assists": "assist_units", "协办单位": "assist_units", "协办": "assist_units", "配合单位": "assist_units",
    "响应时限": "response_limit", "签收时限": "response_limit",
    "处置时限": "handling_limit", "办结时限": "handling_limit",
}
_HANDLING_LEVELS = {
    "物业": HandlingLevel.PROPERTY, "小区": HandlingLevel.PROPERTY, "社区": HandlingLevel.COMMUNITY,
    "街道": HandlingLevel.STREET, "区": HandlingLevel.DISTRICT, "区级": HandlingLevel.DISTRICT,
    "县": HandlingLevel.DISTRICT, "市": HandlingLevel.CITY, "市级": HandlingLevel.CITY,
}
_UNIT_SEPARATORS = re.compile(r"[;；,，、]")


@dataclass(frozen=True, slots=True)
class KnownCodes:
    """What a file may refer to: category and unit codes with their names (a cell may hold either), area levels."""

    categories: Mapping[str, str]
    units: Mapping[str, str]
    areas: Mapping[str, AreaLevel]


@dataclass(frozen=True, slots=True)
class DutyListParse:
    """The rules of the rows without problems, and every problem found (empty when the file is clean)."""

    rules: tuple[DutyRule, ...]
    problems: tuple[ImportProblem, ...]


_Line = tuple[int, tuple[str, ...]]  # spreadsheet row number, stripped cells
_Key = tuple[str, AreaLevel, str | None, HandlingLevel]  # rows with the same key are duplicates
_T = TypeVar("_T")


# --- public API ------------------------------------------------------------------------------------------------


def parse_duty_csv(data: str | bytes, known: KnownCodes) -> DutyListParse:
    """Comma-separated text (or UTF-8 bytes, BOM allowed) with a header row → rules and problems."""
    return _parse(_csv_lines(data), known)


def parse_duty_xlsx(data: bytes, known: KnownCodes) -> DutyListParse:
    """The first sheet of an .xlsx workbook with a header row → rules and problems."""
    return _parse(_xlsx_lines(data), known)


def parse_handling_level(text: str) -> HandlingLevel:
    """Our codes or the Chinese labels (物业, 小区, 社区, 街道, 区, 市 …); else Invalid, code bad_handling_level."""
    value = text.strip().lower()
    for level in HandlingLevel:
        if value == level.value:
            return level
    if value in _HANDLING_LEVELS:
        return _HANDLING_LEVELS[value]
    raise Invalid("routing.bad_handling_level", value=text, allowed=", ".join(lv.value for lv in HandlingLevel))


def split_units(text: str) -> list[str]:
    """A cell of assisting units separated by ; ； , ， or 、 → the non-blank parts."""
    return [part.strip() for part in _UNIT_SEPARATORS.split(text) if part.strip()]


# --- reading the two formats -----------------------------------------------------------------------------------


def _csv_lines(data: str | bytes) -> list[_Line] | ImportProblem:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return ImportProblem("routing.import.not_utf8", FILE, {"position": exc.start})
    reader = csv.reader(io.StringIO(data.removeprefix("\ufeff"), newline=""))
    lines: list[_Line] = []
    number = 0
    try:
        for number, fields in enumerate(reader, start=1):  # a record is a spreadsheet row, even across newlines
            cells = tuple(field.strip() for field in fields)
            if any(cells):
                lines.append((number, cells))
    except csv.Error as exc:
        return ImportProblem("routing.import.unreadable", FILE, {"row": number + 1, "msg": str(exc)[:200]})
    return lines


def _xlsx_lines(data: bytes) -> list[_Line] | ImportProblem:
    rows = xlsx_rows(data, MAX_ROWS + 1)  # the header plus MAX_ROWS rules
    if isinstance(rows, TableProblem):
        params: dict[str, object] = {"limit": MAX_ROWS} if rows.reason == "too_many_rows" else rows.params
        return ImportProblem(f"routing.import.{rows.reason}", FILE, params)
    return rows


# --- the table -------------------------------------------------------------------------------------------------


def _parse(lines: list[_Line] | ImportProblem, known: KnownCodes) -> DutyListParse:
    if isinstance(lines, ImportProblem):
        return DutyListParse((), (lines,))
    if len(lines) > MAX_ROWS + 1:
        return DutyListParse((), (ImportProblem("routing.import.too_many_rows", FILE, {"limit": MAX_ROWS}),))
    columns = _columns(lines[0][1]) if lines else None
    if isinstance(columns, ImportProblem):
        return DutyListParse((), (columns,))
    if columns is None or len(lines) < 2:
        return DutyListParse((), (ImportProblem("routing.import.empty_file", FILE, {}),))
    reader = _RowReader(known)
    rules: list[DutyRule] = []
    problems: list[ImportProblem] = []
    first_row: dict[_Key, int] = {}
    for number, cells in lines[1:]:
        values = {name: cells[index] if index < len(cells) else "" for name, index in columns.items()}
        rule, key, found = reader.read(number, values)
        if key is not None and key in first_row:
            found.append(ImportProblem("routing.import.duplicate_rule", f"row {number}", {"first": first_row[key]}))
        elif key is not None:
            first_row[key] = number
        problems += found
        if rule is not None and not found:
            rules.append(rule)
    return DutyListParse(tuple(rules), tuple(problems))


def _columns(header: Sequence[str]) -> dict[str, int] | ImportProblem:
    """Canonical column name → index; English names, Chinese aliases and a leading '*' are accepted."""
    found: dict[str, int] = {}
    for index, cell in enumerate(header):
        text = cell.strip().lstrip("*").strip().lower()
        name = text if text in COLUMNS else _ALIASES.get(text)
        if name is None:
            continue  # notes and other extra columns are ignored
        if name in found:
            return ImportProblem("routing.import.duplicate_column", HEADER, {"column": name, "value": cell})
        found[name] = index
    missing = [column for column in REQUIRED_COLUMNS if column not in found]
    if missing:
        return ImportProblem("routing.import.missing_columns", HEADER,
                             {"missing": ", ".join(missing), "found": ", ".join(header)[:200]})
    return found


class _Lookup:
    """Resolves a cell to a code: the code itself, else a unique name."""

    def __init__(self, names: Mapping[str, str]) -> None:
        self.codes = names
        self.by_name: dict[str, list[str]] = {}
        for code, name in names.items():
            self.by_name.setdefault(name.strip(), []).append(code)

    def resolve(self, cell: str) -> str | list[str]:
        """The code, or every code with that name (none: unknown; several: ambiguous)."""
        return cell if cell in self.codes else sorted(self.by_name.get(cell, []))


class _RowReader:
    """Reads one row into a rule, collecting a problem per bad cell."""

    def __init__(self, known: KnownCodes) -> None:
        self.categories = _Lookup(known.categories)
        self.units = _Lookup(known.units)
        self.areas = known.areas

    def read(self, number: int, values: Mapping[str, str]) -> tuple[DutyRule | None, _Key | None,
                                                                     list[ImportProblem]]:
        """(rule or None, duplicate key or None, problems) for one data row."""
        cells = _Cells(f"row {number}", values)
        category = self._code(cells, "category", self.categories, "routing.import.unknown_category")
        area_level = cells.convert("area_level", parse_level, "routing.import.bad_area_level")
        area_ok, area = self._area(cells)
        handling_level = cells.convert("handling_level", parse_handling_level, "routing.import.bad_handling_level")
        lead = self._code(cells, "lead_unit", self.units, "routing.import.unknown_unit")
        assists = self._assists(cells, lead)
        response = cells.convert("response_limit", TimeLimit.parse, "routing.import.bad_limit", required=False)
        handling = cells.convert("handling_limit", TimeLimit.parse, "routing.import.bad_limit", required=False)
        if category is None or area_level is None or handling_level is None or not area_ok:
            return None, None, cells.problems
        key = (category, area_level, area, handling_level)
        if cells.problems or lead is None:
            return None, key, cells.problems
        rule = DutyRule(number, category, area_level, handling_level, lead, tuple(assists), area, response, handling)
        return rule, key, cells.problems

    def _code(self, cells: _Cells, column: str, lookup: _Lookup, unknown: str) -> str | None:
        cell = cells.text(column)
        return None if cell is None else cells.resolved(column, cell, lookup, unknown)

    def _area(self, cells: _Cells) -> tuple[bool, str | None]:
        """(readable, the area code or None for a level-only rule)."""
        cell = cells.values.get("area", "")
        if not cell:
            return True, None
        code = cell if cell in self.areas else _normalised_area(cell)
        if code is None or code not in self.areas:
            cells.problem("routing.import.unknown_area", "area", cell)
            return False, None
        return True, code

    def _assists(self, cells: _Cells, lead: str | None) -> list[str]:
        codes: list[str] = []
        for part in split_units(cells.values.get("assist_units", "")):
            code = cells.resolved("assist_units", part, self.units, "routing.import.unknown_unit")
            if code is None:
                continue
            if code == lead:
                cells.problem("routing.import.lead_also_assists", "assist_units", part)
            elif code in codes:
                cells.problem("routing.import.repeated_assist", "assist_units", part)
            else:
                codes.append(code)
        return codes


class _Cells:
    """One row's cells by column and the problems found in them."""

    def __init__(self, where: str, values: Mapping[str, str]) -> None:
        self.where = where
        self.values = values
        self.problems: list[ImportProblem] = []

    def problem(self, code: str, column: str, value: str, **params: object) -> None:
        """Record a problem with one cell."""
        shown = value if len(value) <= MAX_SHOWN else value[: MAX_SHOWN - 1] + "…"
        self.problems.append(ImportProblem(code, self.where, {"column": column, "value": shown, **params}))

    def text(self, column: str) -> str | None:
        """A required cell's text, or None after recording that it is missing."""
        cell = self.values.get(column, "")
        if not cell:
            self.problem("routing.import.missing_value", column, "")
            return None
        return cell

    def convert(self, column: str, parse: Callable[[str], _T], bad: str, *, required: bool = True) -> _T | None:
        """The parsed cell; None when it is blank (recorded if required) or unreadable (recorded)."""
        cell = self.text(column) if required else self.values.get(column) or None
        if cell is None:
            return None
        try:
            return parse(cell)
        except Invalid:
            self.problem(bad, column, cell)
            return None

    def resolved(self, column: str, cell: str, lookup: _Lookup, unknown: str) -> str | None:
        """The code for a code-or-name cell; None after recording an unknown or ambiguous value."""
        found = lookup.resolve(cell)
        if isinstance(found, str):
            return found
        if len(found) == 1:
            return found[0]
        if found:
            self.problem("routing.import.ambiguous_name", column, cell, codes=", ".join(found))
        else:
            self.problem(unknown, column, cell)
        return None


def _normalised_area(cell: str) -> str | None:
    """A short division code (510113002) padded to the stored length, or None."""
    if not (cell.isascii() and cell.isdigit()):
        return None
    try:
        return normalise_code(cell, infer_level(cell))
    except Invalid:
        return None
