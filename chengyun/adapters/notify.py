"""Notification channels behind one interface: `send(message, recipient) -> DeliveryResult`.

Each channel (in-app, WeCom and DingTalk group robots, the SMS gateway, e-mail) answers with the same result shape,
so the caller records per-recipient status and retries without knowing the channel. Channels never raise for a
failed delivery; `Notifier` turns an unexpected exception into a retryable failure as well.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from chengyun.adapters.notify_hub import LiveHub

log = logging.getLogger("chengyun.notify")
MAX_ERROR = 200


@dataclass(frozen=True, slots=True)
class Message:
    """What to say: a title, the plain text (SMS, e-mail, robot text) and a Markdown form (robot markdown)."""

    title: str
    text: str
    markdown: str = ""
    link: str | None = None  # the acknowledge link, already inside the text


@dataclass(frozen=True, slots=True)
class Recipient:
    """Where to say it: the channel's address (URL, phone, e-mail) or the user for in-app."""

    channel: str
    address: str = ""
    label: str = ""
    secret: str | None = None  # DingTalk 加签 secret
    mentions: tuple[str, ...] = ()  # robots: mobiles to @, or "@all"
    msgtype: str = "markdown"  # robots: markdown or text
    user_id: int | None = None  # in-app


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """One attempt's outcome; `retryable` says whether trying again later may succeed; `sink` that nothing left
    the machine (the SMS logging sink: recorded, not sent)."""

    ok: bool
    status_code: int | None = None
    error: str | None = None
    retryable: bool = False
    sink: bool = False

    @classmethod
    def failed(cls, error: str, *, status_code: int | None = None, retryable: bool = True) -> DeliveryResult:
        """A failure with a one-line error of at most 200 characters."""
        return cls(False, status_code, short(error), retryable)


class Channel(Protocol):
    """Anything that can deliver a message to a recipient of its kind."""

    def send(self, message: Message, recipient: Recipient) -> DeliveryResult:
        """Deliver once; never raises for a failed delivery."""
        ...


class InAppChannel:
    """In-app: the notification row is what the user sees; delivering wakes the user's live listeners."""

    def __init__(self, hub: LiveHub) -> None:
        self.hub = hub

    def send(self, message: Message, recipient: Recipient) -> DeliveryResult:
        """Push a wake-up to the user's open streams (the row itself is already stored)."""
        if recipient.user_id is None:
            return DeliveryResult.failed("in-app recipient without a user", retryable=False)
        self.hub.publish(recipient.user_id)
        return DeliveryResult(True)


class Notifier:
    """Routes each message to the channel of its recipient."""

    def __init__(self, channels: Mapping[str, Channel]) -> None:
        self.channels = dict(channels)

    def send(self, message: Message, recipient: Recipient) -> DeliveryResult:
        """Deliver through the recipient's channel; an unknown channel fails for good, a crash may be retried."""
        channel = self.channels.get(recipient.channel)
        if channel is None:
            return DeliveryResult.failed(f"no channel {recipient.channel!r} configured", retryable=False)
        try:
            return channel.send(message, recipient)
        except Exception as exc:  # a channel bug must not lose the notification: record it and try again later
            log.exception("channel %s crashed", recipient.channel)
            return DeliveryResult.failed(f"{type(exc).__name__}: {exc}")


def short(text: str, limit: int = MAX_ERROR) -> str:
    """One line of at most `limit` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def cut_utf8(text: str, limit: int) -> str:
    """The text cut to at most `limit` UTF-8 bytes without splitting a character (robots limit bytes)."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    return raw[: max(limit - 3, 0)].decode("utf-8", errors="ignore") + "…"
