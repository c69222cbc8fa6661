"""Real channels against local servers: WeCom and DingTalk robot posts in their real format (body, signature,
errcode handling, retries) through the linkage service on both databases, and e-mail through a fake SMTP server."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chengyun.adapters.notify import Message, Notifier, Recipient
from chengyun.adapters.notify_email import EmailChannel
from chengyun.adapters.notify_hub import LiveHub
from chengyun.adapters.notify_robots import DingTalkRobot, WeComRobot
from chengyun.adapters.notify_sms import LoggingSmsSink, SmsChannel
from chengyun.bootstrap import Container
from chengyun.linkage.channels import load_channels
from chengyun.linkage.cli import app as linkage_cli
from chengyun.linkage.tables import NotificationRow
from tests.conftest import SECRET as TEST_SECRET
from tests.helpers import free_port
from tests.linkage_world import World, make_world
from tests.robot_receiver import FakeSmtp, RobotReceiver

SECRET = "SEC0123456789abcdef"


@pytest.fixture
def robots() -> Iterator[RobotReceiver]:
    receiver = RobotReceiver(dingtalk_secret=SECRET)
    yield receiver
    receiver.close()


@pytest.fixture
def world(tiny_district: Container, robots: RobotReceiver) -> Iterator[World]:
    channels = load_channels(f"""
ack_base_url: https://cy.example.cn
default:
  liaisons:
    fire: [{{channel: wecom, address: "{robots.base}/cgi-bin/webhook/send?key=FIRE-KEY", label: 消防站群}}]
    gas: [{{channel: dingtalk, address: "{robots.base}/robot/send?access_token=GAS-TOKEN", secret: {SECRET},
           label: 燃气公司群, mention: ["13900000001"]}}]
""")
    wecom, dingtalk = WeComRobot(timeout_s=5), DingTalkRobot(timeout_s=5)
    notifier = Notifier({"wecom": wecom, "dingtalk": dingtalk, "sms": SmsChannel(LoggingSmsSink())})
    yield make_world(tiny_district, channels=channels, notifier=notifier)
    wecom.close()
    dingtalk.close()


def test_wecom_and_dingtalk_robots_receive_the_alarm_in_their_real_format(world: World,
                                                                           robots: RobotReceiver) -> None:
    world.service.start(world.alarm())
    report = world.service.deliver_due()
    assert (report.sent, report.logged, report.failed) == (2, 1, 0)
    by_path = {p.path: p for p in robots.posts}
    wecom = by_path["/cgi-bin/webhook/send"]
    assert wecom.query == {"key": "FIRE-KEY"} and wecom.content_type == "application/json"
    assert set(wecom.body) == {"msgtype", "markdown"} and wecom.body["msgtype"] == "markdown"
    content = wecom.body["markdown"]["content"]
    assert content.startswith("### 【城运联动】燃气泄漏（紧急）") and "**请确认：已出警**" in content
    assert "[点击确认](https://cy.example.cn/ack/" in content
    ding = by_path["/robot/send"]
    assert ding.query["access_token"] == "GAS-TOKEN" and ding.sign_ok is True
    assert abs(int(ding.query["timestamp"]) - time.time() * 1000) < 3_600_000  # DingTalk's one-hour window
    assert ding.body["msgtype"] == "markdown" and ding.body["at"] == {"atMobiles": ["13900000001"], "isAtAll": False}
    assert ding.body["markdown"]["title"] == "【紧急】燃气泄漏 · 怡湖苑3栋2单元301"
    assert "请确认：已关阀" in ding.body["markdown"]["text"] and ding.body["markdown"]["text"].endswith("@13900000001")


def test_a_robot_errcode_is_a_failure_busy_codes_are_retried_and_a_bad_key_is_not(world: World,
                                                                                 robots: RobotReceiver) -> None:
    robots.script.extend([(200, -1), (200, 93000)])  # the first two posts: system busy, then invalid key
    run_id = world.service.start(world.alarm())
    first = world.service.deliver_due()
    assert first.attempted == 3 and first.retrying + first.failed == 2
    world.later(1)
    world.service.deliver_due()
    with world.container.sessions() as session:
        rows = {n.channel: n for n in session.query(NotificationRow).filter(NotificationRow.run_id == run_id)}
    outcomes = sorted((rows[c].status, rows[c].attempts) for c in ("wecom", "dingtalk"))
    assert outcomes == [("failed", 1), ("sent", 2)]
    failed = next(rows[c] for c in ("wecom", "dingtalk") if rows[c].status == "failed")
    assert failed.last_error == "errcode 93000: scripted failure" and failed.last_status == 200


def test_a_robot_that_cannot_be_reached_is_retried() -> None:
    robot = WeComRobot(timeout_s=2)
    try:
        result = robot.send(Message("t", "x"), Recipient("wecom", f"http://127.0.0.1:{free_port()}/send?key=K"))
    finally:
        robot.close()
    assert (result.ok, result.retryable) == (False, True) and "Connect" in (result.error or "")


# --- e-mail ----------------------------------------------------------------------------------------------------


@pytest.fixture
def smtp() -> Iterator[FakeSmtp]:
    server = FakeSmtp()
    yield server
    server.close()


def test_email_goes_through_smtp_as_utf8_text(smtp: FakeSmtp) -> None:
    channel = EmailChannel("127.0.0.1", smtp.port, sender="chengyun@example.cn", timeout_s=5)
    message = Message("【紧急】燃气泄漏 · 怡湖苑3栋", "【城运联动】燃气泄漏（紧急）\n请确认：已知悉")
    result = channel.send(message, Recipient("email", "duty@qbj.example.cn"))
    assert (result.ok, result.status_code) == (True, 250)
    [mail] = smtp.mails
    assert (mail.sender, mail.recipients) == ("chengyun@example.cn", ["duty@qbj.example.cn"])
    parsed = message_from_bytes(mail.data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["Subject"] == message.title and parsed["To"] == "duty@qbj.example.cn"
    assert parsed.get_content().replace("\r\n", "\n").strip() == message.text


def test_a_refused_address_fails_for_good_and_a_dead_server_may_be_retried(smtp: FakeSmtp) -> None:
    channel = EmailChannel("127.0.0.1", smtp.port, sender="chengyun@example.cn", timeout_s=5)
    refused = channel.send(Message("t", "x"), Recipient("email", "refuse@example.cn"))
    assert (refused.ok, refused.retryable) == (False, False) and smtp.mails == []
    dead = EmailChannel("127.0.0.1", free_port(), sender="chengyun@example.cn", timeout_s=2)
    result = dead.send(Message("t", "x"), Recipient("email", "duty@example.cn"))
    assert (result.ok, result.retryable) == (False, True)


def test_the_service_builds_every_channel_from_the_channel_file(tiny_district: Container, smtp: FakeSmtp) -> None:
    from chengyun.linkage.wiring import build_notifier

    book = load_channels(f"email: {{host: 127.0.0.1, port: {smtp.port}, sender: cy@example.cn}}")
    notifier = build_notifier(book, LiveHub())
    assert set(notifier.channels) == {"in_app", "wecom", "dingtalk", "sms", "email"}
    assert notifier.send(Message("标题", "正文"), Recipient("email", "a@example.cn")).ok
    assert deque(m.recipients for m in smtp.mails) == deque([["a@example.cn"]])
    assert set(build_notifier(load_channels("{}"), LiveHub()).channels) == {"in_app", "wecom", "dingtalk", "sms"}


# --- the command line --------------------------------------------------------------------------------------------


def test_the_cli_checks_files_precisely_and_runs_escalation_and_delivery_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHENGYUN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CHENGYUN_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("CHENGYUN_LANG", "zh-CN")
    runner = CliRunner()
    plans = tmp_path / "plans.yaml"
    plans.write_text("plans: {}\ndefault: {tiers: [{notify: [{to: center, confirm: 已受理}]}]}\n", encoding="utf-8")
    ok = runner.invoke(linkage_cli, ["check", str(plans)])
    assert ok.exit_code == 0 and "plans.yaml：有效（1 个预案）" in ok.output
    plans.write_text("plans: {}\ndefault: {tiers: [{notify: [{to: mayor, confirm: x}]}]}\n", encoding="utf-8")
    bad = runner.invoke(linkage_cli, ["check", str(plans)])
    assert bad.exit_code == 2 and "linkage.data.bad_recipient" in bad.output
    assert "default.tiers[0].notify[0].to" in bad.output
    channels = tmp_path / "channels.json"
    channels.write_text('{"areas": {"510113002000": {"liaisons": {"fire": [{"channel": "sms", "address": "119"}]}}}}')
    refused = runner.invoke(linkage_cli, ["check", "--channels", str(channels)])
    assert refused.exit_code == 2 and "areas.510113002000.liaisons.fire[0].address" in refused.output
    once = runner.invoke(linkage_cli, ["run-once"])
    assert once.exit_code == 0 and "escalated 0; attempted 0" in once.output, once.output
