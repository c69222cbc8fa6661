"""The SMS gateway interface and its default, a logging sink that records and never pretends to send."""

from __future__ import annotations

import logging
from typing import Protocol

from chengyun.adapters.notify import DeliveryResult, Message, Recipient
from chengyun.shared.privacy import mask_phone

log = logging.getLogger("chengyun.sms")
MAX_SMS_CHARS = 500  # long SMS are split by gateways; alarm texts are kept well below this


class SmsGateway(Protocol):
    """An SMS provider: one text to one number."""

    def send_sms(self, phone: str, text: str) -> DeliveryResult:
        """Hand the text to the provider; never raises for a refused message."""
        ...


class LoggingSmsSink:
    """No provider configured: the text goes to the `chengyun.sms` log (number masked) and the caller's delivery
    log; the result says `sink=True`, so the notification is marked `logged`, never `sent`."""

    def __init__(self) -> None:
        self.count = 0

    def send_sms(self, phone: str, text: str) -> DeliveryResult:
        """Log the message; nothing leaves the machine."""
        self.count += 1
        log.info("SMS not sent (logging sink) to %s: %s", mask_phone(phone), text[:MAX_SMS_CHARS])
        return DeliveryResult(True, sink=True)


class SmsChannel:
    """The SMS channel over whatever gateway is configured."""

    def __init__(self, gateway: SmsGateway) -> None:
        self.gateway = gateway

    def send(self, message: Message, recipient: Recipient) -> DeliveryResult:
        """Send the plain text to the recipient's number."""
        if not recipient.address:
            return DeliveryResult.failed("no phone number", retryable=False)
        return self.gateway.send_sms(recipient.address, message.text[:MAX_SMS_CHARS])
