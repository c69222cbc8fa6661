"""Reports from upstream and district systems (12345, 省市/区级系统): one JSON object per report, or a file of them.

Pure: fields in, `Report`s out. The webhook body, a JSON file, a CSV file and an Excel sheet all carry the same
fields (English names, or the Chinese column titles a 12345 export uses), so one mapping reads them all.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chengyun.cases.model import Source
from chengyun.errors import DomainError, Invalid
from chengyun.intake.model import Channel, Report
from chengyun.shared.geo import parse_coord_system
from chengyun.shared.handling import Urgency
from chengyun.shared.tabular import TableProblem, xlsx_rows

MAX_BATCH_ROWS = 5000
MAX_BATCH_BYTES = 20 * 1024 * 1024
FIELDS = ("external_id", "source", "category_code", "description", "title", "lon", "lat", "crs", "address",
          "urgency", "reporter_name", "reporter_phone", "occurred_at")
ALIASES = {"工单编号": "external_id", "编号": "external_id", "来源": "source", "类别编码": "category_code",
           "事件类别": "category_code", "诉求内容": "description", "内容": "description", "标题": "title",
           "经度": "lon", "纬度": "lat", "坐标系": "crs", "地址": "address", "紧急程度": "urgency",
           "诉求人": "reporter_name", "联系电话": "reporter_phone", "发生时间": "occurred_at"}
"""Column titles of common 12345 exports, mapped to field names."""


def report_from_fields(fields: Mapping[str, Any], *, system: str, channel: Channel = Channel.UPSTREAM) -> Report:
    """A report from one upstream record; unknown fields are refused so a typo is not silently dropped."""
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise Invalid("intake.upstream.unknown_fields", fields=", ".join(unknown)[:200])
    text = {k: v for k, v in fields.items() if v is not None and v != ""}
    if not text.get("external_id"):
        raise Invalid("intake.upstream.external_id_required")
    return Report(
        channel=channel, source=_source(text.get("source", Source.UPSTREAM.value)),
        description=text.get("description", ""), title=text.get("title", ""),
        category_code=_str(text.get("category_code")), lon=_number(text, "lon"), lat=_number(text, "lat"),
        crs=_crs(text.get("crs")), address=text.get("address", ""), urgency=_urgency(text.get("urgency")),
        reporter_name=_str(text.get("reporter_name")), reporter_phone=_str(text.get("reporter_phone")),
        external_system=system, external_id=str(text["external_id"]), occurred_at=_when(text.get("occurred_at")),
    )


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _source(value: Any) -> Source:
    try:
        return Source(str(value))
    except ValueError:
        raise Invalid("intake.upstream.bad_source", value=str(value)[:40]) from None


def _urgency(value: Any) -> Urgency | None:
    if value is None:
        return None
    try:
        return Urgency(str(value))
    except ValueError:
        raise Invalid("intake.upstream.bad_urgency", value=str(value)[:40]) from None


def _crs(value: Any) -> Any:
    return parse_coord_system(str(value)) if value else parse_coord_system("wgs84")


def _number(fields: Mapping[str, Any], name: str) -> float | None:
    value = fields.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        raise Invalid("intake.upstream.bad_number", field=name)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise Invalid("intake.upstream.bad_number", field=name) from None


def _when(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise Invalid("intake.upstream.bad_datetime", value=str(value)[:40]) from None
    if parsed.tzinfo is None:
        raise Invalid("intake.upstream.datetime_without_zone", value=str(value)[:40])
    return parsed


# --- files ------------------------------------------------------------------------------------


def batch_records(data: bytes, filename: str) -> list[tuple[int, dict[str, Any]]]:
    """(row number, fields) of every record in a CSV, Excel or JSON file; a file that cannot be read → Invalid."""
    if len(data) > MAX_BATCH_BYTES:
        raise Invalid("intake.batch.too_large", limit=MAX_BATCH_BYTES)
    name = filename.lower()
    if name.endswith(".json"):
        records = _json_records(data)
    elif name.endswith(".xlsx"):
        rows = xlsx_rows(data, MAX_BATCH_ROWS + 1)
        if isinstance(rows, TableProblem):
            raise Invalid(f"intake.batch.{rows.reason}", **rows.params)
        records = _table(rows)
    elif name.endswith(".csv"):
        records = _table(_csv_rows(data))
    else:
        raise Invalid("intake.batch.bad_type", filename=filename[:100])
    if not records:
        raise Invalid("intake.batch.empty")
    if len(records) > MAX_BATCH_ROWS:
        raise Invalid("intake.batch.too_many_rows", limit=MAX_BATCH_ROWS)
    return records


def _json_records(data: bytes) -> list[tuple[int, dict[str, Any]]]:
    try:
        body = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Invalid("intake.batch.bad_json", msg=str(exc)[:200]) from None
    items = body.get("reports") if isinstance(body, dict) else body
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise Invalid("intake.batch.bad_json", msg="expected a list of objects (or {\"reports\": [...]})")
    return [(number, item) for number, item in enumerate(items, start=1)]


def _csv_rows(data: bytes) -> list[tuple[int, tuple[str, ...]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid("intake.batch.not_utf8", position=exc.start) from None
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise Invalid("intake.batch.unreadable", msg=str(exc)[:200]) from None
    return [(number, tuple(cell.strip() for cell in row)) for number, row in enumerate(rows, start=1) if any(row)]


def _table(rows: list[tuple[int, tuple[str, ...]]]) -> list[tuple[int, dict[str, Any]]]:
    """Records keyed by the header row (English field names or their Chinese titles)."""
    if not rows:
        return []
    _, header = rows[0]
    names = [ALIASES.get(cell, cell) for cell in header]
    return [(number, {name: cells[i] if i < len(cells) else "" for i, name in enumerate(names) if name})
            for number, cells in rows[1:]]


def problem(number: int, exc: DomainError) -> dict[str, Any]:
    """One row's problem in the shape the API's error details use."""
    return {"code": exc.code, "where": f"#{number}", "params": {k: str(v) for k, v in exc.params.items()}}
