"""The dispatch guard as a pure rule: a unit inside the dispatcher's subtree, a community only for admitted items."""

from __future__ import annotations

import pytest

from chengyun.cases.policies import check_push_down
from chengyun.errors import Forbidden, Invalid
from chengyun.org.model import UnitKind, UnitPlace

STREET = "/510113/510113002/"
COMMITTEE = UnitPlace(UnitKind.COMMUNITY_COMMITTEE.value, "/510113/510113002/510113002001/")
DEPARTMENT = UnitPlace(UnitKind.DEPARTMENT.value, "/510113/510113002/")


def test_a_department_inside_the_scope_receives_any_item() -> None:
    check_push_down("cg", DEPARTMENT, "0101", False, STREET)
    check_push_down("cg", DEPARTMENT, "0101", True, "/510113/")


def test_a_unit_outside_the_dispatchers_subtree_is_refused_with_the_scope() -> None:
    with pytest.raises(Forbidden) as err:
        check_push_down("cg", DEPARTMENT, "0101", True, "/510113/510113002/510113002001/")
    assert err.value.code == "cases.push_down.outside_scope"
    assert err.value.params == {"unit": "cg", "scope": "/510113/510113002/510113002001/"}


def test_a_community_committee_gets_only_items_on_the_admission_list() -> None:
    check_push_down("yh", COMMITTEE, "0201", True, STREET)
    with pytest.raises(Forbidden) as err:
        check_push_down("yh", COMMITTEE, "0101", False, STREET)
    assert err.value.code == "cases.push_down.not_admitted"
    assert err.value.params == {"unit": "yh", "category": "0101"}


def test_an_unknown_unit_is_invalid_not_forbidden() -> None:
    with pytest.raises(Invalid) as err:
        check_push_down("nope", None, "0101", True, STREET)
    assert (err.value.code, err.value.params) == ("cases.unknown_unit", {"unit": "nope"})


def test_a_sibling_whose_path_shares_a_prefix_without_the_slash_is_outside() -> None:
    sibling = UnitPlace(UnitKind.DEPARTMENT.value, "/510113/5101130021/")
    with pytest.raises(Forbidden):
        check_push_down("x", sibling, "0101", True, "/510113/510113002/")
