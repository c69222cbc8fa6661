"""Where each device of an import is: its gazetteer place, its point and its located area. Pure.

A row names a place by gazetteer code (`cmp-001`, `cmp-001-03`, `road-02`) or by name or address (geocoded with
the gazetteer's matching rule: only a clear best is accepted); a compound with a building number becomes that
building. The device's own lon/lat, when given, is its point; otherwise the place's. The point must lie inside
the area tree and inside the importer's scope.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from chengyun.areas.model import AreaRef, ImportProblem
from chengyun.devices.model import household_key
from chengyun.devices.tabular import DeviceDraft
from chengyun.places.model import Gazetteer, GazetteerEntry, PlaceKind, geocode

Locate = Callable[[float, float], Sequence[AreaRef] | None]


@dataclass(frozen=True, slots=True)
class PlacedDevice:
    """A draft with its place (`place_code` nearest, `compound_code` above a building), WGS84 point, located
    area, household key, and the key of its resident's home."""

    draft: DeviceDraft
    place_code: str | None
    compound_code: str | None
    lon: float
    lat: float
    area_code: str
    area_path: str
    household: str | None

    @property
    def home(self) -> str:
        """Where the resident lives, as residents are keyed: the household, else the place, else the device."""
        return self.household or self.place_code or f"device:{self.draft.device_id}"

    @property
    def place_codes(self) -> tuple[str, ...]:
        """The gazetteer codes of the device's place and the compound above it, nearest first."""
        return tuple(c for c in dict.fromkeys((self.place_code, self.compound_code)) if c)


def place_devices(drafts: Sequence[DeviceDraft], gazetteer: Gazetteer, locate: Locate,
                  scope_path: str = "/") -> tuple[list[PlacedDevice], list[ImportProblem]]:
    """Every draft placed and located, or the problems (a refused row names why)."""
    placed: list[PlacedDevice] = []
    problems: list[ImportProblem] = []
    for draft in drafts:
        result = place_one(draft, gazetteer, locate, scope_path)
        if isinstance(result, ImportProblem):
            problems.append(result)
        else:
            placed.append(result)
    return placed, problems


def place_one(draft: DeviceDraft, gazetteer: Gazetteer, locate: Locate,
              scope_path: str = "/") -> PlacedDevice | ImportProblem:
    """One draft placed and located, or why not."""
    entry = _place(draft, gazetteer)
    if isinstance(entry, ImportProblem):
        return entry
    if draft.lon is not None and draft.lat is not None:
        lon, lat = draft.lon, draft.lat
    elif entry is not None:
        lon, lat = entry.lon, entry.lat
    else:
        return _problem(draft, "devices.import.no_location", "place", "")
    chain = locate(lon, lat)
    if not chain:
        return _problem(draft, "devices.import.outside", "lon", f"{lon:.6f},{lat:.6f}")
    path = "/" + "/".join(ref.code for ref in chain) + "/"
    if not path.startswith(scope_path):
        return _problem(draft, "devices.import.outside_scope", "lon", f"{lon:.6f},{lat:.6f}",
                        area=chain[-1].code)
    place_code = entry.code if entry else None
    compound = entry.parent_code if entry and entry.kind is PlaceKind.BUILDING else None
    return PlacedDevice(draft, place_code, compound, lon, lat, chain[-1].code, path,
                        household_key(place_code, draft.unit, draft.room))


def _place(draft: DeviceDraft, gazetteer: Gazetteer) -> GazetteerEntry | ImportProblem | None:
    """The gazetteer entry named by `place` (code, name or address) or `address`, refined by `building`."""
    column, text = ("place", draft.place) if draft.place else ("address", draft.address)
    if not text:
        return None
    entry = gazetteer.by_code.get(text)
    if entry is None:
        found = geocode(text, gazetteer)
        if found.best is None:
            code = "devices.import.ambiguous_place" if found.reason == "places.ambiguous" else \
                "devices.import.unknown_place"
            return _problem(draft, code, column, text,
                            candidates=", ".join(c.entry.name for c in found.candidates[:3]) or "—")
        entry = found.best.entry
    if draft.building and entry.kind is PlaceKind.COMPOUND:
        number = draft.building.strip()
        building = gazetteer.building(entry.code, number) or gazetteer.building(entry.code, f"{number}栋")
        if building is None:
            return _problem(draft, "devices.import.unknown_building", "building", number, place=entry.name)
        entry = building
    return entry


def _problem(draft: DeviceDraft, code: str, column: str, value: str, **params: object) -> ImportProblem:
    return ImportProblem(code, f"row {draft.row}", {"column": column, "value": value[:80], **params})
