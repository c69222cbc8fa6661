"""The one `report` shape every channel produces, and the rules that clean and check it; pure, no I/O.

A report is what someone sent: text, a place (a point in a declared coordinate system, or an address), maybe a
category, photos, the reporter's contact and the channel's own references. Cleaning is the same for every channel:
text must be valid Unicode without control characters, HTML is stripped to its text, sizes are bounded.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from html.parser import HTMLParser
from typing import Any

from chengyun.cases.model import Source
from chengyun.errors import Invalid
from chengyun.shared.geo import CoordSystem
from chengyun.shared.handling import Urgency

MAX_DESCRIPTION = 4000
MAX_TITLE = 200
MAX_ADDRESS = 300
MAX_NAME = 50
MAX_KEY = 100
MAX_ATTACHMENTS = 9
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_VALUE = 1000
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,63}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""C0/C1 control characters (tab and newlines aside), line separators, and the bidirectional overrides that make text
read differently from how it is stored; zero-width joiners stay (emoji sequences need them)."""


class Channel(StrEnum):
    """How a report arrived (several channels share a source: a resident page and Open311 are both citizens)."""

    OPEN311 = "open311"  # civic apps speaking Open311 GeoReport v2
    RESIDENT = "resident"  # the resident page 群众上报
    GRID = "grid"  # a grid worker's phone 基层上报
    UPSTREAM = "upstream"  # an upstream or district system's webhook (12345, 省市/区级系统)
    BATCH = "batch"  # a file of reports imported from an upstream system
    AI = "ai"  # a video-analytics alert AI感知
    IOT = "iot"  # an IoT alarm from the alarm engine 物联感知
    CONSOLE = "console"  # an operator typing in a phone call


CHANNEL_SOURCES: dict[Channel, frozenset[Source]] = {
    Channel.OPEN311: frozenset({Source.CITIZEN}),
    Channel.RESIDENT: frozenset({Source.CITIZEN}),
    Channel.GRID: frozenset({Source.GRID}),
    Channel.UPSTREAM: frozenset({Source.UPSTREAM, Source.DISTRICT, Source.CITIZEN}),
    Channel.BATCH: frozenset({Source.UPSTREAM, Source.DISTRICT, Source.CITIZEN}),
    Channel.AI: frozenset({Source.SENSOR}),
    Channel.IOT: frozenset({Source.SENSOR}),
    Channel.CONSOLE: frozenset(Source),
}
"""Which sources a channel may declare (an upstream system forwards 12345 citizen calls as well as its own)."""


class ReportState(StrEnum):
    """How far a stored report got: it is never deleted, whatever happens to it."""

    RECEIVED = "received"  # stored, not yet a case (a failed attempt is retried)
    OPENED = "opened"  # a case was opened for it (or it joined the case its external id names)
    NEEDS_REVIEW = "needs_review"  # an operator must place or classify it
    SUPPRESSED = "suppressed"  # a repeat within a camera's cool-down: kept, counted, linked, not a new case
    JOINED = "joined"  # the reporter chose to follow an open case about the same problem: linked, no new case


@dataclass(frozen=True, slots=True)
class Report:
    """One incoming message about a problem, as every channel hands it to intake."""

    channel: Channel
    source: Source
    description: str
    title: str = ""
    category_code: str | None = None
    lon: float | None = None
    lat: float | None = None
    crs: CoordSystem = CoordSystem.WGS84
    address: str = ""
    urgency: Urgency | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    reporter_email: str | None = None
    attachments: tuple[str, ...] = ()
    media_urls: tuple[str, ...] = ()
    attributes: dict[str, Any] = field(default_factory=dict)
    external_system: str | None = None
    external_id: str | None = None
    idempotency_key: str | None = None
    dedup_key: str | None = None  # e.g. camera and alert type: repeats within `cooldown_s` are suppressed
    cooldown_s: int = 0
    occurred_at: datetime | None = None
    handle_self: bool = False  # a grid worker handles it on the spot (自办自结)
    follow_case: str | None = None  # the number of an open case about the same problem, to join instead

    @property
    def has_point(self) -> bool:
        """True when the report carries coordinates (else it must carry an address)."""
        return self.lon is not None and self.lat is not None


class _TextOnly(HTMLParser):
    """Collects the text of an HTML fragment, dropping tags, scripts and styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("br", "p", "div", "li"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def strip_html(text: str) -> str:
    """The text of `text` with any HTML markup removed (entities decoded); plain text passes unchanged."""
    if "<" not in text and "&" not in text:
        return text
    parser = _TextOnly()
    parser.feed(text)
    parser.close()
    return "".join(parser.parts)


def clean_text(value: Any, name: str, limit: int, *, multiline: bool = False, required: bool = False) -> str:
    """Unicode text without markup or control characters, whitespace tidied, at most `limit` characters."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise Invalid("intake.not_text", field=name)
    if "\ufffd" in value or any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise Invalid("intake.bad_encoding", field=name)
    text = strip_html(unicodedata.normalize("NFC", value))
    if _CONTROL.search(text.replace("\r\n", "\n").replace("\t", " ")):
        raise Invalid("intake.control_characters", field=name)
    lines = [" ".join(line.split()) for line in text.replace("\r\n", "\n").split("\n")]
    text = "\n".join(line for line in lines if line) if multiline else " ".join(line for line in lines if line)
    if required and not text:
        raise Invalid("intake.required", field=name)
    if len(text) > limit:
        raise Invalid("intake.too_long", field=name, limit=limit, length=len(text))
    return text


def clean_key(value: str | None, name: str) -> str | None:
    """An identifier from another system or a client (letters, digits and _.:/-), or None when absent."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _KEY.fullmatch(value):
        raise Invalid("intake.bad_key", field=name, limit=MAX_KEY)
    return value


def clean_email(value: str | None) -> str | None:
    """A plausible e-mail address, or None."""
    if not value:
        return None
    value = value.strip()
    if len(value) > 254 or not _EMAIL.fullmatch(value):
        raise Invalid("intake.bad_email")
    return value


def check_point(lon: float | None, lat: float | None) -> None:
    """Both coordinates or neither; finite and within the ranges of longitude and latitude."""
    if (lon is None) != (lat is None):
        raise Invalid("intake.half_point")
    if lon is None or lat is None:
        return
    if not (math.isfinite(lon) and math.isfinite(lat)) or not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise Invalid("intake.bad_point", lon=lon, lat=lat)


def clean(report: Report) -> Report:
    """The report with its text cleaned and every field checked; Invalid names the first problem."""
    if report.source not in CHANNEL_SOURCES[report.channel]:
        raise Invalid("intake.source_not_allowed", source=report.source.value, channel=report.channel.value)
    check_point(report.lon, report.lat)
    address = clean_text(report.address, "address", MAX_ADDRESS)
    if not report.has_point and not address:
        raise Invalid("intake.no_location")
    if len(report.attachments) + len(report.media_urls) > MAX_ATTACHMENTS:
        raise Invalid("intake.too_many_attachments", limit=MAX_ATTACHMENTS)
    if len(report.attributes) > MAX_ATTRIBUTES:
        raise Invalid("intake.too_many_attributes", limit=MAX_ATTRIBUTES)
    return replace(
        report,
        description=clean_text(report.description, "description", MAX_DESCRIPTION, multiline=True, required=True),
        title=clean_text(report.title, "title", MAX_TITLE),
        address=address,
        reporter_name=clean_text(report.reporter_name, "reporter_name", MAX_NAME) or None,
        reporter_email=clean_email(report.reporter_email),
        category_code=clean_key(report.category_code, "category_code"),
        external_system=clean_key(report.external_system, "external_system"),
        external_id=clean_key(report.external_id, "external_id"),
        idempotency_key=clean_key(report.idempotency_key, "idempotency_key"),
        dedup_key=clean_key(report.dedup_key, "dedup_key"),
        attributes={clean_text(k, "attribute", MAX_KEY, required=True): _attribute(v)
                    for k, v in report.attributes.items()},
    )


def _attribute(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [clean_text(v, "attribute", MAX_ATTRIBUTE_VALUE) for v in value]
    if isinstance(value, bool | int | float) and not (isinstance(value, float) and not math.isfinite(value)):
        return value
    return clean_text(value, "attribute", MAX_ATTRIBUTE_VALUE, multiline=True)


def backoff_s(attempts: int) -> float:
    """Seconds before retrying a report whose processing failed `attempts` times: 30 s doubling, at most 1 h."""
    return float(min(30 * 2 ** max(attempts - 1, 0), 3600))
