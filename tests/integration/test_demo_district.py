"""The demo street stored on SQLite and PostgreSQL: numbers, location on borders, scoped directory, reveals."""

from __future__ import annotations

import json

import pytest
import shapely
from fastapi.testclient import TestClient
from shapely.geometry import shape
from sqlalchemy import func, select

from chengyun.areas.tables import AreaRow, BuildingRow, CompoundRow
from chengyun.bootstrap import Container
from chengyun.demo.load import ensure_demo
from chengyun.org.tables import PersonRow
from chengyun.web.app import create_app


@pytest.fixture
def demo(container: Container) -> tuple[Container, dict[str, str]]:
    accounts = ensure_demo(container, echo=lambda _: None)
    return container, {a.username: a.password for a in accounts}


def _count(container: Container, stmt: object) -> int:
    with container.sessions() as session:
        return int(session.scalar(stmt) or 0)  # type: ignore[call-overload]


def test_demo_has_the_real_street_figures(demo: tuple[Container, dict[str, str]]) -> None:
    container, accounts = demo
    with container.sessions() as session:
        per_level = dict(session.execute(select(AreaRow.level, func.count()).group_by(AreaRow.level)).all())
    assert per_level["street"] == 1 and per_level["community"] == 18 and per_level["microgrid"] == 1121
    assert _count(container, select(func.count()).where(PersonRow.kind == "grid_worker")) == 254
    assert _count(container, select(func.count()).where(PersonRow.kind == "microgrid_worker")) == 3102
    assert _count(container, select(func.count()).select_from(CompoundRow)) == 321
    assert _count(container, select(func.count()).select_from(BuildingRow)) > 321
    assert set(accounts) == {"admin", "operator", "yihu", "handler", "gridworker", "resident", "auditor"}


def test_running_the_demo_again_adds_nothing_and_issues_new_passwords(
    demo: tuple[Container, dict[str, str]],
) -> None:
    container, first = demo
    second = {a.username: a.password for a in ensure_demo(container, echo=lambda _: None)}
    assert _count(container, select(func.count()).select_from(AreaRow)) == 1 + 1 + 1 + 18 + _grids(container) + 1121
    assert all(first[name] != second[name] for name in first)
    client = TestClient(create_app(container))
    old = client.post("/api/auth/login", json={"username": "operator", "password": first["operator"]})
    assert old.status_code == 401
    new = client.post("/api/auth/login", json={"username": "operator", "password": second["operator"]})
    assert new.status_code == 200


def _grids(container: Container) -> int:
    return _count(container, select(func.count()).where(AreaRow.level == "grid"))


def test_points_on_shared_microgrid_borders_and_outside_the_street(demo: tuple[Container, dict[str, str]]) -> None:
    container, _ = demo
    with container.sessions() as session:
        rows = session.scalars(select(AreaRow).where(AreaRow.level == "microgrid").order_by(AreaRow.code)).all()
        street = shape(json.loads(session.get(AreaRow, "510113002000").geometry))  # type: ignore[union-attr]
    shapes = {r.code: shape(json.loads(r.geometry)) for r in rows[:60]}  # type: ignore[arg-type]
    # rows are in code order, so a shared vertex's owners outside these 60 never have the smallest code
    vertices = {code: set(map(tuple, shapely.get_coordinates(geom).tolist())) for code, geom in shapes.items()}
    tree = shapely.STRtree(list(shapes.values()))
    codes = list(shapes)
    checked = 0
    for code in codes:
        for j in tree.query(shapes[code], predicate="touches"):
            shared = sorted(vertices[code] & vertices[codes[int(j)]])
            if not shared:
                continue
            # a vertex both cells share lies exactly on both boundaries: deepest level, then smallest code
            lon, lat = shared[len(shared) // 2]
            owners = [c for c in codes if (lon, lat) in vertices[c]]
            assert container.areas.index().locate_code(lon, lat) == min(owners), (code, owners)
            inside = shapes[code].representative_point()
            assert container.areas.index().locate_code(inside.x, inside.y) == code
            checked += 1
    assert checked >= 50
    minx, miny, maxx, maxy = street.bounds
    for lon, lat in ((minx - 0.001, miny), (maxx + 0.01, maxy), (0.0, 0.0)):
        assert container.areas.index().locate(lon, lat) is None


def test_every_microgrid_centre_locates_to_itself_with_the_full_chain(demo: tuple[Container, dict[str, str]]) -> None:
    container, _ = demo
    with container.sessions() as session:
        rows = session.execute(select(AreaRow.code, AreaRow.center_lon, AreaRow.center_lat)
                               .where(AreaRow.level == "microgrid")).all()
    index = container.areas.index()
    located = index.locate_many([r[1] for r in rows], [r[2] for r in rows])
    assert located == [r[0] for r in rows]
    chain = index.locate(rows[0][1], rows[0][2])
    assert chain is not None
    assert [ref.level.value for ref in chain] == ["city", "district", "street", "community", "grid", "microgrid"]
    assert [ref.name for ref in chain[:3]] == ["成都市", "青白江区", "大弯街道"]


def test_directory_is_scoped_masked_and_reveals_are_audited(demo: tuple[Container, dict[str, str]]) -> None:
    container, accounts = demo
    client = TestClient(create_app(container))
    csrf = client.post("/api/auth/login", json={"username": "yihu", "password": accounts["yihu"]}).json()["csrf_token"]
    page = client.get("/api/org/people", params={"limit": 500}).json()
    assert page["total"] > 0
    assert all(p["area_code"].startswith("510113002001") for p in page["items"])
    assert all("****" in p["phone"] for p in page["items"])
    refused = client.get("/api/org/people", params={"area_code": "510113002002"})
    assert refused.status_code == 404
    person = page["items"][0]
    revealed = client.post(f"/api/org/people/{person['id']}/reveal-phone", json={"reason": "联系核实隐患"},
                           headers={"X-CSRF-Token": csrf})
    assert revealed.status_code == 200
    phone = revealed.json()["phone"]
    assert len(phone) == 11 and phone[:3] == person["phone"][:3] and phone[-4:] == person["phone"][-4:]
    event = container.audit.recent(action="contact.reveal")[0]
    assert event.actor == "yihu" and event.target == f"person:{person['id']}"
    assert event.detail["reason"] == "联系核实隐患"
    with container.sessions() as session:
        outsider = session.scalar(select(PersonRow.id).where(PersonRow.area_code.startswith("510113002002")))
    hidden = client.post(f"/api/org/people/{outsider}/reveal-phone", json={"reason": "试探"},
                         headers={"X-CSRF-Token": csrf})
    assert hidden.status_code == 404
