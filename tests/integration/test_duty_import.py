"""The stored duty list on SQLite and PostgreSQL: whole-list import, precise row errors, nothing half-written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from chengyun.audit.tables import AuditEventRow
from chengyun.bootstrap import Container
from chengyun.errors import Invalid
from chengyun.org.tables import UnitRow
from chengyun.routing.tables import DutyRuleRow

GOOD = ("category,area_level,area,handling_level,lead_unit,assist_units\n"
        "01,street,,street,cg,zj\n"
        "1101,community,510113002001,community,yihu-jwh,\n")


@pytest.fixture
def district(tiny_district: Container) -> Container:
    c = tiny_district
    c.categories.ensure_default(actor="test")
    with c.sessions.begin() as session:
        session.add_all([
            UnitRow(code="cg", name="综合行政执法队", kind="department", level="street", area_code="510113002000"),
            UnitRow(code="zj", name="住建办", kind="department", level="street", area_code="510113002000"),
            UnitRow(code="yihu-jwh", name="怡湖社区居委会", kind="community_committee", level="community",
                    area_code="510113002001")])
    return c


def _stored(c: Container) -> list[tuple[int, str, str]]:
    with c.sessions() as session:
        return [(r.id, r.category_code, r.lead_unit)
                for r in session.scalars(select(DutyRuleRow).order_by(DutyRuleRow.id))]


def test_a_clean_list_replaces_the_stored_one_and_is_audited(district: Container) -> None:
    assert district.duty.import_bytes(GOOD.encode(), filename="duty.csv", actor="test") == 2
    assert _stored(district) == [(2, "01", "cg"), (3, "1101", "yihu-jwh")]
    assert [r.assist_units for r in district.duty.rules()] == [("zj",), ()]
    smaller = "category,area_level,handling_level,lead_unit\n0101,street,street,zj\n"
    assert district.duty.import_bytes(smaller.encode(), filename="v2.csv", actor="test") == 1
    assert _stored(district) == [(2, "0101", "zj")]
    with district.sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditEventRow)
                              .where(AuditEventRow.action == "duty.import")) == 2


def test_one_bad_row_refuses_the_whole_file_with_row_and_column(district: Container) -> None:
    district.duty.import_bytes(GOOD.encode(), filename="duty.csv", actor="test")
    bad = GOOD + "9999,street,,street,cg,\n01,street,,street,nobody,\n0101,galaxy,,street,cg,\n"
    with pytest.raises(Invalid) as err:
        district.duty.import_bytes(bad.encode(), filename="bad.csv", actor="test")
    assert err.value.code == "routing.import_invalid" and err.value.params["count"] >= 3
    problems = {(p.code, p.where, p.params.get("column")) for p in err.value.params["problems"]}
    assert ("routing.import.unknown_category", "row 4", "category") in problems
    assert ("routing.import.unknown_unit", "row 5", "lead_unit") in problems
    assert any(code == "routing.import.bad_area_level" and where == "row 6" for code, where, _ in problems)
    assert _stored(district) == [(2, "01", "cg"), (3, "1101", "yihu-jwh")]  # the old list is untouched


def test_the_cli_imports_and_reports_errors_translated(district: Container, tmp_path: object,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    from chengyun import cli

    monkeypatch.setattr(cli, "_container", lambda: district)
    good, bad = Path(str(tmp_path)) / "good.csv", Path(str(tmp_path)) / "bad.csv"
    good.write_text(GOOD, encoding="utf-8")
    bad.write_text(GOOD + "9999,street,,street,cg,\n", encoding="utf-8")
    runner = CliRunner()
    ok = runner.invoke(cli.app, ["duty", "import", str(good)], env={"CHENGYUN_LANG": "zh-CN"})
    assert ok.exit_code == 0 and "2" in ok.output, ok.output
    refused = runner.invoke(cli.app, ["duty", "import", str(bad)])
    assert refused.exit_code == 2 and "routing.import.unknown_category" in refused.output
    missing = runner.invoke(cli.app, ["duty", "import", str(Path(str(tmp_path)) / "nope.csv")])
    assert missing.exit_code == 2 and "cli.file_not_found" in missing.output


def test_over_http_only_admins_replace_the_list_and_everyone_reads_it(district: Container) -> None:
    from fastapi.testclient import TestClient

    from chengyun.auth.model import Role
    from chengyun.web.app import create_app

    for name, role in (("duty-admin", Role.ADMIN), ("duty-op", Role.OPERATOR)):
        district.auth.create_user(username=name, display_name=name, role=role, scope_code="510113002000",
                                  password="correct-horse-battery")
    clients = {}
    for name in ("duty-admin", "duty-op"):
        client = TestClient(create_app(district))
        token = client.post("/api/auth/login", json={"username": name, "password": "correct-horse-battery"})
        clients[name] = (client, {"X-CSRF-Token": token.json()["csrf_token"]})
    op, op_csrf = clients["duty-op"]
    refused = op.post("/api/duty/import", headers=op_csrf, files={"file": ("duty.csv", GOOD.encode())})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "auth.permission_denied"
    admin, admin_csrf = clients["duty-admin"]
    done = admin.post("/api/duty/import", headers=admin_csrf, files={"file": ("duty.csv", GOOD.encode())})
    assert done.status_code == 200 and done.json() == {"rules": 2}
    bad = admin.post("/api/duty/import", headers=admin_csrf,
                     files={"file": ("bad.csv", (GOOD + "9999,street,,street,cg,\n").encode())})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["where"] == "row 4"
    assert [r["lead_unit"] for r in op.get("/api/duty").json()] == ["cg", "yihu-jwh"]
