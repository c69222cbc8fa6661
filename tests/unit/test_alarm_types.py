"""Alarm types as data: the shipped file (every spec type, real catalogue items) and precise errors for bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from chengyun.alarms.alarm_types import check_categories, load_alarm_types, parse_alarm_types
from chengyun.categories.defaults import default_categories
from chengyun.categories.model import Catalogue
from chengyun.errors import Invalid
from chengyun.shared.handling import Urgency

SPEC_TYPES = {"gas_leak", "smoke", "sos", "elderly_inactivity", "household_silence", "hydrant_low_pressure",
              "water_intrusion", "ebike_hot_spot", "device_offline", "low_battery", "gas_repeated"}


def test_the_shipped_file_names_every_type_and_files_cases_under_active_catalogue_items() -> None:
    types = load_alarm_types()
    assert set(types) == SPEC_TYPES
    assert not types["device_offline"].opens_case and not types["low_battery"].opens_case
    assert types["device_offline"].category_code is None and types["device_offline"].urgency is None
    opening = {code for code, kind in types.items() if kind.opens_case}
    assert opening == SPEC_TYPES - {"device_offline", "low_battery"}
    catalogue = Catalogue(default_categories())
    for code in opening:
        item = catalogue.item(str(types[code].category_code))  # raises for a class or a retired item
        assert item.is_item and item.active
    check_categories(types, lambda code: code in catalogue and catalogue.get(code).is_item)
    assert (types["gas_leak"].category_code, types["gas_leak"].urgency) == ("0504", Urgency.CRITICAL)
    assert types["smoke"].category_code == "0503" and types["sos"].urgency == Urgency.CRITICAL
    assert types["gas_leak"].name("zh-CN") == "燃气泄漏" and types["gas_leak"].name("en") == "Gas leak"


def _error(text: str) -> Invalid:
    with pytest.raises(Invalid) as err:
        parse_alarm_types(text)
    return err.value


GOOD = "types:\n  gas_leak:\n    name: {zh: 燃气泄漏, en: Gas leak}\n    opens_case: true\n"


@pytest.mark.parametrize(("text", "code", "params"), [
    ("types: [1, 2", "alarms.types.bad_yaml", {"line": 1}),
    ("version: 1\n", "alarms.types.no_types", {}),
    ("version: 2\ntypes: {a: {}}\n", "alarms.types.bad_version", {"version": "2"}),
    ("types:\n  Gas-Leak: {}\n", "alarms.types.bad_code", {"type": "Gas-Leak"}),
    ("types:\n  gas: [1]\n", "alarms.types.not_a_mapping", {"type": "gas"}),
    ("types:\n  gas: {name: {zh: 燃气, en: Gas}, opens_case: false, colour: red}\n", "alarms.types.unknown_fields",
     {"type": "gas", "fields": "colour"}),
    ("types:\n  gas: {name: {zh: 燃气}, opens_case: false}\n", "alarms.types.bad_field",
     {"type": "gas", "field": "name.en"}),
    ("types:\n  gas: {name: {zh: 燃气, en: Gas}, opens_case: maybe}\n", "alarms.types.bad_field",
     {"type": "gas", "field": "opens_case"}),
    (GOOD, "alarms.types.case_needs_category", {"type": "gas_leak"}),
    (GOOD + '    category: "0504"\n    urgency: soon\n', "alarms.types.bad_urgency",
     {"type": "gas_leak", "value": "soon", "allowed": "critical, urgent, normal"}),
])
def test_bad_files_are_refused_precisely(text: str, code: str, params: dict[str, object]) -> None:
    error = _error(text)
    assert (error.code, error.params) == (code, params)


def test_a_streets_own_file_and_an_unknown_category(tmp_path: Path) -> None:
    path = tmp_path / "types.yaml"
    path.write_text(GOOD + '    category: "9999"\n    urgency: urgent\n', encoding="utf-8")
    types = load_alarm_types(path)
    assert types["gas_leak"].urgency == Urgency.URGENT
    with pytest.raises(Invalid) as err:
        check_categories(types, lambda code: code == "0504")
    assert err.value.params == {"type": "gas_leak", "category": "9999"}
    with pytest.raises(Invalid) as missing:
        load_alarm_types(tmp_path / "none.yaml")
    assert missing.value.code == "alarms.types.unreadable"
