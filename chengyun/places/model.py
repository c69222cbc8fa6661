"""The gazetteer and the matching policy: which known place an address means, with a score and the reasons.

Pure (no storage): the service hands in a `Gazetteer` snapshot. A best place is named only when its score is
high *and* clearly ahead of the runner-up; otherwise the caller gets no best and the ranked candidates, so an
address that cannot be placed goes to the operator instead of silently to a wrong place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from rapidfuzz import fuzz, process

from chengyun.places.parsing import KnownNames, ParsedAddress, normalise, parse_address

ACCEPT = 85.0  # a best needs at least this score …
MARGIN = 8.0  # … and this lead over the runner-up (another place)
SHOWN = 5  # candidates returned
FLOOR = 55.0  # weaker candidates are not worth an operator's look
ROAD_WEIGHT = 0.9  # a road is a coarse place: an exact road name scores 90
PARTIAL_WEIGHT = 0.9  # 大弯中学门卫室 contains 大弯中学: a little less than an exact name

NOT_FOUND, AMBIGUOUS, OUTSIDE, EMPTY = "places.not_found", "places.ambiguous", "places.outside", "places.empty"


class PlaceKind(StrEnum):
    """What a gazetteer entry is; stored values are these codes."""

    COMPOUND = "compound"
    BUILDING = "building"
    ROAD = "road"
    POI = "poi"


_KIND_ORDER = {PlaceKind.BUILDING: 0, PlaceKind.COMPOUND: 1, PlaceKind.POI: 2, PlaceKind.ROAD: 3}


@dataclass(frozen=True, slots=True)
class GazetteerEntry:
    """A known place: `lon`/`lat` WGS84; `area_chain` the codes of its areas, root first; a building's
    `parent_code` is its compound and its `name` the compound's name with the number (怡湖苑3栋)."""

    code: str
    name: str
    kind: PlaceKind
    lon: float
    lat: float
    area_code: str | None = None
    address: str = ""
    aliases: tuple[str, ...] = ()
    parent_code: str | None = None
    number: str | None = None  # a building's 3栋
    category: str | None = None  # a POI's school, clinic, market …
    line: tuple[tuple[float, float], ...] = ()  # a road's course, WGS84
    area_chain: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Candidate:
    """A place the address may mean: score 0–100 and why (codes translated as `places.why.<code>`)."""

    entry: GazetteerEntry
    score: float
    why: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Geocoded:
    """The answer for one address: `best` or, when None, `reason` (places.not_found, .ambiguous, .outside,
    .empty) and the `candidates` (top 5) for the operator; `area_code` the deepest area named in the text."""

    parsed: ParsedAddress
    best: Candidate | None
    candidates: tuple[Candidate, ...]
    reason: str | None = None
    area_code: str | None = None


@dataclass(frozen=True, slots=True)
class AreaName:
    """An area of the tree as the matcher sees it."""

    code: str
    name: str
    level: str
    parent_code: str | None


class Gazetteer:
    """Every known place of a street or district, indexed for name, address and building look-ups."""

    def __init__(self, entries: Iterable[GazetteerEntry], areas: Iterable[AreaName] = ()) -> None:
        self.entries = tuple(entries)
        self.by_code = {e.code: e for e in self.entries}
        self.areas = tuple(areas)
        self.known = KnownNames.of((a.level, a.name) for a in self.areas)
        self._buildings = {(e.parent_code, normalise(e.number or "")): e for e in self.entries
                           if e.kind is PlaceKind.BUILDING}
        self._names: list[str] = []
        self._name_entry: list[tuple[GazetteerEntry, bool]] = []  # entry, is an alias
        self._by_address: dict[tuple[str, str], list[GazetteerEntry]] = {}
        for entry in self.entries:
            self._index(entry)

    def _index(self, entry: GazetteerEntry) -> None:
        if entry.kind is PlaceKind.BUILDING:
            return
        for alias, name in ((False, entry.name), *((True, a) for a in entry.aliases)):
            self._names.append(normalise(name))
            self._name_entry.append((entry, alias))
        if entry.kind is PlaceKind.COMPOUND and entry.address:
            parsed = parse_address(entry.address, self.known)
            if parsed.road and parsed.number:
                self._by_address.setdefault((parsed.road, parsed.number), []).append(entry)

    def __len__(self) -> int:
        return len(self.entries)

    def building(self, compound_code: str, number: str) -> GazetteerEntry | None:
        """The building numbered `number` (3栋) of a compound, if known."""
        return self._buildings.get((compound_code, normalise(number)))

    def at_address(self, road: str, number: str) -> list[GazetteerEntry]:
        """Compounds whose address is this road and 门牌号."""
        return self._by_address.get((road, number), [])

    def named(self, query: str, cutoff: float) -> list[tuple[GazetteerEntry, float, bool]]:
        """(entry, name score, matched an alias) for every name or alias scoring at least `cutoff`."""
        if not query:
            return []
        hits = process.extract(query, self._names, scorer=_name_score, limit=None, score_cutoff=cutoff)
        return [(self._name_entry[i][0], float(score), self._name_entry[i][1]) for _, score, i in hits]

    def has_level(self, level: str) -> bool:
        """Whether the tree holds any area of this level (a street-only tree cannot judge district names)."""
        return level in self.known.by_level

    def areas_named(self, level: str, name: str) -> list[AreaName]:
        """Areas of a level whose name is `name` (after normalising)."""
        wanted = normalise(name)
        return [a for a in self.areas if a.level == level and normalise(a.name) == wanted]


def _name_score(query: str, name: str, **_: object) -> float:
    """Edit-distance similarity, or a little less when one contains the other (门卫室 of a school)."""
    exact = fuzz.ratio(query, name)
    if min(len(query), len(name)) >= 3 and (name in query or query in name):
        return max(exact, 100.0 * PARTIAL_WEIGHT)
    return exact


# --- the policy ---------------------------------------------------------------------------------------------------


def geocode(text: str, gazetteer: Gazetteer, scope: str | None = None) -> Geocoded:
    """Parse `text` and place it among the gazetteer's entries inside `scope` (an area code; None: all)."""
    parsed = parse_address(text, gazetteer.known)
    return match(parsed, gazetteer, scope)


def match(parsed: ParsedAddress, gazetteer: Gazetteer, scope: str | None = None) -> Geocoded:
    """The matching rule over a parsed address (see the module docstring)."""
    if not (parsed.place_name or parsed.road or parsed.community or parsed.street):
        return Geocoded(parsed, None, (), EMPTY)
    area = _named_area(parsed, gazetteer)
    if area is None:
        return Geocoded(parsed, None, (), OUTSIDE)
    pool = [c for c in _score(parsed, gazetteer) if _within(c.entry, scope)]
    inside = [c for c in pool if _within(c.entry, area)]
    if pool and not inside:  # the places named lie in another community than the one written: ask
        return Geocoded(parsed, None, tuple(_rank(pool)[:SHOWN]), NOT_FOUND, area or None)
    return _decide(parsed, _rank(_refine(inside, parsed, gazetteer)), area or None)


def _named_area(parsed: ParsedAddress, gazetteer: Gazetteer) -> str | None:
    """The deepest named area's code ('' when none is named); None when the text names a city, district or
    street that is not in the area tree (outside)."""
    if not gazetteer.areas:
        return ""
    for level in ("city", "district", "street"):
        name = getattr(parsed, level)
        if name and gazetteer.has_level(level) and not gazetteer.areas_named(level, name):
            return None
    code = ""
    for level in ("street", "community"):
        name = getattr(parsed, level)
        found = gazetteer.areas_named(level, name) if name else []
        if len(found) == 1:
            code = found[0].code
    return code


def _within(entry: GazetteerEntry, area: str | None) -> bool:
    return not area or area in entry.area_chain or entry.area_code == area


def _score(parsed: ParsedAddress, gazetteer: Gazetteer) -> list[Candidate]:
    """Every candidate with its score: by name or alias and by road + 门牌号 together, then roads by name."""
    named: dict[str, tuple[GazetteerEntry, float, bool]] = {}
    query = parsed.place_name or ("" if parsed.road else parsed.text)  # 大弯街道办: the whole text may be a name
    for entry, score, alias in gazetteer.named(query, FLOOR):
        if entry.kind is not PlaceKind.ROAD and score > named.get(entry.code, (entry, -1.0, False))[1]:
            named[entry.code] = (entry, score, alias)
    at = {e.code: e for e in gazetteer.at_address(parsed.road, parsed.number)} if parsed.road and parsed.number \
        else {}
    found = [_combined(parsed, named.get(code), at.get(code)) for code in dict.fromkeys([*named, *at])]
    if parsed.road and not any(c.score >= ACCEPT for c in found):  # a road only when no place fits better
        found += [Candidate(entry, score * ROAD_WEIGHT, ("road",))
                  for entry, score, _ in gazetteer.named(parsed.road, FLOOR) if entry.kind is PlaceKind.ROAD]
    return found


def _combined(parsed: ParsedAddress, by_name: tuple[GazetteerEntry, float, bool] | None,
              by_address: GazetteerEntry | None) -> Candidate:
    """Name and address agreeing add up; an address whose name disagrees is weak; a name whose stored address
    differs from the one written is a little weaker."""
    if by_name is not None:
        entry, score, alias = by_name
        why = ("alias",) if alias else ("name",)
        if by_address is not None:
            return Candidate(entry, min(100.0, score + 10.0), (*why, "address"))
        differs = parsed.number and entry.kind is PlaceKind.COMPOUND and entry.address
        return Candidate(entry, score * 0.95 if differs else score, why)
    assert by_address is not None
    if not parsed.place_name:
        return Candidate(by_address, 100.0, ("address",))
    return Candidate(by_address, 50.0 + _name_score(normalise(parsed.place_name), normalise(by_address.name)) / 2,
                     ("address",))


def _refine(candidates: Sequence[Candidate], parsed: ParsedAddress, gazetteer: Gazetteer) -> list[Candidate]:
    """A compound with a known building number given becomes that building (same score)."""
    if not parsed.building:
        return list(candidates)
    out = []
    for candidate in candidates:
        building = (gazetteer.building(candidate.entry.code, parsed.building)
                    if candidate.entry.kind is PlaceKind.COMPOUND else None)
        out.append(replace(candidate, entry=building, why=(*candidate.why, "building")) if building else candidate)
    return out


def _rank(candidates: Iterable[Candidate]) -> list[Candidate]:
    return sorted(candidates, key=lambda c: (-c.score, _KIND_ORDER[c.entry.kind], c.entry.code))


def _decide(parsed: ParsedAddress, ranked: list[Candidate], area: str | None) -> Geocoded:
    shown = tuple(ranked[:SHOWN])
    if not ranked or ranked[0].score < ACCEPT:
        return Geocoded(parsed, None, shown, NOT_FOUND, area)
    top = ranked[0]
    rival = next((c for c in ranked[1:] if _home(c.entry) != _home(top.entry)), None)
    if rival is not None and top.score - rival.score < MARGIN:
        return Geocoded(parsed, None, shown, AMBIGUOUS, area)
    return Geocoded(parsed, top, shown, None, area)


def _home(entry: GazetteerEntry) -> str:
    """A building and its compound are the same place for the margin rule."""
    return entry.parent_code if entry.kind is PlaceKind.BUILDING and entry.parent_code else entry.code
