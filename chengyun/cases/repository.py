"""Rows ↔ aggregate for cases, and the few statements a step runs.

A step is the hot path of the whole product (every click of every unit), so it reads the case and writes only what
changed with lean statements (`db/lean.py`: compiled once, run on the driver's cursor): on SQLite a version-checked
UPDATE and the timeline INSERT in one transaction, on PostgreSQL both as one statement in autocommit. Rows come
back as detached `CaseRow`s.
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from chengyun.areas.model import AreaRef
from chengyun.areas.tables import AreaRow
from chengyun.cases.model import Case, CaseState, Rating, TimelineEntry
from chengyun.cases.policies import CategoryFacts
from chengyun.cases.tables import CaseRow, TimelineRow
from chengyun.db.engine import write_gate_of
from chengyun.db.lean import LeanStatement
from chengyun.errors import Conflict, Forbidden, Invalid
from chengyun.org.model import UnitKind
from chengyun.org.tables import UnitRow
from chengyun.shared.handling import HandlingLevel, Urgency

_AGGREGATE_FIELDS = [f.name for f in fields(Case)]
STEP_COLUMNS = (*_AGGREGATE_FIELDS, "updated_at", "route_note")  # what one step may change

_UNSET = object()
_new_case_row = CaseRow.__mapper__.class_manager.new_instance
_CASES: Table = CaseRow.__table__  # type: ignore[assignment]  # declared tables are Tables
_BY_NUMBER = LeanStatement(select(_CASES).where(_CASES.c.number == bindparam("number")), writes=False)
_BY_EXTERNAL = select(_CASES).where(_CASES.c.external_system == bindparam("system"),
                                    _CASES.c.external_id == bindparam("external_id"))
_REPORTED_SINCE = LeanStatement(select(_CASES.c.id).where(_CASES.c.reporter_phone_hash == bindparam("hash"),
                                                          _CASES.c.reported_at >= bindparam("since")).limit(1),
                                writes=False)
_NEW_CASE_COLUMNS = tuple(c.key for c in _CASES.columns if c.key != "id")
_INSERT_CASE = LeanStatement(insert(_CASES).values({name: bindparam(name) for name in _NEW_CASE_COLUMNS})
                             .returning(_CASES.c.id), writes=True)
_SET_NUMBER = LeanStatement(update(_CASES).where(_CASES.c.id == bindparam("_id"))
                            .values(number=bindparam("number")), writes=True)
_TIMELINE: Table = TimelineRow.__table__  # type: ignore[assignment]
_TIMELINE_COLUMNS = ("case_id", "seq", "action", "from_state", "to_state", "at", "actor_id", "actor_role",
                     "actor_unit", "note", "attachments", "data")
_INSERT_TIMELINE = LeanStatement(insert(_TIMELINE).values({name: bindparam(name) for name in _TIMELINE_COLUMNS}),
                                 writes=True)
_UNIT_PLACE = LeanStatement(select(UnitRow.kind, AreaRow.path).join(AreaRow, AreaRow.code == UnitRow.area_code)
                            .where(UnitRow.code == bindparam("unit")), writes=False)


def by_number(conn: Connection, number: str) -> CaseRow | None:
    """The case with this human number, detached."""
    found = _BY_NUMBER.first(conn, {"number": number})
    return detached(found) if found is not None else None


def detached(values: Mapping[Any, Any]) -> CaseRow:
    """A `CaseRow` holding a read row's values, outside any session.

    Filled through its instance dict, as SQLAlchemy's own loader does: setting 45 instrumented attributes one by
    one would cost more than the step's SQL.
    """
    row: CaseRow = _new_case_row()
    row.__dict__.update(values)
    return row


def apply(row: CaseRow, values: Mapping[str, Any]) -> None:
    """Bring a detached row up to what a step wrote, without reading it back."""
    row.__dict__.update(values)


def by_external(conn: Connection, system: str | None, external_id: str | None) -> CaseRow | None:
    """The case an upstream system already sent with this id, if any."""
    if not system or not external_id:
        return None
    found = conn.execute(_BY_EXTERNAL, {"system": system, "external_id": external_id}).first()
    return detached(found._mapping) if found is not None else None


def reported_since(conn: Connection, phone_hash: str | None, since: datetime) -> bool:
    """True when a case with this reporter's phone hash was reported at or after `since` (一人多诉)."""
    if phone_hash is None:
        return False
    return _REPORTED_SINCE.first(conn, {"hash": phone_hash, "since": since}) is not None


def insert_case(conn: Connection, row: CaseRow, number_of: Callable[[int], str]) -> CaseRow:
    """Store a new case row and give it its number, which is made from the id the database assigns."""
    values = {name: getattr(row, name) for name in _NEW_CASE_COLUMNS}
    inserted = _INSERT_CASE.first(conn, values)
    assert inserted is not None  # RETURNING gives the new row's id
    row.id = inserted["id"]
    row.number = number_of(row.id)
    _SET_NUMBER.execute(conn, {"_id": row.id, "number": row.number})
    return row


@functools.lru_cache(maxsize=256)
def _update_step(columns: tuple[str, ...]) -> LeanStatement:
    """The version-checked UPDATE of these columns (a step changes a few: SQLite then rewrites only their indexes)."""
    return LeanStatement(_versioned_update(columns), writes=True)


@functools.lru_cache(maxsize=256)
def _update_and_append(columns: tuple[str, ...]) -> LeanStatement:
    """PostgreSQL: the UPDATE and the timeline INSERT as one statement (one round trip, atomic on its own)."""
    moved = _versioned_update(columns).returning(_CASES.c.id).cte("moved")
    entry = select(moved.c.id, *(bindparam(f"t_{name}", type_=_TIMELINE.c[name].type)
                                 for name in _TIMELINE_COLUMNS[1:]))
    return LeanStatement(insert(_TIMELINE).from_select(_TIMELINE_COLUMNS, entry), writes=True)


def _versioned_update(columns: tuple[str, ...]) -> Any:
    return (update(_CASES).where(_CASES.c.id == bindparam("_id"), _CASES.c.version == bindparam("_expected"))
            .values({name: bindparam(name) for name in columns}))


def write_step(conn: Connection, row: CaseRow, values: dict[str, Any], entry: TimelineEntry) -> None:
    """The new snapshot if nobody moved the case since `row` was read, and its timeline entry; else Conflict.

    Only the changed columns are written. On PostgreSQL both rows go in one statement, so the caller may run it
    outside a transaction (`step_connection`); on SQLite they are two statements in the caller's transaction.
    """
    current = row.__dict__
    changed = {name: value for name, value in values.items() if current.get(name, _UNSET) != value}
    columns = tuple(sorted(changed))
    step = timeline_values(row.id, entry)
    try:
        if conn.dialect.name == "postgresql":
            params = {"_id": row.id, "_expected": row.version, **changed, **{f"t_{k}": v for k, v in step.items()}}
            written = _update_and_append(columns).execute(conn, params) == 1
        else:
            written = _update_step(columns).execute(conn, {"_id": row.id, "_expected": row.version,
                                                           **changed}) == 1
            if written:
                _INSERT_TIMELINE.execute(conn, step)
    except IntegrityError as exc:  # the same step written by a concurrent request
        raise Conflict("cases.changed", number=row.number, expected=row.version,
                       current=row.version + 1) from exc
    if not written:
        raise Conflict("cases.changed", number=row.number, expected=row.version, current=row.version + 1)


@contextlib.contextmanager
def step_connection(engine: Engine) -> Iterator[Connection]:
    """Where a step runs: on PostgreSQL in autocommit (its reads need no transaction, its write is one statement),
    elsewhere in a transaction committed at the end."""
    if engine.dialect.name != "postgresql":
        gate = write_gate_of(engine)
        with gate.serial() if gate is not None else contextlib.nullcontext(), engine.begin() as conn:
            yield conn
        return
    with engine.connect() as conn:
        # the driver's own switch, flipped back before the connection returns to the pool: SQLAlchemy's
        # `isolation_level="AUTOCOMMIT"` option sets and resets it through its characteristics machinery, a tenth
        # of a step's CPU here
        driver = conn.connection.dbapi_connection
        driver.autocommit = True  # type: ignore[union-attr]  # psycopg
        try:
            yield conn
        finally:
            if not conn.invalidated:
                driver.autocommit = False  # type: ignore[union-attr]


def new_row(new: Any, category: CategoryFacts, chain: tuple[AreaRef, ...], lon: float, lat: float,
            now: datetime, reporter: dict[str, str | None]) -> CaseRow:
    """A `reported` case row; the number is set once the id is known."""
    smallest = chain[-1]
    community = next((ref.code for ref in chain if ref.level.value == "community"), None)
    path = "/" + "/".join(ref.code for ref in chain) + "/"
    return CaseRow(
        number=f"tmp-{uuid.uuid4().hex[:24]}", source=new.source.value, category_code=category.code,
        urgency=(new.urgency or category.default_urgency).value, state=CaseState.REPORTED.value, version=0,
        title=new.title.strip() or new.description.strip()[:40], description=new.description.strip(),
        address=new.address.strip(), lon=lon, lat=lat, area_code=smallest.code, area_path=path,
        community_code=community, handling_level=category.default_level.value, lead_unit=None, assist_units=[],
        attachments=list(new.attachments), reporter_name=reporter["name"],
        reporter_phone_hash=reporter["hash"], reporter_phone_encrypted=reporter["encrypted"],
        reporter_phone_masked=reporter["masked"], external_system=new.external_system,
        external_id=new.external_id, reported_at=now, pauses=[], updated_at=now, returns=0, escalations=0,
        urges=0, self_handled=False, deadline_level="green", repeat_report=False,
    )


def to_aggregate(row: CaseRow) -> Case:
    """The pure aggregate the transition rules look at (read from the row's values, not its instrumented
    attributes: this runs on every step)."""
    r: Callable[[str], Any] = row.__dict__.get  # a row made here may lack the columns it never set
    return Case(
        state=CaseState(r("state")), version=r("version"), urgency=Urgency(r("urgency")),
        handling_level=HandlingLevel(r("handling_level")), lead_unit=r("lead_unit"),
        assist_units=tuple(r("assist_units") or ()), resume_to=CaseState(r("resume_to")) if r("resume_to") else None,
        merged_into=r("merged_into"), extension_pending=r("extension_pending"), dispatched_at=r("dispatched_at"),
        claim_due=r("claim_due"), handling_due=r("handling_due"), suspended_at=r("suspended_at"),
        pauses=tuple((datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in r("pauses") or ()),
        claimed_at=r("claimed_at"), closed_at=r("closed_at"), rating=Rating(r("rating")) if r("rating") else None,
        returns=r("returns"), escalations=r("escalations"), urges=r("urges"), self_handled=r("self_handled"),
    )


def snapshot(case: Case) -> dict[str, Any]:
    """Column values for the aggregate's fields (enums as codes, pauses as ISO pairs)."""
    values: dict[str, Any] = {}
    for name in _AGGREGATE_FIELDS:
        value = getattr(case, name)
        if name == "pauses":
            value = [[a.isoformat(), b.isoformat()] for a, b in value]
        elif name == "assist_units":
            value = list(value)
        elif hasattr(value, "value"):
            value = value.value
        values[name] = value
    return values


def timeline_values(case_id: int, entry: TimelineEntry) -> dict[str, Any]:
    """The stored form of one step."""
    return {"case_id": case_id, "seq": entry.seq, "action": entry.action.value,
            "from_state": entry.from_state.value, "to_state": entry.to_state.value, "at": entry.at,
            "actor_id": entry.actor_id, "actor_role": entry.actor_role.value, "actor_unit": entry.actor_unit,
            "note": entry.note, "attachments": list(entry.attachments), "data": dict(entry.data)}


def check_push_down(conn: Connection, row: CaseRow, unit_code: str, admission: bool,
                    dispatcher_scope: str) -> None:
    """A unit may receive the case only inside the dispatcher's subtree; a community only admitted items."""
    place = _UNIT_PLACE.first(conn, {"unit": unit_code})
    if place is None:
        raise Invalid("cases.unknown_unit", unit=unit_code)
    kind, path = place["kind"], place["path"]
    if not path.startswith(dispatcher_scope):
        raise Forbidden("cases.push_down.outside_scope", unit=unit_code, scope=dispatcher_scope)
    if kind == UnitKind.COMMUNITY_COMMITTEE.value and not admission:
        raise Forbidden("cases.push_down.not_admitted", unit=unit_code, category=row.category_code)
