"""Sign-in, sessions, CSRF, tokens and area scopes over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import DatabaseError

from chengyun.auth.model import Role
from chengyun.bootstrap import Container, bootstrap
from chengyun.config import Settings
from chengyun.shared.clock import FixedClock
from chengyun.web.app import create_app
from tests.conftest import tiny_district_drafts

PASSWORD = "correct-horse-battery"


@pytest.fixture
def app_client(tiny_district: Container) -> TestClient:
    c = tiny_district
    c.auth.create_user(username="admin1", display_name="管理员", role=Role.ADMIN, scope_code="510113002000",
                       password=PASSWORD)
    c.auth.create_user(username="yihu_op", display_name="怡湖值班员", role=Role.OPERATOR,
                       scope_code="510113002001", password=PASSWORD)
    c.auth.create_user(username="auditor1", display_name="审计员", role=Role.AUDITOR, scope_code="510113002000",
                       password=PASSWORD)
    return TestClient(create_app(c))


def login(client: TestClient, username: str) -> str:
    response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["csrf_token"])


def test_sign_in_sets_session_and_me_shows_scope_chain(app_client: TestClient) -> None:
    login(app_client, "yihu_op")
    me = app_client.get("/api/me").json()
    assert me["role"] == "operator"
    assert [r["name"] for r in me["scope_chain"]] == ["成都市", "青白江区", "大弯街道", "怡湖社区"]


def test_wrong_password_is_refused_and_audited(app_client: TestClient, tiny_district: Container) -> None:
    response = app_client.post("/api/auth/login", json={"username": "yihu_op", "password": "nope-nope-nope"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "auth.bad_credentials"
    events = tiny_district.audit.recent(action="auth.sign_in")
    assert events[0].outcome == "failed" and events[0].actor == "yihu_op"


def test_repeated_failures_throttle_even_the_right_password(app_client: TestClient) -> None:
    for _ in range(10):
        app_client.post("/api/auth/login", json={"username": "yihu_op", "password": "wrong-wrong-wrong"})
    response = app_client.post("/api/auth/login", json={"username": "yihu_op", "password": PASSWORD})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "auth.throttled"


def test_community_operator_cannot_read_another_community_even_by_guessing(
    app_client: TestClient, tiny_district: Container
) -> None:
    login(app_client, "yihu_op")
    assert app_client.get("/api/areas/510113002001").status_code == 200
    for guessed in ("510113002002", "510113002002001", "510113002000", "510113002999"):
        response = app_client.get(f"/api/areas/{guessed}")
        assert response.status_code == 404, guessed
        assert response.json()["error"]["code"] == "areas.not_found"
    assert app_client.get("/api/areas/510113002002/children").status_code == 404
    assert app_client.get("/api/areas/510113002002/map").status_code == 404
    refusals = [e for e in tiny_district.audit.recent(action="scope.refused") if e.actor == "yihu_op"]
    assert {e.target for e in refusals} >= {"area:510113002002", "area:510113002002001"}


def test_locate_outside_scope_is_refused_inside_scope_answers(app_client: TestClient) -> None:
    login(app_client, "yihu_op")
    inside = app_client.get("/api/locate", params={"lon": 104.005, "lat": 30.002})
    assert inside.status_code == 200
    assert inside.json()["code"] == "510113002001001"
    other = app_client.get("/api/locate", params={"lon": 104.015, "lat": 30.002})
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "areas.point_outside_scope"


def test_role_without_permission_is_refused_and_audited(app_client: TestClient, tiny_district: Container) -> None:
    login(app_client, "yihu_op")
    csrf = app_client.get("/api/me").json()["csrf_token"]
    response = app_client.post("/api/tokens", json={"username": "yihu_op", "name": "x"},
                               headers={"X-CSRF-Token": csrf})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "auth.permission_denied"
    assert tiny_district.audit.recent(action="permission.refused")[0].target == "tokens.manage"
    assert app_client.get("/api/audit").status_code == 403


def test_unsafe_request_without_csrf_token_is_refused(app_client: TestClient) -> None:
    login(app_client, "admin1")
    response = app_client.post("/api/tokens", json={"username": "admin1", "name": "upstream-12345"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "auth.csrf_failed"


def test_token_is_shown_once_stored_hashed_and_revocable(app_client: TestClient, tiny_district: Container) -> None:
    csrf = login(app_client, "admin1")
    issued = app_client.post("/api/tokens", json={"username": "yihu_op", "name": "12345 hotline"},
                             headers={"X-CSRF-Token": csrf})
    assert issued.status_code == 201
    token, prefix = issued.json()["token"], issued.json()["prefix"]
    with tiny_district.engine.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM api_tokens")).scalars().all()
    assert token not in stored and len(stored) == 1 and len(stored[0]) == 64
    machine = TestClient(app_client.app)
    me = machine.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["username"] == "yihu_op"
    # a token-authenticated write needs no CSRF token, but the scope still applies
    assert machine.get("/api/areas/510113002002", headers={"Authorization": f"Bearer {token}"}).status_code == 404
    assert app_client.delete(f"/api/tokens/{prefix}", headers={"X-CSRF-Token": csrf}).status_code == 200
    again = machine.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert again.status_code == 401 and again.json()["error"]["code"] == "auth.bad_token"


def test_admin_cannot_create_users_outside_own_scope(app_client: TestClient, tiny_district: Container) -> None:
    tiny_district.auth.create_user(username="yihu_admin", display_name="社区管理员", role=Role.ADMIN,
                                   scope_code="510113002001", password=PASSWORD)
    csrf = login(app_client, "yihu_admin")
    refused = app_client.post("/api/users", json={"username": "spy", "display_name": "x", "role": "operator",
                                                  "scope_code": "510113002002"}, headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 404
    created = app_client.post("/api/users", json={"username": "yihu_grid", "display_name": "网格员",
                                                  "role": "grid_worker", "scope_code": "510113002001001"},
                              headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201
    assert len(created.json()["password"]) == 16


def test_audit_log_is_append_only_in_the_database(tiny_district: Container) -> None:
    tiny_district.audit.record_now(action="test.event", actor="t")
    with pytest.raises(DatabaseError), tiny_district.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'x'"))
    with pytest.raises(DatabaseError), tiny_district.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events"))
    assert tiny_district.audit.recent(action="test.event")[0].actor == "t"


def test_sign_out_ends_the_session(app_client: TestClient) -> None:
    csrf = login(app_client, "auditor1")
    assert app_client.get("/api/audit").status_code == 200
    assert app_client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert app_client.get("/api/me").status_code == 401


def test_a_token_records_its_last_use_to_the_minute_without_a_write_per_request(
    settings: Settings, engine: Engine,
) -> None:
    clock = FixedClock()
    c = bootstrap(settings, clock=clock, engine=engine)
    c.areas.import_drafts(tiny_district_drafts(), actor="test")
    c.auth.create_user(username="hotline", display_name="12345", role=Role.OPERATOR, scope_code="510113002001",
                       password=PASSWORD)
    token = c.auth.issue_token("hotline", "12345 hotline")

    def last_used() -> object:
        with c.engine.connect() as conn:
            return conn.execute(text("SELECT last_used_at FROM api_tokens")).scalar_one()

    first = c.auth.resolve_token(token)
    assert first is not None and first.via_token and first.unit_code is None
    assert first.scope_path.endswith("/510113002001/")
    stamped = last_used()
    clock.advance(timedelta(seconds=59))
    assert c.auth.resolve_token(token) is not None and last_used() == stamped  # no write within the minute
    clock.advance(timedelta(seconds=2))
    assert c.auth.resolve_token(token) is not None and last_used() != stamped
    assert c.auth.resolve_token(token + "x") is None


def test_a_checked_token_is_trusted_for_seconds_but_a_revocation_here_is_immediate(
    settings: Settings, engine: Engine,
) -> None:
    clock = FixedClock()
    c = bootstrap(settings, clock=clock, engine=engine)
    c.areas.import_drafts(tiny_district_drafts(), actor="test")
    c.auth.create_user(username="hotline", display_name="12345", role=Role.OPERATOR, scope_code="510113002001",
                       password=PASSWORD)
    token = c.auth.issue_token("hotline", "12345 hotline")
    assert c.auth.resolve_token(token) is not None
    with c.engine.begin() as conn:  # revoked by another process: this one notices within TOKEN_RECHECK
        conn.execute(text("UPDATE api_tokens SET revoked_at = created_at"))
    assert c.auth.resolve_token(token) is not None
    clock.advance(timedelta(seconds=6))
    assert c.auth.resolve_token(token) is None
    second = c.auth.issue_token("hotline", "second")
    assert c.auth.resolve_token(second) is not None
    c.auth.revoke_token(second.split("_")[1])  # revoked here: refused at once
    assert c.auth.resolve_token(second) is None
