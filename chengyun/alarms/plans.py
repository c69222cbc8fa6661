"""Which evaluators watch a device: rules that apply to its type (and resident), with overrides resolved; plans and
evaluators are shared by every device with the same resolution, so a device costs only its small states; pure."""

from __future__ import annotations

from typing import Any

from chengyun.alarms.evaluators import Evaluator, Rate, Repeating, Threshold
from chengyun.alarms.evaluators_time import Event, Inactivity, Offline
from chengyun.alarms.rule_params import Kind, Params
from chengyun.alarms.rules import Rule, RuleSet
from chengyun.alarms.schedule import Schedule, ScheduleClock
from chengyun.cases.calendar import WorkingCalendar
from chengyun.devices.model import DeviceFacts

_EVALUATORS: dict[Kind, type[Evaluator]] = {
    Kind.THRESHOLD: Threshold, Kind.REPEATING: Repeating, Kind.RATE: Rate, Kind.EVENT: Event,
    Kind.INACTIVITY: Inactivity, Kind.OFFLINE: Offline,
}


class Plan:
    """The rules watching one kind of device: `rules[i]` is evaluated by `evaluators[i]`; `timed` lists the
    positions that may act without a reading; `components` those that feed a household rule."""

    __slots__ = ("components", "evaluators", "index", "items", "rules", "timed")

    def __init__(self, rules: tuple[Rule, ...], evaluators: tuple[Evaluator, ...], components: frozenset[str]):
        self.rules, self.evaluators = rules, evaluators
        self.items = tuple(enumerate(evaluators))
        self.timed = tuple(i for i, ev in self.items if ev.timed)
        self.index = {rule.id: i for i, rule in enumerate(rules)}
        self.components = frozenset(i for i, rule in enumerate(rules) if rule.id in components)


class DeviceState:
    """One watched device: its facts, its plan, and one state slot per planned rule (None until needed)."""

    __slots__ = ("facts", "plan", "states")

    def __init__(self, facts: DeviceFacts, plan: Plan) -> None:
        self.facts, self.plan = facts, plan
        self.states: list[Any] = [None] * len(plan.rules)

    def holds(self, rule_id: str) -> bool | None:
        """Whether a rule holds for this device; None when it does not watch the device."""
        i = self.plan.index.get(rule_id)
        if i is None:
            return None
        state = self.states[i]
        return state is not None and bool(state.active)


class Planner:
    """Builds and shares plans and evaluators for a rule set in one time zone and working calendar."""

    def __init__(self, rules: RuleSet, calendar: WorkingCalendar) -> None:
        self.rules = tuple(rule for rule in rules.rules if rule.kind is not Kind.COMPOSITE)
        self.components = frozenset(part for rule in rules.composites() for part in rule.params.all)  # type: ignore[union-attr]
        self.calendar = calendar
        self._clocks: dict[Schedule, ScheduleClock] = {}
        self._evaluators: dict[tuple[str, Params], Evaluator] = {}
        self._plans: dict[tuple[tuple[str, Params], ...], Plan] = {}

    def plan(self, device: DeviceFacts) -> Plan:
        """The shared plan for a device."""
        chosen = tuple((rule.id, rule.params_for(device)) for rule in self.rules if rule.applies(device))
        plan = self._plans.get(chosen)
        if plan is None:
            by_id = {rule.id: rule for rule in self.rules}
            rules = tuple(by_id[rule_id] for rule_id, _ in chosen)
            evaluators = tuple(self._evaluator(by_id[rule_id], params) for rule_id, params in chosen)
            plan = self._plans[chosen] = Plan(rules, evaluators, self.components)
        return plan

    def clock(self, schedule: Schedule | None) -> ScheduleClock | None:
        """The shared clock of a schedule (None for no schedule or one that covers all time)."""
        if schedule is None or schedule.always:
            return None
        clock = self._clocks.get(schedule)
        if clock is None:
            clock = self._clocks[schedule] = ScheduleClock(schedule, self.calendar)
        return clock

    def _evaluator(self, rule: Rule, params: Params) -> Evaluator:
        key = (rule.id, params)
        evaluator = self._evaluators.get(key)
        if evaluator is None:
            evaluator = self._evaluators[key] = _EVALUATORS[rule.kind](rule.id, params, self.clock(rule.schedule))
        return evaluator
