"""The pure webhook policy: retry schedule, signature, body, payloads and input checks."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chengyun.auth.model import Role
from chengyun.cases.model import Action, Case, CaseState, TimelineEntry, evolve
from chengyun.errors import Invalid
from chengyun.intake import delivery as policy
from chengyun.intake.delivery import DeliveryState, Step

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def test_retries_wait_30_s_doubling_up_to_an_hour() -> None:
    waits = [policy.retry_delay(n).total_seconds() for n in range(1, 13)]
    assert waits[:8] == [30, 60, 120, 240, 480, 960, 1920, 3600]
    assert set(waits[7:]) == {3600} and policy.retry_delay(10_000) == timedelta(hours=1)


def test_the_twelfth_failure_gives_up_and_earlier_ones_back_off() -> None:
    assert policy.after_failure(1, T0) == (DeliveryState.PENDING, T0 + timedelta(seconds=30))
    assert policy.after_failure(11, T0) == (DeliveryState.PENDING, T0 + timedelta(hours=1))
    assert policy.after_failure(12, T0) == (DeliveryState.FAILED, None)
    assert policy.succeeded(200) and policy.succeeded(204) and not policy.succeeded(302)
    assert not policy.succeeded(500)


def test_the_signature_is_hex_hmac_sha256_of_the_exact_body() -> None:
    # the well-known RFC-style example of HMAC-SHA256
    raw = b"The quick brown fox jumps over the lazy dog"
    expected = "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    assert policy.sign("key", raw) == f"sha256={expected}"
    assert policy.verify("key", raw, f"sha256={expected}")
    assert not policy.verify("key", raw + b" ", f"sha256={expected}")
    assert not policy.verify("other", raw, f"sha256={expected}")
    assert not policy.verify("key", raw, None)


def test_the_body_is_compact_sorted_utf8_json() -> None:
    raw = policy.body({"note": "已清运", "b": 1, "a": None})
    assert raw == '{"a":null,"b":1,"note":"已清运"}'.encode()
    assert json.loads(raw) == {"note": "已清运", "b": 1, "a": None}
    signed = policy.sign("s" * 16, raw)
    assert signed == "sha256=" + hmac.new(b"s" * 16, raw, hashlib.sha256).hexdigest()
    headers = policy.headers(7, signed)
    assert headers["X-Chengyun-Event"] == "case.step" and headers["X-Chengyun-Delivery"] == "7"
    assert headers["Content-Type"] == "application/json"


def _steps() -> list[Step]:
    due1, due2, due3 = T0 + timedelta(days=5), T0 + timedelta(days=6), T0 + timedelta(days=9)
    return [
        Step(1, "register", "reported", "registered", T0),
        Step(2, "dispatch", "registered", "dispatched", T0, "", {"lead_unit": "cg", "handling_due": due1.isoformat(),
                                                               "claim_due": due1.isoformat()}),
        Step(3, "escalate", "dispatched", "registered", T0, "超出权限", {"handling_level": "district"}),
        Step(4, "dispatch", "registered", "dispatched", T0, "", {"lead_unit": "qj", "handling_due": due2.isoformat(),
                                                               "claim_due": due2.isoformat()}),
        Step(5, "claim", "dispatched", "claimed", T0 + timedelta(hours=1)),
        Step(6, "approve_extension", "claimed", "claimed", T0, "", {"handling_due": due3.isoformat()}),
        Step(7, "reject", "claimed", "rejected", T0),
    ]


def test_payloads_carry_each_steps_state_and_the_due_date_as_it_stood_then() -> None:
    out = policy.payloads("12345", "GD-1", "QY-20261123-000001", list(reversed(_steps())), SHANGHAI)
    assert [p["version"] for p in out] == list(range(1, 8))
    first = out[0]
    assert first == {"system": "12345", "external_id": "GD-1", "case_number": "QY-20261123-000001", "version": 1,
                     "action": "register", "from_state": "reported", "to_state": "registered", "status": "open",
                     "note": "", "at": "2026-11-23T09:00:00+08:00", "handling_due": None}
    dues = [p["handling_due"] for p in out]
    assert dues == [None, "2026-11-28T09:00:00+08:00", None, "2026-11-29T09:00:00+08:00",
                    "2026-11-29T09:00:00+08:00", "2026-12-02T09:00:00+08:00", "2026-12-02T09:00:00+08:00"]
    assert out[-1]["status"] == "closed" and out[2]["note"] == "超出权限"


def test_the_due_date_rule_agrees_with_the_case_model() -> None:
    case, due = Case(), None
    for step in _steps()[:-1]:
        entry = TimelineEntry(step.seq, Action(step.action), CaseState(step.from_state), CaseState(step.to_state),
                              step.at, None, Role.OPERATOR, None, step.note, (), step.data)
        case, due = evolve(case, entry), policy.due_after(due, step)
        assert due == case.handling_due, step.action


@pytest.mark.parametrize("state, status", [("closed", "closed"), ("followed_up", "closed"), ("rejected", "closed"),
                                           ("merged", "closed"), ("dispatched", "open"), ("suspended", "open")])
def test_status_is_closed_only_for_finished_cases(state: str, status: str) -> None:
    assert policy.status_of(state) == status


def test_inputs_are_checked_precisely() -> None:
    assert policy.check_system(" 12345 ") == "12345" and policy.check_system("sc.gov-12345_v2") == "sc.gov-12345_v2"
    assert policy.check_url(" https://gov.example/hook?x=1 ") == "https://gov.example/hook?x=1"
    assert policy.check_url("http://127.0.0.1:8080/h") == "http://127.0.0.1:8080/h"
    for bad in ("", "-x", "有空格", "a b", "x" * 41):
        with pytest.raises(Invalid) as err:
            policy.check_system(bad)
        assert err.value.code == "webhooks.bad_system"
    for bad in ("ftp://h/x", "https://", "gov.example/hook", "https://u:p@h/x", "http://h:99999/", "http://h/a b",
                "https://h/" + "x" * 500):
        with pytest.raises(Invalid) as err:
            policy.check_url(bad)
        assert err.value.code == "webhooks.bad_url", bad
    assert policy.check_secret("s" * 16) == "s" * 16
    for bad in ("short", "x" * 201, "line\nbreak-0123456789"):
        with pytest.raises(Invalid) as err:
            policy.check_secret(bad)
        assert err.value.code == "webhooks.bad_secret"
    assert policy.short_error("a\n b  c") == "a b c" and len(policy.short_error("x" * 500)) == 200
