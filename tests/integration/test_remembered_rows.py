"""Steps on a remembered row (`cases/recent.py`), and opening a case in one statement, on SQLite and PostgreSQL.

On PostgreSQL a step remembers the row it wrote with the row's `xmin`, and the next step on that case in the same
process skips its read; whatever else wrote the row meanwhile (another process, the sweep, hand-written SQL) makes
that write match nothing, and the step is decided again on a fresh read. SQLite remembers nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text, update

from chengyun.audit.tables import AuditEventRow
from chengyun.bootstrap import Container
from chengyun.cases import repository as repo
from chengyun.cases.model import Action, CaseState, Request, Source
from chengyun.cases.service import CaseService, NewCase
from chengyun.errors import Conflict, InvalidTransition
from tests.integration.test_case_service import YIHU_POINT
from tests.integration.test_case_step_writes import CASES, Loop, make_loop

PHONE = "13812345678"


@pytest.fixture
def loop(tiny_district: Container) -> Loop:
    return make_loop(tiny_district)


def _postgres(loop: Loop) -> bool:
    return loop.engine.dialect.name == "postgresql"


def _xmin(loop: Loop, case_id: int) -> str:
    with loop.engine.connect() as conn:
        return str(conn.execute(text("SELECT xmin::text FROM cases WHERE id = :id"), {"id": case_id}).scalar_one())


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    read = repo.by_number

    def counted(conn: Any, number: str) -> Any:
        reads.append(number)
        return read(conn, number)

    monkeypatch.setattr(repo, "by_number", counted)
    return reads


def test_opening_and_each_step_remember_the_row_with_its_stamp_on_postgresql_only(loop: Loop) -> None:
    row = loop.service.open(loop.people["op"], NewCase(Source.GRID, "0101", "垃圾堆积", *YIHU_POINT))
    remembered = loop.service.recent.get(row.number)
    if not _postgres(loop):
        assert remembered is None and len(loop.service.recent) == 0
        return
    assert remembered is not None and remembered.version == 0 and remembered.stamp == _xmin(loop, row.id)
    assert remembered.values == loop.case(row.id)  # every column, as stored
    loop.service.act(loop.people["op"], row.number, Request(Action.REGISTER))
    remembered = loop.service.recent.get(row.number)
    assert remembered is not None and remembered.version == 1 and remembered.stamp == _xmin(loop, row.id)
    assert remembered.values == loop.case(row.id)


def test_a_step_on_a_remembered_row_skips_its_read(loop: Loop, monkeypatch: pytest.MonkeyPatch) -> None:
    row = loop.open_registered()
    reads = _count_reads(monkeypatch)
    loop.clock.advance(timedelta(minutes=1))
    dispatched = loop.service.act(loop.people["op"], row.number, Request(Action.DISPATCH))
    assert reads == ([] if _postgres(loop) else [row.number])
    stored = loop.case(row.id)
    assert (stored["state"], stored["version"], stored["lead_unit"]) == (CaseState.DISPATCHED.value, 2, "cg")
    assert dispatched.state == stored["state"] and dispatched.handling_due == stored["handling_due"]
    assert [(s["seq"], s["action"]) for s in loop.steps(row.id)] == [(1, "register"), (2, "dispatch")]


def test_a_row_another_writer_changed_is_read_again_and_its_change_kept(loop: Loop,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """As the deadline sweep does: a column changed without a step (no new version); the remembered row's stamp
    no longer matches, so the step reads the row afresh and returns what is stored."""
    row = loop.open_registered()
    with loop.engine.begin() as conn:
        conn.execute(update(CASES).where(CASES.c.id == row.id).values(deadline_level="yellow"))
    reads = _count_reads(monkeypatch)
    suspended = loop.service.act(loop.people["op"], row.number, Request(Action.SUSPEND, note="等待产权单位"))
    assert reads == [row.number]  # PostgreSQL: after its remembered write matched nothing; SQLite: as always
    assert suspended.deadline_level == "yellow" and suspended.version == 2
    stored = loop.case(row.id)
    assert (stored["state"], stored["version"], stored["deadline_level"]) == ("suspended", 2, "yellow")
    assert [(s["seq"], s["action"]) for s in loop.steps(row.id)] == [(1, "register"), (2, "suspend")]
    if _postgres(loop):
        remembered = loop.service.recent.get(row.number)
        assert remembered is not None and remembered.stamp == _xmin(loop, row.id)
        assert remembered.values["deadline_level"] == "yellow"


def test_a_step_refused_on_a_remembered_row_is_decided_again_on_the_stored_one(loop: Loop) -> None:
    """Another process (another service, its own memory) suspended the case: here the remembered row still says
    `registered`, where RESUME is refused; decided again on the stored row, RESUME goes through."""
    row = loop.open_registered()
    other = CaseService(loop.service.sessions, loop.service.clock, loop.service.vault, loop.service.audit,
                        loop.service.areas, loop.service.policies)
    other.act(loop.people["op"], row.number, Request(Action.SUSPEND, note="等待产权单位"))
    loop.clock.advance(timedelta(hours=1))
    resumed = loop.service.act(loop.people["op"], row.number, Request(Action.RESUME))
    assert (resumed.state, resumed.version) == (CaseState.REGISTERED.value, 3)
    assert [(s["seq"], s["action"]) for s in loop.steps(row.id)] == [(1, "register"), (2, "suspend"),
                                                                      (3, "resume")]
    with pytest.raises(InvalidTransition):  # and a step that is wrong on the stored row too is still refused
        loop.service.act(loop.people["op"], row.number, Request(Action.RESUME))
    assert loop.case(row.id)["version"] == 3


def test_a_remembered_step_that_lost_the_race_writes_nothing_and_is_decided_on_the_winner(loop: Loop) -> None:
    row = loop.open_registered()
    loop.clock.advance(timedelta(minutes=1))
    moved: dict[str, Any] = {}

    def concurrent_suspend() -> None:  # another process's step commits between this step's decision and write
        other = CaseService(loop.service.sessions, loop.service.clock, loop.service.vault, loop.service.audit,
                            loop.service.areas, loop.service.policies)
        other.act(loop.people["op"], row.number, Request(Action.SUSPEND, note="等待产权单位"))
        moved.update(loop.case(row.id))

    loop.policies.during_route = concurrent_suspend
    with pytest.raises(Conflict) as refused:
        loop.service.act(loop.people["op"], row.number, Request(Action.DISPATCH))
    if _postgres(loop):  # decided again on the stored row: DISPATCH is not allowed from `suspended`
        assert isinstance(refused.value, InvalidTransition)
        assert refused.value.params["state"] == CaseState.SUSPENDED.value
        assert loop.service.recent.get(row.number) is None  # forgotten: the next step reads
    else:  # a fresh read already: the version-checked write refuses
        assert refused.value.code == "cases.changed"
    assert moved and loop.case(row.id) == moved
    assert [(s["seq"], s["action"]) for s in loop.steps(row.id)] == [(1, "register"), (2, "suspend")]


def test_opening_numbers_audits_and_marks_a_repeat_reporter_in_one_go(loop: Loop) -> None:
    op = loop.people["op"]
    first = loop.service.open(op, NewCase(Source.CITIZEN, "0101", "垃圾堆积", *YIHU_POINT, reporter_phone=PHONE))
    day = first.number.rsplit("-", 1)[0]
    if _postgres(loop):  # ids past six digits keep every digit, as the Python format does
        with loop.engine.begin() as conn:
            conn.execute(text("SELECT setval(pg_get_serial_sequence('cases', 'id'), 1234566)"))
    again = loop.service.open(op, NewCase(Source.CITIZEN, "0101", "垃圾又堆了", *YIHU_POINT, reporter_phone=PHONE))
    assert first.number == repo.case_number(day, first.id) and again.number == repo.case_number(day, again.id)
    if _postgres(loop):
        assert again.id == 1234567 and again.number == f"{day}-1234567"
    assert (first.repeat_report, again.repeat_report) == (False, True)
    stored = loop.case(again.id)
    assert (stored["number"], stored["repeat_report"]) == (again.number, True)
    with loop.engine.connect() as conn:
        events = conn.execute(select(AuditEventRow.__table__).where(AuditEventRow.action == "cases.open")
                              .order_by(AuditEventRow.id)).all()
    assert [(e.target, e.actor, e.detail) for e in events] == [
        (first.number, "u-op", {"source": "citizen", "category": "0101"}),
        (again.number, "u-op", {"source": "citizen", "category": "0101"})]


def test_case_numbers_keep_six_digits_at_least() -> None:
    assert repo.case_number("QY-20261204", 123) == "QY-20261204-000123"
    assert repo.case_number("QY-20261204", 1234567) == "QY-20261204-1234567"
