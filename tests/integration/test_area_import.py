"""Area import through the service, the HTTP API and the CLI: all or nothing, precise errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from chengyun.areas.parsing import GeoJsonOptions
from chengyun.areas.tables import AreaRow
from chengyun.auth.model import Role
from chengyun.bootstrap import Container
from chengyun.cli import app as cli_app
from chengyun.errors import Invalid
from chengyun.shared.geo import CoordSystem
from chengyun.web.app import create_app
from tests.conftest import SECRET, square

PASSWORD = "correct-horse-battery"


def feature(code: str, name: str, parent: str | None, geometry: dict[str, object] | None) -> dict[str, object]:
    return {"type": "Feature", "properties": {"code": code, "name": name, "parent": parent}, "geometry": geometry}


def collection(*features: dict[str, object]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False).encode()


BOW_TIE = {"type": "Polygon", "coordinates": [[[104.0, 30.0], [104.01, 30.01], [104.01, 30.0], [104.0, 30.01],
                                               [104.0, 30.0]]]}


def area_count(container: Container) -> int:
    with container.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AreaRow)) or 0)


@pytest.fixture
def admin_client(tiny_district: Container) -> tuple[TestClient, str]:
    tiny_district.auth.create_user(username="root_admin", display_name="管理员", role=Role.ADMIN,
                                   scope_code="510100000000", password=PASSWORD)
    client = TestClient(create_app(tiny_district))
    csrf = client.post("/api/auth/login", json={"username": "root_admin", "password": PASSWORD}).json()["csrf_token"]
    return client, csrf


def test_api_import_creates_areas_that_locate_immediately(admin_client: tuple[TestClient, str],
                                                          tiny_district: Container) -> None:
    client, csrf = admin_client
    data = collection(feature("510113003", "城厢镇", "510113", square(104.1, 30.0, 0.01)),
                      feature("510113003001", "城厢社区", "510113003", square(104.1, 30.0, 0.005)))
    response = client.post("/api/areas/import", headers={"X-CSRF-Token": csrf},
                           files={"file": ("towns.geojson", data, "application/geo+json")})
    assert response.status_code == 200, response.text
    assert response.json() == {"created": 2, "updated": 0}
    located = client.get("/api/locate", params={"lon": 104.102, "lat": 30.002}).json()
    assert located["code"] == "510113003001"
    assert [r["level"] for r in located["chain"]] == ["city", "district", "street", "community"]
    again = client.post("/api/areas/import", headers={"X-CSRF-Token": csrf},
                        files={"file": ("towns.geojson", data, "application/geo+json")})
    assert again.json() == {"created": 0, "updated": 2}
    audit = tiny_district.audit.recent(action="areas.import")
    assert audit[0].actor == "root_admin" and audit[0].detail["created"] == 0


def test_api_refuses_a_bad_file_precisely_and_imports_nothing(admin_client: tuple[TestClient, str],
                                                              tiny_district: Container) -> None:
    client, csrf = admin_client
    before = area_count(tiny_district)
    data = collection(feature("510113003", "城厢镇", "510113", square(104.1, 30.0, 0.01)),
                      feature("510113004", "弥牟镇", "510113", BOW_TIE),
                      feature("510113005001", "孤儿社区", "510113005", square(104.3, 30.0, 0.01)))
    response = client.post("/api/areas/import", headers={"X-CSRF-Token": csrf},
                           files={"file": ("bad.geojson", data, "application/geo+json")})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "areas.import_invalid"
    codes = {d["code"]: d for d in error["details"]}
    assert "areas.import.invalid_geometry" in codes and "弥牟镇" in codes["areas.import.invalid_geometry"]["where"]
    assert "areas.import.unknown_parent" in codes
    assert "多边形无效" in codes["areas.import.invalid_geometry"]["message"]
    assert area_count(tiny_district) == before


def test_import_cannot_move_an_existing_area_to_another_parent(tiny_district: Container) -> None:
    before = area_count(tiny_district)
    data = collection(feature("510113002001001", "改挂网格", "510113002002", square(104.0, 30.0, 0.005)),
                      feature("510113002002009", "新网格", "510113002002", square(104.015, 30.0, 0.001)))
    with pytest.raises(Invalid) as info:
        tiny_district.areas.import_bytes(
            _root(tiny_district), data, GeoJsonOptions(source_crs=CoordSystem.WGS84), source_name="x"
        )
    assert info.value.code == "areas.import_invalid"
    assert area_count(tiny_district) == before


def test_community_admin_cannot_import_outside_their_community(tiny_district: Container) -> None:
    tiny_district.auth.create_user(username="yihu_admin", display_name="社区管理员", role=Role.ADMIN,
                                   scope_code="510113002001", password=PASSWORD)
    client = TestClient(create_app(tiny_district))
    csrf = client.post("/api/auth/login", json={"username": "yihu_admin", "password": PASSWORD}).json()["csrf_token"]
    data = collection(feature("510113002002009", "别人的网格", "510113002002", square(104.015, 30.0, 0.001)))
    response = client.post("/api/areas/import", headers={"X-CSRF-Token": csrf},
                           files={"file": ("x.geojson", data, "application/geo+json")})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "areas.import.outside_scope"
    ok = collection(feature("510113002001009", "新网格", "510113002001", square(104.001, 30.001, 0.001)))
    assert client.post("/api/areas/import", headers={"X-CSRF-Token": csrf},
                       files={"file": ("ok.geojson", ok, "application/geo+json")}).status_code == 200


def _root(container: Container):  # type: ignore[no-untyped-def]
    from chengyun.auth.model import Principal

    return Principal(0, "test", "test", Role.ADMIN, "510100000000", "/510100000000/")


def test_cli_import_and_locate_and_a_bad_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHENGYUN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CHENGYUN_SECRET_KEY", SECRET)
    monkeypatch.setenv("CHENGYUN_LANG", "zh-CN")
    good = tmp_path / "areas.geojson"
    good.write_bytes(collection(feature("510100", "成都市", None, None),
                                feature("510113", "青白江区", "510100", square(104.0, 30.0, 0.1))))
    runner = CliRunner()
    result = runner.invoke(cli_app, ["areas", "import", str(good), "--crs", "wgs84"])
    assert result.exit_code == 0, result.output
    assert "新增 2 个区域" in result.output
    located = runner.invoke(cli_app, ["areas", "locate", "104.05", "30.05"])
    assert located.exit_code == 0 and "青白江区" in located.output
    bad = tmp_path / "bad.geojson"
    bad.write_bytes(b"{not json")
    refused = runner.invoke(cli_app, ["areas", "import", str(bad)])
    assert refused.exit_code == 2
    assert "areas.import.not_json" in refused.output and "bad.geojson" in refused.output
    assert "Traceback" not in refused.output
