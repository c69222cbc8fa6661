"""The linkage service on SQLite and PostgreSQL: tier 0 at once, escalation on an injected clock, retries, acks,
the checklist, closing, the delivery log and the audit trail."""

from __future__ import annotations

from collections import deque
from datetime import timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from chengyun.adapters.notify import DeliveryResult
from chengyun.audit.tables import AuditEventRow
from chengyun.bootstrap import Container
from chengyun.db.base import Base
from chengyun.errors import Forbidden, Invalid, NotFound
from chengyun.linkage.tables import LinkageRunRow, NotificationAttemptRow, NotificationRow
from tests.linkage_world import World, make_world

LINKAGE_TABLES = {"linkage_runs", "linkage_notifications", "linkage_deliveries"}


@pytest.fixture
def world(tiny_district: Container) -> World:
    return make_world(tiny_district)


def notices(world: World, run_id: int) -> list[NotificationRow]:
    with world.container.sessions() as session:
        return list(session.scalars(select(NotificationRow).where(NotificationRow.run_id == run_id)
                                    .order_by(NotificationRow.tier, NotificationRow.id)))


def run_row(world: World, run_id: int) -> LinkageRunRow:
    with world.container.sessions() as session:
        row = session.get(LinkageRunRow, run_id)
        assert row is not None
        return row


def who_got(world: World, run_id: int, tier: int | None = None) -> list[tuple[str, str, str, str]]:
    return [(n.recipient_kind, n.recipient_name, n.channel, n.recipient_label) for n in notices(world, run_id)
            if tier is None or n.tier == tier]


def audit(world: World, action: str) -> list[AuditEventRow]:
    with world.container.sessions() as session:
        return list(session.scalars(select(AuditEventRow).where(AuditEventRow.action == action)))


# --- start -----------------------------------------------------------------------------------------------------


def test_a_gas_leak_reaches_every_party_of_tier_zero_at_once_and_in_app_is_delivered_by_the_commit(
        world: World) -> None:
    run_id = world.service.start(world.alarm())
    assert who_got(world, run_id) == [
        ("family", "", "sms", "李女士（女儿） 138****5678"),
        ("grid_worker", "", "in_app", "gw"),  # the nearest grid worker only (not the community's leader u-gw2)
        ("community", "", "in_app", "yihu"),
        ("center", "", "in_app", "op"),  # the nearest operations center (the street's, not the district's)
        ("liaison", "fire", "wecom", "消防站群"),
        ("liaison", "gas", "dingtalk", "燃气公司群"),
    ]
    rows = notices(world, run_id)
    assert {n.channel: n.status for n in rows} == {"sms": "pending", "in_app": "sent", "wecom": "pending",
                                                  "dingtalk": "pending"}
    assert {n.must_confirm for n in rows if n.recipient_name == "gas"} == {"已关阀"}
    run = run_row(world, run_id)
    assert run.first_notified_at == world.clock.now() and run.state == "active" and run.current_tier == 0
    assert run.next_escalation_at == world.clock.now() + timedelta(minutes=5)
    sms = next(n for n in rows if n.channel == "sms")
    assert sms.target_encrypted and "13812345678" not in sms.target_encrypted + sms.dedup_key + sms.recipient_label
    assert "13812345678" in world.container.vault.decrypt(sms.target_encrypted)
    with world.container.sessions() as session:
        logged = session.scalars(select(NotificationAttemptRow.notification_id)).all()
    assert sorted(logged) == sorted(n.id for n in rows if n.channel == "in_app")
    assert [e.detail["notifications"] for e in audit(world, "linkage.start")] == [6]


def test_starting_twice_for_the_same_alarm_returns_the_same_run_and_notifies_nobody_twice(world: World) -> None:
    first = world.service.start(world.alarm())
    world.later(1)
    assert world.service.start(world.alarm()) == first
    assert len(notices(world, first)) == 6 and world.service.run_id_of(1) == first


def test_an_alarm_type_without_a_plan_follows_the_default_plan(world: World) -> None:
    run_id = world.service.start(world.alarm(2, "low_battery"))
    assert who_got(world, run_id) == [("center", "", "in_app", "op")]
    assert run_row(world, run_id).plan == "default" and run_row(world, run_id).next_escalation_at is None


# --- delivery --------------------------------------------------------------------------------------------------


def test_deliver_due_sends_every_external_notification_with_its_own_ack_link(world: World) -> None:
    run_id = world.service.start(world.alarm())
    report = world.service.deliver_due()
    assert (report.attempted, report.sent, report.logged, report.failed) == (3, 2, 1, 0)
    channels = {r.channel: (m, r) for m, r in world.notifier.sent}
    assert set(channels) == {"sms", "wecom", "dingtalk"}  # in-app went out with the commit
    message, recipient = channels["dingtalk"]
    assert recipient.address == "https://oapi.dingtalk.com/robot/send?access_token=GAS"
    assert (recipient.secret, recipient.mentions) == ("SECgas", ("13900000001",))
    assert message.link and message.link.startswith("https://cy.example.cn/ack/")
    assert "【城运联动】燃气泄漏（紧急）" in message.text and "请确认：已关阀" in message.text
    links = {m.link for m, _ in world.notifier.sent}
    assert len(links) == 3
    assert {n.channel: n.status for n in notices(world, run_id)} == {
        "sms": "logged", "in_app": "sent", "wecom": "sent", "dingtalk": "sent"}
    assert world.service.deliver_due().attempted == 0


def test_a_failing_channel_is_retried_with_back_off_until_it_succeeds_and_every_attempt_is_logged(
        world: World) -> None:
    world.notifier.script["wecom"] = deque([DeliveryResult.failed("HTTP 502", status_code=502),
                                            DeliveryResult.failed("errcode -1: system busy", status_code=200)])
    run_id = world.service.start(world.alarm())
    world.service.deliver_due()
    wecom = next(n for n in notices(world, run_id) if n.channel == "wecom")
    assert (wecom.status, wecom.attempts, wecom.last_status) == ("pending", 1, 502)
    assert wecom.next_attempt_at == world.clock.now() + timedelta(seconds=15)
    world.clock.advance(timedelta(seconds=14))
    assert world.service.deliver_due().attempted == 0
    world.clock.advance(timedelta(seconds=1))
    assert world.service.deliver_due().retrying == 1
    world.clock.advance(timedelta(seconds=30))
    assert world.service.deliver_due().sent == 1
    wecom = next(n for n in notices(world, run_id) if n.channel == "wecom")
    assert (wecom.status, wecom.attempts, wecom.last_error) == ("sent", 3, None)
    attempts = world.service.deliveries(world.who["u-op"], run_id)
    tried = [(a.attempt, a.ok, a.status_code, a.error) for a in attempts if a.notification_id == wecom.id]
    assert tried == [(1, False, 502, "HTTP 502"), (2, False, 200, "errcode -1: system busy"), (3, True, 200, None)]


def test_a_failure_that_cannot_heal_gives_up_at_once(world: World) -> None:
    world.notifier.script["dingtalk"] = deque([DeliveryResult.failed("errcode 310000: sign not match",
                                                                     status_code=200, retryable=False)])
    run_id = world.service.start(world.alarm())
    assert world.service.deliver_due().failed == 1
    ding = next(n for n in notices(world, run_id) if n.channel == "dingtalk")
    assert (ding.status, ding.next_attempt_at, ding.last_error) == ("failed", None, "errcode 310000: sign not match")


# --- escalation ------------------------------------------------------------------------------------------------


def test_nobody_acknowledges_so_the_street_and_police_follow_after_5_minutes_and_the_district_after_10(
        world: World) -> None:
    run_id = world.service.start(world.alarm())
    world.later(4.99)
    assert world.service.escalate_due() == 0
    world.later(0.01)
    assert world.service.escalate_due() == 1
    assert who_got(world, run_id, 1) == [("street", "", "in_app", "street"),
                                         ("street", "", "sms", "街道值班领导 137****0002"),
                                         ("liaison", "police", "sms", "派出所 028****0110")]
    assert world.service.escalate_due() == 0  # nothing more is due yet
    world.later(5)
    assert world.service.escalate_due() == 1
    assert who_got(world, run_id, 2) == [("district", "", "in_app", "qu"),
                                         ("district", "", "email", "区应急值班室 d***@qbj.example.cn")]
    run = run_row(world, run_id)
    assert (run.current_tier, run.next_escalation_at, run.state) == (2, None, "active")
    assert [e.detail["tier"] for e in audit(world, "linkage.escalate")] == [1, 2]
    escalated = next(n for n in notices(world, run_id) if n.tier == 1 and n.channel == "in_app")
    assert "升级通知：5 分钟内无人确认" in escalated.message


def test_a_late_runner_adds_every_overdue_tier_at_once(world: World) -> None:
    run_id = world.service.start(world.alarm())
    world.later(30)
    assert world.service.escalate_due() == 1
    assert sorted({n.tier for n in notices(world, run_id)}) == [0, 1, 2]


def test_an_acknowledgement_stops_the_escalation_but_not_the_deliveries_already_due(world: World) -> None:
    run_id = world.service.start(world.alarm())
    mine = world.service.inbox(world.who["u-gw"])
    assert [item.must_confirm for item in mine] == ["已到场"]
    world.later(2)
    view = world.service.acknowledge(world.who["u-gw"], mine[0].id, "已到场，已关阀")
    assert (view.status, view.acknowledged_by, view.ack_note) == ("acknowledged", "gw", "已到场，已关阀")
    run = run_row(world, run_id)
    assert (run.state, run.acknowledged_by, run.next_escalation_at) == ("acknowledged", "gw", None)
    world.later(30)
    assert world.service.escalate_due() == 0
    assert {n.tier for n in notices(world, run_id)} == {0}
    assert world.service.deliver_due().attempted == 3  # the fire brigade and the gas company still hear of it
    again = world.service.acknowledge(world.who["u-gw"], mine[0].id, "second tap")
    assert again.ack_note == "已到场，已关阀"  # idempotent


def test_only_the_recipient_or_an_operator_in_scope_may_acknowledge(world: World) -> None:
    world.service.start(world.alarm())
    [gw_notice] = world.service.inbox(world.who["u-gw"])
    with pytest.raises(Forbidden):
        world.service.acknowledge(world.who["u-gw2"], gw_notice.id)  # sees the run, but it is not theirs
    with pytest.raises(NotFound):
        world.service.acknowledge(world.who["u-gwx"], gw_notice.id)  # another community: no existence oracle
    with pytest.raises(NotFound):
        world.service.acknowledge(world.who["u-res"], gw_notice.id)
    assert [e.detail["code"] for e in audit(world, "linkage.refused")] == [
        "linkage.not_your_notification", "linkage.notification_not_found", "linkage.notification_not_found"]
    on_behalf = world.service.acknowledge(world.who["u-op"], gw_notice.id, "电话确认已到场")
    assert (on_behalf.status, on_behalf.acknowledged_by) == ("acknowledged", "op")


def test_the_family_acknowledges_through_the_signed_link_without_signing_in(world: World) -> None:
    run_id = world.service.start(world.alarm())
    world.service.deliver_due()
    link = next(m.link for m, r in world.notifier.sent if r.channel == "sms")
    assert link is not None
    token = link.rsplit("/", 1)[1]
    page = world.service.ack_page(token)
    assert (page.notice.recipient_kind, page.run.id, page.run.alarm_label) == ("family", run_id, "燃气泄漏")
    assert [s.text for s in page.run.checklist][:2] == ["关闭燃气总阀", "开窗通风"]
    view = world.service.acknowledge_token(token, "已联系，老人安全")
    assert (view.status, view.acknowledged_by) == ("acknowledged", "李女士（女儿） 138****5678")
    assert run_row(world, run_id).state == "acknowledged"
    with pytest.raises(NotFound):
        world.service.acknowledge_token(token[:-2] + "xx")
    world.later(8 * 24 * 60)
    with pytest.raises(NotFound):
        world.service.ack_page(token)  # expired after 7 days


# --- checklist, close, reads -------------------------------------------------------------------------------


def test_responders_tick_the_checklist_and_auditors_may_not(world: World) -> None:
    run_id = world.service.start(world.alarm())
    world.service.check(world.who["u-gw"], run_id, "close_valve")
    view = world.service.check(world.who["u-op"], run_id, "ventilate")
    assert [(s.code, s.done, s.by) for s in view.checklist[:3]] == [
        ("close_valve", True, "gw"), ("ventilate", True, "op"), ("no_ignition", False, None)]
    assert not world.service.check(world.who["u-gw"], run_id, "close_valve", done=False).checklist[0].done
    with pytest.raises(Forbidden):
        world.service.check(world.who["u-audit"], run_id, "evacuate")
    with pytest.raises(NotFound):
        world.service.check(world.who["u-gwx"], run_id, "evacuate")
    with pytest.raises(Invalid):
        world.service.check(world.who["u-gw"], run_id, "dance")
    assert len(audit(world, "linkage.check")) == 3


def test_closing_cancels_what_is_unsent_and_stops_escalation(world: World) -> None:
    run_id = world.service.start(world.alarm())
    assert world.service.close(1, "cleared")
    assert not world.service.close(1) and not world.service.close(999)
    statuses = {n.channel: n.status for n in notices(world, run_id)}
    assert statuses == {"sms": "cancelled", "in_app": "sent", "wecom": "cancelled", "dingtalk": "cancelled"}
    world.later(30)
    assert world.service.escalate_due() == 0 and world.service.deliver_due().attempted == 0
    run = run_row(world, run_id)
    assert (run.state, run.close_reason, run.closed_at) == ("closed", "cleared", world.clock.now() -
                                                            timedelta(minutes=30))


def test_reads_are_scoped_and_the_inbox_holds_only_my_in_app_notifications(world: World) -> None:
    run_id = world.service.start(world.alarm())
    other = world.service.start(world.alarm(2, "smoke", area="510113002002001"))
    assert [v.id for v in world.service.runs(world.who["u-op"])] == [other, run_id]
    assert [v.id for v in world.service.runs(world.who["u-yihu"])] == [run_id]
    assert [v.id for v in world.service.runs(world.who["u-gwx"], alarm_id=2)] == [other]
    assert world.service.runs(world.who["u-res"]) == []
    with pytest.raises(NotFound):
        world.service.run(world.who["u-yihu"], other)
    detail = world.service.run(world.who["u-op"], run_id)
    assert (detail.alarm_label, detail.plan_name, len(detail.notifications)) == ("燃气泄漏", "燃气泄漏联动预案", 6)
    assert [i.run_id for i in world.service.inbox(world.who["u-op"])] == [other, run_id]
    assert world.service.inbox(world.who["u-street"]) == []
    latest = world.service.latest_inbox_id(world.ids["u-op"])
    assert [i.run_id for i in world.service.inbox_since(world.ids["u-op"], 0)] == [run_id, other]
    assert world.service.inbox_since(world.ids["u-op"], latest) == []


def test_the_migration_creates_exactly_the_mapped_linkage_tables(engine: Any) -> None:
    def ours(name: str | None, type_: str, *_: Any) -> bool:
        return type_ != "table" or name in LINKAGE_TABLES

    opts = {"compare_type": True, "include_name": ours, "include_object": lambda obj, name, type_, *_: ours(
        name, type_)}
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata) == []


def test_acknowledging_the_alarm_itself_stops_the_escalation(world: World) -> None:
    run_id = world.service.start(world.alarm())
    assert world.service.acknowledge_alarm(1, "op", world.ids["u-op"])
    assert not world.service.acknowledge_alarm(1, "op") and not world.service.acknowledge_alarm(404, "op")
    world.later(30)
    assert world.service.escalate_due() == 0
    run = run_row(world, run_id)
    assert (run.state, run.acknowledged_by) == ("acknowledged", "op")
    assert [e.target for e in audit(world, "linkage.acknowledge_alarm")] == [f"linkage_run:{run_id}"]
