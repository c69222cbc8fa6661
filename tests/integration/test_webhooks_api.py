"""The admin API of outbound webhooks over HTTP, on SQLite and PostgreSQL: admins only, never the secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from chengyun.auth.model import Role
from chengyun.bootstrap import Container
from chengyun.cases.model import Source
from chengyun.cases.service import CaseService, NewCase
from chengyun.cli import app as cli_app
from chengyun.intake.tables import DeliveryRow, WebhookRow
from chengyun.web.app import create_app
from tests.conftest import SECRET as INSTANCE_SECRET
from tests.integration.test_case_service import YIHU_POINT, FakePolicies

PASSWORD = "correct-horse-battery"
SECRET = "shared-secret-of-12345-platform"


@pytest.fixture
def client(tiny_district: Container) -> TestClient:
    c = tiny_district
    c.auth.create_user(username="admin1", display_name="管理员", role=Role.ADMIN, scope_code="510113002000",
                       password=PASSWORD)
    c.auth.create_user(username="op1", display_name="值班员", role=Role.OPERATOR, scope_code="510113002000",
                       password=PASSWORD)
    return TestClient(create_app(c))


def login(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"X-CSRF-Token": response.json()["csrf_token"]}


def _failed_delivery(c: Container) -> int:
    """A delivery that gave up, stored directly: this test is about the log's API, not the sending."""
    cases = CaseService(c.sessions, c.clock, c.vault, c.audit, c.areas, FakePolicies())
    row = cases.open(c.auth.principal("op1"), NewCase(Source.UPSTREAM, "0101", "垃圾堆积", *YIHU_POINT,
                                                      external_system="12345", external_id="GD-1"))
    with c.sessions.begin() as session:
        hook_id = session.scalar(select(WebhookRow.id).where(WebhookRow.system == "12345"))
        assert hook_id is not None
        delivery = DeliveryRow(webhook_id=hook_id, case_id=row.id, case_version=1, state="failed", attempts=12,
                               payload={"case_number": row.number, "version": 1, "action": "register"},
                               last_error="HTTP 503 Service Unavailable", last_status=503,
                               created_at=c.clock.now())
        session.add(delivery)
        session.flush()
        return delivery.id


def test_admins_register_list_read_the_log_retry_and_deactivate(client: TestClient,
                                                                 tiny_district: Container) -> None:
    csrf = login(client, "admin1")
    created = client.post("/api/webhooks", json={"system": "12345", "url": "https://gov.example/hook",
                                                  "secret": SECRET}, headers=csrf)
    assert created.status_code == 200, created.text
    assert created.json()["system"] == "12345" and "secret" not in created.text and SECRET not in created.text
    listed = client.get("/api/webhooks").json()
    assert [(w["system"], w["active"], w["pending"], w["failed"]) for w in listed] == [("12345", True, 0, 0)]
    assert SECRET not in client.get("/api/webhooks").text
    bad = client.post("/api/webhooks", json={"system": "12345", "url": "ftp://x/y", "secret": SECRET}, headers=csrf)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "webhooks.bad_url"
    delivery_id = _failed_delivery(tiny_district)
    log = client.get("/api/webhooks/12345/deliveries", params={"state": "failed"}).json()
    assert [(d["id"], d["state"], d["attempts"], d["last_status"]) for d in log] == [(delivery_id, "failed", 12, 503)]
    retried = client.post(f"/api/webhooks/deliveries/{delivery_id}/retry", headers=csrf)
    assert retried.status_code == 200 and retried.json()["state"] == "pending" and retried.json()["attempts"] == 0
    assert client.post("/api/webhooks/deliveries/999999/retry", headers=csrf).json()["error"]["code"] == \
        "webhooks.delivery_not_found"
    assert client.get("/api/webhooks/nope/deliveries").status_code == 404
    assert client.get("/api/webhooks/12345/deliveries", params={"state": "lost"}).status_code == 422
    gone = client.delete("/api/webhooks/12345", headers=csrf)
    assert gone.status_code == 200 and gone.json()["active"] is False
    assert client.post("/api/webhooks", json={"system": "12345", "url": "https://gov.example/hook"},
                       headers=csrf).status_code == 422  # no secret


def test_others_are_refused_with_403_and_the_refusal_is_audited(client: TestClient,
                                                                 tiny_district: Container) -> None:
    csrf = login(client, "op1")
    for response in (client.get("/api/webhooks"),
                     client.post("/api/webhooks", json={"system": "12345", "url": "https://h/x", "secret": SECRET},
                                 headers=csrf),
                     client.get("/api/webhooks/12345/deliveries"),
                     client.delete("/api/webhooks/12345", headers=csrf)):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "auth.permission_denied"
    refusals = tiny_district.audit.recent(action="permission.refused")
    assert refusals and all(e.target == "webhooks.manage" for e in refusals)
    assert TestClient(client.app).get("/api/webhooks").status_code == 401


def test_the_cli_registers_lists_and_shows_the_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHENGYUN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CHENGYUN_SECRET_KEY", INSTANCE_SECRET)
    monkeypatch.setenv("CHENGYUN_LANG", "en")
    runner = CliRunner()
    added = runner.invoke(cli_app, ["webhooks", "add", "12345", "https://gov.example/hook", "--secret", SECRET])
    assert added.exit_code == 0, added.output
    assert "12345" in added.output and SECRET not in added.output
    listed = runner.invoke(cli_app, ["webhooks", "list"])
    assert listed.exit_code == 0 and "https://gov.example/hook" in listed.output and "active" in listed.output
    assert runner.invoke(cli_app, ["webhooks", "deliveries", "12345"]).exit_code == 0
    missing = runner.invoke(cli_app, ["webhooks", "deliveries", "nope"])
    assert missing.exit_code == 2 and "webhooks.not_found" in missing.output
    prompted = runner.invoke(cli_app, ["webhooks", "add", "sichuan", "https://sc.example/h"], input=SECRET + "\n")
    assert prompted.exit_code == 0, prompted.output
