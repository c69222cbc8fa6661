"""The people linkage notifies, read from users, units and the area tree (`resolve.Directory` over SQL).

An area path `/510100000000/…/510113002001/` names every ancestor, so "whose area contains the device's area" is an
`IN` over the path's prefixes on the unique `areas.path` — one indexed query per question, on both databases.
Answers are kept for 30 s per question (an alarm storm in one building asks the same questions again and again);
a newly assigned grid worker is therefore reached from at most 30 s after the change.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.sql import Executable

from chengyun.areas.tables import AreaRow
from chengyun.auth.model import Role
from chengyun.auth.tables import UserRow
from chengyun.linkage.channels import UnitSelector
from chengyun.linkage.model import Contact
from chengyun.linkage.resolve import Person
from chengyun.org.tables import PersonRow, UnitRow

ROSTER_KINDS = ("grid_worker", "microgrid_worker")  # org roster people who answer for the ground
ROSTER_STAFF = ("handler", "operator")  # of a unit: its staff, not its volunteers or microgrid workers
ROSTER_UNIT_KINDS = {"community": ("community_committee",), "street": ("street_office",)}
ROSTER_RELATION = {"grid_worker": "网格员", "microgrid_worker": "微网格员", "handler": "工作人员", "operator": "值班员"}
MAX_ROSTER = 5  # at most this many roster people per party get an SMS
STAFF_ROLES = (Role.ADMIN.value, Role.OPERATOR.value, Role.HANDLER.value, Role.GRID_WORKER.value)
CACHE_S = 30.0
MAX_CACHED = 10_000


def prefixes(area_path: str) -> list[str]:
    """`/a/b/c/` → [`/a/`, `/a/b/`, `/a/b/c/`]: the paths of every area containing the device's area."""
    codes = [c for c in area_path.split("/") if c]
    return ["/" + "/".join(codes[: i + 1]) + "/" for i in range(len(codes))]


class SqlDirectory:
    """Users with their roles, units and scopes, as linkage needs them."""

    def __init__(self, engine: Engine, *, cache_s: float = CACHE_S,
                 decrypt: Callable[[str], str] | None = None) -> None:
        self._engine = engine
        self._decrypt = decrypt  # the vault's, for roster phones; None: the roster is not used
        self._cache_s = cache_s
        self._cache: dict[tuple[object, ...], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget every cached answer (after changing users or units, when waiting 30 s will not do)."""
        with self._lock:
            self._cache.clear()

    def _cached(self, key: tuple[object, ...], compute: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self._cache_s:
            return hit[1]
        value = compute()
        with self._lock:
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            self._cache[key] = (now, value)
        return value

    def grid_workers(self, area_path: str) -> list[Person]:
        """Active grid workers whose scope contains the area; only those of the nearest (deepest) scope."""
        found: list[Person] = self._cached(("grid", area_path), lambda: self._grid_workers(area_path))
        return list(found)

    def unit_members(self, area_path: str, level: str, selector: UnitSelector) -> list[Person]:
        """Active staff of the selected units of the `level` ancestor; for `center` the nearest such unit."""
        found: list[Person] = self._cached(("units", area_path, level, selector),
                                           lambda: self._unit_members(area_path, level, selector))
        return list(found)

    def operators(self, area_path: str) -> list[Person]:
        """Active operators whose scope contains the area."""
        found: list[Person] = self._cached(("operators", area_path), lambda: self._operators(area_path))
        return list(found)

    def area_name(self, area_path: str) -> str:
        """The name of the community containing the area (else the deepest named area), for messages."""
        return str(self._cached(("name", area_path), lambda: self._area_name(area_path)))

    def field_staff(self, area_path: str, party: str) -> list[Contact]:
        """Roster people with phones answering for `party` at the place (see `resolve.Directory`)."""
        if self._decrypt is None:
            return []
        found: list[Contact] = self._cached(("roster", area_path, party),
                                            lambda: self._field_staff(area_path, party))
        return list(found)

    def _field_staff(self, area_path: str, party: str) -> list[Contact]:
        areas = {r.code: r for r in self._rows(select(AreaRow.code, AreaRow.path, AreaRow.level)
                                               .where(AreaRow.path.in_(prefixes(area_path))))}
        people = select(PersonRow.name, PersonRow.kind, PersonRow.phone_encrypted, PersonRow.area_code).where(
            PersonRow.phone_encrypted.is_not(None))
        if party == "grid_worker":  # the microgrid worker(s) of the nearest microgrid and the grid's worker(s)
            found = self._rows(people.where(PersonRow.kind.in_(ROSTER_KINDS), PersonRow.area_code.in_(areas))
                               .order_by(PersonRow.id))
            rows = []
            for kind in ROSTER_KINDS:
                of_kind = [r for r in found if r.kind == kind]
                deepest = max((len(areas[r.area_code].path) for r in of_kind), default=0)
                rows += [r for r in of_kind if len(areas[r.area_code].path) == deepest]
        else:  # the staff of the community committee / street office answering for the place
            level_areas = [code for code, r in areas.items() if r.level == party]
            units = select(UnitRow.id).where(UnitRow.area_code.in_(level_areas),
                                             UnitRow.kind.in_(ROSTER_UNIT_KINDS.get(party, ())))
            rows = list(self._rows(people.where(PersonRow.unit_id.in_(units), PersonRow.kind.in_(ROSTER_STAFF))
                                   .order_by(PersonRow.id)))
        decrypt = self._decrypt
        assert decrypt is not None
        return [Contact(r.name, decrypt(r.phone_encrypted), None, ROSTER_RELATION.get(r.kind, ""))
                for r in rows[:MAX_ROSTER]]

    def _grid_workers(self, area_path: str) -> list[Person]:
        stmt = (select(UserRow.id, UserRow.display_name, AreaRow.path)
                .join(AreaRow, AreaRow.code == UserRow.scope_code)
                .where(UserRow.role == Role.GRID_WORKER.value, UserRow.is_active,
                       AreaRow.path.in_(prefixes(area_path)))
                .order_by(UserRow.id))
        rows = self._rows(stmt)
        deepest = max((len(r.path) for r in rows), default=0)
        return [Person(r.id, r.display_name) for r in rows if len(r.path) == deepest]

    def _unit_members(self, area_path: str, level: str, selector: UnitSelector) -> list[Person]:
        areas = select(AreaRow.code, AreaRow.path).where(AreaRow.path.in_(prefixes(area_path)))
        if level != "center":
            areas = areas.where(AreaRow.level == level)
        found = {row.code: len(row.path) for row in self._rows(areas)}
        if not found:
            return []
        units = select(UnitRow.id, UnitRow.area_code).where(UnitRow.area_code.in_(found))
        if selector.codes:
            units = units.where(UnitRow.code.in_(selector.codes))
        elif selector.kinds:
            units = units.where(UnitRow.kind.in_(selector.kinds))
        unit_rows = self._rows(units)
        if level == "center" and unit_rows:
            nearest = max(found[u.area_code] for u in unit_rows)
            unit_rows = [u for u in unit_rows if found[u.area_code] == nearest]
        return self._members([u.id for u in unit_rows])

    def _operators(self, area_path: str) -> list[Person]:
        stmt = (select(UserRow.id, UserRow.display_name)
                .join(AreaRow, AreaRow.code == UserRow.scope_code)
                .where(UserRow.role == Role.OPERATOR.value, UserRow.is_active,
                       AreaRow.path.in_(prefixes(area_path)))
                .order_by(UserRow.id))
        return [Person(r.id, r.display_name) for r in self._rows(stmt)]

    def _area_name(self, area_path: str) -> str:
        rows = self._rows(select(AreaRow.name, AreaRow.level, AreaRow.path)
                          .where(AreaRow.path.in_(prefixes(area_path))))
        community = next((r.name for r in rows if r.level == "community"), None)
        deepest = max(rows, key=lambda r: len(r.path), default=None)
        return community or (deepest.name if deepest is not None else "")

    def _members(self, unit_ids: list[int]) -> list[Person]:
        if not unit_ids:
            return []
        stmt = (select(UserRow.id, UserRow.display_name)
                .where(UserRow.unit_id.in_(unit_ids), UserRow.is_active, UserRow.role.in_(STAFF_ROLES))
                .order_by(UserRow.id))
        return [Person(r.id, r.display_name) for r in self._rows(stmt)]

    def _rows(self, stmt: Executable) -> Sequence[Any]:
        with self._engine.connect() as conn:
            return conn.execute(stmt).all()
