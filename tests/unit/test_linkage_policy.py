"""Linkage policy as pure functions: escalation tiers, retries, checklist, ack tokens, who may act, recipients."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chengyun.auth.model import Principal, Role
from chengyun.errors import Invalid
from chengyun.linkage.channels import ChannelKind, UnitSelector, load_channels
from chengyun.linkage.messages import AlarmView, render, with_link
from chengyun.linkage.model import AlarmFacts, Contact, RecipientKind, default_plans
from chengyun.linkage.policy import (
    MAX_ATTEMPTS,
    NoticeStatus,
    after_attempt,
    check_step,
    clean_note,
    escalates,
    make_ack_token,
    may_acknowledge,
    may_check,
    may_view,
    read_ack_token,
    retry_delay,
    tier_due_at,
    tiers_due,
    token_key,
)
from chengyun.linkage.resolve import Person, resolve_tier

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
GAS = default_plans().for_type("gas_leak")  # tiers at 0, 5 and 10 minutes
PATH = "/510100000000/510113000000/510113002000/510113002001/510113002001001/"


# --- escalation ------------------------------------------------------------------------------------------------


def test_tiers_fall_due_at_their_minutes_after_the_start() -> None:
    assert tiers_due(GAS, 0, T0, T0 + timedelta(minutes=4, seconds=59)) == []
    assert tiers_due(GAS, 0, T0, T0 + timedelta(minutes=5)) == [1]
    assert tiers_due(GAS, 1, T0, T0 + timedelta(minutes=9)) == []
    assert tiers_due(GAS, 0, T0, T0 + timedelta(minutes=30)) == [1, 2]  # a late runner catches up, in order
    assert tiers_due(GAS, 2, T0, T0 + timedelta(days=1)) == []
    assert tier_due_at(GAS, 1, T0) == T0 + timedelta(minutes=5)
    assert tier_due_at(GAS, 3, T0) is None


@given(st.integers(min_value=0, max_value=2), st.integers(min_value=0, max_value=24 * 60))
def test_due_tiers_are_consecutive_after_the_current_one_and_all_past(current: int, minutes: int) -> None:
    now = T0 + timedelta(minutes=minutes)
    due = tiers_due(GAS, current, T0, now)
    assert due == list(range(current + 1, current + 1 + len(due)))
    assert all(GAS.tiers[t].after_min <= minutes for t in due)
    following = current + len(due) + 1
    assert following >= len(GAS.tiers) or GAS.tiers[following].after_min > minutes


def test_only_an_unacknowledged_run_escalates() -> None:
    assert escalates("active") and not escalates("acknowledged") and not escalates("closed")


# --- retries -------------------------------------------------------------------------------------------------


def test_failures_back_off_from_15_seconds_doubling_to_10_minutes_then_give_up() -> None:
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4, 6, 7, 30)] == [15, 30, 60, 120, 480, 600, 600]
    assert after_attempt(False, False, True, 1, T0) == (NoticeStatus.PENDING, T0 + timedelta(seconds=15))
    assert after_attempt(False, False, True, MAX_ATTEMPTS, T0) == (NoticeStatus.FAILED, None)
    assert after_attempt(False, False, False, 1, T0) == (NoticeStatus.FAILED, None)  # a wrong key will not heal
    assert after_attempt(True, False, False, 3, T0) == (NoticeStatus.SENT, None)
    assert after_attempt(True, True, False, 1, T0) == (NoticeStatus.LOGGED, None)  # the sink never says "sent"


# --- checklist and notes -------------------------------------------------------------------------------------


def test_checking_a_step_records_who_and_when_and_refuses_unknown_steps() -> None:
    progress = check_step({}, GAS, "close_valve", done=True, by="网格员小王", by_id=7, at=T0)
    assert progress == {"close_valve": {"done": True, "by": "网格员小王", "by_id": 7,
                                        "at": "2026-11-23T01:00:00+00:00"}}
    progress = check_step(progress, GAS, "ventilate", done=True, by="b", by_id=8, at=T0)
    assert set(progress) == {"close_valve", "ventilate"}
    assert check_step(progress, GAS, "close_valve", done=False, by="c", by_id=9, at=T0)["close_valve"]["done"] is False
    with pytest.raises(Invalid) as info:
        check_step({}, GAS, "dance", done=True, by="x", by_id=None, at=T0)
    assert info.value.params == {"step": "dance", "plan": "gas_leak"}
    assert clean_note("  已到场\n已关阀 ") == "已到场 已关阀"
    with pytest.raises(Invalid):
        clean_note("长" * 501)


# --- acknowledge tokens --------------------------------------------------------------------------------------


def test_an_ack_token_names_its_notification_until_it_expires_and_cannot_be_forged() -> None:
    key = token_key("s" * 40)
    token = make_ack_token(key, 42, T0 + timedelta(days=7))
    assert read_ack_token(key, token, T0) == 42
    assert read_ack_token(key, token, T0 + timedelta(days=7, seconds=1)) is None
    assert read_ack_token(token_key("t" * 40), token, T0) is None
    forged = token.replace("42.", "43.", 1)
    assert read_ack_token(key, forged, T0) is None
    for junk in ("", "42", "a.b.c", "42.x.sig", "1." * 80):
        assert read_ack_token(key, junk, T0) is None


@given(st.text(max_size=130))
def test_any_text_is_never_a_valid_token(text: str) -> None:
    assert read_ack_token(token_key("s" * 40), text, T0) is None


# --- who may act -----------------------------------------------------------------------------------------------


def principal(role: Role, scope_path: str = "/510100000000/510113000000/510113002000/", user_id: int = 1) -> Principal:
    return Principal(user_id, f"u{user_id}", f"U{user_id}", role, scope_path.strip("/").split("/")[-1], scope_path)


def test_staff_in_scope_see_runs_recipients_always_residents_never() -> None:
    assert may_view(principal(Role.OPERATOR), PATH, recipient=False)
    assert may_view(principal(Role.AUDITOR), PATH, recipient=False)
    other = principal(Role.OPERATOR, "/510100000000/510113000000/510113003000/")
    assert not may_view(other, PATH, recipient=False) and may_view(other, PATH, recipient=True)
    assert not may_view(principal(Role.RESIDENT), PATH, recipient=False)
    assert not may_view(principal(Role.OPERATOR), "", recipient=False)


def test_the_recipient_or_an_operator_in_scope_acknowledges_and_auditors_never_tick() -> None:
    assert may_acknowledge(principal(Role.GRID_WORKER, user_id=5), 5, PATH)
    assert not may_acknowledge(principal(Role.GRID_WORKER, user_id=6), 5, PATH)
    assert may_acknowledge(principal(Role.OPERATOR, user_id=6), 5, PATH)
    assert not may_acknowledge(principal(Role.HANDLER, user_id=6), None, PATH)
    assert may_check(principal(Role.GRID_WORKER), PATH, recipient=False)
    assert not may_check(principal(Role.AUDITOR), PATH, recipient=False)


# --- recipients ------------------------------------------------------------------------------------------------


@dataclass
class FakeDirectory:
    """People by question, and the questions asked."""

    grid: list[Person] = field(default_factory=list)
    units: dict[str, list[Person]] = field(default_factory=dict)
    ops: list[Person] = field(default_factory=list)
    roster: dict[str, list[Contact]] = field(default_factory=dict)
    asked: list[tuple[str, str]] = field(default_factory=list)

    def grid_workers(self, area_path: str) -> list[Person]:
        self.asked.append(("grid", area_path))
        return self.grid

    def unit_members(self, area_path: str, level: str, selector: UnitSelector) -> list[Person]:
        self.asked.append((level, ",".join(selector.kinds)))
        return self.units.get(level, [])

    def operators(self, area_path: str) -> list[Person]:
        self.asked.append(("operators", area_path))
        return self.ops

    def area_name(self, area_path: str) -> str:
        return "怡湖社区"

    def field_staff(self, area_path: str, party: str) -> list[Contact]:
        self.asked.append(("roster", party))
        return self.roster.get(party, [])


ALARM = AlarmFacts(9, "gas_leak", "critical", "gas-001", T0, "510113002001001", PATH, "怡湖苑3栋2单元301")
CHANNELS = load_channels("""
default:
  liaisons:
    fire: [{channel: wecom, address: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K", label: 消防站群}]
    gas: [{channel: sms, address: "028-0000-0301", label: 燃气公司}, {channel: email, address: gas@example.cn}]
  groups:
    community: [{channel: dingtalk, address: "https://oapi.dingtalk.com/robot/send?access_token=T", secret: SECx}]
""").for_path(PATH)


def test_tier_zero_of_a_gas_leak_resolves_every_party_in_plan_order() -> None:
    directory = FakeDirectory(grid=[Person(5, "网格员小王")],
                              units={"community": [Person(6, "怡湖社区"), Person(5, "x")],
                                     "center": [Person(7, "值班员")]})
    family = [Contact("李女士", "13812345678", "li@example.cn", "女儿"), Contact("邻居老张", "13900001111")]
    targets = resolve_tier(GAS.tiers[0], ALARM, directory, lambda device: family if device == "gas-001" else [],
                           CHANNELS)
    shown = [(t.kind.value, t.channel.value, t.label) for t in targets]
    assert shown == [
        ("family", "sms", "李女士（女儿） 138****5678"), ("family", "email", "李女士（女儿） l***@example.cn"),
        ("family", "sms", "邻居老张 139****1111"),
        ("grid_worker", "in_app", "网格员小王"),
        ("community", "in_app", "怡湖社区"),  # user 5 is already the grid worker: notified once per tier
        ("community", "dingtalk", "dingtalk"),
        ("center", "in_app", "值班员"),
        ("liaison", "wecom", "消防站群"),
        ("liaison", "sms", "燃气公司 028****0301"), ("liaison", "email", "g***@example.cn"),
    ]
    assert {t.confirm.zh for t in targets if t.name == "gas"} == {"已关阀"}
    assert ("community", "community_committee") in directory.asked


def test_a_party_nobody_answers_for_is_kept_as_a_visible_gap_and_the_center_falls_back_to_operators() -> None:
    directory = FakeDirectory(ops=[Person(8, "区值班员")])
    targets = resolve_tier(GAS.tiers[0], ALARM, directory, lambda _d: [], load_channels("{}").for_path(PATH))
    by_kind = {t.kind: t for t in targets}
    assert by_kind[RecipientKind.FAMILY].channel == ChannelKind.NONE
    assert by_kind[RecipientKind.GRID_WORKER].channel == ChannelKind.NONE
    assert by_kind[RecipientKind.CENTER].channel == ChannelKind.IN_APP and by_kind[RecipientKind.CENTER].user_id == 8
    assert [t.key for t in targets if t.kind == RecipientKind.LIAISON] == ["none:liaison:fire", "none:liaison:gas"]


# --- messages --------------------------------------------------------------------------------------------------


def test_a_message_says_what_where_when_what_to_confirm_and_what_to_do() -> None:
    view = AlarmView("gas_leak", "critical", "怡湖苑3栋2单元301", T0, "燃气浓度 25%LEL", "怡湖社区")
    gas = next(r for r in GAS.tiers[0].recipients if r.name == "gas")
    message = render(view, GAS, gas, 0, "zh-CN", ZoneInfo("Asia/Shanghai"))
    assert message.title == "【紧急】燃气泄漏 · 怡湖苑3栋2单元301"
    assert message.text.splitlines()[:5] == ["【城运联动】燃气泄漏（紧急）", "地点：怡湖苑3栋2单元301（怡湖社区）",
                                            "时间：2026-11-23 09:00", "情况：燃气浓度 25%LEL", "请确认：已关阀"]
    assert "1. 关闭燃气总阀" in message.text and message.markdown.startswith("### 【城运联动】燃气泄漏（紧急）")
    street = GAS.tiers[1].recipients[0]
    escalated = render(view, GAS, street, 1, "en", ZoneInfo("Asia/Shanghai"))
    assert "Escalated: nobody acknowledged within 5 minutes" in escalated.text
    assert "Please confirm: Aware and coordinating" in escalated.text
    linked = with_link(message, "https://cy.example.cn/ack/1.2.x", "zh-CN")
    assert linked.text.endswith("点击确认：https://cy.example.cn/ack/1.2.x")
    assert linked.markdown.endswith("[点击确认](https://cy.example.cn/ack/1.2.x)")
    assert with_link(message, None, "zh-CN") == message


def test_roster_grid_workers_get_an_sms_beside_the_app_and_a_person_is_notified_once() -> None:
    roster = [Contact("李微格", "13800001111", None, "微网格员"), Contact("李微格", "13800001111", None, "微网格员")]
    directory = FakeDirectory(grid=[Person(5, "网格员小王")], roster={"grid_worker": roster})
    targets = resolve_tier(GAS.tiers[0], ALARM, directory, lambda _: [], CHANNELS)
    grid = [t for t in targets if t.kind.value == "grid_worker"]
    assert [(t.channel.value, t.label) for t in grid] == [("in_app", "网格员小王"),
                                                          ("sms", "李微格（微网格员） 138****1111")]
    assert ("roster", "grid_worker") in directory.asked
