"""Reading a catalogue spreadsheet: CSV or Excel bytes in, numbered rows of text cells out.

Pure: nothing is read from disk. Row numbers count like a spreadsheet (the header is usually row 1), so an
error message points at the row the admin sees. Problems that make the whole file unreadable are returned as
one `CatalogueProblem`, never raised as anything but `Invalid` by the callers.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from chengyun.categories.model import CatalogueProblem
from chengyun.shared.tabular import TableProblem, xlsx_rows

FILE = "file"  # `where` of problems that concern the whole file
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
    rows = xlsx_rows(data, MAX_XLSX_ROWS)
    if isinstance(rows, TableProblem):
        return CatalogueProblem(f"categories.import.{rows.reason}", FILE, rows.params)
    return [Record(number, cells) for number, cells in rows]
