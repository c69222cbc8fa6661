"""Area levels and division codes."""

from __future__ import annotations

import pytest

from chengyun.areas.model import AreaLevel, infer_level, nests_in, normalise_code, parse_level
from chengyun.errors import Invalid


@pytest.mark.parametrize(("raw", "level", "stored"), [
    ("5101", AreaLevel.CITY, "510100000000"),
    ("510100", AreaLevel.CITY, "510100000000"),
    ("510113", AreaLevel.DISTRICT, "510113000000"),
    ("510113002", AreaLevel.STREET, "510113002000"),
    ("510113002001", AreaLevel.COMMUNITY, "510113002001"),
    ("510113002001007", AreaLevel.GRID, "510113002001007"),
    ("510113002001007012", AreaLevel.MICROGRID, "510113002001007012"),
])
def test_codes_are_inferred_and_normalised(raw: str, level: AreaLevel, stored: str) -> None:
    assert infer_level(raw) == level
    assert normalise_code(raw, level) == stored


@pytest.mark.parametrize(("raw", "level"), [
    ("510113000", AreaLevel.STREET),  # street serial 000
    ("510113002000", AreaLevel.COMMUNITY),  # community serial 000
    ("51011300200", AreaLevel.COMMUNITY),  # too short
    ("5101130020010070", AreaLevel.GRID),  # 16 digits
    ("51O113", AreaLevel.DISTRICT),  # letter O
])
def test_bad_codes_are_refused(raw: str, level: AreaLevel) -> None:
    with pytest.raises(Invalid) as info:
        normalise_code(raw, level)
    assert info.value.code == "areas.bad_code"


def test_levels_know_their_neighbours_and_labels() -> None:
    assert AreaLevel.GRID.parent_level == AreaLevel.COMMUNITY
    assert AreaLevel.CITY.parent_level is None and AreaLevel.MICROGRID.child_level is None
    assert parse_level("街道") == AreaLevel.STREET and parse_level("county") == AreaLevel.DISTRICT
    with pytest.raises(Invalid):
        parse_level("province")


def test_nesting_uses_the_significant_prefix() -> None:
    assert nests_in("510113002001", "510113002000", AreaLevel.STREET)
    assert not nests_in("510113003001", "510113002000", AreaLevel.STREET)
