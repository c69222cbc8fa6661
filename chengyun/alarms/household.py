"""Composite rules across the devices of one household (e.g. door not opened AND no water for 24 h); pure."""

from __future__ import annotations

from chengyun.alarms.plans import DeviceState
from chengyun.alarms.rule_params import CompositeParams
from chengyun.alarms.rules import Rule
from chengyun.alarms.signals import Change, Transition


class Households:
    """Members per household (only devices watched by a component rule) and which composite rules hold there.

    A component holds for a household when at least one member is watched by it and it holds on every such member;
    a composite fires when all its components hold and clears when one stops. Its transitions name the anchor: the
    smallest member device id when it fired."""

    def __init__(self, composites: tuple[Rule, ...]) -> None:
        self._composites = composites
        self._by_part: dict[str, tuple[Rule, ...]] = {}
        for rule in composites:
            for part in _parts(rule):
                self._by_part[part] = (*self._by_part.get(part, ()), rule)
        self._members: dict[str, list[DeviceState]] = {}
        self._active: dict[tuple[str, str], str] = {}

    def members(self, household: str) -> list[DeviceState]:
        """The watched devices of a household (empty when none)."""
        return self._members.get(household, [])

    def join(self, device: DeviceState) -> None:
        """Add a device whose plan feeds a household rule."""
        household = device.facts.household
        if household is not None and device.plan.components:
            members = self._members.setdefault(household, [])
            if device not in members:
                members.append(device)

    def replace(self, old: DeviceState, new: DeviceState, at: float) -> list[Transition]:
        """A device's facts changed: the new state takes the old one's place (or moves household)."""
        same = old.facts.household is not None and old.facts.household == new.facts.household
        members = self._members.get(old.facts.household or "", [])
        if same and old in members and new.plan.components:
            members[members.index(old)] = new
            out: list[Transition] = []
            for rule in self._composites:
                self._judge(old.facts.household or "", rule, at, out)
            return out
        out = self.leave(old, old.facts.household, at) if old.facts.household is not None else []
        self.join(new)
        if new.facts.household is not None:
            for rule in self._composites:
                self._judge(new.facts.household, rule, at, out)
        return out

    def leave(self, device: DeviceState, household: str, at: float) -> list[Transition]:
        """Remove a device; composite rules of the household are judged again."""
        members = self._members.get(household, [])
        if device in members:
            members.remove(device)
        if not members:
            self._members.pop(household, None)
        out: list[Transition] = []
        for rule in self._composites:
            self._judge(household, rule, at, out)
        return out

    def changed(self, household: str, rule_id: str, at: float, out: list[Transition]) -> None:
        """A component rule changed its verdict on a member at `at`: judge the composites that use it."""
        for rule in self._by_part.get(rule_id, ()):
            self._judge(household, rule, at, out)

    def holds(self, household: str, rule_id: str) -> bool:
        """Whether a composite rule holds for a household now."""
        return (household, rule_id) in self._active

    def _judge(self, household: str, rule: Rule, at: float, out: list[Transition]) -> None:
        members = self._members.get(household, [])
        holds = all(_part_holds(members, part) for part in _parts(rule))
        key = (household, rule.id)
        anchor = self._active.get(key)
        if holds and anchor is None:
            anchor = self._active[key] = min(m.facts.device_id for m in members)
            change: Change | None = Change.FIRE
        elif not holds and anchor is not None:
            del self._active[key]
            change = Change.CLEAR
        else:
            change = None
        if change is not None and anchor is not None and rule.emit:
            out.append(_transition(rule, change, anchor, at, household))


def _parts(rule: Rule) -> tuple[str, ...]:
    assert isinstance(rule.params, CompositeParams)
    return rule.params.all


def _part_holds(members: list[DeviceState], part: str) -> bool:
    verdicts = [verdict for verdict in (m.holds(part) for m in members) if verdict is not None]
    return bool(verdicts) and all(verdicts)


def _transition(rule: Rule, change: Change, anchor: str, at: float, household: str) -> Transition:
    return Transition(rule.id, rule.alarm_type, rule.severity, change, anchor, at,
                      {"household": household, "rules": list(_parts(rule))})
