"""Linkage plans as data (联动预案) and the facts of an alarm they act on; pure, no I/O beyond reading text.

A plan names, per alarm type, tiers of recipients in order: tier 0 at once, each later tier when nobody has
acknowledged within `after_min` minutes of the run's start (the escalation table). Every recipient says what it
must confirm (已到场, 已关阀 …); the checklist is the responders' one-to-one handling process (一对一处置流程).
`load_plans` reads the YAML file and refuses any problem precisely (`linkage.data.*` with `where`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from importlib import resources
from typing import Any

from chengyun.errors import Invalid
from chengyun.linkage.reading import integer, mapping, only, parse_yaml, required, sequence, string

PACKAGED_PLANS = "data/plans.yaml"
DEFAULT_KEY = "default"
MAX_TIERS, MAX_RECIPIENTS, MAX_STEPS = 8, 20, 30
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class RecipientKind(StrEnum):
    """Who a plan notifies; `liaison` carries a name (`liaison:fire`) configured as channel data."""

    FAMILY = "family"  # the device resident's contacts (家属)
    GRID_WORKER = "grid_worker"  # the (micro)grid worker whose area contains the device (网格员)
    COMMUNITY = "community"  # the community's responsible unit (社区)
    STREET = "street"  # the street's responsible unit (街道)
    DISTRICT = "district"  # the district's responsible unit (区)
    CENTER = "center"  # the operations center on duty (城运中心)
    LIAISON = "liaison"  # police / fire / medical / gas … liaison channels (联络员)


AREA_KINDS = frozenset({RecipientKind.COMMUNITY, RecipientKind.STREET, RecipientKind.DISTRICT})


@dataclass(frozen=True, slots=True)
class Text:
    """A sentence of plan data in Simplified Chinese and (optionally) English."""

    zh: str
    en: str = ""

    def get(self, locale: str) -> str:
        """The English text for `en` when there is one, else the Chinese."""
        return self.en if locale == "en" and self.en else self.zh


@dataclass(frozen=True, slots=True)
class Recipient:
    """One party of a tier and what it must confirm."""

    kind: RecipientKind
    confirm: Text
    name: str = ""  # the liaison's name, e.g. `fire`

    @property
    def code(self) -> str:
        """`liaison:fire`, or the kind itself."""
        return f"{self.kind.value}:{self.name}" if self.name else self.kind.value


@dataclass(frozen=True, slots=True)
class Tier:
    """Recipients notified together, `after_min` minutes after the run started unless acknowledged by then."""

    after_min: int
    recipients: tuple[Recipient, ...]


@dataclass(frozen=True, slots=True)
class Step:
    """One step of the responders' checklist."""

    code: str
    text: Text


@dataclass(frozen=True, slots=True)
class Plan:
    """The linked response to one alarm type."""

    key: str
    name: Text
    tiers: tuple[Tier, ...]
    checklist: tuple[Step, ...] = ()

    def step(self, code: str) -> Step | None:
        """The checklist step with this code, if any."""
        return next((s for s in self.checklist if s.code == code), None)


@dataclass(frozen=True, slots=True)
class PlanBook:
    """Every plan by alarm type, and the default for types without one."""

    plans: Mapping[str, Plan]
    default: Plan

    def for_type(self, alarm_type: str) -> Plan:
        """The alarm type's plan, or the default plan."""
        return self.plans.get(alarm_type, self.default)

    def by_key(self, key: str) -> Plan:
        """The plan stored on a run (its key), or the default when it has since been removed."""
        return self.default if key == DEFAULT_KEY else self.plans.get(key, self.default)


@dataclass(frozen=True, slots=True)
class Contact:
    """Someone to tell about a device's resident (family, neighbour): at least a phone or an e-mail."""

    name: str
    phone: str | None = None
    email: str | None = None
    relation: str = ""  # 子女, 配偶, 邻居 …


@dataclass(frozen=True, slots=True)
class AlarmFacts:
    """What linkage needs to know about one alarm: its id and type, and where the device is.

    `area_path` is the located area chain (as cases store it); `place_label` is readable (怡湖苑3栋2单元301);
    `started_at` is when the alarm fired (aware UTC); `message` a short explanation (燃气浓度 25%LEL ≥ 20)."""

    alarm_id: int
    alarm_type: str
    severity: str
    device_id: str
    started_at: datetime
    area_code: str | None = None
    area_path: str = ""
    place_label: str = ""
    household: str | None = None
    message: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


# --- reading the plan file -----------------------------------------------------------------------------------


def default_plans() -> PlanBook:
    """The packaged plans (`linkage/data/plans.yaml`)."""
    raw = resources.files("chengyun.linkage").joinpath(PACKAGED_PLANS).read_text(encoding="utf-8")
    return load_plans(raw)


def load_plans(raw: str | bytes) -> PlanBook:
    """Read a plan file (YAML or JSON): `plans: {alarm_type: plan}` and `default: plan`; all or nothing."""
    data = mapping(parse_yaml(raw), "")
    only(data, ("version", "plans", "default"), "")
    plans = mapping(data.get("plans") or {}, "plans")
    book = {key: _plan(key, value, f"plans.{key}") for key, value in plans.items()}
    default = _plan(DEFAULT_KEY, required(data, "default", ""), "default")
    return PlanBook(book, default)


def read_text(value: Any, where: str, limit: int = 200) -> Text:
    """A string (both languages) or `{zh-CN: …, en: …}` with zh-CN required."""
    if isinstance(value, Mapping):
        data = mapping(value, where)
        only(data, ("zh-CN", "en"), where)
        zh = string(required(data, "zh-CN", where), f"{where}.zh-CN", limit=limit)
        en = string(data["en"], f"{where}.en", limit=limit) if data.get("en") is not None else ""
        return Text(zh, en)
    return Text(string(value, where, limit=limit))


def _code(value: Any, where: str) -> str:
    text = string(value, where, limit=40)
    if not _CODE.match(text):
        raise Invalid("linkage.data.bad_code", where=where, value=text)
    return text


def _plan(key: str, value: Any, where: str) -> Plan:
    if not _CODE.match(key):
        raise Invalid("linkage.data.bad_code", where=where, value=key[:40])
    data = mapping(value, where)
    only(data, ("name", "tiers", "checklist"), where)
    tiers = sequence(required(data, "tiers", where), f"{where}.tiers")
    if not 1 <= len(tiers) <= MAX_TIERS:
        raise Invalid("linkage.data.bad_count", where=f"{where}.tiers", low=1, high=MAX_TIERS)
    parsed = tuple(_tier(t, f"{where}.tiers[{i}]") for i, t in enumerate(tiers))
    _check_order(parsed, f"{where}.tiers")
    name = read_text(data["name"], f"{where}.name") if data.get("name") is not None else Text(key)
    return Plan(key, name, parsed, _checklist(data.get("checklist") or [], f"{where}.checklist"))


def _tier(value: Any, where: str) -> Tier:
    data = mapping(value, where)
    only(data, ("after_min", "notify"), where)
    after = integer(data.get("after_min", 0), f"{where}.after_min", high=7 * 24 * 60)
    notify = sequence(required(data, "notify", where), f"{where}.notify")
    if not 1 <= len(notify) <= MAX_RECIPIENTS:
        raise Invalid("linkage.data.bad_count", where=f"{where}.notify", low=1, high=MAX_RECIPIENTS)
    recipients = tuple(_recipient(r, f"{where}.notify[{i}]") for i, r in enumerate(notify))
    codes = [r.code for r in recipients]
    duplicate = next((c for c in codes if codes.count(c) > 1), None)
    if duplicate:
        raise Invalid("linkage.data.duplicate", where=f"{where}.notify", value=duplicate)
    return Tier(after, recipients)


def _check_order(tiers: tuple[Tier, ...], where: str) -> None:
    """Tier 0 goes out at once; each later tier strictly later than the one before."""
    if tiers[0].after_min != 0:
        raise Invalid("linkage.data.first_tier_delayed", where=f"{where}[0].after_min")
    for i in range(1, len(tiers)):
        if tiers[i].after_min <= tiers[i - 1].after_min:
            raise Invalid("linkage.data.tier_order", where=f"{where}[{i}].after_min",
                          after=tiers[i].after_min, previous=tiers[i - 1].after_min)


def parse_recipient(code: str, where: str) -> tuple[RecipientKind, str]:
    """`family`, `grid_worker`, … or `liaison:<name>` into (kind, name)."""
    kind_text, _, name = code.partition(":")
    try:
        kind = RecipientKind(kind_text)
    except ValueError:
        raise Invalid("linkage.data.bad_recipient", where=where, value=code[:60]) from None
    if (kind is RecipientKind.LIAISON) != bool(name) or (name and not _CODE.match(name)):
        raise Invalid("linkage.data.bad_recipient", where=where, value=code[:60])
    return kind, name


def _recipient(value: Any, where: str) -> Recipient:
    data = mapping(value, where)
    only(data, ("to", "confirm"), where)
    kind, name = parse_recipient(string(required(data, "to", where), f"{where}.to", limit=60), f"{where}.to")
    return Recipient(kind, read_text(required(data, "confirm", where), f"{where}.confirm", limit=60), name)


def _checklist(value: Any, where: str) -> tuple[Step, ...]:
    items = sequence(value, where)
    if len(items) > MAX_STEPS:
        raise Invalid("linkage.data.bad_count", where=where, low=0, high=MAX_STEPS)
    steps: list[Step] = []
    for i, item in enumerate(items):
        data = mapping(item, f"{where}[{i}]")
        only(data, ("code", "text"), f"{where}[{i}]")
        code = _code(required(data, "code", f"{where}[{i}]"), f"{where}[{i}].code")
        if any(s.code == code for s in steps):
            raise Invalid("linkage.data.duplicate", where=f"{where}[{i}].code", value=code)
        steps.append(Step(code, read_text(required(data, "text", f"{where}[{i}]"), f"{where}[{i}].text")))
    return tuple(steps)
