"""Open311 GeoReport v2 as data: services from the catalogue, attributes, request views, and both formats.

Pure apart from reading the packaged attribute file: the web layer (`open311_api.py`) turns these into responses.
Element names, nesting, W3C datetimes with a zone and the errors shape follow the specification
(wiki.open311.org/GeoReport_v2) and mySociety's status-update extension (servicerequestupdates).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import cache
from importlib import resources
from typing import Any
from xml.etree import ElementTree as ET

from chengyun.cases.model import CaseState
from chengyun.errors import Invalid

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORMATS = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}
DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
CLOSED_STATES = frozenset({CaseState.CLOSED, CaseState.FOLLOWED_UP, CaseState.REJECTED, CaseState.MERGED})
MAX_WINDOW_DAYS = 90
MAX_RESULTS = 1000
LIST_TAGS = {"services": "service", "service_requests": "request", "errors": "error", "attributes": "attribute",
             "values": "value", "endpoints": "endpoint", "formats": "format",
             "service_request_updates": "request_update"}


@dataclass(frozen=True, slots=True)
class AttributeDef:
    """One extra form field of a service (Open311 'attribute'), applying to category codes by prefix."""

    code: str
    applies_to: tuple[str, ...]
    datatype: str
    required: bool
    order: int
    description: str
    description_en: str
    datatype_description: str
    values: tuple[tuple[str, str], ...] = ()

    def applies(self, lineage: Sequence[str]) -> bool:
        """True for a category whose own code or an ancestor's is listed (or when listed for all)."""
        return "*" in self.applies_to or any(code in self.applies_to for code in lineage)

    def to_spec(self, english: bool) -> dict[str, Any]:
        """The attribute as the service definition lists it."""
        body: dict[str, Any] = {
            "variable": True, "code": self.code, "datatype": self.datatype, "required": self.required,
            "datatype_description": self.datatype_description, "order": self.order,
            "description": self.description_en if english and self.description_en else self.description,
        }
        if self.values:
            body["values"] = [{"key": key, "name": name} for key, name in self.values]
        return body


@cache
def attribute_defs() -> tuple[AttributeDef, ...]:
    """The packaged attribute definitions (`intake/data/open311_attributes.json`)."""
    raw = json.loads(resources.files("chengyun.intake").joinpath("data/open311_attributes.json").read_text("utf-8"))
    return tuple(AttributeDef(
        code=a["code"], applies_to=tuple(a["applies_to"]), datatype=a["datatype"], required=a["required"],
        order=a["order"], description=a["description"], description_en=a.get("description_en", ""),
        datatype_description=a.get("datatype_description", ""),
        values=tuple((v["key"], v["name"]) for v in a.get("values", ())),
    ) for a in raw["attributes"])


def attributes_for(lineage: Sequence[str], defs: Iterable[AttributeDef] | None = None) -> list[AttributeDef]:
    """The attributes of a service whose category lineage (own code first, then ancestors) is given."""
    return sorted((d for d in (defs if defs is not None else attribute_defs()) if d.applies(lineage)),
                  key=lambda d: (d.order, d.code))


def check_attributes(defs: Sequence[AttributeDef], sent: Mapping[str, list[str]]) -> dict[str, Any]:
    """Values of the sent attributes, typed; unknown codes, missing required ones and bad values → Invalid."""
    known = {d.code: d for d in defs}
    for code in sent:
        if code not in known:
            raise Invalid("open311.unknown_attribute", attribute=code)
    typed: dict[str, Any] = {}
    for d in defs:
        values = [v for v in sent.get(d.code, []) if v != ""]
        if not values:
            if d.required:
                raise Invalid("open311.attribute_required", attribute=d.code)
            continue
        typed[d.code] = _typed(d, values)
    return typed


def _typed(d: AttributeDef, values: list[str]) -> Any:
    keys = {key for key, _ in d.values}
    if d.datatype == "multivaluelist":
        if any(v not in keys for v in values):
            raise Invalid("open311.attribute_bad_value", attribute=d.code)
        return sorted(set(values))
    if len(values) > 1:
        raise Invalid("open311.attribute_single_value", attribute=d.code)
    value = values[0]
    if d.datatype == "singlevaluelist" and value not in keys:
        raise Invalid("open311.attribute_bad_value", attribute=d.code)
    if d.datatype == "number":
        try:
            number = float(value)
        except ValueError:
            raise Invalid("open311.attribute_bad_value", attribute=d.code) from None
        if not math.isfinite(number):
            raise Invalid("open311.attribute_bad_value", attribute=d.code)
        return number
    if d.datatype == "datetime":
        return parse_w3c(value, f"attribute[{d.code}]").isoformat()
    return value


def parse_w3c(value: str, name: str) -> datetime:
    """A W3C/ISO 8601 datetime that names its zone (Z or ±hh:mm); a zoneless one is refused, not guessed."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise Invalid("open311.bad_datetime", parameter=name) from None
    if parsed.tzinfo is None:
        raise Invalid("open311.datetime_without_zone", parameter=name)
    return parsed


def w3c(value: datetime | None, tz: tzinfo) -> str | None:
    """A stored UTC datetime as a W3C datetime in the local zone (e.g. 2026-11-23T08:30:00+08:00)."""
    return value.astimezone(tz).isoformat(timespec="seconds") if value is not None else None


def status_of(state: str) -> str:
    """Open311's two statuses from the loop's states: done or not done."""
    return "closed" if CaseState(state) in CLOSED_STATES else "open"


def states_for(status: str) -> frozenset[str]:
    """The loop's states behind an Open311 status filter ('open', 'closed', or both comma-separated)."""
    wanted = {s.strip() for s in status.split(",") if s.strip()}
    if not wanted or not wanted <= {"open", "closed"}:
        raise Invalid("open311.bad_status", status=status)
    return frozenset(s.value for s in CaseState if status_of(s.value) in wanted)


# --- the two formats ------------------------------------------------------------------------------


def render(fmt: str, root: str, body: Any) -> str:
    """JSON as the specification shows it (lists and objects), or XML with `root` and singular item tags."""
    if fmt == "json":
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    element = ET.Element(root)
    _fill(element, root, body)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(element, encoding="unicode")


def _fill(element: ET.Element, tag: str, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), key, item)
    elif isinstance(value, list | tuple):
        child_tag = LIST_TAGS.get(tag, "item")
        for item in value:
            _fill(ET.SubElement(element, child_tag), child_tag, item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)


def errors(status: int, descriptions: Iterable[str]) -> list[dict[str, Any]]:
    """The errors body: one entry per problem, each with the HTTP status as its code."""
    return [{"code": status, "description": text} for text in descriptions]
