"""Reading an upload's rows safely: the first sheet of an .xlsx (zip-bomb check, openpyxl) or a UTF-8 CSV, cells as
stripped text.

Pure (bytes in, rows out). Each import (category catalogue, duty list, gazetteer, devices) turns a `TableProblem`
into its own translatable problem code, `<domain>.import.<reason>`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import warnings
import zipfile
from dataclasses import dataclass, field

MAX_XLSX_UNPACKED = 64 * 1024 * 1024  # refuse zip bombs before openpyxl inflates them

Row = tuple[int, tuple[str, ...]]  # spreadsheet row number, stripped cells


@dataclass(frozen=True, slots=True)
class TableProblem:
    """Why a whole file is unreadable: `not_xlsx`, `not_utf8`, `unreadable` (CSV) or `too_many_rows`, with message
    parameters."""

    reason: str
    params: dict[str, object] = field(default_factory=dict)


def xlsx_rows(data: bytes, max_rows: int) -> list[Row] | TableProblem:
    """Every non-blank row of the first sheet (at most `max_rows` rows read), or why the file is refused."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        return TableProblem("not_xlsx", {"msg": str(exc)[:200]})
    if unpacked > MAX_XLSX_UNPACKED:
        return TableProblem("not_xlsx", {"msg": f"unpacks to {unpacked} bytes"})
    try:
        return _read_sheet(data, max_rows)
    except Exception as exc:  # openpyxl raises many kinds (zip, XML, key, value errors) on a damaged workbook
        return TableProblem("not_xlsx", {"msg": f"{type(exc).__name__}: {exc}"[:200]})


def csv_rows(data: bytes, max_rows: int) -> list[Row] | TableProblem:
    """Every non-blank row of a UTF-8 CSV (a BOM is allowed) with its line number (at most `max_rows`), or why the
    file is refused."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return TableProblem("not_utf8", {"position": exc.start})
    reader = csv.reader(io.StringIO(text, newline=""))
    lines: list[Row] = []
    try:
        for fields in reader:
            cells = tuple(f.strip() for f in fields)
            if any(cells):
                lines.append((reader.line_num, cells))
            if len(lines) > max_rows:
                return TableProblem("too_many_rows", {"limit": max_rows})
    except csv.Error as exc:
        return TableProblem("unreadable", {"row": reader.line_num, "msg": str(exc)[:200]})
    return lines


def _read_sheet(data: bytes, max_rows: int) -> list[Row] | TableProblem:
    from openpyxl import load_workbook  # imported here: only Excel imports pay for it

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about unsupported extensions it then ignores
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        rows: list[Row] = []
        for number, values in enumerate(workbook.worksheets[0].iter_rows(min_row=1, values_only=True), start=1):
            if number > max_rows:
                return TableProblem("too_many_rows", {"limit": max_rows})
            cells = tuple(cell_text(value) for value in values)
            if any(cells):
                rows.append((number, cells))
        return rows
    finally:
        workbook.close()


def cell_text(value: object) -> str:
    """A spreadsheet cell as text: whole numbers without '.0' (codes are often typed as numbers), booleans as
    true/false, dates in ISO form, blanks as ''."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()
