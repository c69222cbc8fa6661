"""Alarm rules as typed data, loaded from YAML with precise translatable errors; the default rule file; pure."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from chengyun.alarms.rule_fields import Fields, bad
from chengyun.alarms.rule_params import CompositeParams, Kind, Params, parse_params
from chengyun.alarms.schedule import Days, Schedule, merge_windows, parse_window
from chengyun.alarms.signals import Severity
from chengyun.devices.model import DeviceFacts
from chengyun.errors import Invalid

MAX_RULE_FILE_BYTES = 1_000_000
_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Override:
    """Parameters that replace the rule's own for devices of a type, in an area (on the area path, or a prefix of
    the area code), or at a place (one of the device's place codes);
    the most specific matching override wins (place, then the longest area prefix, then type)."""

    params: Params
    device_type: str | None = None
    area: str | None = None
    place: str | None = None

    def rank(self, device: DeviceFacts) -> tuple[int, int, int] | None:
        """How specifically this override matches a device (higher wins); None when it does not match."""
        if self.device_type is not None and device.type_code != self.device_type:
            return None
        place_rank = 0
        if self.place is not None:
            if self.place not in device.place_codes:
                return None
            place_rank = len(device.place_codes) - device.place_codes.index(self.place)  # nearest place ranks highest
        if self.area is not None and not _within_area(device, self.area):
            return None
        return place_rank, len(self.area or ""), int(self.device_type is not None)


def _within_area(device: DeviceFacts, area: str) -> bool:
    """True when `area` is on the device's area path (`/510113/510113002/…/`) or prefixes its area code."""
    return f"/{area}/" in device.area_path or (device.area_code or "").startswith(area)


@dataclass(frozen=True, slots=True)
class Rule:
    """One alarm rule: which devices (types, optionally only those bound to a resident), its kind and parameters,
    an optional schedule, and overrides. `emit=False` rules only feed composite rules and raise no alarm."""

    id: str
    alarm_type: str
    severity: Severity
    kind: Kind
    params: Params
    applies_to: tuple[str, ...] = ()
    schedule: Schedule | None = None
    overrides: tuple[Override, ...] = ()
    resident_only: bool = False
    emit: bool = True
    description: str = ""

    def applies(self, device: DeviceFacts) -> bool:
        """True when the rule watches this device (composite rules watch households, never one device)."""
        return (self.kind is not Kind.COMPOSITE and device.type_code in self.applies_to
                and (not self.resident_only or device.resident_id is not None))

    def params_for(self, device: DeviceFacts) -> Params:
        """The parameters in force for a device: the best-ranked matching override's, else the rule's own."""
        best: tuple[tuple[int, int, int], int] | None = None
        for index, override in enumerate(self.overrides):
            rank = override.rank(device)
            if rank is not None and (best is None or (rank, index) > best):
                best = (rank, index)
        return self.params if best is None else self.overrides[best[1]].params


@dataclass(frozen=True)
class RuleSet:
    """Validated rules, ids unique, composite rules referring only to known non-composite rules."""

    rules: tuple[Rule, ...]

    def __post_init__(self) -> None:
        _check_ids(self.rules)
        _check_composites(self.rules)

    def by_id(self, rule_id: str) -> Rule:
        """The rule with this id; NotFound-like Invalid when absent."""
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise Invalid("alarms.rules.unknown_rule", rule=rule_id)

    def composites(self) -> tuple[Rule, ...]:
        """The household rules."""
        return tuple(rule for rule in self.rules if rule.kind is Kind.COMPOSITE)


def _check_ids(rules: Sequence[Rule]) -> None:
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise Invalid("alarms.rules.duplicate_id", rule=rule.id)
        seen.add(rule.id)


def _check_composites(rules: Sequence[Rule]) -> None:
    known = {rule.id: rule for rule in rules}
    for rule in rules:
        if not isinstance(rule.params, CompositeParams):
            continue
        for part in rule.params.all:
            target = known.get(part)
            if target is None or target.kind is Kind.COMPOSITE:
                raise Invalid("alarms.rules.unknown_component", rule=rule.id, component=part)


def load_rules(text: str | bytes) -> RuleSet:
    """Rules from YAML text: a list of rules, a mapping with `rules:`, or one rule; errors name rule and field."""
    if len(text) > MAX_RULE_FILE_BYTES:
        raise Invalid("alarms.rules.too_large", size=len(text), limit=MAX_RULE_FILE_BYTES)
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise Invalid("alarms.rules.bad_yaml", line=mark.line + 1 if mark else 0,
                      problem=str(getattr(exc, "problem", None) or exc)) from None
    return RuleSet(tuple(parse_rule(raw, index) for index, raw in enumerate(_entries(document), start=1)))


def _entries(document: object) -> list[object]:
    if isinstance(document, Mapping) and "rules" in document:
        document = document["rules"]
    elif isinstance(document, Mapping):
        document = [document]
    if not isinstance(document, list) or not document:
        raise Invalid("alarms.rules.no_rules")
    return document


def parse_rule(raw: object, position: int) -> Rule:
    """One rule mapping; `position` (1-based) names it while its id is unknown."""
    name = raw.get("id") if isinstance(raw, Mapping) else None
    f = Fields(str(name) if isinstance(name, str) else f"#{position}", "", raw)
    rule_id = f.text("id")
    if not _RULE_ID.match(rule_id):
        raise bad(rule_id, "id", rule_id, "a-z 0-9 _ . -")
    kind_text = f.raw("kind")
    if kind_text not in set(Kind):
        raise Invalid("alarms.rules.unknown_kind", rule=rule_id, kind=str(kind_text), known=", ".join(Kind))
    kind = Kind(kind_text)
    emit = f.flag("emit", True)
    severity = f.choice("severity", Severity, None if emit else Severity.INDETERMINATE)
    if severity is None:
        raise Invalid("alarms.rules.missing_field", rule=rule_id, field="severity")
    raw_params = f.raw("params", {})
    params = parse_params(kind, rule_id, "params", _mapping(f, "params", raw_params), severity)
    schedule = _schedule(f)
    if schedule is not None and kind is Kind.COMPOSITE:  # a household rule follows its components' schedules
        raise Invalid("alarms.rules.unknown_field", rule=rule_id, field="schedule", allowed="all")
    rule = Rule(rule_id, f.text("alarm_type", rule_id), severity, kind, params,
                _types(f, kind), schedule, _overrides(f, kind, raw_params, severity),
                f.flag("resident_only", False), emit, f.text("description", ""))
    f.done()
    return rule


def _mapping(f: Fields, key: str, value: object) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise bad(f.rule, f.path(key), value, "mapping")
    return value


def _types(f: Fields, kind: Kind) -> tuple[str, ...]:
    if kind is Kind.COMPOSITE:
        return ()
    raw = f.raw("applies_to")
    names = [raw] if isinstance(raw, str) else raw
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise bad(f.rule, "applies_to", raw, "device type or list of types")
    return tuple(n.strip() for n in names)


def _schedule(f: Fields) -> Schedule | None:
    raw = f.raw("schedule", None)
    if raw is None:
        return None
    s = Fields(f.rule, "schedule", raw)
    days = s.choice("days", Days, Days.EVERY_DAY)
    texts = s.raw("windows", ["00:00-24:00"])
    texts = [texts] if isinstance(texts, str) else texts
    if not isinstance(texts, list) or not texts:
        raise bad(f.rule, "schedule.windows", texts, "list of HH:MM-HH:MM")
    windows: list[tuple[int, int]] = []
    for index, text in enumerate(texts):
        try:
            windows.extend(parse_window(str(text)))
        except ValueError:
            raise bad(f.rule, f"schedule.windows[{index}]", text, "HH:MM-HH:MM") from None
    s.done()
    return Schedule(merge_windows(windows), days)


def _overrides(f: Fields, kind: Kind, base: Mapping[str, object], severity: Severity) -> tuple[Override, ...]:
    raw = f.raw("overrides", [])
    if not isinstance(raw, list):
        raise bad(f.rule, "overrides", raw, "list")
    return tuple(_override(f.rule, f"overrides[{i}]", kind, base, item, severity) for i, item in enumerate(raw))


def _override(rule: str, where: str, kind: Kind, base: Mapping[str, object], raw: object,
              severity: Severity) -> Override:
    o = Fields(rule, where, raw)
    device_type, area, place = o.text("device_type", None), o.text("area", None), o.text("place", None)
    if device_type is None and area is None and place is None:
        raise Invalid("alarms.rules.missing_field", rule=rule, field=f"{where}.device_type|area|place")
    changes = o.raw("params")
    merged = {**base, **_mapping(o, "params", changes)}
    override = Override(parse_params(kind, rule, f"{where}.params", merged, severity), device_type, area, place)
    o.done()
    return override


def combine(*sets: RuleSet | Iterable[Rule]) -> RuleSet:
    """Several rule files as one set (ids must stay unique)."""
    rules: list[Rule] = []
    for group in sets:
        rules.extend(group.rules if isinstance(group, RuleSet) else group)
    return RuleSet(tuple(rules))


@cache
def default_rules() -> RuleSet:
    """The shipped rules for the default device types (`chengyun/alarms/data/rules.yaml`)."""
    text = resources.files("chengyun.alarms").joinpath("data/rules.yaml").read_text(encoding="utf-8")
    return load_rules(text)
