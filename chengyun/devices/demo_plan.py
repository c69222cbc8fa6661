"""The demo street's devices, generated from its compounds, buildings and roads and a seed. Pure, deterministic.

Gas and smoke detectors in households; in the homes of elderly residents living alone (独居老人, with 1–3 family
contacts each) also a water meter, a door sensor and an SOS button; hydrant pressure sensors every ~250 m along
the roads; water immersion sensors in high-rise basements; thermal cameras in each compound's e-bike shed.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from chengyun.demo import names
from chengyun.devices.tabular import ContactDraft, DeviceDraft, ResidentDraft

ELDERLY, HOUSEHOLDS, SMOKE_SHARE = 160, 1200, 0.75
BASEMENTS, HIGH_RISE_FLOORS, BIG_COMPOUND = 300, 11, 800
HYDRANT_SPACING_M = 250.0
METRES_PER_DEGREE = 111_320.0
PREFIX = {"gas_detector": "GAS", "smoke_detector": "SMK", "water_meter": "WM", "sos_button": "SOS",
          "door_sensor": "DOOR", "hydrant_pressure": "HYD", "water_immersion": "LEAK", "thermal_camera": "THC"}
ELDERLY_TYPES = ("water_meter", "door_sensor", "sos_button", "gas_detector", "smoke_detector")
RELATIONS = ("儿子", "女儿", "儿媳", "女婿", "孙子", "孙女", "侄子", "邻居")
NOTES = ("独居，高血压", "独居，行动不便", "独居，子女在外地", "独居，听力较弱", "独居，糖尿病", "独居")


@dataclass(frozen=True, slots=True)
class Site:
    """A compound or building of the stored street: gazetteer code, name (怡湖苑3栋), point; a building's number
    (3栋), floors and units."""

    code: str
    name: str
    lon: float
    lat: float
    number: str = ""
    floors: int = 0
    units: int = 0
    households: int = 0
    address: str = ""


@dataclass(frozen=True, slots=True)
class Road:
    """A road with its course (WGS84 vertices)."""

    code: str
    name: str
    line: tuple[tuple[float, float], ...]


class _Ids:
    """Running device ids per type (GAS-000001 …) and the drafts made so far."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.drafts: list[DeviceDraft] = []

    def add(self, type_code: str, **fields: object) -> None:
        n = self.counts[type_code] = self.counts.get(type_code, 0) + 1
        self.drafts.append(DeviceDraft(len(self.drafts) + 2, f"{PREFIX[type_code]}-{n:06d}", type_code,
                                       **fields))  # type: ignore[arg-type]


def demo_devices(buildings: Sequence[Site], compounds: Sequence[Site], roads: Sequence[Road],
                 rng: np.random.Generator) -> list[DeviceDraft]:
    """Every demo device as an import draft (row numbers as if from a file); the same inputs and seed, the same
    drafts."""
    ids = _Ids()
    homes = _homes(buildings, ELDERLY + HOUSEHOLDS, rng)
    _elderly(ids, homes[:ELDERLY], rng)
    for building, unit, room in homes[ELDERLY:]:
        where = {"place": building.code, "building": building.number, "unit": unit, "room": room}
        ids.add("gas_detector", name="厨房燃气报警器", **where)
        if rng.random() < SMOKE_SHARE:
            ids.add("smoke_detector", name="客厅烟感", **where)
    _hydrants(ids, roads, rng)
    high = [b for b in buildings if b.floors >= HIGH_RISE_FLOORS]
    for index in sorted(rng.choice(len(high), size=min(BASEMENTS, len(high)), replace=False).tolist()):
        building = high[index]
        ids.add("water_immersion", name=f"{building.name}地下车库水浸", place=building.code,
                building=building.number)
    for compound in compounds:
        for shed in range(1 if compound.households < BIG_COMPOUND else 2):
            lon, lat = _offset(compound.lon, compound.lat, 25.0 + 20 * shed, rng)
            ids.add("thermal_camera", name=f"{compound.name}电动车棚{shed + 1}号热成像", place=compound.code,
                    lon=round(lon, 7), lat=round(lat, 7))
    return ids.drafts


def _homes(buildings: Sequence[Site], count: int, rng: np.random.Generator) -> list[tuple[Site, str, str]]:
    """`count` distinct households (building, unit, room such as 301), chosen at random."""
    found: dict[tuple[str, str, str], tuple[Site, str, str]] = {}
    while len(found) < count:
        building = buildings[int(rng.integers(len(buildings)))]
        unit = str(int(rng.integers(1, max(building.units, 1) + 1)))
        room = f"{int(rng.integers(1, max(building.floors, 1) + 1))}{int(rng.integers(1, 3)):02d}"
        found.setdefault((building.code, unit, room), (building, unit, room))
    return list(found.values())


def _elderly(ids: _Ids, homes: Sequence[tuple[Site, str, str]], rng: np.random.Generator) -> None:
    """Five devices in each elderly resident's home, all watching over the resident, with 1–3 contacts."""
    people = names.person_names(rng, len(homes) * 4)
    phones = names.mobile_numbers(rng, len(homes) * 4)
    for n, (building, unit, room) in enumerate(homes):
        name = people[4 * n]
        count = int(rng.integers(1, 4))
        relations = rng.choice(len(RELATIONS), size=count, replace=False).tolist()
        contacts = tuple(ContactDraft(_family_name(name, people[4 * n + 1 + k], RELATIONS[r]), RELATIONS[r],
                                      phones[4 * n + 1 + k]) for k, r in enumerate(relations))
        address = f"{building.address}{building.name}{unit}单元{room}室"
        resident = ResidentDraft(name, phones[4 * n], address, NOTES[int(rng.integers(len(NOTES)))])
        for type_code in ELDERLY_TYPES:
            ids.add(type_code, name=f"{name}家", place=building.code, building=building.number, unit=unit,
                    room=room, resident=resident, contacts=contacts)


def _family_name(elder: str, other: str, relation: str) -> str:
    """Sons, daughters and grandchildren share the elder's surname; others keep their own."""
    return elder[0] + other[1:] if relation in {"儿子", "女儿", "孙子", "孙女", "侄子"} else other


def _hydrants(ids: _Ids, roads: Sequence[Road], rng: np.random.Generator) -> None:
    """A hydrant every ~250 m along each road's course, a few metres off the centre line."""
    for road in roads:
        for lon, lat in _along(road.line, HYDRANT_SPACING_M):
            lon, lat = _offset(lon, lat, 6.0, rng)
            ids.add("hydrant_pressure", name=f"{road.name}消防栓", place=road.code, lon=round(lon, 7),
                    lat=round(lat, 7))


def _along(line: Sequence[tuple[float, float]], spacing_m: float) -> list[tuple[float, float]]:
    """Points every `spacing_m` metres along a polyline, starting half a spacing in."""
    points: list[tuple[float, float]] = []
    todo = spacing_m / 2
    for (x0, y0), (x1, y1) in itertools.pairwise(line):
        scale = math.cos(math.radians(y0)) * METRES_PER_DEGREE
        length = math.hypot((x1 - x0) * scale, (y1 - y0) * METRES_PER_DEGREE)
        at = todo
        while at <= length and length > 0:
            t = at / length
            points.append((x0 + (x1 - x0) * t, y0 + (y1 - y0) * t))
            at += spacing_m
        todo = at - length
    return points


def _offset(lon: float, lat: float, metres: float, rng: np.random.Generator) -> tuple[float, float]:
    angle = float(rng.uniform(0, 2 * math.pi))
    d_lat = metres * math.sin(angle) / METRES_PER_DEGREE
    d_lon = metres * math.cos(angle) / (METRES_PER_DEGREE * math.cos(math.radians(lat)))
    return lon + d_lon, lat + d_lat
