"""Pure parsing and validation for `chengyun areas import`: GeoJSON or division-code CSV bytes in, drafts out.

Nothing is stored or read from disk here. A file is accepted whole or refused whole: every problem found is
collected (which feature or row, a stable code, parameters for the message) and raised together as
`Invalid("areas.import_invalid", problems=[first 50 ImportProblem], count=N)`, so a file can be fixed in one go.
Polygons are converted to WGS84 and checked with shapely; an invalid polygon is refused, never repaired.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NoReturn

from shapely.errors import ShapelyError
from shapely.geometry import shape
from shapely.validation import explain_validity

from chengyun.areas.model import AreaDraft, AreaLevel, ImportProblem, infer_level, nests_in, normalise_code, parse_level
from chengyun.areas.parsing_csv import FILE, CsvOptions, RawArea, csv_records
from chengyun.errors import Invalid
from chengyun.shared.geo import CoordSystem, ring_to_wgs84

__all__ = ["MAX_IMPORT_BYTES", "CsvOptions", "GeoJsonOptions", "order_parents_first", "parse_division_csv",
           "parse_geojson"]

MAX_IMPORT_BYTES = 50 * 1024 * 1024
MAX_REPORTED_PROBLEMS = 50
COORD_DECIMALS = 7  # about 1 cm
_POLYGON_TYPES = ("Polygon", "MultiPolygon")
_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}


@dataclass(frozen=True)
class GeoJsonOptions:
    """Where a GeoJSON file keeps each area's code, name, parent and level (dotted paths reach nested objects)."""

    code_prop: str = "code"
    name_prop: str = "name"
    parent_prop: str = "parent"  # a code, or an object with `adcode`/`code` (AMap's {"adcode": 510100})
    level_prop: str | None = "level"
    level: AreaLevel | None = None  # forces the level of every feature
    source_crs: CoordSystem = CoordSystem.WGS84


class _Refused(Exception):
    """A geometry problem found deep inside the coordinate arrays."""

    def __init__(self, code: str, /, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


# --- public API ------------------------------------------------------------------------------------------


def parse_geojson(data: bytes, options: GeoJsonOptions, known: Mapping[str, AreaLevel]) -> list[AreaDraft]:
    """A FeatureCollection (or one Feature) → drafts, parents first; `known` maps stored codes to their level."""
    text = _decode(data)
    if not text.strip():
        _refuse([_problem("areas.import.empty_file", FILE)])
    entries = [_feature_record(i, feature, options) for i, feature in enumerate(_features(_load_json(text)), 1)]
    return _build(entries, options.level, options.source_crs, known)


def parse_division_csv(data: bytes, options: CsvOptions, known: Mapping[str, AreaLevel]) -> list[AreaDraft]:
    """A comma-separated file with a header → drafts, parents first; `known` maps stored codes to their level."""
    entries = csv_records(_decode(data), options)
    if isinstance(entries, ImportProblem):
        _refuse([entries])
    return _build(entries, options.level, options.source_crs, known)


def order_parents_first(drafts: Sequence[AreaDraft]) -> list[AreaDraft]:
    """Parents before children (file order otherwise); refuses parent links that form a cycle."""
    in_file = {draft.code for draft in drafts}
    children: dict[str, list[AreaDraft]] = {}
    queue: deque[AreaDraft] = deque()
    for draft in drafts:
        if draft.parent_code is not None and draft.parent_code in in_file:
            children.setdefault(draft.parent_code, []).append(draft)
        else:
            queue.append(draft)
    ordered: list[AreaDraft] = []
    while queue:
        draft = queue.popleft()
        ordered.append(draft)
        queue.extend(children.pop(draft.code, []))
    if len(ordered) < len(drafts):
        placed = {id(draft) for draft in ordered}
        _refuse([_problem("areas.import.cycle", d.source, code=d.code, parent=d.parent_code)
                 for d in drafts if id(d) not in placed])
    return ordered


# --- reading the two formats ----------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    if len(data) > MAX_IMPORT_BYTES:
        raise Invalid("areas.import.too_large", size=len(data), limit=MAX_IMPORT_BYTES)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        _refuse([_problem("areas.import.not_utf8", FILE, position=exc.start)])


def _load_json(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        _refuse([_problem("areas.import.not_json", FILE, line=exc.lineno, column=exc.colno, msg=exc.msg)])
    except (ValueError, RecursionError) as exc:  # e.g. a 5,000-digit number, or arrays nested too deeply
        _refuse([_problem("areas.import.not_json", FILE, line=0, column=0, msg=str(exc) or type(exc).__name__)])


def _features(document: object) -> list[object]:
    if isinstance(document, dict) and document.get("type") == "FeatureCollection":
        features = document.get("features")
        if isinstance(features, list):
            if not features:
                _refuse([_problem("areas.import.empty_file", FILE)])
            return features
    elif isinstance(document, dict) and document.get("type") == "Feature":
        return [document]
    _refuse([_problem("areas.import.not_geojson", FILE, type=_type_name(document))])


def _feature_record(index: int, feature: object, options: GeoJsonOptions) -> RawArea | ImportProblem:
    label = f"feature #{index}"
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        return _problem("areas.import.not_feature", label, type=_type_name(feature))
    raw_props = feature.get("properties")
    props: Mapping[str, object] = raw_props if isinstance(raw_props, dict) else {}
    code = _text(_lookup(props, options.code_prop))
    raw_name = _lookup(props, options.name_prop)
    name = raw_name.strip() or None if isinstance(raw_name, str) else None
    parent = _lookup(props, options.parent_prop)
    if isinstance(parent, Mapping):
        parent = parent.get("adcode", parent.get("code"))
    level = _text(_lookup(props, options.level_prop)) if options.level_prop else None
    return RawArea(_where(label, code, name), code, name, level, _text(parent), feature.get("geometry"),
                   options.code_prop, options.name_prop, options.parent_prop)


def _lookup(props: Mapping[str, object], path: str) -> object:
    """A property by name, else by dotted path into nested objects ("parent.adcode"); None when absent."""
    if path in props:
        return props[path]
    value: object = props
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _text(value: object) -> str | None:
    """A code or level as text: JSON numbers become their digits; null and blanks become None."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text.strip() or None


def _where(label: str, code: str | None, name: str | None) -> str:
    shown = [part if len(part) <= 40 else part[:39] + "…" for part in (code, name) if part]
    return f"{label} ({', '.join(shown)})" if shown else label


def _type_name(value: object) -> str:
    if isinstance(value, dict) and "type" in value:
        return _text(value["type"]) or "null"
    return "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)


# --- one feature or row ----------------------------------------------------------------------------------


def _validate(record: RawArea, forced: AreaLevel | None,
              crs: CoordSystem) -> tuple[AreaDraft | None, list[ImportProblem]]:
    """A draft when code, level and parent are readable (even if other fields are not), and every problem."""
    problems = list(record.problems)
    identity = _identity(record, forced, problems)
    if record.name is None:
        problems.append(_problem("areas.import.missing_property", record.where, prop=record.name_field))
    geometry = None
    if record.geometry is not None:
        try:
            geometry = _wgs84_geometry(record.geometry, crs)
        except _Refused as exc:
            problems.append(ImportProblem(exc.code, record.where, exc.params))
    if identity is None:
        return None, problems
    code, level, parent = identity
    return AreaDraft(code, record.name or "", level, parent, geometry, record.where), problems


def _identity(record: RawArea, forced: AreaLevel | None,
              problems: list[ImportProblem]) -> tuple[str, AreaLevel, str | None] | None:
    where = record.where
    if record.code is None:
        problems.append(_problem("areas.import.missing_property", where, prop=record.code_field))
        return None
    explicit = forced is not None or record.level is not None
    level = forced or _level(record, problems)
    if level is None:
        return None
    code = _normalise(record.code, level)
    if code is None:
        inferred = _infer(record.code)
        if explicit and inferred is not None and inferred != level:
            problems.append(_problem("areas.import.level_mismatch", where, code=record.code, level=level.value,
                                     inferred=inferred.value))
        else:
            problems.append(_problem("areas.import.bad_code", where, code=record.code, level=level.value))
        return None
    # kept even when the parent is unreadable, so its children and duplicates are still checked against it
    return code, level, _parent_code(record, code, level, problems)


def _level(record: RawArea, problems: list[ImportProblem]) -> AreaLevel | None:
    if record.level is not None:
        try:
            return parse_level(record.level)
        except Invalid:
            problems.append(_problem("areas.import.unknown_level", record.where, value=record.level))
            return None
    level = _infer(record.code or "")
    if level is None:
        problems.append(_problem("areas.import.bad_code", record.where, code=record.code, level="?"))
    return level


def _parent_code(record: RawArea, code: str, level: AreaLevel, problems: list[ImportProblem]) -> str | None:
    """The normalised parent code; None for a city (the root: a province given as parent is ignored)."""
    parent_level = level.parent_level
    if parent_level is None:
        return None
    raw = code[: parent_level.significant_digits] if record.parent_field is None else record.parent
    if raw is None:
        problems.append(_problem("areas.import.missing_property", record.where, prop=record.parent_field))
        return None
    parent = _normalise(raw, parent_level)
    if parent is None:
        problems.append(_problem("areas.import.bad_code", record.where, code=raw, level=parent_level.value,
                                 prop=record.parent_field or record.code_field))
    return parent


def _normalise(raw: str, level: AreaLevel) -> str | None:
    if not raw.isascii():  # str.isdigit() also accepts "²" and other scripts' digits
        return None
    try:
        return normalise_code(raw, level)
    except Invalid:
        return None


def _infer(raw: str) -> AreaLevel | None:
    try:
        return infer_level(raw) if raw.isascii() else None
    except Invalid:
        return None


# --- geometry --------------------------------------------------------------------------------------------


def _wgs84_geometry(raw: object, crs: CoordSystem) -> dict[str, object]:
    """A Polygon/MultiPolygon checked, converted to WGS84, rounded and validated; `_Refused` otherwise."""
    if not isinstance(raw, Mapping) or raw.get("type") not in _POLYGON_TYPES:
        raise _Refused("areas.import.unsupported_geometry", type=_type_name(raw))
    kind = str(raw["type"])
    coordinates = _array(raw.get("coordinates"), "coordinates")
    polygons = [coordinates] if kind == "Polygon" else [_array(p, f"polygon {i}") for i, p in enumerate(coordinates, 1)]
    if not polygons or not all(polygons):
        raise _Refused("areas.import.empty_geometry")
    converted = [[_ring(ring, crs, f"polygon {i}, ring {j}") for j, ring in enumerate(polygon, 1)]
                 for i, polygon in enumerate(polygons, 1)]
    geometry: dict[str, object] = {"type": kind, "coordinates": converted[0] if kind == "Polygon" else converted}
    try:
        checked = shape(geometry)
    except (ShapelyError, ValueError, TypeError) as exc:
        raise _Refused("areas.import.bad_coordinates", reason="unreadable", msg=str(exc)) from None
    if checked.is_empty:
        raise _Refused("areas.import.empty_geometry")
    if not checked.is_valid:
        raise _Refused("areas.import.invalid_geometry", reason=explain_validity(checked))
    return geometry


def _ring(raw: object, crs: CoordSystem, at: str) -> list[list[float]]:
    points = [_position(p, f"{at}, point {k}") for k, p in enumerate(_array(raw, at), 1)]
    if len(points) < 4:
        raise _Refused("areas.import.bad_coordinates", reason="too_few_points", at=at, points=len(points))
    if points[0] != points[-1]:
        raise _Refused("areas.import.bad_coordinates", reason="not_closed", at=at)
    return [[round(lon, COORD_DECIMALS), round(lat, COORD_DECIMALS)] for lon, lat in ring_to_wgs84(points, crs)]


def _position(raw: object, at: str) -> tuple[float, float]:
    values = _array(raw, at)
    if len(values) < 2 or not all(_is_number(v) for v in values[:2]):
        raise _Refused("areas.import.bad_coordinates", reason="not_a_number", at=at, value=_shown(raw))
    lon, lat = _as_float(values[0]), _as_float(values[1])
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):  # NaN and ±inf fail too
        raise _Refused("areas.import.bad_coordinates", reason="out_of_range", at=at, value=_shown(raw))
    return lon, lat


def _array(raw: object, at: str) -> list[object]:
    if not isinstance(raw, list | tuple):
        raise _Refused("areas.import.bad_coordinates", reason="not_an_array", at=at, value=_shown(raw))
    return list(raw)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except OverflowError:  # an integer too large for a float
        return math.inf


def _shown(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:79] + "…"


# --- the whole file --------------------------------------------------------------------------------------


def _build(entries: Sequence[RawArea | ImportProblem], forced: AreaLevel | None, crs: CoordSystem,
           known: Mapping[str, AreaLevel]) -> list[AreaDraft]:
    """Validate every entry, then codes and parent links across the file; refuse with every problem found."""
    found: dict[int, list[ImportProblem]] = {}
    drafts: dict[int, AreaDraft] = {}
    for index, entry in enumerate(entries):
        if isinstance(entry, ImportProblem):
            found[index] = [entry]
            continue
        draft, found[index] = _validate(entry, forced, crs)
        if draft is not None:
            drafts[index] = draft
    first: dict[str, AreaDraft] = {}
    for index, draft in drafts.items():
        if draft.code in first:
            found[index].append(_problem("areas.import.duplicate_code", draft.source, code=draft.code,
                                         first=first[draft.code].source))
        else:
            first[draft.code] = draft
    for index, draft in drafts.items():
        problem = _link_problem(draft, first, known) if first[draft.code] is draft else None
        if problem is not None:
            found[index].append(problem)
    problems = [problem for index in sorted(found) for problem in found[index]]
    if problems:
        _refuse(problems)
    return order_parents_first(list(drafts.values()))


def _link_problem(draft: AreaDraft, in_file: Mapping[str, AreaDraft],
                  known: Mapping[str, AreaLevel]) -> ImportProblem | None:
    """The parent must be in the file or stored, exactly one level up, and a prefix of the child's code."""
    parent = draft.parent_code
    if parent is None:
        return None
    parent_level = in_file[parent].level if parent in in_file else known.get(parent)
    expected = draft.level.parent_level
    if parent_level is None:
        return _problem("areas.import.unknown_parent", draft.source, parent=parent)
    if expected is None or parent_level != expected:
        return _problem("areas.import.parent_level", draft.source, parent=parent, parent_level=parent_level.value,
                        expected=expected.value if expected else None)
    if not nests_in(draft.code, parent, parent_level):
        return _problem("areas.import.code_not_nested", draft.source, code=draft.code, parent=parent)
    return None


def _problem(code: str, where: str, /, **params: object) -> ImportProblem:
    return ImportProblem(code, where, params)


def _refuse(problems: list[ImportProblem]) -> NoReturn:
    raise Invalid("areas.import_invalid", problems=problems[:MAX_REPORTED_PROBLEMS], count=len(problems))
