"""The bounded memory of rows a process wrote last (`cases/recent.py`)."""

from __future__ import annotations

import pytest

from chengyun.cases.recent import RecentCases


def _values(version: int, units: list[str] | None = None) -> dict[str, object]:
    return {"version": version, "state": "registered", "assist_units": units or [], "route_note": {"rule": [1, 2]}}


def test_a_remembered_row_comes_back_with_its_stamp_and_version() -> None:
    recent = RecentCases()
    recent.put("QY-1", "901", _values(3))
    found = recent.get("QY-1")
    assert found is not None and (found.stamp, found.version, found.values["state"]) == ("901", 3, "registered")
    assert recent.get("QY-2") is None


def test_values_are_copied_in_and_out() -> None:
    recent = RecentCases(mutable=frozenset({"assist_units", "route_note"}))
    written = _values(1, ["zj"])
    recent.put("QY-1", "7", written)
    written["assist_units"].append("cg")  # the caller changes the row it got back from the step
    taken = recent.get("QY-1")
    assert taken is not None and taken.values["assist_units"] == ["zj"]
    taken.values["assist_units"].append("sw")
    taken.values["route_note"]["rule"].append(3)
    again = recent.get("QY-1")
    assert again is not None and again.values["assist_units"] == ["zj"] and again.values["route_note"] == {
        "rule": [1, 2]}


def test_without_a_stamp_or_after_drop_the_number_is_forgotten() -> None:
    recent = RecentCases()
    recent.put("QY-1", "7", _values(1))
    recent.put("QY-1", None, _values(2))  # written where the database gives no stamp
    assert recent.get("QY-1") is None
    recent.put("QY-1", "8", _values(2))
    recent.drop("QY-1")
    recent.drop("QY-404")
    assert recent.get("QY-1") is None and len(recent) == 0


def test_the_least_recently_used_row_goes_first() -> None:
    recent = RecentCases(size=2)
    recent.put("A", "1", _values(1))
    recent.put("B", "1", _values(1))
    assert recent.get("A") is not None  # A is now the most recently used
    recent.put("C", "1", _values(1))
    assert [n for n in ("A", "B", "C") if recent.get(n) is not None] == ["A", "C"] and len(recent) == 2


def test_size_zero_remembers_nothing_and_a_negative_size_is_refused() -> None:
    recent = RecentCases(size=0)
    recent.put("A", "1", _values(1))
    assert recent.get("A") is None
    with pytest.raises(ValueError):
        RecentCases(size=-1)
