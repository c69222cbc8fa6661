"""Small helpers shared by tests of several layers (no fixtures, no I/O beyond what each says)."""

from __future__ import annotations

import io
import os
import socket
from pathlib import Path

import pytest
from openpyxl import Workbook


def workbook_bytes(rows: list[list[object]]) -> bytes:
    """An .xlsx file whose first sheet holds these rows."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def free_port() -> int:
    """A local TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def shared_data() -> Path:
    """../shared/data beside the checkout; without it the calling module is skipped, or fails in CI (CI=true)."""
    data = Path(__file__).resolve().parents[2] / "shared" / "data"
    if not data.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{data} is required in CI (CI=true) but is missing", pytrace=False)
        pytest.skip(f"{data} not available", allow_module_level=True)
    return data
