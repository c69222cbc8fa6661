"""The report shape and its cleaning, Open311 formats and attributes, upstream records and AI alerts: pure logic."""

from __future__ import annotations

import json
import unicodedata
from xml.etree import ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chengyun.cases.model import CaseState, Source
from chengyun.errors import DomainError, Invalid
from chengyun.intake import open311 as spec
from chengyun.intake.ai import load_alert_types, read_alert
from chengyun.intake.model import Channel, Report, backoff_s, clean, clean_text, strip_html
from chengyun.intake.upstream import batch_records, report_from_fields
from tests.helpers import workbook_bytes


def _report(**changes: object) -> Report:
    base: dict[str, object] = {"channel": Channel.GRID, "source": Source.GRID, "description": "路灯不亮",
                               "lon": 104.0, "lat": 30.0}
    base.update(changes)
    return Report(**base)  # type: ignore[arg-type]


def test_html_is_stripped_to_its_text_and_scripts_vanish() -> None:
    assert strip_html("井盖<b>缺失</b><script>alert(1)</script>，&lt;危险&gt;") == "井盖缺失，<危险>"
    assert clean(_report(description="<p>路灯</p><p>不亮</p>")).description == "路灯\n不亮"


@pytest.mark.parametrize(("text", "code"), [
    ("路灯\x00不亮", "intake.control_characters"),
    ("路灯\x1b[31m不亮", "intake.control_characters"),
    ("反向\u202e字符", "intake.control_characters"),
    ("坏编码\ufffd", "intake.bad_encoding"),
    ("代理\ud800对", "intake.bad_encoding"),
    ("   ", "intake.required"),
    ("长" * 4001, "intake.too_long"),
])
def test_bad_description_is_refused_with_a_precise_code(text: str, code: str) -> None:
    with pytest.raises(Invalid) as info:
        clean(_report(description=text))
    assert info.value.code == code
    assert info.value.params["field"] == "description"


@pytest.mark.parametrize(("changes", "code"), [
    ({"lon": 104.0, "lat": None}, "intake.half_point"),
    ({"lon": float("nan"), "lat": 30.0}, "intake.bad_point"),
    ({"lon": 200.0, "lat": 30.0}, "intake.bad_point"),
    ({"lon": None, "lat": None, "address": ""}, "intake.no_location"),
    ({"source": Source.SENSOR}, "intake.source_not_allowed"),
    ({"external_id": "bad id with spaces"}, "intake.bad_key"),
    ({"reporter_email": "not-an-email"}, "intake.bad_email"),
    ({"attachments": tuple(str(i) for i in range(10))}, "intake.too_many_attachments"),
])
def test_bad_fields_are_refused(changes: dict[str, object], code: str) -> None:
    with pytest.raises(Invalid) as info:
        clean(_report(**changes))
    assert info.value.code == code


def test_whitespace_is_tidied_and_an_address_alone_is_a_location() -> None:
    cleaned = clean(_report(lon=None, lat=None, address="  青江路  123号\n", title=" 路灯\t不亮 "))
    assert (cleaned.address, cleaned.title, cleaned.has_point) == ("青江路 123号", "路灯 不亮", False)


@given(st.text(max_size=300))
def test_cleaning_any_text_either_refuses_precisely_or_returns_text_without_control_characters(text: str) -> None:
    try:
        out = clean_text(text, "description", 4000, multiline=True)
    except DomainError as exc:
        assert exc.code.startswith("intake.")
        return
    assert all(ch == "\n" or unicodedata.category(ch) not in ("Cc", "Cs") for ch in out), repr(out)
    assert not set(out) & {"\u202e", "\u2028", "\x00", "\r", "\t"}


def test_retry_backoff_doubles_and_is_capped() -> None:
    assert [backoff_s(n) for n in (1, 2, 3, 8, 20)] == [30, 60, 120, 3600, 3600]


# --- Open311 -----------------------------------------------------------------------------------


def test_attributes_apply_by_category_lineage_and_cover_all_six_datatypes() -> None:
    fire = spec.attributes_for(("1001", "10"))
    assert [d.code for d in fire] == ["observed_at", "landmark", "hazards", "people_trapped"]
    everything = {d.datatype for d in spec.attribute_defs()}
    assert everything == set(spec.DATATYPES)


def test_attribute_values_are_typed_and_checked() -> None:
    defs = spec.attributes_for(("1001", "10"))
    typed = spec.check_attributes(defs, {"hazards": ["smoke", "fire", "smoke"], "people_trapped": ["no"],
                                         "observed_at": ["2026-11-23T08:00:00+08:00"]})
    assert typed == {"observed_at": "2026-11-23T08:00:00+08:00", "hazards": ["fire", "smoke"],
                     "people_trapped": "no"}
    for sent, code in [({"people_trapped": ["maybe"]}, "open311.attribute_bad_value"),
                       ({}, "open311.attribute_required"),
                       ({"people_trapped": ["no"], "colour": ["red"]}, "open311.unknown_attribute"),
                       ({"people_trapped": ["no", "yes"]}, "open311.attribute_single_value"),
                       ({"people_trapped": ["no"], "observed_at": ["2026-11-23T08:00"]},
                        "open311.datetime_without_zone")]:
        with pytest.raises(Invalid) as info:
            spec.check_attributes(defs, sent)
        assert info.value.code == code
    with pytest.raises(Invalid):
        spec.check_attributes(spec.attributes_for(("0101", "01")), {"volume_m3": ["inf"]})


def test_status_mapping_covers_every_state() -> None:
    closed = {s for s in CaseState if spec.status_of(s.value) == "closed"}
    assert closed == {CaseState.CLOSED, CaseState.FOLLOWED_UP, CaseState.REJECTED, CaseState.MERGED}
    assert spec.states_for("open") | spec.states_for("closed") == {s.value for s in CaseState}
    with pytest.raises(Invalid):
        spec.states_for("pending")


def test_xml_and_json_carry_the_same_data_with_singular_item_tags() -> None:
    body = [{"service_code": "0101", "metadata": True, "keywords": "a,b", "group": None}]
    assert json.loads(spec.render("json", "services", body)) == body
    xml = spec.render("xml", "services", body)
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(xml.split("\n", 1)[1])
    assert [child.tag for child in root] == ["service"]
    assert root.find("service/metadata").text == "true"  # type: ignore[union-attr]
    errors = ET.fromstring(spec.render("xml", "errors", spec.errors(400, ["坏"])).split("\n", 1)[1])
    assert [(e.findtext("code"), e.findtext("description")) for e in errors] == [("400", "坏")]


# --- upstream and AI ---------------------------------------------------------------------------


def test_upstream_records_map_fields_and_refuse_unknown_ones() -> None:
    report = report_from_fields({"external_id": "12345-001", "source": "citizen", "description": "噪音扰民",
                                 "lon": "104.01", "lat": 30.005, "crs": "gcj02", "urgency": "urgent",
                                 "occurred_at": "2026-11-23T08:00:00+08:00"}, system="sys12345")
    assert (report.external_system, report.external_id, report.source, report.lon) == \
        ("sys12345", "12345-001", Source.CITIZEN, 104.01)
    for fields, code in [({"external_id": "1", "colour": "x"}, "intake.upstream.unknown_fields"),
                         ({"description": "x"}, "intake.upstream.external_id_required"),
                         ({"external_id": "1", "urgency": "asap"}, "intake.upstream.bad_urgency"),
                         ({"external_id": "1", "lon": "east"}, "intake.upstream.bad_number"),
                         ({"external_id": "1", "occurred_at": "2026-11-23 08:00"},
                          "intake.upstream.datetime_without_zone"),
                         ({"external_id": "1", "source": "grid"}, "intake.upstream.bad_source")]:
        with pytest.raises(DomainError) as info:
            clean(report_from_fields(fields, system="s"))
        assert info.value.code in (code, "intake.source_not_allowed")


def test_batch_files_of_every_kind_read_to_the_same_records() -> None:
    rows = [["工单编号", "诉求内容", "经度", "纬度"], ["A1", "路灯不亮", "104.0", "30.0"]]
    csv_bytes = "\n".join(",".join(r) for r in rows).encode("utf-8-sig")
    json_bytes = json.dumps({"reports": [{"external_id": "A1", "description": "路灯不亮", "lon": "104.0",
                                          "lat": "30.0"}]}).encode()
    expected = [(2, {"external_id": "A1", "description": "路灯不亮", "lon": "104.0", "lat": "30.0"})]
    assert batch_records(csv_bytes, "a.csv") == expected
    assert batch_records(workbook_bytes(rows), "a.xlsx") == expected  # type: ignore[arg-type]
    assert [fields for _, fields in batch_records(json_bytes, "a.json")] == [expected[0][1]]
    for data, name, code in [(b"\xff\xfe", "a.csv", "intake.batch.not_utf8"), (b"x", "a.pdf", "intake.batch.bad_type"),
                             (b"{", "a.json", "intake.batch.bad_json"), (b"PK-not-a-zip", "a.xlsx",
                                                                         "intake.batch.not_xlsx"),
                             (b"external_id\n", "a.csv", "intake.batch.empty")]:
        with pytest.raises(Invalid) as info:
            batch_records(data, name)
        assert info.value.code == code


def test_ai_alerts_have_thresholds_and_a_camera_cool_down_key() -> None:
    types = load_alert_types()
    assert set(types) == {"fire_lane_blocked", "outfall_water_colour", "high_altitude_throwing", "stranger_at_gate",
                          "ebike_in_lift", "uncovered_soil"}
    alert = read_alert({"alert_type": "fire_lane_blocked", "camera_id": "cam-7", "confidence": 0.7,
                        "occurred_at": "2026-11-23T08:00:00+08:00", "lon": 104.0, "lat": 30.0}, types,
                       platform="ai-platform", snapshot_id=None)
    assert alert.below_threshold and alert.report.dedup_key == "ai-platform:cam-7:fire_lane_blocked"
    assert alert.report.cooldown_s == 1800 and alert.report.category_code == "1001"
    for body, code in [({"alert_type": "ufo"}, "intake.ai.unknown_type"),
                       ({"alert_type": "ebike_in_lift", "camera_id": "c", "confidence": 1.5},
                        "intake.ai.bad_confidence"),
                       ({"alert_type": "ebike_in_lift", "camera_id": "c", "confidence": True},
                        "intake.ai.bad_confidence"),
                       ({"alert_type": "ebike_in_lift", "camera_id": "c", "confidence": 0.9,
                         "occurred_at": "yesterday"}, "intake.upstream.bad_datetime"),
                       ({"alert_type": "ebike_in_lift", "x": 1}, "intake.ai.unknown_fields")]:
        with pytest.raises(Invalid) as info:
            read_alert(body, types, platform="p", snapshot_id=None)
        assert info.value.code == code
