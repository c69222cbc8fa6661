"""Open311 GeoReport v2 conformance: an independent client (tests/open311_client.py) against our server.

Written from the specification (https://wiki.open311.org/GeoReport_v2/, Service_Discovery, Extensions, and the
mySociety FMS Complete Spec for servicerequestupdates), not from the server's code. Every test runs in both formats.
Contract points beyond the bare spec: endpoint {base}/open311/v2/, discovery {base}/open311/discovery.{fmt},
descriptions up to 4,000 characters, start_date/end_date windows of at most 90 days, at most 1,000 results,
page (1-based) and page_size (default and max 1000), and GET requests lists requests citizens made, not internal cases.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2 as httpx
import pytest
from PIL import Image

from tests.e2e.conftest import _SERVED, Open311Site
from tests.open311_client import (
    DATATYPES,
    FORMATS,
    GEOREPORT_V2,
    JSON_TYPE,
    XML_TYPES,
    Open311Client,
    Reply,
    as_bool,
    as_float,
    as_text,
    check_created,
    check_discovery,
    check_envelope,
    check_errors,
    check_requests,
    check_service_definition,
    check_services,
    check_token,
    check_updates,
    created_id,
    differences,
    is_w3c_datetime,
    request_ids,
)

PHONE = "13987654321"
EMAIL = "conformance.tester@example.org"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as client:
        yield client


@pytest.fixture(params=FORMATS)
def client(request: pytest.FixtureRequest, open311: Open311Site, http: httpx.Client) -> Open311Client:
    return Open311Client(open311.endpoint, request.param, api_key=open311.api_key,
                         jurisdiction_id=open311.jurisdiction_id, http=http)


@pytest.fixture(scope="module")
def catalog(open311: Open311Site, http: httpx.Client) -> dict[str, Any]:
    """The services (JSON) and the definition of every service whose metadata is true."""
    c = Open311Client(open311.endpoint, "json", jurisdiction_id=open311.jurisdiction_id, http=http)
    services = c.services()
    assert services.status == 200, services.body[:300]
    assert_ok(check_services(services))
    definitions: dict[str, dict[str, Any]] = {}
    for svc in services.data:
        if svc.get("metadata") is True:
            reply = c.service_definition(str(svc["service_code"]))
            assert reply.status == 200, (svc["service_code"], reply.body[:300])
            definitions[str(svc["service_code"])] = reply.data
    return {"services": services.data, "definitions": definitions}


def w3c(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def attribute_value(attr: dict[str, Any]) -> Any:
    """A valid answer to one attribute, by datatype (two keys for a multivaluelist when it offers two)."""
    datatype = attr["datatype"]
    keys = [str(v["key"]) for v in attr.get("values") or []]
    return {
        "string": "一致性测试 conformance",
        "number": "42",
        "datetime": w3c(datetime.now(UTC) - timedelta(hours=1)),
        "text": "第一行 line one\n第二行 line two",
        "singlevaluelist": keys[0] if keys else "",
        "multivaluelist": keys[:2],
    }[datatype]


def answers(definition: dict[str, Any] | None, *, everything: bool = False) -> dict[str, Any]:
    """Values for the required attributes (or for every variable attribute) of a service definition."""
    out: dict[str, Any] = {}
    for attr in (definition or {}).get("attributes") or []:
        if attr.get("variable") is False:
            continue
        if everything or attr.get("required") is True:
            out[str(attr["code"])] = attribute_value(attr)
    return out


def plain_service(catalog: dict[str, Any]) -> dict[str, Any]:
    """A service to report to: one without metadata if there is one, else the first."""
    services = catalog["services"]
    return next((s for s in services if s.get("metadata") is False), services[0])


def report(client: Open311Client, catalog: dict[str, Any], site: Open311Site, *,
           service: dict[str, Any] | None = None, **fields: Any) -> tuple[str, dict[str, Any]]:
    """POST a valid request (lat/long inside unless given otherwise) and return its id and the fields sent."""
    service = service or plain_service(catalog)
    code = str(service["service_code"])
    sent: dict[str, Any] = {"service_code": code, "lat": site.inside[0], "long": site.inside[1],
                            "description": f"conformance {uuid.uuid4().hex[:12]} 路面破损"}
    sent.update(fields)
    reply = client.post_request(sent, attributes=answers(catalog["definitions"].get(code)))
    assert reply.status in (200, 201), reply.body[:500]
    assert_ok(check_created(reply))
    return resolve(client, reply), sent


def resolve(client: Open311Client, reply: Reply, *, wait_s: float = 10.0) -> str:
    """The service_request_id of a POST answer, through GET tokens/{token} when the server gave a token."""
    request_id, token = created_id(reply)
    if request_id:
        return request_id
    assert token, reply.body
    deadline = time.monotonic() + wait_s
    while True:
        answer = client.token(token)
        assert answer.status == 200, answer.body[:300]
        assert_ok(check_token(answer, token))
        request_id = as_text(answer.data[0].get("service_request_id"))
        if request_id or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert request_id, f"token {token} did not resolve to a service_request_id within {wait_s}s: {answer.body!r}"
    return request_id


def one_request(client: Open311Client, request_id: str) -> dict[str, Any]:
    reply = client.request(request_id)
    assert reply.status == 200, reply.body[:300]
    assert_ok(check_requests(reply))
    assert isinstance(reply.data, list) and len(reply.data) == 1, reply.data
    return reply.data[0]


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def assert_error(reply: Reply, status: int | tuple[int, ...]) -> None:
    problems = check_errors(reply, status)
    assert not problems, "\n".join(problems)


def assert_ok(problems: list[str]) -> None:
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- discovery and services


def test_discovery_names_the_georeport_v2_endpoint_and_both_formats(client: Open311Client,
                                                                    open311: Open311Site) -> None:
    reply = client.discovery(open311.discovery)
    assert reply.status == 200, reply.body[:300]
    assert_ok(check_discovery(reply))
    endpoint = open311.endpoint.rstrip("/")
    ours = [ep for ep in reply.data["endpoints"]
            if ep.get("specification") == GEOREPORT_V2 and str(ep.get("url")).rstrip("/") == endpoint]
    assert ours, f"no endpoint with specification {GEOREPORT_V2} and url {open311.endpoint}: {reply.data['endpoints']}"
    formats = set(ours[0]["formats"])
    assert formats & XML_TYPES, f"XML is required, formats: {formats}"
    assert JSON_TYPE in formats, f"formats: {formats}"
    assert open311.endpoint == f"{open311.base}/open311/v2/"


def test_services_list_is_well_formed_with_groups(client: Open311Client) -> None:
    reply = client.services()
    assert reply.status == 200, reply.body[:300]
    assert_ok(check_services(reply))
    assert reply.data, "no services"
    assert any(s.get("group") not in (None, "") for s in reply.data), "no service has a group"


def test_service_definitions_cover_all_six_datatypes(client: Open311Client) -> None:
    services = client.services().data
    with_metadata = [s for s in services if as_bool(client_reply(client), s.get("metadata")) is True]
    assert with_metadata, "no service has metadata true"
    seen: set[str] = set()
    for svc in with_metadata:
        code = str(as_text(svc["service_code"]))
        reply = client.service_definition(code)
        assert reply.status == 200, (code, reply.body[:300])
        assert_ok(check_service_definition(reply, code))
        attributes = reply.data.get("attributes") or []
        assert attributes, f"service {code} has metadata true but no attributes"
        seen |= {a.get("datatype") for a in attributes}
    assert seen >= DATATYPES, f"datatypes missing across services: {sorted(DATATYPES - seen)}"


def client_reply(client: Open311Client) -> Reply:
    """A blank reply in the client's format, to read typed values with as_bool/as_float."""
    return Reply(client.fmt, 200, "", b"", None, None)


def test_definition_of_an_unknown_service_code_is_404(client: Open311Client) -> None:
    assert_error(client.service_definition("NO-SUCH-SERVICE-42"), 404)


# ---------------------------------------------------------------- POST service request


def test_post_with_lat_long_creates_an_open_request(client: Open311Client, catalog: dict[str, Any],
                                                    open311: Open311Site) -> None:
    service = plain_service(catalog)
    description = f"路灯不亮 A & B \"quoted\" {uuid.uuid4().hex[:8]}\nsecond line"
    before = datetime.now(UTC) - timedelta(seconds=5)
    request_id, sent = report(client, catalog, open311, service=service, description=description)
    item = one_request(client, request_id)
    assert as_text(item["service_request_id"]) == request_id
    assert item["status"] == "open"
    assert as_text(item["service_code"]) == str(service["service_code"])
    assert item.get("service_name") == service["service_name"]
    assert item.get("description") == description
    for name in ("requested_datetime", "updated_datetime"):
        assert is_w3c_datetime(item.get(name)), f"{name}={item.get(name)!r}"
    requested = datetime.fromisoformat(item["requested_datetime"].replace("Z", "+00:00"))
    assert before <= requested <= datetime.now(UTC) + timedelta(seconds=5), requested
    lat, long = as_float(client_reply(client), item.get("lat")), as_float(client_reply(client), item.get("long"))
    assert lat is not None and abs(lat - sent["lat"]) < 1e-4, (lat, sent["lat"])
    assert long is not None and abs(long - sent["long"]) < 1e-4, (long, sent["long"])
    # The spec lets a server leave expected_datetime out; our contract promises it (the case's handling deadline).
    assert is_w3c_datetime(item.get("expected_datetime")), f"expected_datetime={item.get('expected_datetime')!r}"
    expected = datetime.fromisoformat(item["expected_datetime"].replace("Z", "+00:00"))
    assert expected > requested


def test_post_with_address_string_only(client: Open311Client, catalog: dict[str, Any], open311: Open311Site) -> None:
    service = plain_service(catalog)
    code = str(service["service_code"])
    reply = client.post_request({"service_code": code, "address_string": open311.address,
                                 "description": f"address only {uuid.uuid4().hex[:8]}"},
                                attributes=answers(catalog["definitions"].get(code)))
    assert reply.status in (200, 201), reply.body[:500]
    assert_ok(check_created(reply))
    _, token = created_id(reply)
    problems: list[str] = []
    # Spec, GET Service List: realtime = the id comes back at once; batch = a token comes back instead.
    if token and service["type"] == "realtime":
        problems.append(f"service {code} is advertised as type realtime but POST answered a token, "
                        f"not a service_request_id: {reply.body!r}")
    try:
        request_id = resolve(client, reply)
    except AssertionError as exc:
        problems.append(str(exc))
    assert_ok(problems)
    item = one_request(client, request_id)
    assert item["status"] == "open"
    assert item.get("address") not in (None, ""), "the request's address is empty"
    assert (item.get("lat") in (None, "")) == (item.get("long") in (None, ""))


def test_post_with_attributes_of_every_datatype(client: Open311Client, catalog: dict[str, Any],
                                                open311: Open311Site) -> None:
    covered: set[str] = set()
    services = {str(s["service_code"]): s for s in catalog["services"]}
    for code, definition in catalog["definitions"].items():
        values = answers(definition, everything=True)
        if not values:
            continue
        kinds = {a["datatype"] for a in definition["attributes"] if str(a["code"]) in values}
        reply = client.post_request({"service_code": code, "lat": open311.inside[0], "long": open311.inside[1],
                                     "description": f"attributes {sorted(kinds)}"}, attributes=values)
        assert reply.status in (200, 201), (code, values, reply.body[:500])
        assert_ok(check_created(reply))
        item = one_request(client, resolve(client, reply))
        assert as_text(item["service_code"]) == code and item.get("service_name") == services[code]["service_name"]
        covered |= kinds
    assert covered >= DATATYPES, f"never posted: {sorted(DATATYPES - covered)}"


def _attribute_of(catalog: dict[str, Any], datatype: str) -> tuple[str, dict[str, Any]]:
    for code, definition in catalog["definitions"].items():
        for attr in definition.get("attributes") or []:
            if attr.get("datatype") == datatype and attr.get("variable") is not False:
                return code, attr
    raise AssertionError(f"no service has a {datatype} attribute")


def test_post_rejects_bad_attribute_values(client: Open311Client, catalog: dict[str, Any],
                                           open311: Open311Site) -> None:
    where = {"lat": open311.inside[0], "long": open311.inside[1], "description": "bad attribute"}
    for datatype, bad in (("singlevaluelist", "no-such-key-xyz"), ("number", "not a number"),
                          ("multivaluelist", ["no-such-key-xyz"])):
        code, attr = _attribute_of(catalog, datatype)
        values = {**answers(catalog["definitions"][code]), str(attr["code"]): bad}
        reply = client.post_request({"service_code": code, **where}, attributes=values)
        assert_error(reply, 400)


def test_post_without_a_required_attribute_is_refused(client: Open311Client, catalog: dict[str, Any],
                                                      open311: Open311Site) -> None:
    required = [(code, a) for code, d in catalog["definitions"].items() for a in d.get("attributes") or []
                if a.get("required") is True and a.get("variable") is not False]
    assert required, "no service has a required attribute"
    code, attr = required[0]
    values = answers(catalog["definitions"][code])
    del values[str(attr["code"])]
    reply = client.post_request({"service_code": code, "lat": open311.inside[0], "long": open311.inside[1],
                                 "description": "missing required attribute"}, attributes=values)
    assert_error(reply, 400)


def test_contact_fields_are_accepted_but_never_published(client: Open311Client, catalog: dict[str, Any],
                                                         open311: Open311Site, http: httpx.Client) -> None:
    request_id, _ = report(client, catalog, open311, email=EMAIL, first_name="一致", last_name="测试", phone=PHONE,
                           device_id="conformance-device", account_id="conformance-account")
    since = w3c(datetime.now(UTC) - timedelta(hours=1))
    for fmt in FORMATS:
        other = Open311Client(open311.endpoint, fmt, jurisdiction_id=open311.jurisdiction_id, http=http)
        for reply in (other.request(request_id), other.requests(service_request_id=request_id),
                      other.requests(start_date=since), other.updates(start_date=since)):
            assert reply.status == 200, reply.body[:300]
            text = reply.body.decode("utf-8")
            assert PHONE not in text and EMAIL not in text, f"{fmt}: personal data published: {text[:500]}"


def test_post_with_a_photo_gives_a_fetchable_media_url(client: Open311Client, catalog: dict[str, Any],
                                                       open311: Open311Site, http: httpx.Client) -> None:
    service = plain_service(catalog)
    code = str(service["service_code"])
    image = png_bytes()
    reply = client.post_request({"service_code": code, "lat": open311.inside[0], "long": open311.inside[1],
                                 "description": "photo attached"},
                                attributes=answers(catalog["definitions"].get(code)),
                                media=("pothole.png", image, "image/png"))
    assert reply.status in (200, 201), reply.body[:500]
    assert_ok(check_created(reply))
    item = one_request(client, resolve(client, reply))
    media_url = item.get("media_url")
    assert isinstance(media_url, str) and media_url.startswith(("http://", "https://")), media_url
    fetched = http.get(media_url.strip())
    assert fetched.status_code == 200, (media_url, fetched.status_code)
    assert fetched.headers.get("content-type", "").startswith("image/png"), fetched.headers.get("content-type")
    assert fetched.content.startswith(PNG_SIGNATURE)


# ---------------------------------------------------------------- GET service requests


def test_requests_by_service_request_id_list_overrides_other_filters(client: Open311Client, catalog: dict[str, Any],
                                                                     open311: Open311Site) -> None:
    first, _ = report(client, catalog, open311)
    second, _ = report(client, catalog, open311)
    reply = client.requests(service_request_id=f"{first},{second}")
    assert reply.status == 200, reply.body[:300]
    assert_ok(check_requests(reply))
    assert sorted(request_ids(reply)) == sorted([first, second])
    overridden = client.requests(service_request_id=f"{first},{second}", status="closed",
                                 service_code="NO-SUCH-SERVICE-42")
    assert overridden.status == 200, overridden.body[:300]
    assert sorted(request_ids(overridden)) == sorted([first, second]), "service_request_id must override the rest"


def test_requests_filtered_by_service_code(client: Open311Client, catalog: dict[str, Any],
                                          open311: Open311Site) -> None:
    services = catalog["services"]
    chosen = plain_service(catalog)
    other = next(s for s in services if s["service_code"] != chosen["service_code"])
    mine, _ = report(client, catalog, open311, service=chosen)
    theirs, _ = report(client, catalog, open311, service=other)
    code = str(chosen["service_code"])
    reply = client.requests(service_code=code)
    assert reply.status == 200, reply.body[:300]
    assert_ok(check_requests(reply))
    assert {as_text(i["service_code"]) for i in reply.data} == {code}
    assert mine in request_ids(reply) and theirs not in request_ids(reply)
    both = client.requests(service_code=f"{code},{other['service_code']}")
    assert both.status == 200 and {mine, theirs} <= set(request_ids(both))


def test_requests_filtered_by_status(client: Open311Client, catalog: dict[str, Any], open311: Open311Site) -> None:
    mine, _ = report(client, catalog, open311)
    opened = client.requests(status="open")
    closed = client.requests(status="closed")
    either = client.requests(status="open,closed")
    for reply in (opened, closed, either):
        assert reply.status == 200, reply.body[:300]
        assert_ok(check_requests(reply))
    assert {i["status"] for i in opened.data} <= {"open"} and mine in request_ids(opened)
    assert {i["status"] for i in closed.data} <= {"closed"} and mine not in request_ids(closed)
    assert mine in request_ids(either)


def test_requests_filtered_by_date_window(client: Open311Client, catalog: dict[str, Any],
                                         open311: Open311Site) -> None:
    mine, _ = report(client, catalog, open311)
    now = datetime.now(UTC)
    inside = client.requests(start_date=w3c(now - timedelta(hours=1)), end_date=w3c(now + timedelta(hours=1)))
    assert inside.status == 200, inside.body[:300]
    assert_ok(check_requests(inside))
    assert mine in request_ids(inside)
    for item in inside.data:
        at = datetime.fromisoformat(item["requested_datetime"].replace("Z", "+00:00"))
        assert now - timedelta(hours=1) <= at <= now + timedelta(hours=1), item
    past = client.requests(start_date="2001-01-01T00:00:00Z", end_date="2001-01-31T00:00:00+08:00")
    assert past.status == 200 and request_ids(past) == [], past.body[:300]
    # start_date and end_date are the earliest and latest datetimes *to include*: the request's own
    # requested_datetime, as published, bounds a window that contains it.
    published = one_request(client, mine)["requested_datetime"]
    exact = client.requests(start_date=published, end_date=published)
    assert exact.status == 200 and mine in request_ids(exact), (published, exact.body[:300])
    ninety = client.requests(start_date=w3c(now - timedelta(days=90) + timedelta(minutes=1)),
                             end_date=w3c(now + timedelta(minutes=1)))
    assert ninety.status == 200 and mine in request_ids(ninety), ninety.body[:300]


def test_empty_optional_arguments_count_as_absent(client: Open311Client, catalog: dict[str, Any],
                                                 open311: Open311Site) -> None:
    # Spec, Definitions: an optional parameter passed empty must give the same answer as one not passed at all.
    report(client, catalog, open311)
    plain = client.requests()
    empty = client.requests(service_request_id="", service_code="", status="", start_date="", end_date="")
    assert plain.status == 200, plain.body[:300]
    assert empty.status == 200, empty.body[:300]
    assert request_ids(empty) == request_ids(plain)


def test_a_date_window_over_90_days_is_refused(client: Open311Client) -> None:
    now = datetime.now(UTC)
    assert_error(client.requests(start_date=w3c(now - timedelta(days=91)), end_date=w3c(now)), 400)


def test_a_malformed_date_is_refused(client: Open311Client) -> None:
    assert_error(client.requests(start_date="yesterday"), 400)


def test_requests_paging(client: Open311Client, catalog: dict[str, Any], open311: Open311Site) -> None:
    for _ in range(3):
        report(client, catalog, open311)
    two = client.requests(page=1, page_size=2)
    first = client.requests(page=1, page_size=1)
    second = client.requests(page=2, page_size=1)
    for reply in (two, first, second):
        assert reply.status == 200, reply.body[:300]
        assert_ok(check_requests(reply))
    assert len(request_ids(two)) == 2 and len(request_ids(first)) == 1 and len(request_ids(second)) == 1
    assert request_ids(first) + request_ids(second) == request_ids(two), "pages must tile the list"
    everything = client.requests()
    assert request_ids(everything)[:2] == request_ids(two), "page 1 must be the start of the default list"
    big = client.requests(page_size=5000)
    if big.status == 200:
        assert len(request_ids(big)) <= 1000
    else:
        assert_error(big, 400)
    assert_error(client.requests(page="abc"), 400)


def _operator() -> dict[str, str]:
    """Bearer headers of the demo street's operator, for the internal cases API."""
    token = _SERVED["container"].auth.issue_token("operator", "open311 conformance")
    return {"Authorization": f"Bearer {token}"}


def test_request_lists_show_citizen_requests_not_internal_cases(client: Open311Client, open311: Open311Site,
                                                                catalog: dict[str, Any], http: httpx.Client) -> None:
    mine, _ = report(client, catalog, open311)
    internal_text = f"网格员巡查发现 internal {uuid.uuid4().hex[:10]}"
    opened = http.post(f"{open311.base}/api/cases", headers=_operator(),
                       json={"source": "grid", "category_code": str(plain_service(catalog)["service_code"]),
                             "description": internal_text, "lat": open311.inside[0], "lon": open311.inside[1]})
    assert opened.status_code == 201, opened.text[:300]
    number = opened.json()["number"]
    now = datetime.now(UTC)
    for reply in (client.requests(), client.requests(start_date=w3c(now - timedelta(hours=1)),
                                                          end_date=w3c(now + timedelta(minutes=1))),
                  client.requests(service_code=str(plain_service(catalog)["service_code"]))):
        assert reply.status == 200, reply.body[:300]
        assert mine in request_ids(reply)
        assert number not in request_ids(reply), f"internal case {number} listed as a service request"
        assert internal_text not in reply.body.decode("utf-8"), "an internal case's text is listed"
    assert_error(client.request(number), 404)


# ---------------------------------------------------------------- status updates (FMS extension)


def _operator_rejects(open311: Open311Site, http: httpx.Client, description: str) -> None:
    """An operator closes the case behind a request (reject, with a reason) through the cases API."""
    headers = _operator()
    page = http.get(f"{open311.base}/api/cases", params={"limit": 200}, headers=headers)
    assert page.status_code == 200, page.text[:300]
    found = [c for c in page.json()["items"] if c["description"] == description]
    assert len(found) == 1, f"cannot find the case behind the Open311 request {description!r}"
    done = http.post(f"{open311.base}/api/cases/{found[0]['number']}/actions/reject",
                     json={"note": "重复上报 duplicate"}, headers=headers)
    assert done.status_code == 200, done.text[:300]


def test_status_updates_history(client: Open311Client, catalog: dict[str, Any], open311: Open311Site,
                                http: httpx.Client) -> None:
    start = datetime.now(UTC) - timedelta(minutes=1)
    request_id, sent = report(client, catalog, open311)
    _operator_rejects(open311, http, sent["description"])
    item = one_request(client, request_id)
    assert item["status"] == "closed", item
    updated = datetime.fromisoformat(item["updated_datetime"].replace("Z", "+00:00"))
    assert updated >= datetime.fromisoformat(item["requested_datetime"].replace("Z", "+00:00")), item
    assert request_id in request_ids(client.requests(status="closed"))
    reply = client.updates(start_date=w3c(start), end_date=w3c(datetime.now(UTC) + timedelta(minutes=1)))
    assert reply.status == 200, reply.body[:300]
    assert_ok(check_updates(reply))
    ours = [u for u in reply.data if as_text(u.get("service_request_id")) == request_id]
    assert ours, f"no update for {request_id} in {reply.data!r}"
    assert ours[-1]["status"] == "closed"
    assert all(as_text(u.get("update_id")) for u in ours)
    ids = [as_text(u.get("update_id")) for u in reply.data]
    assert len(ids) == len(set(ids)), f"update ids repeat: {ids}"
    empty = client.updates(start_date="2001-01-01T00:00:00Z", end_date="2001-01-02T00:00:00Z")
    assert empty.status == 200 and not empty.data, empty.body[:300]


# ---------------------------------------------------------------- errors


def test_post_without_or_with_a_bad_api_key_is_403(client: Open311Client, catalog: dict[str, Any],
                                                   open311: Open311Site) -> None:
    code = str(plain_service(catalog)["service_code"])
    fields = {"service_code": code, "lat": open311.inside[0], "long": open311.inside[1], "description": "no key"}
    attributes = answers(catalog["definitions"].get(code))
    assert_error(client.post_request(fields, attributes=attributes, api_key=None), 403)
    assert_error(client.post_request(fields, attributes=attributes, api_key="not-a-key-0123456789"), 403)


def test_post_to_an_unknown_or_missing_service_code(client: Open311Client, open311: Open311Site) -> None:
    where = {"lat": open311.inside[0], "long": open311.inside[1], "description": "which service?"}
    assert_error(client.post_request({"service_code": "NO-SUCH-SERVICE-42", **where}), 404)
    assert_error(client.post_request(where), 400)


def test_unknown_request_token_and_jurisdiction_are_404(client: Open311Client, open311: Open311Site,
                                                        http: httpx.Client) -> None:
    assert_error(client.request("999999999"), 404)
    assert_error(client.token("no-such-token-42"), 404)
    stranger = Open311Client(open311.endpoint, client.fmt, jurisdiction_id="no-such-city.example", http=http)
    assert_error(stranger.services(), 404)


def test_a_point_outside_the_jurisdiction_is_refused(client: Open311Client, catalog: dict[str, Any],
                                                     open311: Open311Site) -> None:
    code = str(plain_service(catalog)["service_code"])
    reply = client.post_request({"service_code": code, "lat": open311.outside[0], "long": open311.outside[1],
                                 "description": "far away"}, attributes=answers(catalog["definitions"].get(code)))
    assert_error(reply, 400)


def test_description_limit_is_4000_characters(client: Open311Client, catalog: dict[str, Any],
                                              open311: Open311Site) -> None:
    request_id, _ = report(client, catalog, open311, description="路" * 4000)
    assert one_request(client, request_id).get("description") == "路" * 4000
    code = str(plain_service(catalog)["service_code"])
    reply = client.post_request({"service_code": code, "lat": open311.inside[0], "long": open311.inside[1],
                                 "description": "路" * 4001}, attributes=answers(catalog["definitions"].get(code)))
    assert_error(reply, 400)


def test_a_request_needs_a_location(client: Open311Client, catalog: dict[str, Any], open311: Open311Site) -> None:
    code = str(plain_service(catalog)["service_code"])
    attributes = answers(catalog["definitions"].get(code))
    assert_error(client.post_request({"service_code": code, "description": "nowhere"}, attributes=attributes), 400)
    assert_error(client.post_request({"service_code": code, "lat": open311.inside[0], "description": "half"},
                                     attributes=attributes), 400)


# ---------------------------------------------------------------- both formats carry the same data


def test_json_and_xml_carry_the_same_data(open311: Open311Site, catalog: dict[str, Any], http: httpx.Client) -> None:
    xml = Open311Client(open311.endpoint, "xml", api_key=open311.api_key, jurisdiction_id=open311.jurisdiction_id,
                        http=http)
    jsn = Open311Client(open311.endpoint, "json", api_key=open311.api_key, jurisdiction_id=open311.jurisdiction_id,
                        http=http)
    request_id, _ = report(jsn, catalog, open311, description="同一份数据 same data\nline two")
    code = next(iter(catalog["definitions"]))
    pairs = [
        ("discovery", xml.discovery(open311.discovery), jsn.discovery(open311.discovery)),
        ("services", xml.services(), jsn.services()),
        (f"services/{code}", xml.service_definition(code), jsn.service_definition(code)),
        (f"requests/{request_id}", xml.request(request_id), jsn.request(request_id)),
        ("requests", xml.requests(service_request_id=request_id), jsn.requests(service_request_id=request_id)),
        ("errors", xml.request("999999999"), jsn.request("999999999")),
    ]
    problems: list[str] = []
    for name, a, b in pairs:
        assert a.status == b.status, (name, a.status, b.status)
        problems += [f"{name}: {p}" for p in check_envelope(a) + check_envelope(b) + differences(a.data, b.data)]
    assert_ok(problems)


# ---------------------------------------------------------------- volume (last: it files over a thousand requests)


def test_at_most_1000_requests_per_answer(open311: Open311Site, catalog: dict[str, Any], http: httpx.Client) -> None:
    jsn = Open311Client(open311.endpoint, "json", api_key=open311.api_key, jurisdiction_id=open311.jurisdiction_id,
                        http=http)
    xml = Open311Client(open311.endpoint, "xml", jurisdiction_id=open311.jurisdiction_id, http=http)
    existing = len(request_ids(jsn.requests()))
    for _ in range(max(0, 1001 - existing)):
        report(jsn, catalog, open311)
    for c in (jsn, xml):
        first = c.requests()
        assert first.status == 200, first.body[:300]
        assert len(request_ids(first)) == 1000, f"{c.fmt}: {len(request_ids(first))} requests in one answer"
        rest = c.requests(page=2)
        assert rest.status == 200 and len(request_ids(rest)) >= 1, rest.body[:300]
        assert not set(request_ids(first)) & set(request_ids(rest)), "page 2 repeats page 1"
