"""Notification channels without I/O: robot message bodies, the DingTalk signature, replies, routing, the SMS sink."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from urllib.parse import parse_qs, urlsplit

import pytest

from chengyun.adapters.notify import DeliveryResult, InAppChannel, Message, Notifier, Recipient, cut_utf8
from chengyun.adapters.notify_hub import LiveHub
from chengyun.adapters.notify_robots import (
    DINGTALK_RETRYABLE,
    WECOM_RETRYABLE,
    dingtalk_body,
    dingtalk_sign,
    dingtalk_url,
    robot_result,
    wecom_body,
)
from chengyun.adapters.notify_sms import LoggingSmsSink, SmsChannel

MESSAGE = Message("【紧急】燃气泄漏 · 怡湖苑3栋", "【城运联动】燃气泄漏（紧急）\n请确认：已关阀",
                  "### 燃气泄漏\n**请确认：已关阀**")

# Computed independently with OpenSSL (not with the code under test):
#   printf '1700000000000\nSECtestsecret0123456789' \
#     | openssl dgst -sha256 -hmac 'SECtestsecret0123456789' -binary | base64
VECTOR_SECRET, VECTOR_TS = "SECtestsecret0123456789", 1700000000000
VECTOR_SIGN = "zrLWzK97t62y5CpqN8Ok9UIdPvX+jL1PNoW8nKT5a9k="


def test_the_dingtalk_signature_matches_an_independent_vector_and_is_url_encoded() -> None:
    assert dingtalk_sign(VECTOR_SECRET, VECTOR_TS) == VECTOR_SIGN
    url = dingtalk_url("https://oapi.dingtalk.com/robot/send?access_token=T", VECTOR_SECRET, VECTOR_TS)
    assert url == ("https://oapi.dingtalk.com/robot/send?access_token=T&timestamp=1700000000000"
                   "&sign=zrLWzK97t62y5CpqN8Ok9UIdPvX%2BjL1PNoW8nKT5a9k%3D")
    query = parse_qs(urlsplit(url).query)
    assert query["sign"] == [VECTOR_SIGN] and query["access_token"] == ["T"]
    assert dingtalk_url("https://oapi.dingtalk.com/robot/send?access_token=T", None, VECTOR_TS).endswith("=T")
    assert "?timestamp=" in dingtalk_url("http://127.0.0.1:9/robot", "SEC", 1)


def test_wecom_sends_markdown_or_text_with_mentioned_mobiles() -> None:
    url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K"
    assert wecom_body(MESSAGE, Recipient("wecom", url)) == {
        "msgtype": "markdown", "markdown": {"content": "### 燃气泄漏\n**请确认：已关阀**"}}
    mentioned = wecom_body(MESSAGE, Recipient("wecom", url, mentions=("13800000001", "@all")))
    assert mentioned == {"msgtype": "text", "text": {"content": MESSAGE.text,
                                                     "mentioned_mobile_list": ["13800000001", "@all"]}}
    assert wecom_body(MESSAGE, Recipient("wecom", url, msgtype="text"))["text"] == {"content": MESSAGE.text}
    huge = Message("t", "长" * 3000, "长" * 3000)
    assert len(wecom_body(huge, Recipient("wecom", url))["markdown"]["content"].encode()) <= 4096
    assert len(wecom_body(huge, Recipient("wecom", url, msgtype="text"))["text"]["content"].encode()) <= 2048


def test_dingtalk_sends_markdown_or_text_with_at_mobiles_written_into_the_text() -> None:
    body = dingtalk_body(MESSAGE, Recipient("dingtalk", "u", mentions=("13800000001",)))
    assert body == {"msgtype": "markdown",
                    "markdown": {"title": MESSAGE.title, "text": MESSAGE.markdown + " @13800000001"},
                    "at": {"atMobiles": ["13800000001"], "isAtAll": False}}
    text = dingtalk_body(MESSAGE, Recipient("dingtalk", "u", mentions=("@all",), msgtype="text"))
    assert text == {"msgtype": "text", "text": {"content": MESSAGE.text},
                    "at": {"atMobiles": [], "isAtAll": True}}


@pytest.mark.parametrize(("status", "body", "ok", "retryable"), [
    (200, b'{"errcode":0,"errmsg":"ok"}', True, False),
    (200, b'{"errcode":93000,"errmsg":"invalid webhook url"}', False, False),
    (200, b'{"errcode":45009,"errmsg":"api freq out of limit"}', False, True),
    (200, b'{"errcode":-1,"errmsg":"system busy"}', False, True),
    (200, b"<html>gateway</html>", False, True),
    (502, b"", False, True),
    (429, b"", False, True),
    (404, b"", False, False),
])
def test_a_robot_reply_is_read_by_its_errcode(status: int, body: bytes, ok: bool, retryable: bool) -> None:
    result = robot_result(status, body, WECOM_RETRYABLE)
    assert (result.ok, result.retryable, result.status_code) == (ok, retryable, status)
    if not ok:
        assert result.error
    assert robot_result(200, b'{"errcode":130101,"errmsg":"send too fast"}', DINGTALK_RETRYABLE).retryable


def test_cutting_to_a_byte_limit_never_splits_a_character() -> None:
    assert cut_utf8("abc", 10) == "abc"
    cut = cut_utf8("燃气泄漏" * 10, 20)
    assert len(cut.encode()) <= 20 and cut.endswith("…") and cut.startswith("燃气泄漏")


# --- routing, the SMS sink, in-app --------------------------------------------------------------------------


class Crashing:
    def send(self, message: Message, recipient: Recipient) -> DeliveryResult:
        raise RuntimeError("boom")


def test_the_notifier_routes_by_channel_and_turns_a_crash_into_a_retryable_failure(
        caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier({"sms": SmsChannel(LoggingSmsSink()), "wecom": Crashing()})
    assert notifier.send(MESSAGE, Recipient("sms", "13812345678")) == DeliveryResult(True, sink=True)
    with caplog.at_level(logging.ERROR, logger="chengyun.notify"):
        crashed = notifier.send(MESSAGE, Recipient("wecom", "https://x"))
    assert (crashed.ok, crashed.retryable, crashed.error) == (False, True, "RuntimeError: boom")
    unknown = notifier.send(MESSAGE, Recipient("pigeon", "x"))
    assert (unknown.ok, unknown.retryable) == (False, False)


def test_the_sms_sink_logs_a_masked_number_and_never_claims_a_real_send(caplog: pytest.LogCaptureFixture) -> None:
    sink = LoggingSmsSink()
    with caplog.at_level(logging.INFO, logger="chengyun.sms"):
        result = SmsChannel(sink).send(MESSAGE, Recipient("sms", "13812345678"))
    assert result.ok and result.sink and sink.count == 1
    assert "138****5678" in caplog.text and "13812345678" not in caplog.text and "not sent" in caplog.text
    assert not SmsChannel(sink).send(MESSAGE, Recipient("sms", "")).ok


def test_in_app_delivery_wakes_only_that_users_open_streams() -> None:
    hub = LiveHub()

    async def scenario() -> tuple[bool, bool, bool]:
        with hub.subscribe(5) as mine, hub.subscribe(6) as other:
            assert hub.listeners(5) == 1 and hub.listeners() == 2
            result = InAppChannel(hub).send(MESSAGE, Recipient("in_app", user_id=5))
            assert result.ok
            return await mine.wait(1.0), await other.wait(0.05), await mine.wait(0.05)

    # in a thread of its own: a browser test's driver may keep an event loop running in the main thread
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, scenario()).result() == (True, False, False)
    assert hub.listeners() == 0
    assert not InAppChannel(hub).send(MESSAGE, Recipient("in_app")).ok
    assert hub.publish(5) == 0
