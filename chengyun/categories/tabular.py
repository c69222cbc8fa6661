"""Reading a catalogue spreadsheet: CSV or Excel bytes in, numbered rows of text cells out.

Pure: nothing is read from disk. Row numbers count like a spreadsheet (the header is usually row 1), so an
error message points at the row the admin sees. Problems that make the whole file unreadable are returned as
one `CatalogueProblem`, never raised as anything but `Invalid` by the callers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import warnings
import zipfile
from dataclasses import dataclass

from chengyun.categories.model import CatalogueProblem

FILE = "file"  # `where` of problems that concern the whole file
MAX_XLSX_UNPACKED = 64 * 1024 * 1024  # refuse zip bombs before openpyxl inflates them
MAX_XLSX_ROWS = 20_000


@dataclass(frozen=True, slots=True)
class Record:
    """One non-blank line of a sheet: its spreadsheet row number and its cells as stripped text."""

    number: int
    cells: tuple[str, ...]


def csv_records(data: bytes) -> list[Record] | CatalogueProblem:
    """Every non-blank CSV line (UTF-8, with or without BOM), or the problem that makes the file unreadable."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return CatalogueProblem("categories.import.not_utf8", FILE, {"position": exc.start})
    records: list[Record] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for fields in reader:
            cells = tuple(field.strip() for field in fields)
            if any(cells):
                records.append(Record(reader.line_num, cells))
    except csv.Error as exc:
        return CatalogueProblem("categories.import.unreadable", FILE, {"line": reader.line_num, "msg": str(exc)})
    return records


def xlsx_records(data: bytes) -> list[Record] | CatalogueProblem:
    """Every non-blank row of the workbook's first sheet, or the problem that makes the file unreadable."""
    problem = _zip_problem(data)
    if problem is not None:
        return problem
    try:
        return _read_sheet(data)
    except Exception as exc:  # openpyxl raises many kinds (zip, XML, key, value errors) on a corrupt workbook
        return CatalogueProblem("categories.import.not_xlsx", FILE, {"msg": f"{type(exc).__name__}: {exc}"[:200]})


def _zip_problem(data: bytes) -> CatalogueProblem | None:
    """Refuse what is not a zip archive, and archives that would inflate beyond the limit."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        return CatalogueProblem("categories.import.not_xlsx", FILE, {"msg": str(exc)[:200]})
    if unpacked > MAX_XLSX_UNPACKED:
        return CatalogueProblem("categories.import.not_xlsx", FILE, {"msg": f"unpacks to {unpacked} bytes"})
    return None


def _read_sheet(data: bytes) -> list[Record] | CatalogueProblem:
    from openpyxl import load_workbook  # imported here: only Excel imports pay for it

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about unsupported extensions it then ignores
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        records: list[Record] = []
        for number, values in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
            if number > MAX_XLSX_ROWS:
                return CatalogueProblem("categories.import.too_many_rows", FILE, {"limit": MAX_XLSX_ROWS})
            cells = tuple(cell_text(value) for value in values)
            if any(cells):
                records.append(Record(number, cells))
        return records
    finally:
        workbook.close()


def cell_text(value: object) -> str:
    """A spreadsheet cell as text: whole numbers without '.0', booleans as true/false, blanks as ''."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()
