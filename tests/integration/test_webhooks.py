"""Outbound webhooks on SQLite and PostgreSQL against a real local HTTP receiver: steps, order, retries, the log."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from chengyun.auth.model import Principal, Role
from chengyun.bootstrap import Container
from chengyun.cases.model import Action, Request, Source
from chengyun.cases.service import CaseService, NewCase
from chengyun.cases.tables import CaseRow
from chengyun.errors import Conflict, DomainError, NotFound
from chengyun.intake.delivery import MAX_ATTEMPTS, retry_delay
from chengyun.intake.tables import DeliveryRow, WebhookRow
from chengyun.intake.webhooks import WebhookService
from chengyun.org.tables import UnitRow
from chengyun.shared.clock import FixedClock
from tests.helpers import free_port
from tests.integration.test_case_service import YIHU_POINT, FakePolicies
from tests.webhook_receiver import Receiver

SECRET = "shared-secret-of-12345-platform"
LOOP = [("op", Action.REGISTER, ""), ("op", Action.DISPATCH, ""), ("cg", Action.CLAIM, ""),
        ("cg", Action.SUBMIT_RESULT, "已清运"), ("op", Action.VERIFY_PASS, ""), ("op", Action.CLOSE, "办结")]


@dataclass
class World:
    """The loop with a fixed clock, the webhook service on the same clock, and the accounts."""

    container: Container
    cases: CaseService
    hooks: WebhookService
    clock: FixedClock
    who: dict[str, Principal]

    def open(self, external_id: str | None = "GD-0001", system: str | None = "12345") -> CaseRow:
        """An upstream case (or a local one when `external_id` is None)."""
        return self.cases.open(self.who["op"], NewCase(
            Source.UPSTREAM if external_id else Source.GRID, "0101", "小区门口垃圾堆积三天无人清运", *YIHU_POINT,
            external_system=system if external_id else None, external_id=external_id))

    def move(self, row: CaseRow, steps: list[tuple[str, Action, str]]) -> CaseRow:
        """Take these steps in order."""
        for who, action, note in steps:
            row = self.cases.act(self.who[who], row.number, Request(action, note=note))
        return row

    def log(self, system: str = "12345") -> list[DeliveryRow]:
        """The system's deliveries, oldest first."""
        with self.container.sessions() as session:
            hook = session.scalar(select(WebhookRow.id).where(WebhookRow.system == system))
            return list(session.scalars(select(DeliveryRow).where(DeliveryRow.webhook_id == hook)
                                        .order_by(DeliveryRow.case_id, DeliveryRow.case_version)))


@pytest.fixture
def world(tiny_district: Container) -> World:
    c = tiny_district
    with c.sessions.begin() as session:
        units = [UnitRow(code="cg", name="综合行政执法队", kind="department", level="street", area_code="510113002000"),
                 UnitRow(code="zj", name="住建办", kind="department", level="street", area_code="510113002000")]
        session.add_all(units)
        session.flush()
        cg = units[0].id
    c.auth.create_user(username="u-op", display_name="op", role=Role.OPERATOR, scope_code="510113002000")
    c.auth.create_user(username="u-cg", display_name="cg", role=Role.HANDLER, scope_code="510113002000", unit_id=cg)
    clock = FixedClock()
    cases = CaseService(c.sessions, clock, c.vault, c.audit, c.areas, FakePolicies())
    hooks = WebhookService(c.sessions, clock, c.vault, c.audit)
    return World(c, cases, hooks, clock, {"op": c.auth.principal("u-op"), "cg": c.auth.principal("u-cg")})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(SECRET)
    yield server
    server.close()


def test_every_step_is_delivered_once_in_order_and_signed(world: World, receiver: Receiver) -> None:
    world.hooks.register("12345", receiver.url, SECRET, actor="test")
    row = world.move(world.open(), LOOP)
    assert world.hooks.enqueue_changes() == 6
    assert world.hooks.enqueue_changes() == 0  # idempotent
    report = world.hooks.deliver_due()
    assert (report.attempted, report.delivered, report.retrying, report.gave_up) == (6, 6, 0, 0)
    assert [b["version"] for b in receiver.accepted] == [1, 2, 3, 4, 5, 6]
    assert [b["action"] for b in receiver.accepted] == ["register", "dispatch", "claim", "submit_result",
                                                        "verify_pass", "close"]
    assert all(r.signature_ok for r in receiver.received)
    first, last = receiver.accepted[0], receiver.accepted[-1]
    assert first["external_id"] == "GD-0001" and first["system"] == "12345" and first["case_number"] == row.number
    assert first["status"] == "open" and first["handling_due"] is None and first["at"].endswith("+08:00")
    assert last["status"] == "closed" and last["to_state"] == "closed" and last["note"] == "办结"
    assert receiver.accepted[1]["handling_due"] is not None
    log = world.log()
    headers = receiver.received[0].headers
    assert headers["x-chengyun-event"] == "case.step" and headers["x-chengyun-delivery"] == str(log[0].id)
    assert headers["content-type"] == "application/json"
    assert {d.state for d in log} == {"delivered"} and all(d.attempts == 1 and d.last_status == 200 for d in log)
    # a later step goes out on its own; nothing is sent twice
    world.cases.act(world.who["op"], row.number, Request(Action.FOLLOW_UP, data={"rating": "satisfied"}))
    assert world.hooks.enqueue_changes() == 1
    assert world.hooks.deliver_due().delivered == 1
    assert [b["version"] for b in receiver.accepted] == [1, 2, 3, 4, 5, 6, 7]
    assert receiver.accepted[-1]["status"] == "closed" and receiver.accepted[-1]["to_state"] == "followed_up"
    assert world.hooks.deliver_due().attempted == 0


def test_a_failing_receiver_is_retried_with_backoff_and_steps_wait_their_turn(world: World,
                                                                               receiver: Receiver) -> None:
    world.hooks.register("12345", receiver.url, SECRET, actor="test")
    world.move(world.open(), LOOP[:2])
    receiver.fail_first = 2
    world.hooks.enqueue_changes()
    report = world.hooks.deliver_due()
    assert (report.attempted, report.delivered, report.retrying) == (1, 0, 1)
    first, second = world.log()
    assert first.attempts == 1 and first.last_status == 500 and first.last_error == "HTTP 500 Internal Server Error"
    assert first.next_attempt_at == world.clock.now() + timedelta(seconds=30) and second.attempts == 0
    assert world.hooks.deliver_due().attempted == 0  # not due yet, and version 2 waits for version 1
    world.clock.advance(timedelta(seconds=29))
    assert world.hooks.deliver_due().attempted == 0
    world.clock.advance(timedelta(seconds=1))
    assert world.hooks.deliver_due().retrying == 1
    assert world.log()[0].next_attempt_at == world.clock.now() + timedelta(seconds=60)
    world.clock.advance(timedelta(seconds=60))
    assert world.hooks.deliver_due().delivered == 2
    assert [r.body["version"] for r in receiver.received] == [1, 1, 1, 2]
    assert [r.answered for r in receiver.received] == [500, 500, 200, 200]
    first, second = world.log()
    assert (first.state, first.attempts, first.last_status, first.last_error) == ("delivered", 3, 200, None)
    assert first.delivered_at == world.clock.now() and second.attempts == 1


def test_twelve_failures_give_up_visibly_and_an_admin_retry_sends_them_in_order(world: World,
                                                                                receiver: Receiver) -> None:
    world.hooks.register("12345", receiver.url, SECRET, actor="test")
    row = world.move(world.open(), LOOP[:1])
    receiver.fail_first, receiver.fail_status = 1000, 503
    world.hooks.enqueue_changes()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert world.hooks.deliver_due().attempted == 1
        world.clock.advance(retry_delay(attempt))
    world.move(row, LOOP[1:2])  # a newer step queues behind the failed one
    world.hooks.enqueue_changes()
    assert world.hooks.deliver_due().attempted == 0
    failed, waiting = world.log()
    assert (failed.state, failed.attempts, failed.next_attempt_at, failed.last_status) == ("failed", 12, None, 503)
    assert waiting.state == "pending" and waiting.attempts == 0
    [info] = world.hooks.list()
    assert (info.pending, info.failed, info.delivered) == (1, 1, 0)
    assert [d.id for d in world.hooks.deliveries("12345", state="failed")] == [failed.id]
    receiver.fail_first = 0
    retried = world.hooks.retry(failed.id, actor="admin")
    assert (retried.state, retried.attempts) == ("pending", 0)
    assert world.hooks.deliver_due().delivered == 2
    assert [b["version"] for b in receiver.accepted] == [1, 2]
    with pytest.raises(Conflict) as err:
        world.hooks.retry(failed.id)
    assert err.value.code == "webhooks.already_delivered"
    with pytest.raises(NotFound):
        world.hooks.retry(999_999)
    assert world.container.audit.recent(action="webhooks.retry")[0].actor == "admin"


def test_cases_without_an_external_system_or_an_active_webhook_send_nothing(world: World,
                                                                             receiver: Receiver) -> None:
    world.hooks.register("12345", receiver.url, SECRET, actor="test")
    world.move(world.open(None), LOOP[:3])
    world.move(world.open("SC-1", system="sichuan"), LOOP[:3])  # no webhook for this system
    world.move(world.open("GD-0000"), [])  # an upstream case not moved yet: only the report, nothing to say
    assert world.hooks.enqueue_changes() == 0
    assert world.hooks.deliver_due().attempted == 0 and receiver.received == []
    world.move(world.open("GD-0002"), LOOP[:1])
    world.hooks.deactivate("12345", actor="test")
    assert world.hooks.enqueue_changes() == 0 and world.hooks.deliver_due().attempted == 0
    world.hooks.register("12345", receiver.url, SECRET, actor="test")  # resumes, catching up
    assert world.hooks.enqueue_changes() == 1 and world.hooks.deliver_due().delivered == 1
    assert [(b["external_id"], b["version"]) for b in receiver.accepted] == [("GD-0002", 1)]


def test_an_unreachable_receiver_is_recorded_and_costs_one_try_per_run(world: World) -> None:
    world.hooks.register("12345", f"http://127.0.0.1:{free_port()}/hook", SECRET, actor="test")
    world.move(world.open("GD-1"), LOOP[:1])
    world.move(world.open("GD-2"), LOOP[:1])
    assert world.hooks.enqueue_changes() == 2
    report = world.hooks.deliver_due()
    assert (report.attempted, report.retrying) == (1, 1)  # the second case waits for the next run
    tried = [d for d in world.log() if d.attempts]
    assert len(tried) == 1 and tried[0].last_status is None and "ConnectError" in (tried[0].last_error or "")


def test_the_secret_is_stored_encrypted_and_registration_is_checked(world: World) -> None:
    info = world.hooks.register("12345", "https://gov.example/a", SECRET, actor="test")
    assert not hasattr(info, "secret") and info.active
    again = world.hooks.register("12345", "https://gov.example/b", SECRET + "-new", actor="test")
    assert again.url == "https://gov.example/b" and again.created_at == info.created_at
    with world.container.sessions() as session:
        stored = session.scalars(select(WebhookRow)).all()
    assert len(stored) == 1 and SECRET not in stored[0].secret_encrypted
    assert world.container.vault.decrypt(stored[0].secret_encrypted) == SECRET + "-new"
    events = world.container.audit.recent(action="webhooks.register")
    assert len(events) == 2 and all(SECRET not in str(e.detail) for e in events)
    for args, code in [(("bad name", "https://h/x", SECRET), "webhooks.bad_system"),
                       (("12345", "ftp://h/x", SECRET), "webhooks.bad_url"),
                       (("12345", "https://h/x", "short"), "webhooks.bad_secret")]:
        with pytest.raises(DomainError) as err:
            world.hooks.register(*args, actor="test")
        assert err.value.code == code
    calls: list[tuple[Callable[[], object], str]] = [
        (lambda: world.hooks.deliveries("nope"), "webhooks.not_found"),
        (lambda: world.hooks.deactivate("nope", actor="t"), "webhooks.not_found"),
        (lambda: world.hooks.deliveries("12345", state="lost"), "webhooks.bad_state")]
    for call, code in calls:
        with pytest.raises(DomainError) as err:
            call()
        assert err.value.code == code


def test_concurrent_scans_queue_each_step_once(world: World, receiver: Receiver) -> None:
    world.hooks.register("12345", receiver.url, SECRET, actor="test")
    for n in range(3):
        world.move(world.open(f"GD-{n}"), LOOP[:3])
    barrier, added = threading.Barrier(3), []

    def scan() -> None:
        barrier.wait()
        added.append(world.hooks.enqueue_changes())

    threads = [threading.Thread(target=scan) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(added) == 9
    with world.container.sessions() as session:
        assert session.scalar(select(func.count()).select_from(DeliveryRow)) == 9


def test_the_scheduled_jobs_enqueue_and_deliver(world: World, receiver: Receiver) -> None:
    container = world.container
    container.webhooks.register("12345", receiver.url, SECRET, actor="test")
    world.move(world.open(), LOOP[:1])
    container.run_jobs()  # the container's own service, on the system clock
    assert [b["version"] for b in receiver.accepted] == [1]
