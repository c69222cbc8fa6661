"""Rows ↔ aggregate for cases, and the few statements a step runs.

A step is the hot path of the whole product (every click of every unit), so it reads the case and writes only what
changed with lean statements (`db/lean.py`: compiled once, run on the driver's cursor): on SQLite a version-checked
UPDATE and the timeline INSERT in one transaction, on PostgreSQL both as one statement in autocommit that also
returns the row's new stamp (`xmin`), so the next step may skip its read (`cases/recent.py`). Rows come back as
detached `CaseRow`s.
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    Engine,
    String,
    Table,
    Text,
    bindparam,
    cast,
    exists,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.expression import ColumnClause

from chengyun.areas.model import AreaRef
from chengyun.audit.log import COLUMNS as AUDIT_COLUMNS
from chengyun.audit.log import write_event
from chengyun.audit.tables import AuditEventRow
from chengyun.cases.model import Case, CaseState, Rating, TimelineEntry
from chengyun.cases.policies import CategoryFacts
from chengyun.cases.recent import OutOfDate
from chengyun.cases.tables import CaseRow, TimelineRow
from chengyun.db.engine import write_gate_of
from chengyun.db.lane import lane_of
from chengyun.db.lean import LeanStatement
from chengyun.errors import Conflict
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
_ALL_COLUMNS = tuple(c.key for c in _CASES.columns)
JSON_COLUMNS = frozenset(c.key for c in _CASES.columns if isinstance(c.type, JSON))  # values are lists or dicts
_NEW_CASE_COLUMNS = tuple(name for name in _ALL_COLUMNS if name != "id")
_GIVEN_AT_OPEN = tuple(name for name in _NEW_CASE_COLUMNS if name not in ("number", "repeat_report"))  # PostgreSQL
_INSERT_CASE = LeanStatement(insert(_CASES).values({name: bindparam(name) for name in _NEW_CASE_COLUMNS})
                             .returning(_CASES.c.id), writes=True)
_SET_NUMBER = LeanStatement(update(_CASES).where(_CASES.c.id == bindparam("_id"))
                            .values(number=bindparam("number")), writes=True)
# PostgreSQL's stamp of a row version: the transaction that wrote it; any later write of the row changes it
_xmin: ColumnClause[str] = literal_column("cases.xmin::text", String)
_TIMELINE: Table = TimelineRow.__table__  # type: ignore[assignment]
_TIMELINE_COLUMNS = ("case_id", "seq", "action", "from_state", "to_state", "at", "actor_id", "actor_role",
                     "actor_unit", "note", "attachments", "data")
_INSERT_TIMELINE = LeanStatement(insert(_TIMELINE).values({name: bindparam(name) for name in _TIMELINE_COLUMNS}),
                                 writes=True)


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


def row_values(row: CaseRow) -> dict[str, Any]:
    """Every column's value of a row (None for one never set, as it was stored)."""
    current = row.__dict__
    return {name: current.get(name) for name in _ALL_COLUMNS}


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


def insert_case(conn: Connection, row: CaseRow, day: str, repeat_since: datetime,
                opened: dict[str, Any]) -> str | None:
    """Store a new case row numbered from the id the database assigns (`case_number`), marked `repeat_report` when
    its reporter's phone hash has a case reported since `repeat_since`, with its audit event `opened` (its target
    becomes the number). Gives the row's stamp where the database has one (PostgreSQL: valid once the caller's
    transaction commits with nothing else writing the row), else None.

    On PostgreSQL all of it is one statement (one round trip, atomic on its own, so a caller may run it in
    autocommit); elsewhere four in the caller's transaction.
    """
    if conn.dialect.name == "postgresql":
        # a column left NULL is left out: fewer parameters (psycopg caches the conversion of a query with ≤ 50)
        values = {name: value for name in _GIVEN_AT_OPEN if (value := getattr(row, name)) is not None}
        params = {**values, "_day": day, "_hash": row.reporter_phone_hash, "_since": repeat_since,
                  **{f"a_{k}": v for k, v in opened.items()}}
        done = _open_case(tuple(values)).first(conn, params)
        assert done is not None  # an INSERT … RETURNING of one row
        row.id, row.number, row.repeat_report = done["id"], done["number"], done["repeat_report"]
        return str(done["stamp"])
    row.repeat_report = reported_since(conn, row.reporter_phone_hash, repeat_since)
    inserted = _INSERT_CASE.first(conn, {name: getattr(row, name) for name in _NEW_CASE_COLUMNS})
    assert inserted is not None  # RETURNING gives the new row's id
    row.id = inserted["id"]
    row.number = case_number(day, row.id)
    _SET_NUMBER.execute(conn, {"_id": row.id, "number": row.number})
    write_event(conn, {**opened, "target": row.number})
    return None


def case_number(day: str, case_id: int) -> str:
    """The human number: the day's prefix and the id, at least six digits (`_open_case` makes the same in SQL)."""
    return f"{day}-{case_id:06d}"


@functools.lru_cache(maxsize=64)
def _open_case(given: tuple[str, ...]) -> LeanStatement:
    """PostgreSQL: take the next id, insert the numbered row with the `given` columns (the others NULL) and its
    audit event, in one statement (built on first use, when the foreign keys' column types are known)."""
    # constants as SQL literals, not parameters: psycopg converts a query with at most 50 parameters once
    fresh = select(func.nextval(func.pg_get_serial_sequence(literal_column("'cases'"), literal_column("'id'")))
                   .label("id")).cte("fresh")
    digits = cast(fresh.c.id, Text)
    number = (bindparam("_day", type_=String) + literal_column("'-'", String)
              + func.lpad(digits, func.greatest(literal_column("6"), func.length(digits)), literal_column("'0'")))
    repeat = exists().where(_CASES.c.reporter_phone_hash == bindparam("_hash", type_=String),
                            _CASES.c.reported_at >= bindparam("_since", type_=_CASES.c.reported_at.type))
    opened = (insert(_CASES).from_select(
        ("id", "number", "repeat_report", *given),
        select(fresh.c.id, number, repeat, *(bindparam(name, type_=_CASES.c[name].type) for name in given)))
        .returning(_CASES.c.id, _CASES.c.number, _CASES.c.repeat_report, _xmin.label("stamp")).cte("opened"))
    events: Table = AuditEventRow.__table__  # type: ignore[assignment]
    audited = insert(events).from_select(AUDIT_COLUMNS, select(*(
        opened.c.number if name == "target" else bindparam(f"a_{name}", type_=events.c[name].type)
        for name in AUDIT_COLUMNS))).cte("audited")
    return LeanStatement(select(opened.c.id, opened.c.number, opened.c.repeat_report, opened.c.stamp)
                         .add_cte(audited), writes=True)


@functools.lru_cache(maxsize=256)
def _update_step(columns: tuple[str, ...]) -> LeanStatement:
    """The version-checked UPDATE of these columns (a step changes a few: SQLite then rewrites only their indexes)."""
    return LeanStatement(_versioned_update(columns), writes=True)


@functools.lru_cache(maxsize=512)
def _update_and_append(columns: tuple[str, ...], stamped: bool) -> LeanStatement:
    """PostgreSQL: the UPDATE and the timeline INSERT as one statement (one round trip, atomic on its own) giving
    the row's new stamp; `stamped`: written only if the row still carries the stamp `_stamp`."""
    changed = _versioned_update(columns)
    if stamped:
        changed = changed.where(_xmin == bindparam("_stamp"))
    moved = changed.returning(_CASES.c.id, _xmin.label("stamp")).cte("moved")
    entry = select(moved.c.id, *(bindparam(f"t_{name}", type_=_TIMELINE.c[name].type)
                                 for name in _TIMELINE_COLUMNS[1:]))
    appended = insert(_TIMELINE).from_select(_TIMELINE_COLUMNS, entry).cte("appended")
    return LeanStatement(select(moved.c.stamp).add_cte(appended), writes=True)


def _versioned_update(columns: tuple[str, ...]) -> Any:
    return (update(_CASES).where(_CASES.c.id == bindparam("_id"), _CASES.c.version == bindparam("_expected"))
            .values({name: bindparam(name) for name in columns}))


def write_step(conn: Connection, row: CaseRow, values: dict[str, Any], entry: TimelineEntry,
               stamp: str | None = None) -> str | None:
    """The new snapshot if nobody moved the case since `row` was read, and its timeline entry; else Conflict.
    Gives the row's new stamp where the database has one (PostgreSQL), else None.

    With `stamp` (a remembered row, `cases/recent.py`), written only if the row still carries it, else OutOfDate.
    Only the changed columns are written. On PostgreSQL both rows go in one statement, so the caller may run it
    outside a transaction (`step_connection`); on SQLite they are two statements in the caller's transaction.
    """
    current = row.__dict__
    changed = {name: value for name, value in values.items() if current.get(name, _UNSET) != value}
    columns = tuple(sorted(changed))
    step = timeline_values(row.id, entry)
    new_stamp = None
    try:
        if conn.dialect.name == "postgresql":
            params = {"_id": row.id, "_expected": row.version, "_stamp": stamp, **changed,
                      **{f"t_{k}": v for k, v in step.items()}}
            statement = _update_and_append(columns, stamp is not None)
            moved = statement.first(conn, params)
            written = moved is not None
            new_stamp = str(moved["stamp"]) if moved is not None else None
        elif stamp is not None:
            raise ValueError("only PostgreSQL rows carry a stamp")
        else:
            written = _update_step(columns).execute(conn, {"_id": row.id, "_expected": row.version,
                                                           **changed}) == 1
            if written:
                _INSERT_TIMELINE.execute(conn, step)
    except IntegrityError as exc:  # the same step written by a concurrent request
        if stamp is not None:
            raise OutOfDate(row.number) from exc
        raise Conflict("cases.changed", number=row.number, expected=row.version,
                       current=row.version + 1) from exc
    if not written:
        if stamp is not None:
            raise OutOfDate(row.number)
        raise Conflict("cases.changed", number=row.number, expected=row.version, current=row.version + 1)
    return new_stamp


def step_connection(engine: Engine) -> contextlib.AbstractContextManager[Connection]:
    """Where a step runs, on a connection the engine's lane keeps (`db/lane.py`): on PostgreSQL in autocommit (its
    reads need no transaction, its write is one statement); elsewhere in a transaction committed at the end."""
    if engine.dialect.name == "postgresql":
        return lane_of(engine).connection()
    return _in_transaction(engine)


@contextlib.contextmanager
def _in_transaction(engine: Engine) -> Iterator[Connection]:
    gate = write_gate_of(engine)
    with (gate.serial() if gate is not None else contextlib.nullcontext(), lane_of(engine).connection() as conn,
          conn.begin()):
        yield conn


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
