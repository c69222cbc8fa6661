"""The served demo keeps moving: new cases arrive and open ones take their next step, in real time.

`chengyun demo --serve` runs `LiveSimulator.tick` every few seconds. Each new case gets the same kind of plan as
the history (claims, returns, extensions, failed checks, ratings), with the plan's hours passing as minutes
(`speed`), so a visitor watches cases move through the loop. Steps go through the real case service on the real
clock, so the dashboards, KPIs and the sweep see them like any other.
"""

from __future__ import annotations

import heapq
import itertools
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chengyun.bootstrap import Container
from chengyun.demo.simulate import Place, PlanStep, Simulator, microgrids

DEFAULT_SPEED = 60.0  # one planned hour passes in one real minute
DEFAULT_NEW_CASE_EVERY_S = 45.0


@dataclass
class LiveSimulator:
    """An agenda of due steps; `tick()` opens a case when one is due and takes every step that is due."""

    container: Container
    seed: int = 2026
    speed: float = DEFAULT_SPEED
    new_case_every_s: float = DEFAULT_NEW_CASE_EVERY_S
    opened: int = 0
    steps: int = 0
    _agenda: list[tuple[datetime, int, str, list[PlanStep]]] = field(default_factory=list, init=False)
    _order: itertools.count[int] = field(default_factory=itertools.count, init=False)
    _next_case: datetime | None = field(default=None, init=False)
    _places: list[Place] = field(default_factory=list, init=False)
    _sim: Simulator | None = field(default=None, init=False)

    def tick(self) -> int:
        """Bring the demo up to the clock's now; the number of cases opened and steps taken."""
        now = self.container.clock.now()
        sim = self._simulator()
        done = 0
        if self._next_case is None or now >= self._next_case:
            number, plan = sim.open_case(self._places[sim.rng.randrange(len(self._places))])
            if number is not None:
                self._schedule(now, number, plan)
            self._next_case = now + timedelta(seconds=sim.rng.uniform(0.5, 1.5) * self.new_case_every_s)
            self.opened += 1
            done += 1
        while self._agenda and self._agenda[0][0] <= now:
            _due, _, number, plan = heapq.heappop(self._agenda)
            _delay, who, action, note, data = plan[0]
            if sim.step(number, who, action, note, data) is not None:
                self._schedule(now, number, plan[1:])
            self.steps += 1
            done += 1
        return done

    def _schedule(self, now: datetime, number: str, plan: list[PlanStep]) -> None:
        if plan:
            due = now + timedelta(hours=plan[0][0]) / self.speed
            heapq.heappush(self._agenda, (due, next(self._order), number, plan))

    def _simulator(self) -> Simulator:
        if self._sim is None:
            self._places = microgrids(self.container)
            rng = random.Random(self.seed)  # noqa: S311 - a reproducible demo, not a secret
            self._sim = Simulator(rng, self.container.cases, self.container.intake,
                                  self.container.auth.principal("operator"))
        return self._sim

    @property
    def pending(self) -> int:
        """Cases with a step still to come."""
        return len(self._agenda)
