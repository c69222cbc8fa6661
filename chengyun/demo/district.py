"""The demo street 青白江区大弯街道, generated from a seed: areas, units, people, compounds and buildings.

Pure and deterministic: the same seed gives the same output (floating point included); nothing is read but the
packaged list of the street's 18 real communities. Grids, microgrids, places and people are invented.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib import resources

import numpy as np
import shapely
from shapely.geometry import Polygon

from chengyun.areas.model import AreaDraft, AreaLevel
from chengyun.demo import geometry, names
from chengyun.org.model import PersonKind, UnitKind, WuweiRole

CITY = ("510100000000", "成都市")
DISTRICT = ("510113000000", "青白江区")
STREET = ("510113002000", "大弯街道")
CENTRE = (104.245, 30.79)  # lon, lat: just south-west of Qingbaijiang's centre
STREET_KM2 = 35.0
GRIDS, MICROGRIDS = 127, 1121
GRID_TEAM_SIZE, GRID_LEADERS, MICROGRID_WORKERS = 254, 6, 3102
COMPOUNDS, COMPANIES, OPERATORS, VOLUNTEERS = 321, 40, 12, 60
RIVER_REACH_DEG = 0.0015  # microgrids this close to the river get a 微河长
OPS_CENTER, GRID_TEAM = "ops-center", "grid-team"


@dataclass(frozen=True, slots=True)
class DemoUnit:
    """A handling or organising body: stable slug code, name, kind, level and the area it answers for."""

    code: str
    name: str
    kind: UnitKind
    level: AreaLevel
    area_code: str


@dataclass(frozen=True, slots=True)
class DemoPerson:
    """A member of staff or a volunteer with a unit, an area (grid, microgrid, community …) and a mobile."""

    name: str
    kind: PersonKind
    wuwei_role: WuweiRole | None
    unit_code: str | None
    area_code: str
    phone: str


@dataclass(frozen=True, slots=True)
class DemoCompound:
    """A residential compound (小区/院落) whose point lies inside its microgrid `area_code`."""

    code: str
    name: str
    area_code: str
    community_code: str
    address: str
    lon: float
    lat: float
    households: int
    property_unit_code: str | None


@dataclass(frozen=True, slots=True)
class DemoBuilding:
    """A building of a compound (e.g. 3栋) whose point lies inside the compound's microgrid."""

    code: str
    compound_code: str
    number: str
    lon: float
    lat: float
    floors: int
    units: int
    households: int


@dataclass(frozen=True, slots=True)
class DemoDistrict:
    """Everything generated for the demo street; areas are ordered parents before children."""

    areas: tuple[AreaDraft, ...]
    units: tuple[DemoUnit, ...]
    people: tuple[DemoPerson, ...]
    compounds: tuple[DemoCompound, ...]
    buildings: tuple[DemoBuilding, ...]


@dataclass(frozen=True, slots=True)
class _Area:
    code: str
    name: str
    level: AreaLevel
    parent_code: str | None
    polygon: Polygon | None


def load_communities() -> list[tuple[str, str]]:
    """The 18 real communities of 大弯街道 as (12-digit code, short name), from the packaged CSV."""
    text = resources.files("chengyun.demo").joinpath("data/dawan_communities.csv").read_text(encoding="utf-8")
    return [(row["code"], row["name"]) for row in csv.DictReader(io.StringIO(text))]


def build_demo_district(seed: int = 2026) -> DemoDistrict:
    """Generate the whole demo street for `seed`; the same seed always gives an identical result."""
    rng = np.random.default_rng(seed)
    communities = load_communities()
    tree = _area_tree(rng, communities)
    compounds, buildings, companies = _places(rng, tree)
    units = _units(communities) + companies
    people = _people(rng, tree, units, compounds)
    areas = tuple(AreaDraft(a.code, a.name, a.level, a.parent_code, _geojson(a.polygon), "demo") for a in tree)
    return DemoDistrict(areas, tuple(units), tuple(people), tuple(compounds), tuple(buildings))


def _geojson(polygon: Polygon | None) -> dict[str, object] | None:
    """Plain JSON types (lists, floats), so that the dict equals itself after a JSON round trip."""
    if polygon is None:
        return None
    rings = [polygon.exterior, *polygon.interiors]
    return {"type": "Polygon", "coordinates": [[[x, y] for x, y in ring.coords] for ring in rings]}


def apportion(weights: Sequence[float], total: int, low: int, high: int) -> list[int]:
    """Split `total` into integers in [low, high], as near to proportional to `weights` as the bounds allow."""
    n = len(weights)
    if not low * n <= total <= high * n:
        raise ValueError(f"cannot split {total} into {n} parts of {low}..{high}")
    share = np.asarray(weights, dtype=np.float64)
    share = share / share.sum() * total
    counts = np.full(n, low, dtype=np.int64)
    for _ in range(total - low * n):
        gap = np.where(counts < high, share - counts, -np.inf)
        counts[int(np.argmax(gap))] += 1
    return [int(c) for c in counts]


# --- areas -------------------------------------------------------------------------------------------------------


def _area_tree(rng: np.random.Generator, communities: Sequence[tuple[str, str]]) -> list[_Area]:
    boundary = geometry.street_boundary(rng, STREET_KM2)
    community_cells = _north_to_south(geometry.partition(boundary, len(communities), rng, lloyd_steps=2))
    grid_counts = apportion([c.area for c in community_cells], GRIDS, 6, 9)
    grids: list[tuple[int, Polygon]] = []  # (community index, cell in km)
    for i, (cell, count) in enumerate(zip(community_cells, grid_counts, strict=True)):
        grids += [(i, g) for g in _north_to_south(geometry.partition(cell, count, rng))]
    micro_counts = apportion([g.area for _, g in grids], MICROGRIDS, 5, 14)
    leaves: list[tuple[int, Polygon]] = []  # (grid index, cell in km)
    for j, ((_, cell), count) in enumerate(zip(grids, micro_counts, strict=True)):
        leaves += [(j, m) for m in _north_to_south(geometry.partition(cell, count, rng))]
    snapped = geometry.snap_tiling([geometry.to_lonlat(cell, *CENTRE) for _, cell in leaves])
    return _named_tree(communities, [i for i, _ in grids], [j for j, _ in leaves], snapped)


def _north_to_south(cells: list[Polygon]) -> list[Polygon]:
    return sorted(cells, key=lambda c: (-round(c.centroid.y, 1), c.centroid.x))


def _named_tree(communities: Sequence[tuple[str, str]], grid_community: list[int], leaf_grid: list[int],
                leaves: list[Polygon]) -> list[_Area]:
    top = [_Area(*CITY, AreaLevel.CITY, None, None), _Area(*DISTRICT, AreaLevel.DISTRICT, CITY[0], None),
           _Area(*STREET, AreaLevel.STREET, DISTRICT[0], geometry.union_exact(leaves))]
    comms = [_Area(code, name, AreaLevel.COMMUNITY, STREET[0],
                   geometry.union_exact([p for p, j in zip(leaves, leaf_grid, strict=True)
                                         if grid_community[j] == i]))
             for i, (code, name) in enumerate(communities)]
    serials: dict[str, int] = {}
    grids = [_child(comms[i], AreaLevel.GRID, "网格", serials,
                    geometry.union_exact([p for p, g in zip(leaves, leaf_grid, strict=True) if g == j]))
             for j, i in enumerate(grid_community)]
    micros = [_child(grids[j], AreaLevel.MICROGRID, "微网格", serials, leaf)
              for j, leaf in zip(leaf_grid, leaves, strict=True)]
    return top + comms + grids + micros


def _child(parent: _Area, level: AreaLevel, label: str, serials: dict[str, int], polygon: Polygon) -> _Area:
    serial = serials[parent.code] = serials.get(parent.code, 0) + 1
    return _Area(f"{parent.code}{serial:03d}", f"{parent.name}第{serial}{label}", level, parent.code, polygon)


def _level(tree: Sequence[_Area], level: AreaLevel) -> list[_Area]:
    return [a for a in tree if a.level is level]


# --- units -------------------------------------------------------------------------------------------------------


def _units(communities: Sequence[tuple[str, str]]) -> list[DemoUnit]:
    street, district = STREET[0], DISTRICT[0]
    units = [DemoUnit(OPS_CENTER, "大弯街道城运中心", UnitKind.OPERATIONS_CENTER, AreaLevel.STREET, street),
             DemoUnit(GRID_TEAM, "大弯街道网格化服务管理中心", UnitKind.GRID_TEAM, AreaLevel.STREET, street)]
    units += [DemoUnit(c, n, UnitKind.STREET_OFFICE, AreaLevel.STREET, street) for c, n in names.STREET_OFFICES]
    units += [DemoUnit(c, n, UnitKind.DEPARTMENT, AreaLevel.STREET, street) for c, n in names.STREET_DEPARTMENTS]
    units += [DemoUnit(c, n, UnitKind.DEPARTMENT, AreaLevel.DISTRICT, district)
              for c, n in names.DISTRICT_DEPARTMENTS]
    units += [DemoUnit(f"cc-{code}", f"{name}居委会", UnitKind.COMMUNITY_COMMITTEE, AreaLevel.COMMUNITY, code)
              for code, name in communities]
    return units


# --- compounds, buildings and their property companies -------------------------------------------------------------


def _places(rng: np.random.Generator,
            tree: Sequence[_Area]) -> tuple[list[DemoCompound], list[DemoBuilding], list[DemoUnit]]:
    micros = _level(tree, AreaLevel.MICROGRID)
    street = _level(tree, AreaLevel.STREET)[0].polygon
    assert street is not None
    core = shapely.point_on_surface(street)
    distance = shapely.distance(np.array([m.polygon for m in micros], dtype=object), core)
    weights = np.exp(-np.asarray(distance, dtype=np.float64) / 0.012) + 0.1  # denser towards the core
    chosen = sorted(rng.choice(len(micros), size=COMPOUNDS, replace=False, p=weights / weights.sum()).tolist())
    taken: set[str] = set()
    compounds: list[DemoCompound] = []
    buildings: list[DemoBuilding] = []
    managed: list[int] = []
    for k, index in enumerate(chosen):
        compound, blocks, courtyard = _compound(rng, f"cmp-{k + 1:03d}", micros[index], taken)
        if not courtyard or rng.random() < 0.3:  # most old courtyards (院落) manage themselves
            managed.append(k)
        compounds.append(compound)
        buildings += blocks
    return compounds, buildings, _property_companies(rng, compounds, managed)


def _property_companies(rng: np.random.Generator, compounds: list[DemoCompound], managed: list[int]) -> list[DemoUnit]:
    """Give runs of neighbouring managed compounds to one company each (several compounds per company)."""
    companies: list[DemoUnit] = []
    company_names = names.company_names(rng, COMPANIES)
    for n, block in enumerate(np.array_split(np.array(managed, dtype=np.int64), COMPANIES)):
        code = f"prop-{n + 1:03d}"
        served = [int(k) for k in block]
        home = Counter(compounds[k].community_code for k in served).most_common(1)[0][0]
        companies.append(DemoUnit(code, company_names[n], UnitKind.PROPERTY_COMPANY, AreaLevel.COMMUNITY, home))
        for k in served:
            compounds[k] = replace(compounds[k], property_unit_code=code)
    return companies


def _compound(rng: np.random.Generator, code: str, micro: _Area,
              taken: set[str]) -> tuple[DemoCompound, list[DemoBuilding], bool]:
    assert micro.polygon is not None
    name, address, courtyard = names.compound_identity(rng, taken)
    centre = shapely.get_coordinates(shapely.point_on_surface(micro.polygon))[0]
    spread = float(np.sqrt(micro.polygon.area)) / 4
    lon, lat = geometry.points_in(micro.polygon, (float(centre[0]), float(centre[1])), spread, 1, rng)[0]
    blocks = _buildings(rng, code, micro.polygon, (float(lon), float(lat)), courtyard)
    compound = DemoCompound(code, name, micro.code, micro.code[:12], address, float(lon), float(lat),
                            sum(b.households for b in blocks), None)
    return compound, blocks, courtyard


def _buildings(rng: np.random.Generator, code: str, polygon: Polygon, centre: tuple[float, float],
               courtyard: bool) -> list[DemoBuilding]:
    if courtyard:
        count, floors, units = int(rng.integers(2, 7)), int(rng.integers(5, 8)), int(rng.integers(1, 4))
    else:
        floors = int(rng.choice([6, 7, 11, 18, 26, 33], p=[0.25, 0.2, 0.2, 0.2, 0.1, 0.05]))
        count = int(rng.integers(3, 11)) if floors >= 18 else int(rng.integers(4, 21))
        units = int(rng.integers(1, 4))
    points = geometry.points_in(polygon, centre, 0.0004, count, rng)
    return [DemoBuilding(f"{code}-{n + 1:02d}", code, f"{n + 1}栋", float(x), float(y), floors, units,
                         floors * units * 2)
            for n, (x, y) in enumerate(points.tolist())]


# --- people ------------------------------------------------------------------------------------------------------

_Spec = tuple[PersonKind, WuweiRole | None, str | None, str]  # kind, 五微 role, unit code, area code


def _people(rng: np.random.Generator, tree: Sequence[_Area], units: Sequence[DemoUnit],
            compounds: Sequence[DemoCompound]) -> list[DemoPerson]:
    households: dict[str, int] = {}
    for compound in compounds:
        households[compound.area_code] = households.get(compound.area_code, 0) + compound.households
    specs: list[_Spec] = [(PersonKind.OPERATOR, None, OPS_CENTER, STREET[0])] * OPERATORS
    specs += _handlers(rng, units)
    specs += _grid_team(rng, tree, households)
    specs += _microgrid_workers(rng, tree, households)
    communities = _level(tree, AreaLevel.COMMUNITY)
    for index in rng.integers(0, len(communities), size=VOLUNTEERS).tolist():
        code = communities[index].code
        specs.append((PersonKind.VOLUNTEER, None, f"cc-{code}", code))
    people_names = names.person_names(rng, len(specs))
    phones = names.mobile_numbers(rng, len(specs))
    return [DemoPerson(n, kind, role, unit, area, phone)
            for n, (kind, role, unit, area), phone in zip(people_names, specs, phones, strict=True)]


def _handlers(rng: np.random.Generator, units: Sequence[DemoUnit]) -> list[_Spec]:
    counts = {UnitKind.DEPARTMENT: (3, 7), UnitKind.STREET_OFFICE: (3, 6), UnitKind.COMMUNITY_COMMITTEE: (3, 4),
              UnitKind.PROPERTY_COMPANY: (1, 3)}
    specs: list[_Spec] = []
    for unit in units:
        if unit.kind in counts:
            low, high = counts[unit.kind]
            specs += [(PersonKind.HANDLER, None, unit.code, unit.area_code)] * int(rng.integers(low, high))
    return specs


def _grid_team(rng: np.random.Generator, tree: Sequence[_Area], households: dict[str, int]) -> list[_Spec]:
    communities, grids = _level(tree, AreaLevel.COMMUNITY), _level(tree, AreaLevel.GRID)
    leaders = sorted(rng.choice(len(communities), size=GRID_LEADERS, replace=False).tolist())
    specs: list[_Spec] = [(PersonKind.GRID_WORKER, None, GRID_TEAM, communities[i].code) for i in leaders]
    load = [1.0 + sum(h for code, h in households.items() if code.startswith(g.code)) / 500 for g in grids]
    for grid, count in zip(grids, apportion(load, GRID_TEAM_SIZE - GRID_LEADERS, 1, 3), strict=True):
        specs += [(PersonKind.GRID_WORKER, None, GRID_TEAM, grid.code)] * count
    return specs


def _microgrid_workers(rng: np.random.Generator, tree: Sequence[_Area], households: dict[str, int]) -> list[_Spec]:
    micros = _level(tree, AreaLevel.MICROGRID)
    river = geometry.to_lonlat(geometry.river_line(rng), *CENTRE)
    near_river = shapely.dwithin(np.array([m.polygon for m in micros], dtype=object), river, RIVER_REACH_DEG)
    load = [1.0 + households.get(m.code, 0) / 150 for m in micros]
    specs: list[_Spec] = []
    for micro, count, wet in zip(micros, apportion(load, MICROGRID_WORKERS, 1, 8), near_river.tolist(), strict=True):
        roles = _wuwei_roles(rng, count, micro.code in households, bool(wet))
        specs += [(PersonKind.MICROGRID_WORKER, role, f"cc-{micro.code[:12]}", micro.code) for role in roles]
    return specs


_OTHER_ROLES = (WuweiRole.COURTYARD_HEAD, WuweiRole.TEAM_HEAD, WuweiRole.STREET_HEAD, WuweiRole.WHISTLE_HEAD)


def _wuwei_roles(rng: np.random.Generator, count: int, housing: bool, near_river: bool) -> list[WuweiRole]:
    roles = [WuweiRole.COURTYARD_HEAD if housing else WuweiRole.TEAM_HEAD]
    if near_river and count > 1:
        roles.append(WuweiRole.RIVER_HEAD)
    extra = rng.choice(len(_OTHER_ROLES), size=count - len(roles), p=[0.4, 0.3, 0.18, 0.12])
    return roles + [_OTHER_ROLES[i] for i in extra.tolist()]
