"""Building the linkage service from settings: plan and channel files, the channels, the directory, the hub.

The composition root calls `build_linkage(container, contacts=devices_contacts(container.devices.contacts_of))`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chengyun.adapters.notify import Channel, InAppChannel, Notifier
from chengyun.adapters.notify_email import EmailChannel
from chengyun.adapters.notify_hub import LiveHub
from chengyun.adapters.notify_robots import DingTalkRobot, WeComRobot
from chengyun.adapters.notify_sms import LoggingSmsSink, SmsChannel, SmsGateway
from chengyun.errors import NotFound
from chengyun.linkage.channels import ChannelBook, ChannelKind, default_channels, load_channels
from chengyun.linkage.directory import SqlDirectory
from chengyun.linkage.model import Contact, PlanBook, default_plans, load_plans
from chengyun.linkage.policy import token_key
from chengyun.linkage.resolve import ContactsOf
from chengyun.linkage.service import LinkageService, no_contacts

if TYPE_CHECKING:
    from chengyun.bootstrap import Container
    from chengyun.shared.clock import Clock


def plans_from(path: Path | None) -> PlanBook:
    """The street's plan file, or the packaged plans."""
    return load_plans(path.read_bytes()) if path else default_plans()


def channels_from(path: Path | None) -> ChannelBook:
    """The street's channel file, or the packaged defaults (the SMS logging sink for every liaison)."""
    return load_channels(path.read_bytes()) if path else default_channels()


def build_notifier(channels: ChannelBook, hub: LiveHub, *, sms: SmsGateway | None = None,
                   timeout_s: float = 5.0) -> Notifier:
    """Every channel the file can name: in-app, WeCom, DingTalk, SMS (logging sink unless given), e-mail."""
    table: dict[str, Channel] = {
        ChannelKind.IN_APP: InAppChannel(hub),
        ChannelKind.WECOM: WeComRobot(timeout_s=timeout_s),
        ChannelKind.DINGTALK: DingTalkRobot(timeout_s=timeout_s),
        ChannelKind.SMS: SmsChannel(sms or LoggingSmsSink()),
    }
    if channels.smtp is not None:
        smtp = channels.smtp
        table[ChannelKind.EMAIL] = EmailChannel(smtp.host, smtp.port, sender=smtp.sender, username=smtp.username,
                                                password=smtp.password, starttls=smtp.starttls,
                                                timeout_s=smtp.timeout_s)
    return Notifier(table)


def devices_contacts(contacts_of: Callable[[str], Sequence[Any]]) -> ContactsOf:
    """Adapt the devices domain's `contacts_of(device_id)` (name, relation, phone) to linkage contacts; an
    unknown device has none."""

    def lookup(device_id: str) -> list[Contact]:
        try:
            found = contacts_of(device_id)
        except NotFound:
            return []
        return [Contact(str(c.name), getattr(c, "phone", None) or None, getattr(c, "email", None) or None,
                        str(getattr(c, "relation", "") or "")) for c in found]

    return lookup


def build_linkage(container: Container, *, contacts: ContactsOf | None = None, hub: LiveHub | None = None,
                  notifier: Notifier | None = None, clock: Clock | None = None) -> LinkageService:
    """The linkage service of a process: files from settings, SQL directory, one live hub."""
    settings = container.settings
    channels = channels_from(settings.linkage_channels)
    hub = hub or LiveHub()
    return LinkageService(
        sessions=container.sessions, clock=clock or container.clock, vault=container.vault,
        plans=plans_from(settings.linkage_plans), channels=channels,
        directory=SqlDirectory(container.engine, decrypt=container.vault.decrypt),
        notifier=notifier or build_notifier(channels, hub), hub=hub, ack_key=token_key(settings.secret_key),
        contacts=contacts or no_contacts, locale=settings.default_locale, timezone=settings.timezone)
