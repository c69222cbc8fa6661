"""The devices API over HTTP on SQLite and PostgreSQL, and the `chengyun devices` commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from chengyun.auth.model import Role
from chengyun.bootstrap import Container, bootstrap
from chengyun.cli import app as cli_app
from chengyun.config import Settings
from chengyun.web.app import create_app
from tests.conftest import SECRET, tiny_district_drafts
from tests.integration.test_devices import HEADER, ROWS, STREET, YIHU, add_compounds, devices_csv

PASSWORD = "correct-horse-battery"


@pytest.fixture
def street(tiny_district: Container) -> Container:
    return add_compounds(tiny_district)


@pytest.fixture
def client(street: Container) -> TestClient:
    for username, role, scope in (("admin1", Role.ADMIN, STREET), ("op1", Role.OPERATOR, STREET),
                                  ("yihu", Role.OPERATOR, YIHU)):
        street.auth.create_user(username=username, display_name=username, role=role, scope_code=scope,
                                password=PASSWORD)
    return TestClient(create_app(street))


def login(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"X-CSRF-Token": response.json()["csrf_token"]}


def test_admins_import_and_register_and_everyone_in_scope_reads(client: TestClient, street: Container) -> None:
    csrf = login(client, "admin1")
    imported = client.post("/api/devices/import", files={"file": ("devices.csv", devices_csv(*ROWS), "text/csv")},
                           headers=csrf)
    assert imported.status_code == 200, imported.text
    body = imported.json()
    assert (body["created"], body["updated"], body["unchanged"]) == (4, 0, 0) and len(body["tokens"]) == 4
    assert imported.headers["cache-control"] == "no-store"
    assert street.devices.directory().verify("SOS-1", body["tokens"]["SOS-1"])
    again = client.post("/api/devices/import", files={"file": ("devices.csv", devices_csv(*ROWS), "text/csv")},
                        headers=csrf).json()
    assert (again["created"], again["unchanged"], again["tokens"]) == (0, 4, {})
    registered = client.post("/api/devices", headers=csrf, json={
        "device_id": "WM-1", "type": "water_meter", "place": "cmp-1", "building": "3栋", "unit": "1", "room": "101",
        "resident_name": "赵大爷", "resident_phone": "13811112222",
        "contacts": [{"name": "赵小红", "relation": "女儿", "phone": "13933334444"}]})
    assert registered.status_code == 201, registered.text
    assert registered.json()["device"]["household"] == "cmp-1-03/1/101" and len(registered.json()["token"]) == 32
    detail = client.get("/api/devices/WM-1").json()
    assert detail["resident"]["phone"] == "138****2222"
    assert detail["resident"]["contacts"] == [{"seq": 1, "name": "赵小红", "relation": "女儿", "phone": "139****4444"}]
    assert "13933334444" not in client.get("/api/devices/WM-1").text
    listed = client.get("/api/devices", params={"type": "sos_button"}).json()
    assert listed["total"] == 1 and listed["items"][0]["type_name"] == "一键呼救"
    assert client.get("/api/devices", params={"status": "online"}).json()["total"] == 0
    assert client.get("/api/devices", params={"status": "lost"}).status_code == 422
    new_token = client.post("/api/devices/GAS-1/token", headers=csrf)
    assert new_token.status_code == 200 and street.devices.directory().verify("GAS-1", new_token.json()["token"])
    types = client.get("/api/device-types").json()
    assert [t["code"] for t in types][:2] == ["gas_detector", "smoke_detector"]
    water = next(t for t in types if t["code"] == "water_meter")
    assert water["controlled_property"] == ["waterConsumption"] and water["properties"][0]["unit"] == "m³"


def test_a_bad_file_is_refused_with_every_problem_and_nothing_stored(client: TestClient, street: Container) -> None:
    csrf = login(client, "admin1")
    bad = devices_csv(*ROWS, "GAS-2,fridge,,cmp-1,,,,,,,,,,,,,,", "GAS-3,gas_detector,,,105.5,30.0,,,,,,,,,,,,")
    response = client.post("/api/devices/import", files={"file": ("devices.csv", bad, "text/csv")}, headers=csrf,
                           params={"lang": "en"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "devices.import_invalid" and error["params"]["count"] == 1
    assert [d["code"] for d in error["details"]] == ["devices.import.unknown_type"]
    assert "row 6" in error["details"][0]["message"] and "fridge" in error["details"][0]["message"]
    assert street.devices.count() == 0
    refused = client.post("/api/devices", headers=csrf, json={"device_id": "a/b", "type": "gas_detector"})
    assert refused.status_code == 422 and refused.json()["error"]["details"][0]["code"] == \
        "devices.import.bad_device_id"


def test_operators_read_in_scope_only_and_may_not_write(client: TestClient, street: Container) -> None:
    street.devices.import_file(devices_csv(*ROWS), "devices.csv", actor="admin1")
    csrf = login(client, "yihu")
    assert [d["device_id"] for d in client.get("/api/devices").json()["items"]] == ["DOOR-1", "SOS-1"]
    assert client.get("/api/devices/GAS-1").status_code == 404
    for response in (client.post("/api/devices", headers=csrf, json={"device_id": "X-1", "type": "gas_detector"}),
                     client.post("/api/devices/import", headers=csrf,
                                 files={"file": ("d.csv", devices_csv(*ROWS), "text/csv")}),
                     client.post("/api/devices/SOS-1/token", headers=csrf)):
        assert response.status_code == 403 and response.json()["error"]["code"] == "auth.permission_denied"
    assert {e.target for e in street.audit.recent(action="permission.refused")} == {"devices.manage"}
    assert TestClient(client.app).get("/api/devices").status_code == 401


def test_the_cli_lists_types_imports_with_tokens_and_lists_devices(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHENGYUN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CHENGYUN_SECRET_KEY", SECRET)
    monkeypatch.setenv("CHENGYUN_LANG", "en")
    container = bootstrap(Settings(env="dev", secret_key=SECRET, data_dir=tmp_path))
    container.migrate()
    container.areas.import_drafts(tiny_district_drafts(), actor="test")
    runner = CliRunner()
    types = runner.invoke(cli_app, ["devices", "types"])
    assert types.exit_code == 0, types.output
    assert "gas_detector" in types.output and "%LEL [0, 100]" in types.output and "event sos_pressed" in types.output
    (tmp_path / "d.csv").write_text(f"{HEADER}\n{ROWS[3]}\n", encoding="utf-8")
    imported = runner.invoke(cli_app, ["devices", "import", str(tmp_path / "d.csv"), "--tokens",
                                       str(tmp_path / "tokens.csv")])
    assert imported.exit_code == 0, imported.output
    assert "1 created" in imported.output and "tokens.csv" in imported.output
    token_lines = (tmp_path / "tokens.csv").read_text(encoding="utf-8").splitlines()
    assert token_lines[0] == "device_id,token" and token_lines[1].startswith("HYD-1,")
    assert (tmp_path / "tokens.csv").stat().st_mode & 0o777 == 0o600
    assert container.devices.directory().verify("HYD-1", token_lines[1].split(",")[1])
    listed = runner.invoke(cli_app, ["devices", "list"])
    assert listed.exit_code == 0 and "HYD-1" in listed.output and "1 of 1" in listed.output
    (tmp_path / "bad.csv").write_text(f"{HEADER}\nX-1,fridge,,,104.0151,30.004,,,,,,,,,,,,\n", encoding="utf-8")
    bad = runner.invoke(cli_app, ["devices", "import", str(tmp_path / "bad.csv")])
    assert bad.exit_code == 2 and "devices.import.unknown_type" in bad.output and "row 2" in bad.output
