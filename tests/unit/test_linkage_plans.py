"""Linkage plans and channel data as files: the packaged defaults, and every refusal precise (code and where)."""

from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from chengyun.errors import Invalid
from chengyun.i18n import translate
from chengyun.linkage.channels import ChannelKind, default_channels, load_channels
from chengyun.linkage.model import RecipientKind, default_plans, load_plans

ALARM_TYPES = ("gas_leak", "smoke", "sos", "elderly_inactivity", "household_silence", "hydrant_low_pressure",
               "water_intrusion", "ebike_hot_spot")


def plan_file(**plans: object) -> str:
    default = {"tiers": [{"notify": [{"to": "center", "confirm": "已受理"}]}]}
    return yaml.safe_dump({"plans": plans, "default": default}, allow_unicode=True)


def refused(raw: str, loader=load_plans) -> Invalid:  # type: ignore[no-untyped-def]
    with pytest.raises(Invalid) as info:
        loader(raw)
    return info.value


# --- the packaged plans --------------------------------------------------------------------------------------


def test_every_default_alarm_type_has_a_plan_with_a_checklist_and_an_escalation_table() -> None:
    book = default_plans()
    assert set(ALARM_TYPES) <= set(book.plans)
    for alarm_type in ALARM_TYPES:
        plan = book.for_type(alarm_type)
        assert plan.key == alarm_type and plan.checklist, alarm_type
        assert plan.tiers[0].after_min == 0
        assert all(r.confirm.zh and r.confirm.en for tier in plan.tiers for r in tier.recipients)
        assert all(s.text.zh and s.text.en for s in plan.checklist)
    assert book.for_type("device_offline") is book.default


def test_the_gas_leak_plan_reaches_every_party_at_once_then_escalates_to_street_police_and_district() -> None:
    plan = default_plans().for_type("gas_leak")
    assert [r.code for r in plan.tiers[0].recipients] == [
        "family", "grid_worker", "community", "center", "liaison:fire", "liaison:gas"]
    assert {r.code: r.confirm.zh for r in plan.tiers[0].recipients}["liaison:gas"] == "已关阀"
    assert [(t.after_min, [r.code for r in t.recipients]) for t in plan.tiers[1:]] == [
        (5, ["street", "liaison:police"]), (10, ["district"])]
    assert [s.text.zh for s in plan.checklist][:3] == ["关闭燃气总阀", "开窗通风", "禁止明火，不开关电器、不用手机"]
    assert plan.name.get("en") == "Gas leak response" and plan.name.get("zh-CN") == "燃气泄漏联动预案"


def test_json_is_read_like_yaml() -> None:
    data = {"plans": {"smoke": {"tiers": [{"notify": [{"to": "liaison:fire", "confirm": {"zh-CN": "已出警"}}]}],
                                "checklist": [{"code": "call_119", "text": "拨打119"}]}},
            "default": {"tiers": [{"notify": [{"to": "center", "confirm": "已受理"}]}]}}
    book = load_plans(json.dumps(data, ensure_ascii=False))
    [recipient] = book.for_type("smoke").tiers[0].recipients
    assert (recipient.kind, recipient.name, recipient.confirm.get("en")) == (RecipientKind.LIAISON, "fire", "已出警")


# --- refusals ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("plan", "code", "where"), [
    ({"tiers": [{"notify": [{"to": "mayor", "confirm": "x"}]}]}, "linkage.data.bad_recipient",
     "plans.gas_leak.tiers[0].notify[0].to"),
    ({"tiers": [{"notify": [{"to": "liaison", "confirm": "x"}]}]}, "linkage.data.bad_recipient",
     "plans.gas_leak.tiers[0].notify[0].to"),
    ({"tiers": [{"notify": [{"to": "family:x", "confirm": "x"}]}]}, "linkage.data.bad_recipient",
     "plans.gas_leak.tiers[0].notify[0].to"),
    ({"tiers": [{"notify": [{"to": "family"}]}]}, "linkage.data.missing", "plans.gas_leak.tiers[0].notify[0]"),
    ({"tiers": [{"notify": [{"to": "family", "confirm": "x", "cc": 1}]}]}, "linkage.data.unknown_field",
     "plans.gas_leak.tiers[0].notify[0]"),
    ({"tiers": [{"after_min": 3, "notify": [{"to": "family", "confirm": "x"}]}]},
     "linkage.data.first_tier_delayed", "plans.gas_leak.tiers[0].after_min"),
    ({"tiers": [{"notify": [{"to": "family", "confirm": "x"}]}, {"after_min": 5, "notify": [
        {"to": "street", "confirm": "x"}]}, {"after_min": 5, "notify": [{"to": "district", "confirm": "x"}]}]},
     "linkage.data.tier_order", "plans.gas_leak.tiers[2].after_min"),
    ({"tiers": [{"notify": [{"to": "family", "confirm": "x"}]}, {"after_min": -1, "notify": [
        {"to": "street", "confirm": "x"}]}]}, "linkage.data.bad_number", "plans.gas_leak.tiers[1].after_min"),
    ({"tiers": [{"notify": [{"to": "family", "confirm": "x"}, {"to": "family", "confirm": "y"}]}]},
     "linkage.data.duplicate", "plans.gas_leak.tiers[0].notify"),
    ({"tiers": [{"notify": []}]}, "linkage.data.bad_count", "plans.gas_leak.tiers[0].notify"),
    ({"tiers": []}, "linkage.data.bad_count", "plans.gas_leak.tiers"),
    ({"tiers": "now"}, "linkage.data.not_list", "plans.gas_leak.tiers"),
    ({"tiers": [{"notify": [{"to": "family", "confirm": {"en": "Reached"}}]}]}, "linkage.data.missing",
     "plans.gas_leak.tiers[0].notify[0].confirm"),
    ({"tiers": [{"notify": [{"to": "family", "confirm": "x"}]}], "checklist": [
        {"code": "Close-Valve", "text": "关阀"}]}, "linkage.data.bad_code", "plans.gas_leak.checklist[0].code"),
    ({"tiers": [{"notify": [{"to": "family", "confirm": "x"}]}], "checklist": [
        {"code": "a", "text": "1"}, {"code": "a", "text": "2"}]}, "linkage.data.duplicate",
     "plans.gas_leak.checklist[1].code"),
    ({"tiers": [{"notify": [{"to": "family", "confirm": "x" * 61}]}]}, "linkage.data.bad_text",
     "plans.gas_leak.tiers[0].notify[0].confirm"),
])
def test_a_bad_plan_is_refused_with_the_code_and_where(plan: dict[str, object], code: str, where: str) -> None:
    error = refused(plan_file(gas_leak=plan))
    assert (error.code, error.params["where"]) == (code, where)
    for locale in ("zh-CN", "en"):
        text = translate(error.code, locale, **error.params)
        assert where in text and "{" not in text, text


def test_file_level_problems_are_refused() -> None:
    assert refused("plans: [unclosed").code == "linkage.data.bad_yaml"
    assert refused("plans: [unclosed").params["line"] == 1
    assert refused("- a list").code == "linkage.data.not_mapping"
    assert refused("plans: {}\n").params == {"where": "", "field": "default"}
    assert refused("plans: {}\ndefault: {tiers: []}\nextra: 1\n").params["field"] == "extra"
    assert refused(plan_file(**{"Gas-Leak": {"tiers": []}})).code == "linkage.data.bad_code"
    assert refused("x" * (1024 * 1024 + 1)).code == "linkage.data.too_large"


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                max_size=3), max_leaves=12))
def test_arbitrary_data_is_either_a_plan_book_or_a_precise_refusal(data: object) -> None:
    for loader in (load_plans, load_channels):
        try:
            loader(json.dumps({"plans": data, "default": data, "areas": data}))
        except Invalid as error:
            assert error.code.startswith("linkage.data."), error.code


# --- channel data ----------------------------------------------------------------------------------------------


def test_the_packaged_channels_send_every_liaison_to_the_sms_sink() -> None:
    book = default_channels()
    here = book.for_path("/510100000000/510113000000/510113002000/")
    assert set(here.liaisons) >= {"police", "fire", "medical", "gas", "water"}
    assert all(e.channel == ChannelKind.SMS for ends in here.liaisons.values() for e in ends)
    assert book.sms_gateway == "log" and book.smtp is None and book.ack_base_url == ""
    assert here.units["community"].kinds == ("community_committee",)


def test_an_area_block_overrides_the_default_for_its_subtree_only() -> None:
    book = load_channels("""
ack_base_url: https://cy.example.cn/
default:
  liaisons:
    fire: [{channel: sms, address: "028-0000-0119"}]
    police: [{channel: sms, address: "028-0000-0110"}]
areas:
  "510113002000":
    liaisons:
      fire: [{channel: wecom, address: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K", label: 消防群,
              mention: ["13800000001"]}]
    groups:
      community: [{channel: dingtalk, address: "https://oapi.dingtalk.com/robot/send?access_token=T",
                   secret: SECabc, msgtype: text}]
email: {host: 127.0.0.1, port: 2525, sender: cy@example.cn}
""")
    inside = book.for_path("/510100000000/510113000000/510113002000/510113002001/")
    outside = book.for_path("/510100000000/510113000000/510113003000/")
    assert inside.liaisons["fire"][0].channel == ChannelKind.WECOM
    assert inside.liaisons["fire"][0].mentions == ("13800000001",)
    assert inside.liaisons["police"][0].address == "028-0000-0110"  # not overridden: the default stays
    assert inside.groups["community"][0].secret == "SECabc" and inside.groups["community"][0].msgtype == "text"
    assert outside.liaisons["fire"][0].channel == ChannelKind.SMS and "community" not in outside.groups
    assert book.ack_base_url == "https://cy.example.cn" and book.smtp is not None and book.smtp.port == 2525


@pytest.mark.parametrize(("text", "code", "where"), [
    ("default: {liaisons: {fire: [{channel: fax, address: '1'}]}}", "linkage.data.bad_choice",
     "default.liaisons.fire[0].channel"),
    ("default: {liaisons: {fire: [{channel: sms, address: 'call me'}]}}", "linkage.data.bad_address",
     "default.liaisons.fire[0].address"),
    ("default: {liaisons: {fire: [{channel: wecom, address: 'ftp://x'}]}}", "linkage.data.bad_address",
     "default.liaisons.fire[0].address"),
    ("default: {liaisons: {fire: [{channel: email, address: 'nobody'}]}}", "linkage.data.bad_address",
     "default.liaisons.fire[0].address"),
    ("default: {liaisons: {fire: [{channel: wecom, address: 'https://h/x', mention: [abc]}]}}",
     "linkage.data.bad_address", "default.liaisons.fire[0].mention[0]"),
    ("default: {groups: {mayor: []}}", "linkage.data.bad_code", "default.groups"),
    ("default: {units: {block: {kinds: [x]}}}", "linkage.data.bad_code", "default.units.block"),
    ("areas: {street-1: {}}", "linkage.data.bad_code", "areas"),
    ("sms: {gateway: aliyun}", "linkage.data.bad_choice", "sms.gateway"),
    ("email: {port: 25}", "linkage.data.missing", "email"),
    ("ack_base_url: not a url", "linkage.data.bad_address", "ack_base_url"),
])
def test_a_bad_channel_file_is_refused_with_the_code_and_where(text: str, code: str, where: str) -> None:
    error = refused(text, load_channels)
    assert (error.code, error.params["where"]) == (code, where)
