"""Shared setup of the alarm tests: the tiny district with a compound, people, device facts and transitions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chengyun.alarms.signals import Change, Severity, Transition
from chengyun.areas.tables import BuildingRow, CompoundRow
from chengyun.auth.model import Role
from chengyun.bootstrap import Container, bootstrap
from chengyun.config import Settings
from chengyun.devices.model import DeviceFacts
from chengyun.shared.clock import FixedClock
from tests.conftest import tiny_district_drafts

NOW = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)
T0 = NOW.timestamp() - 600
PASSWORD = "correct-horse-battery"
STREET, YIHU, SJN = "510113002000", "510113002001", "510113002002"
YIHU_GRID, SJN_GRID = "510113002001001", "510113002002001"
PEOPLE = {"op1": (Role.OPERATOR, STREET), "yihu": (Role.OPERATOR, YIHU), "grid": (Role.GRID_WORKER, YIHU_GRID),
          "sjngrid": (Role.GRID_WORKER, SJN_GRID), "aud": (Role.AUDITOR, STREET), "res": (Role.RESIDENT, YIHU)}


def make_app(settings: Settings, engine: Any, clock: FixedClock) -> Container:
    """The tiny district, the default catalogue, one compound with a building in 怡湖 grid 1, and people."""
    c = bootstrap(settings, engine=engine, clock=clock)
    c.areas.import_drafts(tiny_district_drafts(), actor="test")
    c.categories.ensure_default()
    with c.sessions.begin() as session:
        session.add(CompoundRow(code="cmp-1", name="怡湖苑", area_code=YIHU_GRID, address="青江路123号", lon=104.003,
                                lat=30.003, households=10))
        session.flush()
        session.add(BuildingRow(code="cmp-1-03", compound_code="cmp-1", number="3栋", lon=104.0032, lat=30.0031,
                                floors=6, units=2, households=24))
    for name, (role, scope) in PEOPLE.items():
        c.auth.create_user(username=name, display_name=f"{name}-姓名", role=role, scope_code=scope,
                           password=PASSWORD)
    return c


def path_of(c: Container, code: str) -> str:
    """The materialised path of an area, as device facts carry it."""
    return "/" + "".join(f"{ref.code}/" for ref in c.areas.chain(code))


def facts_of(c: Container) -> dict[str, DeviceFacts]:
    """gas-1 in building 3 of 怡湖苑 (a household with a resident), smoke-2 in 石家碾 grid 1 (no place codes)."""
    return {
        "gas-1": DeviceFacts("gas-1", "gas_detector", YIHU_GRID, path_of(c, YIHU_GRID), ("cmp-1-03", "cmp-1"),
                             "cmp-1-03/2/301", 11),
        "smoke-2": DeviceFacts("smoke-2", "smoke_detector", SJN_GRID, path_of(c, SJN_GRID)),
        "meter-4": DeviceFacts("meter-4", "water_meter", YIHU_GRID, path_of(c, YIHU_GRID), ("cmp-1-03", "cmp-1"),
                               "cmp-1-03/2/301", 11),
    }


def fire(device: str = "gas-1", rule: str = "gas_high", alarm_type: str = "gas_leak", at: float = T0,
         severity: Severity = Severity.CRITICAL, **params: Any) -> Transition:
    """A FIRE of one rule on one device."""
    return Transition(rule, alarm_type, severity, Change.FIRE, device, at, params or {"gas_lel": 25.0})


def clear(device: str = "gas-1", rule: str = "gas_high", alarm_type: str = "gas_leak",
          at: float = T0 + 300) -> Transition:
    """A CLEAR of one rule on one device."""
    return Transition(rule, alarm_type, Severity.CRITICAL, Change.CLEAR, device, at, {"gas_lel": 1.0})
