"""AI perception (AI感知): video-analytics alerts become reports, filtered by confidence and a per-camera cool-down.

Pure apart from reading the packaged (or configured) alert-type file. An alert below its type's confidence threshold
is still kept (as a suppressed report, counted), never dropped; repeats of one camera and type within the cool-down
join the case the first one opened (intake's dedup key), so one camera cannot flood the queue.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from chengyun.cases.model import Source
from chengyun.errors import Invalid
from chengyun.intake.model import Channel, Report, clean_key
from chengyun.shared.geo import parse_coord_system
from chengyun.shared.handling import Urgency

ALERT_FIELDS = frozenset({"alert_type", "camera_id", "confidence", "occurred_at", "lon", "lat", "crs", "address",
                          "snapshot", "description", "alert_id"})


@dataclass(frozen=True, slots=True)
class AlertType:
    """One kind of alert: what it opens, how sure the model must be, how long a camera's repeats are joined."""

    type: str
    name: str
    category_code: str
    urgency: Urgency
    min_confidence: float
    cooldown_s: int


def load_alert_types(path: Path | None = None) -> dict[str, AlertType]:
    """The alert types of a street's file, or the packaged defaults."""
    if path is not None:
        return _parse(path.read_text(encoding="utf-8"))
    return _defaults()


@cache
def _defaults() -> dict[str, AlertType]:
    return _parse(resources.files("chengyun.intake").joinpath("data/ai_alert_types.json").read_text("utf-8"))


def _parse(text: str) -> dict[str, AlertType]:
    raw = json.loads(text)
    return {t["type"]: AlertType(t["type"], t["name"], t["category_code"], Urgency(t["urgency"]),
                                 float(t["min_confidence"]), int(t["cooldown_s"])) for t in raw["types"]}


@dataclass(frozen=True, slots=True)
class Alert:
    """A checked alert: its type, the report it becomes, and whether it is below the confidence threshold."""

    kind: AlertType
    report: Report
    confidence: float

    @property
    def below_threshold(self) -> bool:
        """True when the model was not sure enough for a case (the alert is kept, not acted on)."""
        return self.confidence < self.kind.min_confidence


def read_alert(body: Mapping[str, Any], types: Mapping[str, AlertType], *, platform: str,
               snapshot_id: str | None) -> Alert:
    """Check an alert's fields and make its report (source `sensor`, channel `ai`)."""
    unknown = sorted(set(body) - ALERT_FIELDS)
    if unknown:
        raise Invalid("intake.ai.unknown_fields", fields=", ".join(unknown)[:200])
    kind = types.get(str(body.get("alert_type", "")))
    if kind is None:
        raise Invalid("intake.ai.unknown_type", type=str(body.get("alert_type", ""))[:40],
                      allowed=", ".join(sorted(types)))
    camera = clean_key(str(body.get("camera_id") or ""), "camera_id")
    if camera is None:
        raise Invalid("intake.required", field="camera_id")
    confidence = body.get("confidence")
    if isinstance(confidence, bool) or not isinstance(confidence, int | float) or not math.isfinite(confidence) \
            or not 0 <= confidence <= 1:
        raise Invalid("intake.ai.bad_confidence")
    occurred = _occurred(body.get("occurred_at"))
    alert_id = clean_key(str(body.get("alert_id") or ""), "alert_id")  # the platform's own id, when it sends one
    description = str(body.get("description") or "") or \
        f"{kind.name}（摄像头 {camera}，置信度 {confidence:.0%}，{occurred.isoformat(timespec='seconds')}）"
    report = Report(
        channel=Channel.AI, source=Source.SENSOR, description=description, title=kind.name,
        category_code=kind.category_code, lon=_float(body, "lon"), lat=_float(body, "lat"),
        crs=parse_coord_system(str(body.get("crs") or "wgs84")), address=str(body.get("address") or ""),
        urgency=kind.urgency, attachments=(snapshot_id,) if snapshot_id else (),
        external_system=platform if alert_id else None, external_id=alert_id,
        dedup_key=f"{platform}:{camera}:{kind.type}", cooldown_s=kind.cooldown_s, occurred_at=occurred,
    )
    return Alert(kind, report, float(confidence))


def _occurred(value: Any) -> datetime:
    if not isinstance(value, str):
        raise Invalid("intake.required", field="occurred_at")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid("intake.upstream.bad_datetime", value=value[:40]) from None
    if parsed.tzinfo is None:
        raise Invalid("intake.upstream.datetime_without_zone", value=value[:40])
    return parsed


def _float(body: Mapping[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid("intake.upstream.bad_number", field=name)
    return float(value)
