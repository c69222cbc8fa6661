"""The address parser on every real Chengdu community and village name in ../shared/data/cn_admin_divisions:
composed into full addresses, each part must come back (with and without the names known to the matcher)."""

from __future__ import annotations

import csv

import pytest

from chengyun.places.parsing import KnownNames, parse_address
from tests.helpers import shared_data

DATA = shared_data()

pytestmark = pytest.mark.shared_data
DIVISIONS = DATA / "cn_admin_divisions"


def _rows(name: str) -> list[dict[str, str]]:
    with (DIVISIONS / name).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _addresses() -> list[tuple[str, str, str, str]]:
    """(district, street, community, full address) for every Chengdu community and village."""
    districts = {r["code"]: r["name"] for r in _rows("chengdu_areas.csv")}
    streets = {r["code"]: r["name"] for r in _rows("chengdu_streets.csv")}
    found = []
    for row in _rows("chengdu_villages.csv"):
        district, street = districts[row["areaCode"]], streets[row["streetCode"]]
        community = row["name"]
        found.append((district, street, community, f"四川省成都市{district}{street}{community}幸福路12号3栋1单元"))
    return found


def _accuracy(known: KnownNames) -> tuple[float, list[str]]:
    addresses = _addresses()
    wrong = []
    for district, street, community, text in addresses:
        parsed = parse_address(text, known)
        got = (parsed.province, parsed.city, parsed.district, parsed.street, parsed.community, parsed.road,
               parsed.number, parsed.building, parsed.unit)
        if got != ("四川省", "成都市", district, street, community, "幸福路", "12号", "3栋", "1单元"):
            wrong.append(f"{text} → {got}")
    return 1 - len(wrong) / len(addresses), wrong


def test_the_suffix_grammar_reads_real_chengdu_addresses() -> None:
    rate, wrong = _accuracy(KnownNames())
    assert len(_addresses()) > 3000
    assert rate >= 0.97, wrong[:20]


def test_with_the_area_tree_names_every_real_address_is_read() -> None:
    names = [("district", r["name"]) for r in _rows("chengdu_areas.csv")]
    names += [("street", r["name"]) for r in _rows("chengdu_streets.csv")]
    names += [("community", r["name"]) for r in _rows("chengdu_villages.csv")]
    rate, wrong = _accuracy(KnownNames.of([("city", "成都市"), *names]))
    assert rate >= 0.995, wrong[:20]
