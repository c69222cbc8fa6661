"""Where linkage notifications go, as data per area (usually per street); pure, no I/O beyond reading text.

The file (`CHENGYUN_LINKAGE_CHANNELS`, else the packaged `linkage/data/channels.yaml`) holds a `default` block and
`areas: {area code: block}`; a block has `liaisons` (name → endpoints: police, fire, medical, gas …), `groups`
(recipient kind → extra endpoints such as a community's WeCom group robot) and `units` (which units answer for an
area level). For a device, the blocks of every area on its path are laid over the default, deepest last.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from chengyun.errors import Invalid
from chengyun.linkage.reading import integer, mapping, only, parse_yaml, required, sequence, string

PACKAGED_CHANNELS = "data/channels.yaml"
MAX_ENDPOINTS = 10
_PHONE_LIKE = re.compile(r"^\+?[0-9][0-9-]{4,19}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_SENDER = re.compile(r"^[^@\s]{1,64}@[^@\s]+$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_AREA = re.compile(r"^[0-9]{6,18}$")
GROUP_KINDS = frozenset({"grid_worker", "community", "street", "district", "center"})
UNIT_LEVELS = frozenset({"community", "street", "district", "center"})


class ChannelKind(StrEnum):
    """How a notification travels (stored codes)."""

    IN_APP = "in_app"  # a row the user sees in the console / grid page, pushed live
    WECOM = "wecom"  # 企业微信群机器人
    DINGTALK = "dingtalk"  # 钉钉群机器人
    SMS = "sms"  # the SMS gateway (a logging sink unless one is configured)
    EMAIL = "email"
    NONE = "none"  # nobody could be resolved for a party: recorded as failed so the gap is visible


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One configured address: a robot webhook URL (with its signing secret), a phone number or an e-mail."""

    channel: ChannelKind
    address: str
    label: str = ""
    secret: str | None = None  # DingTalk 加签 secret (SEC…)
    mentions: tuple[str, ...] = ()  # mobiles to @ in a group robot message, or "@all"
    msgtype: str = "markdown"  # robots: markdown or text


@dataclass(frozen=True, slots=True)
class UnitSelector:
    """Which units answer for an area level: by unit kind, or by explicit unit codes."""

    kinds: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AreaChannels:
    """The channel data that applies to one place (after merging)."""

    liaisons: Mapping[str, tuple[Endpoint, ...]] = field(default_factory=dict)
    groups: Mapping[str, tuple[Endpoint, ...]] = field(default_factory=dict)
    units: Mapping[str, UnitSelector] = field(default_factory=dict)

    def over(self, top: AreaChannels) -> AreaChannels:
        """This block with `top`'s entries laid over it (a name present in `top` replaces ours)."""
        return AreaChannels({**self.liaisons, **top.liaisons}, {**self.groups, **top.groups},
                            {**self.units, **top.units})


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """The outgoing mail server."""

    host: str
    port: int = 25
    sender: str = "chengyun@localhost"
    username: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = False
    timeout_s: float = 10.0


@dataclass(frozen=True, slots=True)
class ChannelBook:
    """The whole channel file."""

    default: AreaChannels
    areas: Mapping[str, AreaChannels] = field(default_factory=dict)
    ack_base_url: str = ""
    sms_gateway: str = "log"
    smtp: SmtpSettings | None = None

    def for_path(self, area_path: str) -> AreaChannels:
        """The default with the blocks of every configured area on the path laid over it, deepest last."""
        merged = self.default
        for code in (c for c in area_path.split("/") if c):
            block = self.areas.get(code)
            if block is not None:
                merged = merged.over(block)
        return merged


def default_channels() -> ChannelBook:
    """The packaged channel data: every liaison on the SMS logging sink (nothing leaves the machine)."""
    raw = resources.files("chengyun.linkage").joinpath(PACKAGED_CHANNELS).read_text(encoding="utf-8")
    return load_channels(raw)


def load_channels(raw: str | bytes) -> ChannelBook:
    """Read a channel file (YAML or JSON), all or nothing, naming where any problem is."""
    data = mapping(parse_yaml(raw), "")
    only(data, ("version", "ack_base_url", "sms", "email", "default", "areas"), "")
    areas = mapping(data.get("areas") or {}, "areas")
    for code in areas:
        if not _AREA.match(code):
            raise Invalid("linkage.data.bad_code", where="areas", value=code[:40])
    return ChannelBook(
        default=_block(data.get("default") or {}, "default"),
        areas={code: _block(value, f"areas.{code}") for code, value in areas.items()},
        ack_base_url=_base_url(data.get("ack_base_url") or "", "ack_base_url"),
        sms_gateway=_sms(data.get("sms") or {}, "sms"),
        smtp=_smtp(data["email"], "email") if data.get("email") else None,
    )


def _block(value: Any, where: str) -> AreaChannels:
    data = mapping(value, where)
    only(data, ("liaisons", "groups", "units"), where)
    liaisons = _endpoint_map(data.get("liaisons") or {}, f"{where}.liaisons", None)
    groups = _endpoint_map(data.get("groups") or {}, f"{where}.groups", GROUP_KINDS)
    units_data = mapping(data.get("units") or {}, f"{where}.units")
    units = {level: _units(level, sel, f"{where}.units.{level}") for level, sel in units_data.items()}
    return AreaChannels(liaisons, groups, units)


def _endpoint_map(value: Any, where: str, allowed: frozenset[str] | None) -> dict[str, tuple[Endpoint, ...]]:
    data = mapping(value, where)
    out: dict[str, tuple[Endpoint, ...]] = {}
    for name, items in data.items():
        if (allowed is not None and name not in allowed) or not _NAME.match(name):
            raise Invalid("linkage.data.bad_code", where=where, value=name[:40])
        listed = sequence(items or [], f"{where}.{name}")
        if len(listed) > MAX_ENDPOINTS:
            raise Invalid("linkage.data.bad_count", where=f"{where}.{name}", low=0, high=MAX_ENDPOINTS)
        out[name] = tuple(_endpoint(item, f"{where}.{name}[{i}]") for i, item in enumerate(listed))
    return out


def _units(level: str, value: Any, where: str) -> UnitSelector:
    if level not in UNIT_LEVELS:
        raise Invalid("linkage.data.bad_code", where=where, value=level[:40])
    data = mapping(value, where)
    only(data, ("kinds", "codes"), where)
    kinds = tuple(string(k, f"{where}.kinds[{i}]", limit=30) for i, k in enumerate(sequence(data.get("kinds") or [],
                                                                                        f"{where}.kinds")))
    codes = tuple(string(c, f"{where}.codes[{i}]", limit=40) for i, c in enumerate(sequence(data.get("codes") or [],
                                                                                        f"{where}.codes")))
    return UnitSelector(kinds, codes)


def _endpoint(value: Any, where: str) -> Endpoint:
    data = mapping(value, where)
    only(data, ("channel", "address", "label", "secret", "mention", "msgtype"), where)
    kind_text = string(required(data, "channel", where), f"{where}.channel", limit=20)
    if kind_text not in {ChannelKind.WECOM, ChannelKind.DINGTALK, ChannelKind.SMS, ChannelKind.EMAIL}:
        raise Invalid("linkage.data.bad_choice", where=f"{where}.channel", value=kind_text,
                      allowed="wecom, dingtalk, sms, email")
    kind = ChannelKind(kind_text)
    address = check_address(kind, string(required(data, "address", where), f"{where}.address", limit=500),
                            f"{where}.address")
    msgtype = string(data.get("msgtype", "markdown"), f"{where}.msgtype", limit=10)
    if msgtype not in ("markdown", "text"):
        raise Invalid("linkage.data.bad_choice", where=f"{where}.msgtype", value=msgtype, allowed="markdown, text")
    mentions = tuple(_mention(m, f"{where}.mention[{i}]")
                     for i, m in enumerate(sequence(data.get("mention") or [], f"{where}.mention")))
    label = string(data["label"], f"{where}.label", limit=100) if data.get("label") is not None else ""
    secret = string(data["secret"], f"{where}.secret", limit=200) if data.get("secret") is not None else None
    return Endpoint(kind, address, label, secret, mentions, msgtype)


def check_address(kind: ChannelKind, address: str, where: str) -> str:
    """A robot URL (http/https with a host), a phone-like number or an e-mail address, or Invalid."""
    if kind in (ChannelKind.WECOM, ChannelKind.DINGTALK):
        ok = _is_url(address)
    elif kind is ChannelKind.SMS:
        ok = bool(_PHONE_LIKE.match(address))
    else:
        ok = kind is ChannelKind.EMAIL and bool(_EMAIL.match(address))
    if not ok:
        raise Invalid("linkage.data.bad_address", where=where, channel=kind.value)
    return address


def _is_url(text: str) -> bool:
    try:
        parts = urlsplit(text)
        _ = parts.port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and parts.username is None \
        and not any(ch.isspace() for ch in text)


def _mention(value: Any, where: str) -> str:
    text = string(value, where, limit=20)
    if text != "@all" and not _PHONE_LIKE.match(text):
        raise Invalid("linkage.data.bad_address", where=where, channel="mention")
    return text


def _base_url(value: Any, where: str) -> str:
    text = str(value).strip().rstrip("/")
    if text and not _is_url(text):
        raise Invalid("linkage.data.bad_address", where=where, channel="url")
    return text


def _sms(value: Any, where: str) -> str:
    data = mapping(value, where)
    only(data, ("gateway",), where)
    gateway = string(data.get("gateway", "log"), f"{where}.gateway", limit=20)
    if gateway != "log":
        raise Invalid("linkage.data.bad_choice", where=f"{where}.gateway", value=gateway, allowed="log")
    return gateway


def _smtp(value: Any, where: str) -> SmtpSettings:
    data = mapping(value, where)
    only(data, ("host", "port", "sender", "username", "password", "starttls", "timeout_s"), where)
    host = string(required(data, "host", where), f"{where}.host", limit=200)
    sender = string(data.get("sender", "chengyun@localhost"), f"{where}.sender", limit=200)
    if not _SENDER.match(sender):
        raise Invalid("linkage.data.bad_address", where=f"{where}.sender", channel="email")
    timeout = integer(data.get("timeout_s", 10), f"{where}.timeout_s", low=1, high=120)
    return SmtpSettings(
        host=host, port=integer(data.get("port", 25), f"{where}.port", low=1, high=65535), sender=sender,
        username=str(data.get("username") or ""), password=str(data.get("password") or ""),
        starttls=bool(data.get("starttls", False)), timeout_s=float(timeout))
