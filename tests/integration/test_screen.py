"""The big screen on SQLite and PostgreSQL: every panel's figure equals a SQL count written here, for the street, a
drilled-down community and grid, and a community principal; scope refusals; the HTTP API and the page."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import bindparam, select, text

from chengyun.areas.tables import AreaRow
from chengyun.auth import api as auth_api
from chengyun.auth.model import Principal, Role
from chengyun.auth.tables import UserRow
from chengyun.bootstrap import Container, bootstrap
from chengyun.cases.tables import CaseRow, TimelineRow
from chengyun.config import Settings
from chengyun.db.types import UTCDateTime
from chengyun.errors import Forbidden, Invalid, NotFound
from chengyun.patrol.tables import CheckinRow
from chengyun.screen import api as screen_api
from chengyun.screen import pages as screen_pages
from chengyun.shared.clock import FixedClock
from chengyun.web import home
from chengyun.web.errors import install_error_handlers
from chengyun.web.templating import make_templates
from tests.conftest import tiny_district_drafts

PASSWORD = "correct-horse-battery"
STREET, YIHU, SJN = "510113002000", "510113002001", "510113002002"
GRIDS = {YIHU + "001": (104.0, 30.0), YIHU + "002": (104.0, 30.005), SJN + "001": (104.01, 30.0),
         SJN + "002": (104.01, 30.005)}  # south-west corners of the 0.01 × 0.005° grids
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # Monday 11:00 in Shanghai
TZ = ZoneInfo("Asia/Shanghai")
H = timedelta(hours=1)
STATES = ["reported", "verifying", "rejected", "registered", "dispatched", "returned", "claimed", "handling",
          "result_submitted", "verified", "closed", "followed_up", "suspended", "merged"]
DISPATCHED = set(STATES[4:]) - {"rejected"}
CLAIMED = {"claimed", "handling", "result_submitted", "verified", "closed", "followed_up"}
HOT_TITLE = ["怡湖苑小区门口垃圾堆放发臭", "怡湖苑门口垃圾桶满了没人清运", "怡湖苑小区门口垃圾成堆，气味很大"]
OTHER_TITLES = ["路灯不亮", "楼上深夜噪音扰民", "占道经营", "井盖破损", "共享单车乱停放", "绿化带被毁"]
_numbers = count(1)


@pytest.fixture
def sc(settings: Settings, engine: Any) -> Container:
    """The tiny district on a fixed clock with 160 cases over 40 days, their steps, and patrol check-ins."""
    c = bootstrap(settings, clock=FixedClock(NOW), engine=engine)
    c.areas.import_drafts(tiny_district_drafts(), actor="test")
    user, _ = c.auth.create_user(username="street_op", display_name="street_op名", role=Role.OPERATOR,
                                 scope_code=STREET, password=PASSWORD)
    rng = random.Random(7)
    with c.sessions.begin() as session:
        # the same password for every account, hashed once (argon2 is slow on purpose)
        session.add_all(UserRow(username=name, display_name=f"{name}名", role=role.value, scope_code=scope,
                                password_hash=user.password_hash, is_active=True, created_at=NOW)
                        for name, role, scope in [
                            ("yihu_op", Role.OPERATOR, YIHU), ("auditor", Role.AUDITOR, STREET),
                            ("admin", Role.ADMIN, STREET), ("handler", Role.HANDLER, STREET),
                            ("resident", Role.RESIDENT, YIHU), ("gw1", Role.GRID_WORKER, YIHU + "001"),
                            ("gw2", Role.GRID_WORKER, SJN + "002"), ("gw3", Role.GRID_WORKER, SJN + "001")])
        session.flush()
        paths = {code: path for code, path in session.execute(select(AreaRow.code, AreaRow.path))}
        for i in range(160):
            session.add(_case(rng, paths, i))
        session.flush()
        for row in session.scalars(select(CaseRow)).all():
            session.add_all(_steps(row))
        users = {u: session.scalar(select(UserRow.id).where(UserRow.username == u)) for u in ("gw1", "gw2", "gw3")}
        for user, grid, ago in [("gw1", SJN + "001", 30 * H), ("gw1", YIHU + "001", H), ("gw2", SJN + "002", 3 * H),
                                ("gw3", SJN + "001", 10 * 24 * H)]:
            lon, lat = GRIDS[grid]
            session.add(CheckinRow(user_id=users[user], lon=lon + 0.004, lat=lat + 0.002, area_code=grid,
                                   accuracy_m=10.0, at=NOW - ago, note=""))
    c.refresh_kpis()  # past days from the rollup, today live, as on a running server
    return c


def _case(rng: random.Random, paths: dict[str, str], i: int) -> CaseRow:
    """One case row with consistent times for its state (a few at street level, a few without a point)."""
    hot = i < 14
    area = YIHU + "001" if hot else (STREET if i % 23 == 0 else rng.choice(sorted(GRIDS)))
    reported = NOW - timedelta(days=rng.uniform(0, 8) if hot else rng.uniform(0, 40))
    if i % 9 == 0:
        reported = NOW - timedelta(hours=rng.uniform(0, 10))  # today (local) for sure
    state = rng.choice(STATES)
    row: dict[str, Any] = {"state": state, "deadline_level": "green"}
    if state in DISPATCHED:
        dispatched = reported + H
        row.update(dispatched_at=dispatched, claim_due=dispatched + 2 * H,
                   handling_due=dispatched + timedelta(days=rng.choice([1, 3, 5, 15])),
                   deadline_level=rng.choice(["green", "yellow", "red"]), lead_unit="cg")
        if state in CLAIMED:
            row["claimed_at"] = dispatched + timedelta(hours=rng.uniform(0.2, 4))
        if state in ("closed", "followed_up"):
            row["closed_at"] = dispatched + timedelta(hours=rng.uniform(1, 100))
        if state == "followed_up":
            row["rating"] = rng.choice(["satisfied", "basically_satisfied", "unsatisfied"])
    x, y = GRIDS.get(area, (104.0, 30.0))
    point = {} if i % 17 == 0 else {"lon": x + rng.uniform(0.001, 0.009), "lat": y + rng.uniform(0.0005, 0.0045)}
    title = rng.choice(HOT_TITLE) if hot else rng.choice(OTHER_TITLES)
    return CaseRow(number=f"T-{next(_numbers):06d}", source=rng.choice(["grid", "citizen", "sensor", "upstream",
                                                                          "district"]),
                   category_code=rng.choice(["0101", "0102", "0201", "0305", "0402", "1101", "1203"]),
                   urgency="normal", version=1, title=title, description=title + "，请尽快处理", area_code=area,
                   area_path=paths[area], community_code=area[:12] if area != STREET else None,
                   handling_level=rng.choice(["property", "community", "street", "district"]),
                   reporter_phone_hash=f"p{i % 40}", reported_at=reported,
                   updated_at=reported, **point, **row)


def _steps(row: CaseRow) -> list[TimelineRow]:
    """A timeline step or two for cases past the first state (what the feed shows)."""
    if row.state in ("reported",):
        return []
    steps = [TimelineRow(case_id=row.id, seq=1, action="register", from_state="reported", to_state="registered",
                         at=row.reported_at + H / 2, actor_role="operator", data={})]
    if row.dispatched_at is not None:
        steps.append(TimelineRow(case_id=row.id, seq=2, action="dispatch", from_state="registered",
                                 to_state="dispatched", at=row.dispatched_at, actor_role="operator", data={}))
    return steps


# --- the independent expectations ----------------------------------------------------------------------------


def sql(c: Container, statement: str, **params: Any) -> list[Any]:
    """Rows of a hand-written SQL statement; datetime parameters and `at_*` columns bound as UTC datetimes."""
    stmt = text(statement).bindparams(*(bindparam(k, type_=UTCDateTime()) for k, v in params.items()
                                        if isinstance(v, datetime)))
    with c.engine.connect() as conn:
        return list(conn.execute(stmt, params).all())


def path_of(c: Container, code: str) -> str:
    return str(sql(c, "SELECT path FROM areas WHERE code = :code", code=code)[0][0]) + "%"


def local_midnight(days_back: int) -> datetime:
    return datetime.combine(NOW.astimezone(TZ).date() - timedelta(days=days_back), time(), TZ)


def expected(c: Container, code: str) -> dict[str, Any]:
    """Every panel's figure for the focus `code`, from SQL written for this test."""
    p, today = path_of(c, code), local_midnight(0)
    start, end = local_midnight(29), local_midnight(-1)
    window = "reported_at >= :start AND reported_at < :end AND area_path LIKE :p"
    w = {"start": start, "end": end, "p": p}
    by_source = dict(sql(c, "SELECT source, count(*) FROM cases WHERE reported_at >= :t AND reported_at <= :now "
                            "AND area_path LIKE :p GROUP BY source", t=today, now=NOW, p=p))
    by_class = dict(sql(c, "SELECT substr(category_code, 1, 2), count(*) FROM cases WHERE reported_at >= :t "
                           "AND reported_at <= :now AND area_path LIKE :p GROUP BY substr(category_code, 1, 2)",
                        t=today, now=NOW, p=p))

    def rate(num: str, den: str) -> float | None:
        n, d = sql(c, f"SELECT SUM(CASE WHEN {num} THEN 1 ELSE 0 END), COUNT(*) FROM cases WHERE {window} AND {den}",
                   **w)[0]
        return (n or 0) / d if d else None

    def hours(later: str) -> float | None:
        rows = sql(c, f"SELECT {later}, dispatched_at FROM cases WHERE {window} AND {later} IS NOT NULL "
                      "AND dispatched_at IS NOT NULL", **w)
        spans = [(_utc(a) - _utc(b)).total_seconds() / 3600 for a, b in rows]
        return sum(spans) / len(spans) if spans else None

    closed = dict(sql(c, f"SELECT handling_level, COUNT(*) FROM cases WHERE {window} AND closed_at IS NOT NULL "
                         "GROUP BY handling_level", **w))
    overdue = sql(c, "SELECT COUNT(*) FROM cases WHERE area_path LIKE :p AND state IN ('reported', 'verifying', "
                     "'registered', 'dispatched', 'returned', 'claimed', 'handling', 'result_submitted', 'verified') "
                     "AND (deadline_level = 'red' OR handling_due < :now)", p=p, now=NOW)[0][0]
    return {
        "today_total": sum(by_source.values()), "intake_by_source": by_source, "intake_by_class": by_class,
        "response_rate": rate("claimed_at <= claim_due", "dispatched_at IS NOT NULL"),
        "resolution_rate": rate("state IN ('closed', 'followed_up')",
                                "state NOT IN ('reported', 'verifying', 'rejected', 'merged')"),
        "satisfaction_rate": rate("rating IN ('satisfied', 'basically_satisfied')", "rating IS NOT NULL"),
        "on_time_rate": rate("closed_at <= handling_due", "closed_at IS NOT NULL AND handling_due IS NOT NULL"),
        "overdue": overdue, "avg_claim_hours": hours("claimed_at"), "avg_handling_hours": hours("closed_at"),
        "closed_by_level": {lv: closed.get(lv, 0) / sum(closed.values()) if closed else None
                            for lv in ("property", "community", "street", "district", "city")},
        "trend_7": _trend(c, p, 7), "trend_30": _trend(c, p, 30),
    }


def _utc(value: Any) -> datetime:
    """A timestamp as the driver returns it from plain SQL: text on SQLite, an aware datetime on PostgreSQL."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _trend(c: Container, p: str, days: int) -> dict[str, tuple[int, int]]:
    rows = sql(c, "SELECT reported_at, closed_at FROM cases WHERE reported_at >= :s AND area_path LIKE :p",
               s=local_midnight(days - 1), p=p)
    reported = Counter(_utc(r).astimezone(TZ).date().isoformat() for r, _ in rows)
    closed = Counter(_utc(r).astimezone(TZ).date().isoformat() for r, k in rows if k is not None)
    first = NOW.astimezone(TZ).date() - timedelta(days=days - 1)
    keys = [(first + timedelta(days=i)).isoformat() for i in range(days)]
    return {k: (reported[k], closed[k]) for k in keys}


def figures(c: Container, who: Principal, code: str | None) -> dict[str, Any]:
    """What the screen shows for the focus, shaped like `expected`."""
    focus = c.screen.focus(who, code)
    values = c.screen.panels(who, focus, [p for p in expected_keys()])
    out = dict(values)
    out["intake_by_source"] = {k: v for k, v in values["intake_by_source"] if v}
    out["intake_by_class"] = dict(values["intake_by_class"])
    out["closed_by_level"] = dict(values["closed_by_level"])
    for name in ("trend_7", "trend_30"):
        x, series = values[name]
        lines = dict(series)
        out[name] = {d: (lines["cases"][i], lines["closed"][i]) for i, d in enumerate(x)}
    return out


def expected_keys() -> list[str]:
    return ["today_total", "intake_by_source", "intake_by_class", "response_rate", "resolution_rate",
            "satisfaction_rate", "on_time_rate", "overdue", "avg_claim_hours", "avg_handling_hours",
            "closed_by_level", "trend_7", "trend_30"]


def _assert_same(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert set(got) == set(want)
    top = sorted(want["intake_by_class"].items(), key=lambda kv: (-kv[1], kv[0]))[:8]
    assert got.pop("intake_by_class") == dict(top)
    want = {k: v for k, v in want.items() if k != "intake_by_class"}
    for name, value in want.items():
        if isinstance(value, float) or name == "closed_by_level":
            assert got[name] == pytest.approx(value), name
        else:
            assert got[name] == value, name


@pytest.mark.parametrize(("who", "code"), [("street_op", None), ("street_op", YIHU), ("street_op", SJN + "002"),
                                           ("yihu_op", None), ("auditor", SJN), ("admin", STREET)])
def test_every_panel_equals_its_sql_count(sc: Container, who: str, code: str | None) -> None:
    principal = sc.auth.principal(who)
    focus = sc.screen.focus(principal, code)
    want = expected(sc, focus.code)
    assert want["today_total"] > 0 and want["response_rate"] is not None  # the data exercise every figure
    _assert_same(figures(sc, principal, code), want)


def test_drill_down_narrows_every_figure_and_parts_add_up(sc: Container) -> None:
    op = sc.auth.principal("street_op")
    street, yihu, sjn = (figures(sc, op, code) for code in (STREET, YIHU, SJN))
    street_level = sql(sc, "SELECT COUNT(*) FROM cases WHERE area_code = :s AND reported_at >= :t", s=STREET,
                       t=local_midnight(0))[0][0]
    assert street["today_total"] == yihu["today_total"] + sjn["today_total"] + street_level
    assert street["overdue"] >= yihu["overdue"] + sjn["overdue"]
    chain = sc.screen.focus(op, SJN + "002").chain
    assert [code for code, _, _ in chain] == [STREET, SJN, SJN + "002"]  # breadcrumbs from the scope down


def test_a_community_principal_sees_only_its_community(sc: Container) -> None:
    yihu_op = sc.auth.principal("yihu_op")
    focus = sc.screen.focus(yihu_op)
    assert (focus.code, [c for c, _, _ in focus.chain]) == (YIHU, [YIHU])
    for outside in (STREET, SJN, SJN + "001"):
        with pytest.raises(NotFound):
            sc.screen.focus(yihu_op, outside)
    points = sc.screen.layer(yihu_op, focus, "cases")
    numbers = {p.id for p in points}
    inside = {r[0] for r in sql(sc, "SELECT number FROM cases WHERE area_path LIKE :p", p=path_of(sc, YIHU))}
    assert numbers and numbers <= inside
    assert all(e.area_path.startswith(focus.path) for e in sc.screen.panels(yihu_op, focus, ["feed"])["feed"])


@pytest.mark.parametrize("who", ["handler", "resident", "gw1"])
def test_only_operators_admins_and_auditors_open_the_screen(sc: Container, who: str) -> None:
    with pytest.raises(Forbidden) as err:
        sc.screen.focus(sc.auth.principal(who))
    assert err.value.code == "screen.not_allowed"


def test_unknown_panels_and_layers_are_refused_precisely(sc: Container) -> None:
    op = sc.auth.principal("street_op")
    focus = sc.screen.focus(op)
    with pytest.raises(Invalid) as err:
        sc.screen.panels(op, focus, ["nope"])
    assert err.value.code == "screen.unknown_panel"
    with pytest.raises(Invalid) as err:
        sc.screen.layer(op, focus, "nope")
    assert err.value.code == "screen.unknown_layer"


CLASS_SQL = ("CASE WHEN state = 'suspended' THEN 'suspended' "
             "WHEN state IN ('reported', 'verifying', 'registered', 'returned') THEN 'triage' "
             "WHEN deadline_level = 'red' OR handling_due < :now THEN 'red' "
             "WHEN deadline_level = 'yellow' THEN 'yellow' ELSE 'green' END")


@pytest.mark.parametrize("code", [STREET, YIHU, SJN + "001"])
def test_the_case_layer_shows_every_open_case_with_a_point_in_its_class(sc: Container, code: str) -> None:
    op = sc.auth.principal("street_op")
    points = sc.screen.layer(op, sc.screen.focus(op, code), "cases")
    want = dict(sql(sc, f"SELECT number, {CLASS_SQL} FROM cases WHERE area_path LIKE :p AND lon IS NOT NULL AND "
                        "state NOT IN ('closed', 'followed_up', 'rejected', 'merged')", p=path_of(sc, code), now=NOW))
    assert {p.id: p.cls for p in points} == want
    assert all(p.link is None for p in points)  # the layer's link, /cases/{id}, opens each


def test_the_worker_layer_shows_each_workers_latest_check_in_of_the_week(sc: Container) -> None:
    op = sc.auth.principal("street_op")
    latest = sql(sc, "SELECT c.user_id, c.area_code, c.at FROM patrol_checkins c JOIN (SELECT user_id, MAX(id) AS id "
                     "FROM patrol_checkins WHERE at >= :since GROUP BY user_id) m ON m.id = c.id",
                 since=NOW - timedelta(days=7))
    for code in (STREET, YIHU, SJN):
        points = sc.screen.layer(op, sc.screen.focus(op, code), "workers")
        want = {f"user:{u}" for u, area, _ in latest if area.startswith(code[:12] if code != STREET else STREET[:9])}
        assert {p.id for p in points} == want
    street = {p.id: p.cls for p in sc.screen.layer(op, sc.screen.focus(op), "workers")}
    gw1, gw2 = sc.auth.principal("gw1").user_id, sc.auth.principal("gw2").user_id
    assert street == {f"user:{gw1}": "fresh", f"user:{gw2}": "stale"}  # gw3's check-in is 10 days old
    links = {p.id: p.link for p in sc.screen.layer(op, sc.screen.focus(op), "workers")}
    assert links[f"user:{gw1}"] == f"/cases?area={sc.auth.principal('gw1').scope_code}"  # the worker's own grid


def test_hot_issues_are_triages_for_the_focus(sc: Container) -> None:
    op = sc.auth.principal("street_op")
    focus = sc.screen.focus(op, YIHU)
    rows = sc.screen.panels(op, focus, ["hot"])["hot"]
    issues, _ = sc.hot.analyse(replace(op, scope_code=YIHU, scope_path=focus.path), 30)
    assert [r["title"] for r in rows] == [i.title for i in issues[:6]]
    assert rows and any("垃圾" in r["title"] for r in rows)
    for row in rows:
        numbers = row["cases"]
        inside = sql(sc, f"SELECT COUNT(*) FROM cases WHERE area_path LIKE :p AND number IN "
                         f"({', '.join(repr(n) for n in numbers)})", p=path_of(sc, YIHU))[0][0]
        assert inside == len(numbers)


def test_the_feed_shows_the_latest_events_of_the_focus_newest_first(sc: Container) -> None:
    op = sc.auth.principal("street_op")
    for code in (STREET, SJN):
        events = sc.screen.panels(op, sc.screen.focus(op, code), ["feed"])["feed"]
        p = path_of(sc, code)
        cases = sql(sc, "SELECT id, reported_at FROM cases WHERE area_path LIKE :p", p=p)
        steps = sql(sc, "SELECT t.id, t.at FROM case_timeline t JOIN cases c ON c.id = t.case_id "
                        "WHERE c.area_path LIKE :p", p=p)
        # the 30 newest by id of each table, then the 30 latest of those by time
        pool = sorted(cases, key=lambda r: -r[0])[:30], sorted(steps, key=lambda r: -r[0])[:30]
        merged = [(_utc(at), f"cases:{i}") for i, at in pool[0]] + [(_utc(at), f"steps:{i}") for i, at in pool[1]]
        want = [key for _, key in sorted(merged, reverse=True)[:30]]
        assert [e.key for e in events] == want


# --- HTTP ---------------------------------------------------------------------------------------------------


@pytest.fixture
def client(sc: Container) -> TestClient:
    app = FastAPI()
    app.state.container = sc
    app.state.templates = make_templates(sc.settings.tz)
    install_error_handlers(app)
    for module in (auth_api, screen_api, screen_pages):
        app.include_router(module.router)
    return TestClient(app)


def login(client: TestClient, username: str) -> None:
    response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text


def test_http_panels_map_and_layers_for_a_community_operator(client: TestClient, sc: Container) -> None:
    login(client, "yihu_op")
    body = client.get("/api/screen/panels").json()
    assert body["focus"]["code"] == YIHU and [c["code"] for c in body["focus"]["chain"]] == [YIHU]
    want = expected(sc, YIHU)
    panels = body["panels"]
    assert panels["today_total"] == {"kind": "number", "format": "count", "value": want["today_total"]}
    assert panels["response_rate"]["value"] == pytest.approx(want["response_rate"])
    sources = {i["key"]: (i["label"], i["value"]) for i in panels["intake_by_source"]["items"]}
    assert sources["grid"] == ("基层上报", want["intake_by_source"].get("grid", 0))
    assert {s["label"] for s in panels["trend_7"]["series"]} == {"上报", "已办结"} and len(panels["trend_7"]["x"]) == 7
    assert all("/" + YIHU + "/" in e["area_path"] for e in panels["feed"]["events"])
    assert panels["feed"]["events"][0]["action_label"] in ("立案", "派遣", "新上报")
    assert client.get("/api/screen/panels", params={"area": SJN}).json()["error"]["code"] == "areas.not_found"
    some = client.get("/api/screen/panels", params={"ids": "overdue,today_total"}).json()["panels"]
    assert set(some) == {"overdue", "today_total"}
    geo = client.get("/api/screen/map").json()
    assert [f["properties"]["name"] for f in geo["regions"]["features"]] == [YIHU + "001", YIHU + "002"]
    assert geo["drillable"] is True and geo["boundary"] and geo["focus"]["code"] == YIHU
    layer = client.get("/api/screen/layers/cases").json()
    assert layer["points"] and all(len(row) == 8 and row[7] == 0 for row in layer["points"])  # each one case


def test_http_street_map_has_communities_as_regions_and_grids_as_outlines(client: TestClient) -> None:
    login(client, "street_op")
    geo = client.get("/api/screen/map").json()
    assert {f["properties"]["label"] for f in geo["regions"]["features"]} == {"怡湖社区", "石家碾社区"}
    assert len(geo["outlines"]) == 4
    grid = client.get("/api/screen/map", params={"area": YIHU + "001"}).json()
    assert grid["drillable"] is False and [f["properties"]["name"] for f in grid["regions"]["features"]] == [
        YIHU + "001"]


def test_http_the_page_renders_its_panels_from_the_descriptions(client: TestClient) -> None:
    login(client, "street_op")
    page = client.get("/screen")
    assert page.status_code == 200
    html = page.text
    assert "一屏全观" in html and "大弯街道" in html and "响应率" in html and "满意率" in html
    assert html.count('data-panel="') == 15 and "/static/vendor/echarts.min.js" in html
    assert "cdn" not in html.lower()
    english = client.get("/screen", params={"lang": "en"}).text
    assert "Response rate" in english and "Operations at a glance" in english
    drilled = client.get("/screen", params={"area": SJN})
    assert drilled.status_code == 200 and "石家碾社区" in drilled.text


def test_the_console_nav_links_to_the_screen_for_operators_admins_and_auditors_only(sc: Container) -> None:
    app = FastAPI()
    app.state.container = sc
    app.state.templates = make_templates(sc.settings.tz)
    install_error_handlers(app)
    for module in (auth_api, home):
        app.include_router(module.router)
    for who, shown in [("street_op", True), ("auditor", True), ("admin", True), ("handler", False),
                       ("gw1", False)]:
        client = TestClient(app)
        login(client, who)
        assert ('data-testid="nav-screen"' in client.get("/").text) is shown, who


def test_http_the_screen_refuses_handlers_and_foreign_areas(client: TestClient) -> None:
    login(client, "handler")
    assert client.get("/api/screen/panels").json()["error"]["code"] == "screen.not_allowed"
    assert client.get("/screen").status_code == 403
    client.post("/api/auth/logout")
    login(client, "yihu_op")
    assert client.get("/screen", params={"area": SJN}).status_code == 404
