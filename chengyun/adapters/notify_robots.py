"""WeCom (企业微信) and DingTalk (钉钉) group robots: their real JSON message formats, signing and replies.

WeCom: POST `{"msgtype": "markdown", "markdown": {"content": …}}` (or `text` with `mentioned_mobile_list`) to
`https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY`. DingTalk: POST `{"msgtype": "markdown"|"text", …,
"at": {"atMobiles": […], "isAtAll": …}}` to `https://oapi.dingtalk.com/robot/send?access_token=…`, with
`&timestamp=<ms>&sign=<urlencoded base64 HMAC-SHA256(secret, "<ms>\\n<secret>")>` when the robot signs (加签).
Both answer HTTP 200 with `{"errcode": 0, "errmsg": "ok"}`; any other errcode is a failure.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx2 as httpx

import chengyun
from chengyun.adapters.notify import DeliveryResult, Message, Recipient, cut_utf8

TIMEOUT_S = 5.0
USER_AGENT = f"chengyun-linkage/{chengyun.__version__}"
WECOM_TEXT_BYTES, WECOM_MARKDOWN_BYTES, DINGTALK_BYTES = 2048, 4096, 18000
WECOM_RETRYABLE = frozenset({-1, 45009, 45033})  # system busy, frequency limits
DINGTALK_RETRYABLE = frozenset({-1, 130101, 410100})  # system busy, sending too fast, flow control


def wecom_body(message: Message, recipient: Recipient) -> dict[str, Any]:
    """The WeCom robot message: markdown, or text when it must @ someone (markdown cannot @ by mobile)."""
    if recipient.mentions or recipient.msgtype == "text":
        text: dict[str, Any] = {"content": cut_utf8(message.text, WECOM_TEXT_BYTES)}
        if recipient.mentions:
            text["mentioned_mobile_list"] = list(recipient.mentions)
        return {"msgtype": "text", "text": text}
    return {"msgtype": "markdown",
            "markdown": {"content": cut_utf8(message.markdown or message.text, WECOM_MARKDOWN_BYTES)}}


def dingtalk_body(message: Message, recipient: Recipient) -> dict[str, Any]:
    """The DingTalk robot message; mentioned mobiles are also written into the text, as DingTalk requires."""
    mobiles = [m for m in recipient.mentions if m != "@all"]
    at = {"atMobiles": mobiles, "isAtAll": "@all" in recipient.mentions}
    tail = (" " + " ".join(f"@{m}" for m in mobiles)) if mobiles else ""
    if recipient.msgtype == "text":
        return {"msgtype": "text", "text": {"content": cut_utf8(message.text, DINGTALK_BYTES) + tail}, "at": at}
    text = cut_utf8(message.markdown or message.text, DINGTALK_BYTES)
    return {"msgtype": "markdown", "markdown": {"title": message.title[:60], "text": text + tail}, "at": at}


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """base64(HMAC-SHA256(key=secret, f"{timestamp}\\n{secret}")), before URL encoding."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def dingtalk_url(url: str, secret: str | None, timestamp_ms: int) -> str:
    """The robot URL with `timestamp` and the URL-encoded `sign` appended when the robot has a secret."""
    if not secret:
        return url
    query = urlencode({"timestamp": str(timestamp_ms), "sign": dingtalk_sign(secret, timestamp_ms)})
    return f"{url}{'&' if '?' in url else '?'}{query}"


def robot_result(status: int, raw: bytes, retryable_codes: frozenset[int]) -> DeliveryResult:
    """A robot's answer as a result: HTTP 2xx and errcode 0 is delivered; 5xx, 429 and busy codes may be retried."""
    if not 200 <= status < 300:
        return DeliveryResult.failed(f"HTTP {status}", status_code=status, retryable=status >= 500 or status == 429)
    try:
        reply = json.loads(raw)
    except ValueError:
        return DeliveryResult.failed("the reply is not JSON", status_code=status)
    errcode = reply.get("errcode") if isinstance(reply, dict) else None
    if errcode == 0:
        return DeliveryResult(True, status)
    message = str(reply.get("errmsg", "")) if isinstance(reply, dict) else ""
    return DeliveryResult.failed(f"errcode {errcode}: {message}", status_code=status,
                                 retryable=isinstance(errcode, int) and errcode in retryable_codes)


class _Robot:
    """The HTTP part both robots share: one client, JSON POST, no redirects, a timeout."""

    retryable: frozenset[int] = frozenset()

    def __init__(self, *, timeout_s: float = TIMEOUT_S, client: httpx.Client | None = None) -> None:
        self._client = client or httpx.Client(timeout=timeout_s, follow_redirects=False,
                                              headers={"User-Agent": USER_AGENT})

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()

    def _post(self, url: str, body: dict[str, Any]) -> DeliveryResult:
        raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            response = self._client.post(url, content=raw, headers={"Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            return DeliveryResult.failed(f"{type(exc).__name__}: {exc}")
        return robot_result(response.status_code, response.content, self.retryable)


class WeComRobot(_Robot):
    """企业微信群机器人."""

    retryable = WECOM_RETRYABLE

    def send(self, message: Message, recipient: Recipient) -> DeliveryResult:
        """POST the message to the robot's webhook URL."""
        return self._post(recipient.address, wecom_body(message, recipient))


class DingTalkRobot(_Robot):
    """钉钉群机器人, signing each request when the endpoint has a secret."""

    retryable = DINGTALK_RETRYABLE

    def __init__(self, *, timeout_s: float = TIMEOUT_S, client: httpx.Client | None = None,
                 now_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        super().__init__(timeout_s=timeout_s, client=client)
        self._now_ms = now_ms

    def send(self, message: Message, recipient: Recipient) -> DeliveryResult:
        """POST the message to the (signed) robot URL."""
        url = dingtalk_url(recipient.address, recipient.secret, self._now_ms())
        return self._post(url, dingtalk_body(message, recipient))
