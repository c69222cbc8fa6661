"""E-mail through an SMTP server (smtplib), plain UTF-8 text, STARTTLS and login when configured."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from chengyun.adapters.notify import DeliveryResult, Message, Recipient


class EmailChannel:
    """One SMTP connection per message (alarm mail is rare; no pool to go stale)."""

    def __init__(self, host: str, port: int = 25, *, sender: str, username: str = "", password: str = "",
                 starttls: bool = False, timeout_s: float = 10.0) -> None:
        self.host, self.port, self.sender = host, port, sender
        self._username, self._password = username, password
        self.starttls, self.timeout_s = starttls, timeout_s

    def compose(self, message: Message, to: str) -> EmailMessage:
        """The mail: subject = title, body = the plain text."""
        mail = EmailMessage()
        mail["Subject"] = message.title
        mail["From"] = self.sender
        mail["To"] = to
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        mail.set_content(message.text, charset="utf-8")
        return mail

    def send(self, message: Message, recipient: Recipient) -> DeliveryResult:
        """Deliver to the SMTP server; 4xx and connection problems may be retried, 5xx refusals not."""
        if not recipient.address:
            return DeliveryResult.failed("no e-mail address", retryable=False)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self._username:
                    smtp.login(self._username, self._password)
                smtp.send_message(self.compose(message, recipient.address))
        except smtplib.SMTPRecipientsRefused as exc:
            return DeliveryResult.failed(f"recipient refused: {exc.recipients}", retryable=False)
        except smtplib.SMTPResponseException as exc:
            return DeliveryResult.failed(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", status_code=exc.smtp_code,
                                         retryable=exc.smtp_code < 500)
        except (smtplib.SMTPException, OSError) as exc:
            return DeliveryResult.failed(f"{type(exc).__name__}: {exc}")
        return DeliveryResult(True, 250)
