"""The category catalogue stored on SQLite and PostgreSQL: default install, all-or-nothing and idempotent
imports, lookups, admin-only edits over HTTP, the CLI, and the migration."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import select, text
from typer.testing import CliRunner

from chengyun.auth.model import Role
from chengyun.bootstrap import Container
from chengyun.categories import api as categories_api
from chengyun.categories.cli import app as categories_cli
from chengyun.categories.defaults import default_catalogue_bytes
from chengyun.categories.parsing import COLUMNS
from chengyun.categories.service import CategoryService
from chengyun.categories.tables import CategoryRow
from chengyun.db.base import Base
from chengyun.errors import Invalid
from chengyun.shared.handling import HandlingLevel, TimeLimit, Urgency
from chengyun.web.app import create_app
from tests.conftest import SECRET

PASSWORD = "correct-horse-battery"
HEADER = ",".join(COLUMNS)


@pytest.fixture
def categories(container: Container) -> CategoryService:
    """The container's catalogue service (wired here until the composition root provides it)."""
    service = getattr(container, "categories", None)
    if service is None:
        service = CategoryService(container.sessions, container.clock, container.audit)
        container.categories = service
    return service


def stored(container: Container) -> dict[str, tuple[Any, ...]]:
    """Every stored row, every column, by code."""
    with container.sessions() as session:
        rows = session.scalars(select(CategoryRow)).all()
        return {r.code: (r.parent_code, r.kind, r.name, r.urgency, r.response_limit, r.urgent_handling_limit,
                         r.handling_level, r.admission, r.self_handle, r.active, r.updated_at) for r in rows}


def csv_bytes(*lines: str) -> bytes:
    return "\n".join((HEADER, *lines)).encode()


# --- default catalogue, imports, lookups --------------------------------------------------------------------


def test_ensure_default_installs_the_shipped_catalogue_once(categories: CategoryService,
                                                             container: Container) -> None:
    result = categories.ensure_default()
    assert result is not None and (result.created, result.updated) == (135, 0)
    assert categories.ensure_default() is None
    assert len(stored(container)) == 135
    [event] = container.audit.recent(action="categories.import")
    assert (event.actor, event.target, event.detail["created"]) == ("system", "default_catalogue.csv", 135)
    assert categories.limits_for("0504", Urgency.CRITICAL) == (TimeLimit.parse("1h"), TimeLimit.parse("4h"))
    assert [c.name for c in categories.ancestors("0504")] == ["突发事件"]
    assert categories.item("1101").admission and categories.get("11").name == "矛盾纠纷与社会治安"


def test_reimporting_the_same_file_changes_nothing(categories: CategoryService, container: Container) -> None:
    categories.ensure_default()
    before = stored(container)
    result = categories.import_file(default_catalogue_bytes(), filename="default_catalogue.csv", actor="admin1")
    assert (result.created, result.updated, result.unchanged) == (0, 0, 135)
    assert stored(container) == before


def test_a_file_with_one_bad_row_writes_nothing(categories: CategoryService, container: Container) -> None:
    categories.ensure_default()
    before = stored(container)
    data = csv_bytes("14,,class,新大类,,,,,,,,,,", "1401,14,item,新小类,,,,,,,,,,",
                     "0101,01,item,暴露垃圾（改名）,,,1h,4h,,,,,,", "1402,14,item,坏时限,,,,two days,,,,,,")
    with pytest.raises(Invalid) as info:
        categories.import_file(data, filename="bad.csv", actor="admin1")
    [problem] = info.value.params["problems"]
    assert (problem.code, problem.params["row"], problem.params["column"]) == (
        "categories.import.bad_limit", 5, "handling_limit")
    assert stored(container) == before
    assert len(container.audit.recent(action="categories.import")) == 1  # only the default install


def test_an_import_updates_moves_and_adds_in_one_go(categories: CategoryService, container: Container) -> None:
    categories.ensure_default()
    assert categories.limits_for("0101", Urgency.NORMAL) == (TimeLimit.parse("2wh"), TimeLimit.parse("1wd"))
    data = csv_bytes("0101,01,item,暴露垃圾,Exposed rubbish,normal,1wh,4wh,1h,4h,street,true,true,true",
                     "0508,14,item,电梯困人,People trapped in a lift,,,,,,,,,",
                     "14,,class,电梯安全,Lift safety,critical,1h,2h,1h,2h,property,false,false,true")
    result = categories.import_file(data, filename="changes.csv", actor="admin1")
    assert (result.created, result.updated, result.unchanged) == (1, 2, 0)
    assert categories.limits_for("0101", Urgency.NORMAL) == (TimeLimit.parse("1wh"), TimeLimit.parse("4wh"))
    lift = categories.get("0508")  # moved under a class created by the same file, blank cells inherited from it
    assert (lift.parent_code, lift.handling_level, lift.urgency) == ("14", HandlingLevel.PROPERTY, Urgency.CRITICAL)
    assert [c.code for c in categories.ancestors("0508")] == ["14"]


def test_excel_imports_like_csv(categories: CategoryService, container: Container) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (list(COLUMNS), ["21", None, "class", "物业管理"], ["2101", "21", "item", "电梯停运", None, "urgent"]):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    result = categories.import_file(out.getvalue(), filename="目录.xlsx", actor="admin1")
    assert (result.created, result.updated) == (2, 0)
    assert categories.get("2101").urgency is Urgency.URGENT


def test_the_migration_creates_exactly_the_mapped_table(engine: Any, categories: CategoryService) -> None:
    def only_categories(name: str | None, type_: str, *_: Any) -> bool:
        return type_ != "table" or name == "categories"

    opts = {"compare_type": True, "include_name": only_categories,
            "include_object": lambda obj, name, type_, *_: only_categories(name, type_)}
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata) == []
        assert conn.execute(text("SELECT count(*) FROM categories")).scalar() == 0


# --- HTTP: reads for everyone, writes for admins -------------------------------------------------------------


@pytest.fixture
def client(tiny_district: Container, categories: CategoryService) -> TestClient:
    categories.ensure_default()
    tiny_district.auth.create_user(username="admin1", display_name="管理员", role=Role.ADMIN,
                                   scope_code="510113002000", password=PASSWORD)
    tiny_district.auth.create_user(username="yihu_op", display_name="怡湖值班员", role=Role.OPERATOR,
                                   scope_code="510113002001", password=PASSWORD)
    app = create_app(tiny_district)
    if not any(getattr(route, "path", "") == "/api/categories" for route in app.routes):
        app.include_router(categories_api.router)
    return TestClient(app)


def login(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"X-CSRF-Token": str(response.json()["csrf_token"])}


def test_every_signed_in_user_reads_the_tree_and_limits(client: TestClient) -> None:
    assert client.get("/api/categories").status_code == 401
    login(client, "yihu_op")
    tree = client.get("/api/categories").json()
    assert len(tree) == 13 and sum(len(node["children"]) for node in tree) == 122
    assert tree[0]["children"][0] == {**tree[0]["children"][0], "code": "0101", "name": "暴露垃圾",
                                      "parent_code": "01", "self_handle": True, "children": []}
    one = client.get("/api/categories/1004").json()
    assert one["urgency"] == "critical" and one["ancestors"] == [{"code": "10", "name": "安全隐患", "kind": "class"}]
    limits = client.get("/api/categories/1004/limits", params={"urgency": "urgent"}).json()
    assert (limits["response_limit"], limits["handling_limit"]) == ("1h", "4h")
    missing = client.get("/api/categories/9999")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "categories.not_found"
    exported = client.get("/api/categories", params={"format": "csv"})
    assert exported.headers["content-type"].startswith("text/csv") and exported.text.count("\n") == 136


def test_only_admins_may_change_the_catalogue_and_refusals_are_audited(client: TestClient,
                                                                       tiny_district: Container) -> None:
    headers = login(client, "yihu_op")
    attempts = [client.post("/api/categories", json={"code": "1402", "parent_code": "14", "name": "x"},
                            headers=headers),
                client.patch("/api/categories/0101", json={"name": "改名"}, headers=headers),
                client.post("/api/categories/import", headers=headers,
                            files={"file": ("c.csv", default_catalogue_bytes(), "text/csv")})]
    for response in attempts:
        assert response.status_code == 403 and response.json()["error"]["code"] == "auth.permission_denied"
    refusals = tiny_district.audit.recent(action="permission.refused")
    assert [e.target for e in refusals] == ["catalogue.manage"] * 3
    assert client.get("/api/categories/0101").json()["name"] == "暴露垃圾"


def test_an_admin_creates_updates_and_imports_with_an_audit_trail(client: TestClient,
                                                                  tiny_district: Container) -> None:
    headers = login(client, "admin1")
    created = client.post("/api/categories", headers=headers, json={
        "code": "1312", "parent_code": "13", "name": "退役军人服务", "name_en": "Veterans' services",
        "handling_level": "street", "admission": True})
    assert created.status_code == 201, created.text
    assert created.json()["handling_limit"] == "5wd" and created.json()["admission"] is True  # inherited from 13
    again = client.post("/api/categories", headers=headers, json={"code": "1312", "parent_code": "13", "name": "x"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "categories.exists"
    changed = client.patch("/api/categories/0101", headers=headers, json={"urgency": "urgent", "active": False})
    assert changed.status_code == 200 and changed.json()["urgency"] == "urgent" and not changed.json()["active"]
    reset = client.patch("/api/categories/0101", headers=headers, json={"urgency": None})
    assert reset.json()["urgency"] == "normal"  # null takes the class's value again
    audit = {e.action: e for e in tiny_district.audit.recent()}
    assert audit["categories.create"].target == "category:1312" and audit["categories.create"].actor == "admin1"
    assert tiny_district.audit.recent(action="categories.update")[1].detail["changes"] == {
        "urgency": ["normal", "urgent"], "active": ["True", "False"]}
    imported = client.post("/api/categories/import", headers=headers,
                           files={"file": ("default.csv", default_catalogue_bytes(), "text/csv")})
    assert imported.json() == {"created": 0, "updated": 1, "unchanged": 134}  # 0101 active again, 1312 untouched


def test_bad_edits_are_refused_precisely_and_change_nothing(client: TestClient) -> None:
    headers = login(client, "admin1")
    response = client.patch("/api/categories/0101", headers=headers,
                            json={"parent_code": "0102", "response_limit": "3 days", "handling_level": "county"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "categories.invalid"
    assert {d["code"] for d in error["details"]} == {"categories.import.parent_not_class",
                                                     "categories.import.bad_limit", "categories.import.bad_level"}
    assert all("request (0101)" in d["message"] for d in error["details"])
    bad_file = client.post("/api/categories/import", headers=headers,
                           files={"file": ("bad.csv", csv_bytes("0101,,item,暴露垃圾,,,,,,,,,,"), "text/csv")})
    assert bad_file.status_code == 422
    [detail] = bad_file.json()["error"]["details"]
    assert detail["code"] == "categories.import.item_without_class" and detail["where"] == "row 2 (0101)"
    assert client.get("/api/categories/0101").json()["parent_code"] == "01"


# --- CLI -------------------------------------------------------------------------------------------------------


def test_cli_imports_lists_and_refuses_a_bad_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHENGYUN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CHENGYUN_SECRET_KEY", SECRET)
    monkeypatch.setenv("CHENGYUN_LANG", "zh-CN")
    good = tmp_path / "catalogue.csv"
    good.write_bytes(default_catalogue_bytes())
    runner = CliRunner()
    first = runner.invoke(categories_cli, ["import", str(good)])
    assert first.exit_code == 0, first.output
    assert "新增 135 个" in first.output
    assert "未变 135 个" in runner.invoke(categories_cli, ["import", str(good)]).output
    listing = runner.invoke(categories_cli, ["list"])
    assert listing.exit_code == 0
    assert "  1004   燃气泄漏隐患  [critical; 1h/4h; urgent 1h/4h; district]" in listing.output
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes("0101,01,item,暴露垃圾,,soon,,,,,,,,"))
    refused = runner.invoke(categories_cli, ["import", str(bad)])
    assert refused.exit_code == 2
    assert "categories.import.bad_urgency" in refused.output and "row 2 (0101)" in refused.output
    missing = runner.invoke(categories_cli, ["import", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and "files.not_found" in missing.output
