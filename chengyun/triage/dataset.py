"""Labelled texts from a CSV (UTF-8) or .xlsx file's bytes; pure, no I/O."""

from __future__ import annotations

import csv
import io

from chengyun.errors import Invalid
from chengyun.shared.tabular import TableProblem, xlsx_rows

MAX_ROWS = 1_000_000


def read_labelled(data: bytes, filename: str, text_col: str, label_col: str) -> tuple[list[str], list[str]]:
    """(texts, labels) of the rows with both cells filled; refuses an unreadable file or a missing column."""
    rows = _rows(data, filename)
    if not rows:
        raise Invalid("triage.empty_data")
    header = [cell.strip().lstrip("\ufeff") for cell in rows[0]]
    missing = [col for col in (text_col, label_col) if col not in header]
    if missing:
        raise Invalid("triage.missing_column", columns=", ".join(missing), found=", ".join(header))
    t, y = header.index(text_col), header.index(label_col)
    texts, labels = [], []
    for row in rows[1:]:
        text = row[t].strip() if t < len(row) else ""
        label = row[y].strip() if y < len(row) else ""
        if text and label:
            texts.append(text)
            labels.append(label)
    if not texts:
        raise Invalid("triage.empty_data")
    return texts, labels


def _rows(data: bytes, filename: str) -> list[list[str]]:
    if filename.lower().endswith((".xlsx", ".xlsm")):
        found = xlsx_rows(data, MAX_ROWS)
        if isinstance(found, TableProblem):
            raise Invalid("triage.bad_file", name=filename, msg=str(found.params.get("msg", found.reason)))
        return [list(cells) for _, cells in found]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid("triage.bad_file", name=filename, msg=f"not UTF-8: {exc.reason}") from None
    try:
        return [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise Invalid("triage.bad_file", name=filename, msg=str(exc)) from None
