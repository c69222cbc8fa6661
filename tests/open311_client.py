"""An independent Open311 GeoReport v2 client and strict conformance checkers, written from the specification.

Sources (read, not copied):
- GeoReport v2: https://wiki.open311.org/GeoReport_v2/ (formats, date/time, encoding, the six methods, errors)
- Service discovery: https://wiki.open311.org/Service_Discovery/
- JSON mapping (Spark convention): https://wiki.open311.org/JSON_and_XML_Conversion/
- Extensions (paging with page/page_size, media upload): https://wiki.open311.org/GeoReport_v2/Extensions/
- mySociety "Open311 FMS Complete Spec" (GET servicerequestupdates):
  https://github.com/mysociety/fixmystreet/wiki/Open311-FMS---Complete-Spec

The client returns plain Python structures for both formats: JSON as decoded; XML mapped the Spark way (a container
of repeated elements becomes a list, a leaf becomes its text, an empty leaf becomes None). The checkers return a list
of problems (empty when the document conforms) so that a test can show every deviation at once.
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx

FORMATS = ("json", "xml")
GEOREPORT_V2 = "http://wiki.open311.org/GeoReport_v2"
DATATYPES = frozenset({"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"})
LIST_DATATYPES = frozenset({"singlevaluelist", "multivaluelist"})
SERVICE_TYPES = frozenset({"realtime", "batch", "blackbox"})
STATUSES = frozenset({"open", "closed"})
XML_TYPES = frozenset({"text/xml", "application/xml"})
JSON_TYPE = "application/json"

# W3C date/time note profile "complete date plus hours and minutes (and seconds (and fraction))" with a time zone.
W3C_DATETIME = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d"
                          r"(:[0-5]\d(\.\d+)?)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$")
XML_DECLARATION = re.compile(rb"""^<\?xml\s+version\s*=\s*["']1\.0["']\s+encoding\s*=\s*["']utf-8["']""",
                             re.IGNORECASE)

# Containers whose children repeat (Spark convention: always a list, even with one child or none).
LISTS: Mapping[str, str] = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "service_request_updates": "request_update",
}
# Roots whose JSON form is a bare array.
LIST_ROOTS = frozenset({"services", "service_requests", "errors", "service_request_updates"})

SERVICE_FIELDS = frozenset({"service_code", "service_name", "description", "metadata", "type", "keywords", "group"})
ATTRIBUTE_FIELDS = frozenset({"variable", "code", "datatype", "required", "datatype_description", "order",
                              "description", "values"})
REQUEST_FIELDS = frozenset({"service_request_id", "status", "status_notes", "service_name", "service_code",
                            "description", "agency_responsible", "service_notice", "requested_datetime",
                            "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat",
                            "long", "media_url"})
CREATED_FIELDS = frozenset({"service_request_id", "token", "service_notice", "account_id"})
TOKEN_FIELDS = frozenset({"service_request_id", "token"})
UPDATE_FIELDS = frozenset({"update_id", "service_request_id", "status", "updated_datetime", "description",
                           "media_url"})
DISCOVERY_FIELDS = frozenset({"changeset", "contact", "key_service", "endpoints"})
ENDPOINT_FIELDS = frozenset({"specification", "url", "changeset", "type", "formats"})
# Fields each resource may not leave out (the spec's "May not be returned" fields are optional).
SERVICE_REQUIRED = ("service_code", "service_name", "metadata", "type")
ATTRIBUTE_REQUIRED = ("variable", "code", "datatype", "required", "order", "description")
REQUEST_REQUIRED = ("service_request_id", "status", "service_code", "requested_datetime")
REQUEST_DATETIMES = ("requested_datetime", "updated_datetime", "expected_datetime")
UPDATE_REQUIRED = ("update_id", "service_request_id", "status", "updated_datetime", "description")


class NotConformant(AssertionError):
    """A response that cannot even be read as the format it claims to be."""


@dataclass(frozen=True)
class Reply:
    """One HTTP exchange: status, media type, raw body and the body as plain Python data."""

    fmt: str
    status: int
    content_type: str
    body: bytes
    data: Any
    root: str | None  # the XML root element's name; None for JSON

    @property
    def media_type(self) -> str:
        return self.content_type.split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        for part in self.content_type.split(";")[1:]:
            name, _, value = part.strip().partition("=")
            if name.strip().lower() == "charset":
                return value.strip().strip('"').lower()
        return None


# ---------------------------------------------------------------- parsing


def _leaf_or_tree(element: ET.Element) -> Any:
    children = list(element)
    if element.tag in LISTS:
        item = LISTS[element.tag]
        return [_leaf_or_tree(c) if c.tag == item else {"__unexpected__": c.tag} for c in children]
    if not children:
        text = element.text
        return None if text is None or text == "" else text
    out: dict[str, Any] = {}
    for child in children:
        if child.tag in out:
            out.setdefault("__duplicates__", []).append(child.tag)
        out[child.tag] = _leaf_or_tree(child)
    return out


def parse_xml(body: bytes) -> tuple[str, Any]:
    """The root's name and the document as plain data (Spark convention)."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise NotConformant(f"not well-formed XML: {exc}: {body[:200]!r}") from exc
    return root.tag, _leaf_or_tree(root)


def parse(fmt: str, body: bytes) -> tuple[str | None, Any]:
    if fmt == "xml":
        return parse_xml(body)
    try:
        return None, json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotConformant(f"not UTF-8 JSON: {exc}: {body[:200]!r}") from exc


# ---------------------------------------------------------------- the client


class Open311Client:
    """Speaks GeoReport v2 to one endpoint in one format (``json`` or ``xml``)."""

    def __init__(self, endpoint: str, fmt: str, *, api_key: str | None = None, jurisdiction_id: str | None = None,
                 http: httpx.Client | None = None) -> None:
        assert fmt in FORMATS
        self.endpoint = endpoint if endpoint.endswith("/") else endpoint + "/"
        self.fmt = fmt
        self.api_key = api_key
        self.jurisdiction_id = jurisdiction_id
        self.http = http or httpx.Client(timeout=30)

    def url(self, resource: str) -> str:
        return f"{self.endpoint}{resource}.{self.fmt}"

    def _reply(self, response: httpx.Response) -> Reply:
        root, data = parse(self.fmt, response.content) if response.content else (None, None)
        return Reply(self.fmt, response.status_code, response.headers.get("content-type", ""), response.content,
                     data, root)

    def _query(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        query: dict[str, Any] = {}
        if self.jurisdiction_id is not None:
            query["jurisdiction_id"] = self.jurisdiction_id
        query.update({k: v for k, v in (params or {}).items() if v is not None})
        return query

    def get(self, resource: str, params: Mapping[str, Any] | None = None) -> Reply:
        return self._reply(self.http.get(self.url(resource), params=self._query(params)))

    def discovery(self, discovery_url: str) -> Reply:
        return self._reply(self.http.get(f"{discovery_url}.{self.fmt}"))

    def services(self) -> Reply:
        return self.get("services")

    def service_definition(self, service_code: str) -> Reply:
        return self.get(f"services/{service_code}")

    def requests(self, **params: Any) -> Reply:
        return self.get("requests", params)

    def request(self, service_request_id: str) -> Reply:
        return self.get(f"requests/{service_request_id}")

    def token(self, token: str) -> Reply:
        return self.get(f"tokens/{token}")

    def updates(self, **params: Any) -> Reply:
        return self.get("servicerequestupdates", params)

    def post_request(self, fields: Mapping[str, Any], *, attributes: Mapping[str, Any] | None = None,
                     api_key: str | None = "", media: tuple[str, bytes, str] | None = None) -> Reply:
        """POST a service request form; ``api_key=""`` sends the client's key, ``None`` sends none at all.

        ``attributes`` maps an attribute code to a value, or to a list of values for a multivaluelist
        (sent as ``attribute[CODE][]`` repeated). ``media`` (name, bytes, mime) makes the form multipart.
        """
        form: dict[str, Any] = {}
        if self.jurisdiction_id is not None:
            form["jurisdiction_id"] = self.jurisdiction_id
        key = self.api_key if api_key == "" else api_key
        if key is not None:
            form["api_key"] = key
        form.update({k: v for k, v in fields.items() if v is not None})
        for code, value in (attributes or {}).items():
            if isinstance(value, list | tuple):
                form[f"attribute[{code}][]"] = [str(v) for v in value]
            else:
                form[f"attribute[{code}]"] = str(value)
        if media is None:
            return self._reply(self.http.post(self.url("requests"), data=form))
        return self._reply(self.http.post(self.url("requests"), data=form, files={"media": media}))


# ---------------------------------------------------------------- checkers (each returns a list of problems)


def check_envelope(reply: Reply) -> list[str]:
    """Content-Type, charset and (XML) the declaration with encoding UTF-8."""
    problems: list[str] = []
    if reply.fmt == "xml":
        if reply.media_type not in XML_TYPES:
            problems.append(f"XML served as Content-Type {reply.content_type!r}, expected text/xml or application/xml")
        if not XML_DECLARATION.match(reply.body):
            problems.append(f"XML does not start with <?xml version=\"1.0\" encoding=\"UTF-8\"?>: {reply.body[:60]!r}")
    elif reply.media_type != JSON_TYPE:
        problems.append(f"JSON served as Content-Type {reply.content_type!r}, expected application/json")
    if reply.charset not in (None, "utf-8"):
        problems.append(f"charset {reply.charset!r}, UTF-8 is required")
    try:
        reply.body.decode("utf-8")
    except UnicodeDecodeError:
        problems.append("body is not UTF-8")
    return problems


def is_w3c_datetime(value: Any) -> bool:
    return isinstance(value, str) and W3C_DATETIME.match(value) is not None


def as_bool(reply: Reply, value: Any) -> bool | None:
    """The boolean a field carries, or None when it is not a strict true/false in that format."""
    if reply.fmt == "json":
        return value if isinstance(value, bool) else None
    return {"true": True, "false": False}.get(value) if isinstance(value, str) else None


def as_int(reply: Reply, value: Any) -> int | None:
    if reply.fmt == "json":
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    return int(value) if isinstance(value, str) and re.fullmatch(r"-?\d+", value) else None


def as_float(reply: Reply, value: Any) -> float | None:
    if reply.fmt == "json":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return float(value) if ok and math.isfinite(value) else None
    try:
        number = float(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None


def as_text(value: Any) -> str | None:
    """An identifier or text as a string (JSON may carry ids as numbers, as the spec's examples do)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | str):
        return str(value)
    return None


def _root(reply: Reply, expected: str) -> list[str]:
    if reply.fmt == "xml" and reply.root != expected:
        return [f"XML root element <{reply.root}>, expected <{expected}>"]
    return []


def _items(reply: Reply, root: str, where: str) -> tuple[list[Any], list[str]]:
    problems = _root(reply, root)
    data = reply.data
    if reply.fmt == "xml" and data is None:
        data = []  # an empty container
    if not isinstance(data, list):
        return [], [*problems, f"{where}: expected a list of <{LISTS[root]}>, got {type(data).__name__}"]
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            problems.append(f"{where}[{i}]: expected <{LISTS[root]}> with child elements, got {item!r}")
        elif "__unexpected__" in item:
            problems.append(f"{where}[{i}]: <{item['__unexpected__']}> inside <{root}>, expected <{LISTS[root]}>")
    return [i for i in data if isinstance(i, dict) and "__unexpected__" not in i], problems


def _fields(item: Mapping[str, Any], allowed: Iterable[str], required: Iterable[str], where: str) -> list[str]:
    problems = [f"{where}: unknown element/field {k!r}" for k in item if k not in set(allowed)]
    problems += [f"{where}: repeated element {k!r}" for k in item.get("__duplicates__", [])]
    problems += [f"{where}: required field {k!r} missing or empty" for k in required
                 if item.get(k) is None or item.get(k) == ""]
    return [p for p in problems if "'__duplicates__'" not in p]


def check_discovery(reply: Reply) -> list[str]:
    problems = check_envelope(reply) + _root(reply, "discovery")
    doc = reply.data
    if not isinstance(doc, dict):
        return [*problems, f"discovery: expected an object, got {type(doc).__name__}"]
    problems += _fields(doc, DISCOVERY_FIELDS, DISCOVERY_FIELDS, "discovery")
    endpoints = doc.get("endpoints")
    if not isinstance(endpoints, list) or not endpoints:
        return [*problems, "discovery: endpoints must be a non-empty list of endpoint"]
    for i, ep in enumerate(endpoints):
        where = f"discovery.endpoints[{i}]"
        if not isinstance(ep, dict) or "__unexpected__" in ep:
            problems.append(f"{where}: not an <endpoint> object: {ep!r}")
            continue
        problems += _fields(ep, ENDPOINT_FIELDS, ENDPOINT_FIELDS, where)
        if ep.get("type") not in ("production", "test"):
            problems.append(f"{where}.type {ep.get('type')!r} is neither production nor test")
        formats = ep.get("formats")
        if not isinstance(formats, list) or not all(isinstance(f, str) for f in formats):
            problems.append(f"{where}.formats must be a list of MIME types, got {formats!r}")
    return problems


def check_services(reply: Reply) -> list[str]:
    problems = check_envelope(reply)
    items, more = _items(reply, "services", "services")
    problems += more
    codes: list[str | None] = []
    for i, svc in enumerate(items):
        where = f"services[{i}]"
        problems += _fields(svc, SERVICE_FIELDS, SERVICE_REQUIRED, where)
        codes.append(as_text(svc.get("service_code")))
        if as_text(svc.get("service_code")) is None:
            problems.append(f"{where}.service_code is not an identifier: {svc.get('service_code')!r}")
        if "metadata" in svc and as_bool(reply, svc["metadata"]) is None:
            problems.append(f"{where}.metadata {svc['metadata']!r} is not a strict true/false")
        if "type" in svc and svc["type"] not in SERVICE_TYPES:
            problems.append(f"{where}.type {svc['type']!r} not in {sorted(SERVICE_TYPES)}")
    if len(codes) != len(set(codes)):
        problems.append(f"service codes repeat: {codes}")
    return problems


def check_service_definition(reply: Reply, service_code: str) -> list[str]:
    problems = check_envelope(reply) + _root(reply, "service_definition")
    doc = reply.data
    if not isinstance(doc, dict):
        return [*problems, f"service_definition: expected an object, got {type(doc).__name__}"]
    problems += _fields(doc, {"service_code", "attributes"}, ("service_code",), "service_definition")
    if as_text(doc.get("service_code")) != service_code:
        problems.append(f"service_definition.service_code {doc.get('service_code')!r} != requested {service_code!r}")
    attributes = doc.get("attributes")
    if reply.fmt == "xml" and attributes is None and "attributes" in doc:
        attributes = []
    if not isinstance(attributes, list):
        return [*problems, f"service_definition.attributes must be a list, got {attributes!r}"]
    orders: list[int | None] = []
    for i, attr in enumerate(attributes):
        where = f"service_definition[{service_code}].attributes[{i}]"
        if not isinstance(attr, dict) or "__unexpected__" in attr:
            problems.append(f"{where}: not an <attribute>: {attr!r}")
            continue
        problems += _check_attribute(reply, attr, where)
        orders.append(as_int(reply, attr.get("order")))
    if len(orders) != len(set(orders)):
        problems.append(f"service_definition[{service_code}]: attribute orders repeat: {orders}")
    codes = [a.get("code") for a in attributes if isinstance(a, dict)]
    if len(codes) != len(set(map(str, codes))):
        problems.append(f"service_definition[{service_code}]: attribute codes repeat: {codes}")
    return problems


def _check_attribute(reply: Reply, attr: Mapping[str, Any], where: str) -> list[str]:
    problems = _fields(attr, ATTRIBUTE_FIELDS, ATTRIBUTE_REQUIRED, where)
    for flag in ("variable", "required"):
        if flag in attr and as_bool(reply, attr[flag]) is None:
            problems.append(f"{where}.{flag} {attr[flag]!r} is not a strict true/false")
    order = as_int(reply, attr.get("order"))
    if order is None or order < 1:
        problems.append(f"{where}.order {attr.get('order')!r} is not a positive integer")
    datatype = attr.get("datatype")
    if datatype not in DATATYPES:
        problems.append(f"{where}.datatype {datatype!r} not in {sorted(DATATYPES)}")
    values = attr.get("values")
    if datatype in LIST_DATATYPES:
        if not isinstance(values, list) or not values:
            problems.append(f"{where}: a {datatype} needs a non-empty values list, got {values!r}")
            return problems
        keys = []
        for j, value in enumerate(values):
            if not isinstance(value, dict) or "__unexpected__" in value:
                problems.append(f"{where}.values[{j}]: not a <value>: {value!r}")
                continue
            problems += _fields(value, {"key", "name"}, ("key", "name"), f"{where}.values[{j}]")
            keys.append(as_text(value.get("key")))
        if len(keys) != len(set(keys)):
            problems.append(f"{where}: value keys repeat: {keys}")
    return problems


def check_created(reply: Reply) -> list[str]:
    """The answer to POST requests: one request with a service_request_id or (exclusive) a token."""
    problems = check_envelope(reply)
    items, more = _items(reply, "service_requests", "POST requests")
    problems += more
    if len(items) != 1:
        return [*problems, f"POST requests: expected exactly one <request>, got {len(items)}: {reply.data!r}"]
    item = items[0]
    problems += _fields(item, CREATED_FIELDS, (), "POST requests[0]")
    has_id = as_text(item.get("service_request_id")) not in (None, "")
    has_token = as_text(item.get("token")) not in (None, "")
    if has_id == has_token:
        problems.append(f"POST requests[0]: needs exactly one of service_request_id and token, got {item!r}")
    return problems


def check_token(reply: Reply, token: str) -> list[str]:
    problems = check_envelope(reply)
    items, more = _items(reply, "service_requests", "tokens")
    problems += more
    if len(items) != 1:
        return [*problems, f"tokens: expected one <request>, got {len(items)}"]
    problems += _fields(items[0], TOKEN_FIELDS, ("token",), "tokens[0]")
    if as_text(items[0].get("token")) != token:
        problems.append(f"tokens[0].token {items[0].get('token')!r} != {token!r}")
    return problems


def check_request_item(reply: Reply, item: Mapping[str, Any], where: str) -> list[str]:
    problems = _fields(item, REQUEST_FIELDS, REQUEST_REQUIRED, where)
    if item.get("status") not in STATUSES:
        problems.append(f"{where}.status {item.get('status')!r} not in {sorted(STATUSES)}")
    for name in REQUEST_DATETIMES:
        value = item.get(name)
        if value not in (None, "") and not is_w3c_datetime(value):
            problems.append(f"{where}.{name} {value!r} is not a W3C date/time with a time zone")
    for name, low, high in (("lat", -90.0, 90.0), ("long", -180.0, 180.0)):
        if item.get(name) not in (None, ""):
            number = as_float(reply, item[name])
            if number is None or not low <= number <= high:
                problems.append(f"{where}.{name} {item[name]!r} is not a WGS84 number")
    if (item.get("lat") in (None, "")) != (item.get("long") in (None, "")):
        problems.append(f"{where}: lat and long must come together")
    if isinstance(item.get("description"), str) and len(item["description"]) > 4000:
        problems.append(f"{where}.description is longer than 4,000 characters")
    return problems


def check_requests(reply: Reply) -> list[str]:
    """GET requests / GET requests/{id}: a service_requests list of request elements."""
    problems = check_envelope(reply)
    items, more = _items(reply, "service_requests", "requests")
    problems += more
    for i, item in enumerate(items):
        problems += check_request_item(reply, item, f"requests[{i}]")
    return problems


def check_updates(reply: Reply) -> list[str]:
    """GET servicerequestupdates (FMS extension): service_request_updates of request_update."""
    problems = check_envelope(reply)
    items, more = _items(reply, "service_request_updates", "servicerequestupdates")
    problems += more
    for i, item in enumerate(items):
        where = f"servicerequestupdates[{i}]"
        problems += _fields(item, UPDATE_FIELDS, UPDATE_REQUIRED[:-1], where)
        if "description" not in item:
            problems.append(f"{where}: description element missing")
        if item.get("status") not in STATUSES:
            problems.append(f"{where}.status {item.get('status')!r} not in {sorted(STATUSES)}")
        if not is_w3c_datetime(item.get("updated_datetime")):
            problems.append(f"{where}.updated_datetime {item.get('updated_datetime')!r} is not a W3C date/time "
                            "with a time zone")
    return problems


def check_errors(reply: Reply, status: int | Sequence[int]) -> list[str]:
    """An error answer: the HTTP status wanted, and an errors list of code + description, code == HTTP status."""
    wanted = (status,) if isinstance(status, int) else tuple(status)
    problems: list[str] = []
    if reply.status not in wanted:
        problems.append(f"HTTP {reply.status}, expected {' or '.join(map(str, wanted))}: {reply.body[:300]!r}")
    if reply.data is None and not reply.body:
        return [*problems, "error answer has an empty body"]
    problems += check_envelope(reply)
    items, more = _items(reply, "errors", "errors")
    problems += more
    if not items:
        problems.append(f"errors: expected at least one <error>, got {reply.data!r}")
    for i, item in enumerate(items):
        where = f"errors[{i}]"
        problems += _fields(item, {"code", "description"}, ("code", "description"), where)
        code = as_int(reply, item.get("code"))
        if code != reply.status:
            problems.append(f"{where}.code {item.get('code')!r} != HTTP status {reply.status}")
        if not isinstance(item.get("description"), str) or not item["description"].strip():
            problems.append(f"{where}.description must be a human readable text, got {item.get('description')!r}")
    return problems


# ---------------------------------------------------------------- helpers over parsed data


def created_id(reply: Reply) -> tuple[str | None, str | None]:
    """(service_request_id, token) from a POST answer."""
    items = reply.data if isinstance(reply.data, list) else []
    item = items[0] if items and isinstance(items[0], dict) else {}
    return as_text(item.get("service_request_id")) or None, as_text(item.get("token")) or None


def request_ids(reply: Reply) -> list[str]:
    items = reply.data if isinstance(reply.data, list) else []
    return [str(as_text(i.get("service_request_id"))) for i in items if isinstance(i, dict)]


def _canonical(key: str, value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, int | float):
        return float(value) if key in ("lat", "long") else str(value)
    if isinstance(value, str) and key in ("lat", "long"):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def normalize(data: Any, key: str = "") -> Any:
    """JSON or XML data with scalars made comparable: booleans as 'true'/'false', null as '', numbers as text."""
    if isinstance(data, dict):
        return {k: normalize(v, k) for k, v in data.items() if k != "__duplicates__"}
    if isinstance(data, list):
        return [normalize(v, key) for v in data]
    return _canonical(key, data)


def differences(xml: Any, jsn: Any, path: str = "$") -> list[str]:
    """Where the XML and JSON forms of one resource carry different data (after normalize)."""
    a, b = normalize(xml), normalize(jsn)
    return _diff(a, b, path)


def _diff(a: Any, b: Any, path: str) -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for k in sorted(set(a) | set(b)):
            if k not in a and b.get(k) in ("", []):
                continue  # an omitted element and a JSON null/empty list say the same
            if k not in b and a.get(k) in ("", []):
                continue
            if k not in a or k not in b:
                out.append(f"{path}.{k}: only in {'JSON' if k in b else 'XML'}")
                continue
            out += _diff(a[k], b[k], f"{path}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: XML has {len(a)} items, JSON {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _diff(x, y, f"{path}[{i}]")]
    if isinstance(a, float) and isinstance(b, float):
        return [] if abs(a - b) < 1e-9 else [f"{path}: XML {a!r} != JSON {b!r}"]
    if {type(a), type(b)} == {str, list} and not a and not b:
        return []
    return [] if a == b else [f"{path}: XML {a!r} != JSON {b!r}"]
