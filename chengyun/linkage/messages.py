"""The words of a linkage notification, pure: one message per recipient, plain text and Markdown.

The acknowledge link depends on the stored notification's id, so it is added when the message is sent
(`with_link`), not stored with it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from chengyun.adapters.notify import Message
from chengyun.i18n import catalogue, translate
from chengyun.linkage.model import Plan, Recipient

MAX_STEPS_IN_MESSAGE = 8


@dataclass(frozen=True, slots=True)
class AlarmView:
    """What a message says about the alarm (from the run row or the alarm facts)."""

    alarm_type: str
    severity: str
    place_label: str
    started_at: datetime
    detail: str = ""
    area_name: str = ""


def alarm_type_label(alarm_type: str, locale: str) -> str:
    """燃气泄漏 for gas_leak; the code itself for a type without a translation."""
    code = f"linkage.alarm_type.{alarm_type}"
    return translate(code, locale) if code in catalogue(locale) else alarm_type


def severity_label(severity: str, locale: str) -> str:
    """紧急 for critical …; the code itself when unknown."""
    code = f"linkage.severity.{severity}"
    return translate(code, locale) if code in catalogue(locale) else severity


def render(view: AlarmView, plan: Plan, recipient: Recipient, tier: int, locale: str, tz: ZoneInfo) -> Message:
    """The message for one recipient of one tier: what happened, where, when, what to confirm, what to do."""
    kind = alarm_type_label(view.alarm_type, locale)
    severity = severity_label(view.severity, locale)
    place = view.place_label or view.area_name or "—"
    if view.area_name and view.place_label:
        place = translate("linkage.msg.place_in", locale, place=view.place_label, area=view.area_name)
    when = view.started_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    confirm = recipient.confirm.get(locale)
    steps = [s.text.get(locale) for s in plan.checklist[:MAX_STEPS_IN_MESSAGE]]
    title = translate("linkage.msg.title", locale, severity=severity, kind=kind, place=view.place_label or place)
    lines = [translate("linkage.msg.header", locale, severity=severity, kind=kind)]
    if tier > 0:
        lines.append(translate("linkage.msg.escalated", locale, minutes=plan.tiers[tier].after_min))
    facts = [translate("linkage.msg.place", locale, place=place), translate("linkage.msg.time", locale, time=when)]
    if view.detail:
        facts.append(translate("linkage.msg.detail", locale, detail=view.detail))
    ask = translate("linkage.msg.confirm", locale, confirm=confirm)
    numbered = [f"{i}. {text}" for i, text in enumerate(steps, 1)]
    text = "\n".join([*lines, *facts, ask, *([translate("linkage.msg.steps", locale)] if steps else []), *numbered])
    markdown = "\n".join([f"### {lines[0]}", *lines[1:], *(f"> {f}" for f in facts), f"**{ask}**",
                          *([translate("linkage.msg.steps", locale)] if steps else []), *numbered])
    return Message(title, text, markdown)


def with_link(message: Message, url: str | None, locale: str) -> Message:
    """The message with its acknowledge link appended (plain text and Markdown)."""
    if not url:
        return message
    label = translate("linkage.msg.ack", locale)
    line = translate("linkage.msg.ack_line", locale, label=label, url=url)
    return replace(message, text=f"{message.text}\n{line}", markdown=f"{message.markdown}\n\n[{label}]({url})",
                   link=url)
