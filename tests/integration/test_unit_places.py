"""The dispatch guard's in-memory unit lookup on SQLite and PostgreSQL: every unit's kind and area path, a unit
added since the last load read on demand, any change (also by hand in SQL) seen at the next check."""

from __future__ import annotations

from sqlalchemy import select, update

from chengyun.areas.tables import AreaRow
from chengyun.bootstrap import Container
from chengyun.org.model import UnitPlace
from chengyun.org.places import UnitPlaces
from chengyun.org.tables import UnitRow


def _path(c: Container, code: str) -> str:
    with c.sessions() as session:
        path = session.scalar(select(AreaRow.path).where(AreaRow.code == code))
    assert path is not None
    return path


def _add(c: Container, code: str, kind: str, area: str) -> None:
    with c.sessions.begin() as session:
        session.add(UnitRow(code=code, name=code, kind=kind, level="street", area_code=area))


def test_every_unit_has_its_kind_and_its_areas_path_and_an_unknown_code_none(tiny_district: Container) -> None:
    c = tiny_district
    _add(c, "cg", "department", "510113002000")
    _add(c, "yihu-jwh", "community_committee", "510113002001")
    places = UnitPlaces(c.sessions, every_s=3600)
    assert places.get("cg") == UnitPlace("department", _path(c, "510113002000"))
    assert places.get("yihu-jwh") == UnitPlace("community_committee", _path(c, "510113002001"))
    assert places.get("yihu-jwh").area_path.startswith(places.get("cg").area_path)  # type: ignore[union-attr]
    assert places.get("nope") is None


def test_a_unit_added_after_the_load_is_read_from_the_database_at_once(tiny_district: Container) -> None:
    c = tiny_district
    _add(c, "cg", "department", "510113002000")
    places = UnitPlaces(c.sessions, every_s=3600)
    assert places.get("cg") is not None and places.get("zj") is None
    _add(c, "zj", "department", "510113002002")
    assert places.get("zj") == UnitPlace("department", _path(c, "510113002002"))


def test_a_unit_moved_by_hand_is_seen_at_the_next_check_and_not_before(tiny_district: Container) -> None:
    c = tiny_district
    _add(c, "cg", "department", "510113002000")
    cached = UnitPlaces(c.sessions, every_s=3600)
    checked = UnitPlaces(c.sessions, every_s=0)
    street = UnitPlace("department", _path(c, "510113002000"))
    assert cached.get("cg") == street and checked.get("cg") == street
    with c.engine.begin() as conn:  # no service involved: the fingerprint is the data itself
        conn.execute(update(UnitRow).where(UnitRow.code == "cg")
                     .values(area_code="510113002001", kind="community_committee"))
    moved = UnitPlace("community_committee", _path(c, "510113002001"))
    assert checked.get("cg") == moved
    assert cached.get("cg") == street  # within its interval: the snapshot as loaded
    cached.forget()
    assert cached.get("cg") == moved
