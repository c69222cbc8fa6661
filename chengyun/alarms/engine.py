"""The rule engine: readings and time in, fire/clear transitions out; pure, single-threaded, memory-lean.

Per device it keeps one small state per applicable rule (None while there is nothing to remember). Time-driven
work sits in one deadline heap with at most a few entries per state (stale entries are skipped when popped), so
`tick` costs O(k log n) for k due entries, not a scan of all devices. A reading first settles its own device's (and
household's) overdue deadlines, so verdicts never depend on how often `tick` runs."""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import Any

from chengyun.alarms.evaluators import Outcome
from chengyun.alarms.household import Households
from chengyun.alarms.plans import DeviceState, Planner
from chengyun.alarms.rules import Rule, RuleSet
from chengyun.alarms.signals import Change, Transition
from chengyun.cases.calendar import WorkingCalendar
from chengyun.devices.model import DeviceFacts, Reading
from chengyun.errors import Invalid

Entry = tuple[float, str, int]  # (deadline, device id, rule position in the device's plan)


class RuleEngine:
    """Evaluates a rule set for many devices. Not thread-safe: one engine per worker (partition by device id).

    Schedules use `calendar` (working days with 调休, and its time zone) when given, else the calendar of `tz`."""

    def __init__(self, rules: RuleSet | Iterable[Rule], tz: str = "Asia/Shanghai",
                 calendar: WorkingCalendar | None = None) -> None:
        ruleset = rules if isinstance(rules, RuleSet) else RuleSet(tuple(rules))
        self.ruleset = ruleset
        self._planner = Planner(ruleset, calendar or WorkingCalendar(timezone=tz))
        self._households = Households(ruleset.composites())
        self._devices: dict[str, DeviceState] = {}
        self._heap: list[Entry] = []

    # --- input --------------------------------------------------------------------------------------------

    def feed(self, reading: Reading, device: DeviceFacts) -> list[Transition]:
        """Evaluate one reading of `device`; the transitions it causes (overdue time-driven ones first)."""
        dev = self._devices.get(device.device_id)
        out: list[Transition] = []
        if dev is None or dev.facts is not device:
            dev = self._admit(device, reading.ts, out)
        ts, values, states, plan = reading.ts, reading.values, dev.states, dev.plan
        for i in plan.timed:
            s = states[i]
            if s is not None and s.queued and s.queued <= ts:
                self._catch_up(dev, ts, out)
                break
        else:
            if plan.components and dev.facts.household is not None:
                self._catch_up(dev, ts, out)  # another member's deadline may decide the household first
        for i, ev in plan.items:
            outcome = ev.feed(states, i, ts, values)
            if outcome is not None:
                self._emit(dev, i, outcome, ts, out)
        for i in plan.timed:
            s = states[i]
            if s is not None and not s.queued:
                self._queue(dev, i, s)
        return out

    def feed_many(self, items: Iterable[tuple[Reading, DeviceFacts]]) -> list[Transition]:
        """Several readings in order; the same transitions as feeding them one by one."""
        out: list[Transition] = []
        for reading, device in items:
            out.extend(self.feed(reading, device))
        return out

    def tick(self, now: float) -> list[Transition]:
        """Act on every deadline at or before `now` (offline, inactivity, minimum durations, windows, auto-clear);
        each transition carries the instant it became true, not `now`."""
        out: list[Transition] = []
        heap, devices = self._heap, self._devices
        while heap and heap[0][0] <= now:
            at, key, i = heapq.heappop(heap)
            dev = devices.get(key)
            if dev is None:
                continue
            s = dev.states[i]
            if s is None or s.queued != at:
                continue  # stale: the state moved on since this entry was queued
            s.queued = 0.0
            self._settle(dev, i, at, out)
        return out

    def watch(self, device: DeviceFacts, last_seen: float) -> None:
        """Start offline and inactivity clocks for a device known to be alive at `last_seen` that has not sent yet
        (e.g. every registered device at start-up), so one that never reports is still detected."""
        out: list[Transition] = []
        dev = self._devices.get(device.device_id) or self._admit(device, last_seen, out)
        for i in dev.plan.timed:
            dev.plan.evaluators[i].start(dev.states, i, last_seen)
            s = dev.states[i]
            if s is not None and not s.queued:
                self._queue(dev, i, s)

    def assume_active(self, device: DeviceFacts, rule_id: str, at: float) -> None:
        """Mark a rule as holding for a device since `at` without emitting (restoring active alarms after a
        restart), so the next input that no longer meets it emits the CLEAR."""
        dev = self._devices.get(device.device_id) or self._admit(device, at, [])
        i = dev.plan.index.get(rule_id)
        if i is None:
            raise Invalid("alarms.rules.not_applicable", rule=rule_id, device=device.device_id)
        dev.plan.evaluators[i].assume(dev.states, i, at)
        s = dev.states[i]
        if s is not None and getattr(s, "queued", None) == 0.0:
            self._queue(dev, i, s)

    def forget(self, device_id: str, at: float) -> list[Transition]:
        """Stop watching a device (removed, decommissioned): CLEAR for each rule that held, household re-judged."""
        dev = self._devices.pop(device_id, None)
        if dev is None:
            return []
        out = self._drop(dev, dev.plan.index.keys(), at)
        if dev.facts.household is not None:
            out.extend(self._households.leave(dev, dev.facts.household, at))
        return out

    # --- inspection ---------------------------------------------------------------------------------------

    def holds(self, device_id: str, rule_id: str) -> bool:
        """Whether a rule holds for a device now (household rules: for the household of that device)."""
        dev = self._devices.get(device_id)
        if dev is None:
            return False
        verdict = dev.holds(rule_id)
        if verdict is None and dev.facts.household is not None:
            return self._households.holds(dev.facts.household, rule_id)
        return bool(verdict)

    def active(self, device_id: str) -> tuple[str, ...]:
        """The ids of the device's own rules that hold now."""
        dev = self._devices.get(device_id)
        return () if dev is None else tuple(rule.id for rule in dev.plan.rules if dev.holds(rule.id))

    def next_due(self) -> float | None:
        """The earliest queued deadline (possibly stale), for a scheduler that sleeps until then."""
        return self._heap[0][0] if self._heap else None

    @property
    def device_count(self) -> int:
        """Devices watched."""
        return len(self._devices)

    @property
    def queued(self) -> int:
        """Deadline entries in the heap (live and stale)."""
        return len(self._heap)

    # --- internals ----------------------------------------------------------------------------------------

    def _admit(self, device: DeviceFacts, at: float, out: list[Transition]) -> DeviceState:
        old = self._devices.get(device.device_id)
        if old is not None and old.facts == device:
            old.facts = device
            return old
        plan = self._planner.plan(device)
        dev = DeviceState(device, plan)
        self._devices[device.device_id] = dev
        if old is None:
            self._households.join(dev)
        else:
            out.extend(self._replan(old, dev, at))
        return dev

    def _replan(self, old: DeviceState, new: DeviceState, at: float) -> list[Transition]:
        """The device's facts changed: keep states of rules still in force, clear the rest, move household."""
        kept = [rule_id for rule_id in old.plan.index if rule_id in new.plan.index]
        for rule_id in kept:
            state = old.states[old.plan.index[rule_id]]
            if state is not None and hasattr(state, "queued"):
                state.queued = 0.0
            new.states[new.plan.index[rule_id]] = state
        out = self._drop(old, [r for r in old.plan.index if r not in new.plan.index], at)
        for i in new.plan.timed:
            s = new.states[i]
            if s is not None and not s.queued:
                self._queue(new, i, s)
        out.extend(self._households.replace(old, new, at))
        return out

    def _drop(self, dev: DeviceState, rule_ids: Iterable[str], at: float) -> list[Transition]:
        out: list[Transition] = []
        for rule_id in list(rule_ids):
            i = dev.plan.index[rule_id]
            if dev.holds(rule_id):
                dev.states[i] = None
                self._emit(dev, i, (Change.CLEAR, None, {"reason": "not_watched"}), at, out)
            dev.states[i] = None
        return out

    def _queue(self, dev: DeviceState, i: int, s: Any) -> None:
        due = dev.plan.evaluators[i].due(s)
        if due is not None:
            s.queued = due
            heapq.heappush(self._heap, (due, dev.facts.device_id, i))

    def _settle(self, dev: DeviceState, i: int, at: float, out: list[Transition]) -> None:
        """A live deadline queued for `at`: act when it is still due then, else requeue it at its later instant
        (so deadlines across devices are always handled in time order)."""
        ev = dev.plan.evaluators[i]
        s = dev.states[i]
        due = ev.due(s)
        if due is None:
            return
        if due > at:
            s.queued = due
            heapq.heappush(self._heap, (due, dev.facts.device_id, i))
            return
        outcome = ev.expire(dev.states, i, due)
        if outcome is not None:
            self._emit(dev, i, outcome, due, out)
        s = dev.states[i]
        if s is not None and not s.queued:
            self._queue(dev, i, s)

    def _catch_up(self, dev: DeviceState, ts: float, out: list[Transition]) -> None:
        """Settle, in time order, every deadline up to `ts` of this device and its household's members."""
        household = dev.facts.household
        group = self._households.members(household) if household is not None and dev.plan.components else []
        group = group if dev in group else [dev, *group]
        while True:
            earliest = self._earliest_overdue(group, ts)
            if earliest is None:
                return
            member, i, due = earliest
            member.states[i].queued = 0.0
            self._settle(member, i, due, out)

    def _earliest_overdue(self, group: list[DeviceState], ts: float) -> tuple[DeviceState, int, float] | None:
        best: tuple[float, DeviceState, int] | None = None
        for member in group:
            for i in member.plan.timed:
                s = member.states[i]
                if s is None or not s.queued or s.queued > ts:
                    continue
                due = member.plan.evaluators[i].due(s)
                if due is None or due > ts:
                    s.queued = 0.0
                    self._queue(member, i, s)
                elif best is None or due < best[0]:
                    best = (due, member, i)
        return None if best is None else (best[1], best[2], best[0])

    def _emit(self, dev: DeviceState, i: int, outcome: Outcome, at: float, out: list[Transition]) -> None:
        change, severity, params = outcome
        rule = dev.plan.rules[i]
        if rule.emit:
            out.append(Transition(rule.id, rule.alarm_type, severity or rule.severity, change, dev.facts.device_id,
                                  at, params))
        if i in dev.plan.components and dev.facts.household is not None:
            self._households.changed(dev.facts.household, rule.id, at, out)
