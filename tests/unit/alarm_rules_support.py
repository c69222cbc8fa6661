"""Small builders shared by the alarm rule tests: rules from YAML text, readings, local instants."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from chengyun.alarms.engine import RuleEngine
from chengyun.alarms.rules import load_rules
from chengyun.alarms.signals import Change, Transition
from chengyun.devices.model import DeviceFacts, MessageKind, Reading

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2025, 10, 13, 9, 0, tzinfo=SH).timestamp()  # a Monday, a working day


def local(text: str) -> float:
    """Epoch seconds of a local (Asia/Shanghai) `YYYY-MM-DD HH:MM[:SS]`."""
    return datetime.fromisoformat(text).replace(tzinfo=SH).timestamp()


def engine(yaml_text: str) -> RuleEngine:
    """An engine for rules written inline."""
    return RuleEngine(load_rules(yaml_text))


def reading(device: DeviceFacts, ts: float, kind: MessageKind = MessageKind.TELEMETRY, **values: object) -> Reading:
    """A reading of `device` at `ts`."""
    return Reading(device.device_id, device.type_code, kind, ts, values, f"{device.device_id}@{ts}")  # type: ignore[arg-type]


def changes(transitions: list[Transition]) -> list[tuple[str, str, float]]:
    """(change, rule id, at) triples, easy to compare."""
    return [(t.change.value, t.rule_id, t.at) for t in transitions]


def feed_all(eng: RuleEngine, device: DeviceFacts, samples: list[tuple[float, dict[str, object]]]) \
        -> list[Transition]:
    """Feed `(ts, values)` samples of one device in order."""
    out: list[Transition] = []
    for ts, values in samples:
        out.extend(eng.feed(reading(device, ts, **values), device))
    return out


FIRE, CLEAR = Change.FIRE, Change.CLEAR
