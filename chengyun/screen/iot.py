"""The big screen's queries of the IoT domains: active alarms and devices as map layers, alarm history as a tail.

Alarms keep their device's area path (scope and propagation); their point is their device's. The pulse of an alarm
grows with its severity: rank 4 for critical down to 0 for indeterminate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from chengyun.alarms.signals import SEVERITY_RANK, Severity
from chengyun.alarms.tables import AlarmEventRow, AlarmRow
from chengyun.areas.tables import AreaRow
from chengyun.devices.tables import DeviceRow
from chengyun.screen.model import Event, LayerPoint, bucket_class, bucket_of
from chengyun.screen.queries import MAX_POINTS, Context

MAX_DEVICES = 5_000  # more devices than this in the focus are drawn as one bucket per area (see bucket_of)
FEED_KINDS = ("raised", "updated", "acknowledged", "cleared", "case_opened")


def rank(severity: str) -> int:
    """How strongly an alarm pulses: 4 for critical … 0 for indeterminate (unknown severities: 0)."""
    try:
        return len(Severity) - 1 - SEVERITY_RANK[Severity(severity)]
    except ValueError:
        return 0


def _in(column: Any, path: str) -> Any:
    return column.startswith(path, autoescape=True)


def alarms(ctx: Context) -> list[LayerPoint]:
    """Active alarms in the focus at their device's point, classed by severity, the most severe drawn last."""
    rows = ctx.session.execute(
        select(AlarmRow.id, AlarmRow.alarm_type, AlarmRow.severity, DeviceRow.lon, DeviceRow.lat)
        .join(DeviceRow, DeviceRow.device_id == AlarmRow.device_id)
        .where(AlarmRow.active.is_(True), _in(AlarmRow.area_path, ctx.path))
        .order_by(AlarmRow.last_at.desc()).limit(MAX_POINTS)).all()
    points = [LayerPoint(r.lon, r.lat, str(r.id), r.alarm_type, r.severity, rank(r.severity)) for r in rows]
    return sorted(points, key=lambda p: p.rank)


def devices(ctx: Context) -> list[LayerPoint]:
    """Active devices in the focus, classed `alarm` while one of their alarms is active, else online/offline;
    above MAX_DEVICES, one point per area (`bucket_of`) with its counts, so 100,000 devices stay one screen."""
    alarming = select(AlarmRow.device_id).where(AlarmRow.active.is_(True)).distinct().subquery()
    inside = (DeviceRow.active.is_(True), _in(DeviceRow.area_path, ctx.path))
    total = ctx.session.scalar(select(func.count()).select_from(DeviceRow).where(*inside)) or 0
    if total > MAX_DEVICES:
        return _device_buckets(ctx, alarming, inside)
    rows = ctx.session.execute(
        select(DeviceRow.device_id, DeviceRow.type_code, DeviceRow.status, DeviceRow.lon, DeviceRow.lat,
               alarming.c.device_id.label("alarming"))
        .outerjoin(alarming, alarming.c.device_id == DeviceRow.device_id)
        .where(*inside).order_by(DeviceRow.id)).all()
    return [LayerPoint(r.lon, r.lat, r.device_id, r.type_code, "alarm" if r.alarming else r.status) for r in rows]


def _device_buckets(ctx: Context, alarming: Any, inside: tuple[Any, ...]) -> list[LayerPoint]:
    """Devices counted per area path and status in SQL, then rolled up to their bucket areas at those areas' centres."""
    flag = alarming.c.device_id.is_not(None)
    rows = ctx.session.execute(
        select(DeviceRow.area_path, DeviceRow.status, flag.label("alarming"), func.count())
        .outerjoin(alarming, alarming.c.device_id == DeviceRow.device_id)
        .where(*inside).group_by(DeviceRow.area_path, DeviceRow.status, flag)).all()
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # bucket → total, alarming, offline
    for path, status, is_alarming, n in rows:
        tally = counts[bucket_of(path, ctx.path)]
        tally[0] += n
        tally[1] += n if is_alarming else 0
        tally[2] += n if status == "offline" and not is_alarming else 0
    centres = {r.code: r for r in ctx.session.execute(
        select(AreaRow.code, AreaRow.center_lon, AreaRow.center_lat).where(AreaRow.code.in_(list(counts))))}
    return [LayerPoint(c.center_lon, c.center_lat, code, code, bucket_class(total, alarm, offline), count=total,
                       tally=(("alarm", alarm), ("offline", offline)))
            for code, (total, alarm, offline) in sorted(counts.items())
            if (c := centres.get(code)) is not None and c.center_lon is not None and c.center_lat is not None]


def alarm_tail(session: Session, after: int, gaps: Sequence[int], now: datetime, limit: int, path: str = "/",
               latest: bool = False) -> list[Event]:
    """Alarm history (raised, updated, acknowledged, cleared, case opened) as `alarm.<kind>` events, oldest first."""
    stmt = (select(AlarmEventRow.id, AlarmEventRow.kind, AlarmEventRow.at, AlarmRow.id.label("alarm_id"),
                   AlarmRow.alarm_type, AlarmRow.severity, AlarmRow.active, AlarmRow.area_path,
                   AlarmRow.area_code, AlarmRow.device_id, AlarmRow.case_number, DeviceRow.lon, DeviceRow.lat)
            .join(AlarmRow, AlarmRow.id == AlarmEventRow.alarm_id)
            .outerjoin(DeviceRow, DeviceRow.device_id == AlarmRow.device_id)
            .where(AlarmEventRow.kind.in_(FEED_KINDS), _in(AlarmRow.area_path, path)))
    fresh = or_(AlarmEventRow.id > after, AlarmEventRow.id.in_(gaps)) if gaps else AlarmEventRow.id > after
    stmt = (stmt.order_by(AlarmEventRow.id.desc()) if latest
            else stmt.where(fresh).order_by(AlarmEventRow.id)).limit(limit)
    events = [Event(tail="alarms", seq=r.id, kind=f"alarm.{r.kind}", at=r.at, area_path=r.area_path,
                    number=r.case_number or "", title=r.alarm_type, action=r.kind,
                    community_code=r.area_code[:12] if r.area_code and len(r.area_code) >= 12 else None,
                    lon=r.lon, lat=r.lat, cls=r.severity if r.active else None, layer="alarms",
                    point_id=str(r.alarm_id), rank=rank(r.severity),
                    data={"alarm_id": str(r.alarm_id), "alarm_type": r.alarm_type, "severity": r.severity,
                          "device_id": r.device_id})
              for r in session.execute(stmt)]
    return events[::-1] if latest else events
