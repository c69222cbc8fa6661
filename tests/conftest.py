"""Shared fixtures: an isolated database per test on SQLite and PostgreSQL, a wired container, a tiny district."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from chengyun.areas.model import AreaDraft, AreaLevel
from chengyun.bootstrap import Container, bootstrap
from chengyun.config import Settings
from chengyun.db.engine import make_engine
from chengyun.db.migrate import upgrade

IN_CI = os.environ.get("CI") == "true"
PG_URL = os.environ.get("CHENGYUN_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = "test-secret-0123456789abcdefghijklmnopqrstuvwxyz"


def need(condition: bool, what: str) -> None:
    """In CI a missing service or file fails the test; on a laptop it skips it."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI (CI=true) but is not available")
    pytest.skip(f"{what} not available")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for every test so each starts from an empty, migrated schema."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def _sqlite_engine(template: Path, tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "chengyun.db"
    shutil.copy(template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh, empty schema on the test PostgreSQL (skipped, or failed in CI, when there is none); dropped after."""
    admin = make_engine(PG_URL)
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError:
        admin.dispose()
        need(False, f"PostgreSQL at {PG_URL}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema
    finally:
        with admin.begin() as conn:
            # a test that leaks an open transaction makes this fail loudly instead of hanging the suite
            conn.execute(text("SET LOCAL lock_timeout = '20s'"))
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def terminate_backend(pid: int, wait_s: float = 60) -> None:
    """End that PostgreSQL server process from another connection and wait until it is gone."""
    admin = make_engine(PG_URL)
    try:
        with admin.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid, :ms)"),
                                {"pid": pid, "ms": int(wait_s * 1000)}).scalar_one() is True
            assert conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                                {"pid": pid}).scalar_one() == 0
    finally:
        admin.dispose()


def _postgres_engine() -> Iterator[Engine]:
    with postgres_schema() as schema:
        engine = make_engine(PG_URL, search_path=schema)
        try:
            upgrade(engine)
            yield engine
        finally:
            engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, isolated database: a file copy on SQLite, a fresh schema on PostgreSQL."""
    if request.param == "sqlite":
        yield from _sqlite_engine(sqlite_template, tmp_path)
    else:
        yield from _postgres_engine()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for a test: dev mode, a strong secret, a private data directory."""
    return Settings(env="dev", secret_key=SECRET, data_dir=tmp_path / "var")


@pytest.fixture
def container(settings: Settings, engine: Engine) -> Container:
    """The wired application on the test database."""
    return bootstrap(settings, engine=engine)


def square(lon: float, lat: float, size: float) -> dict[str, object]:
    """A square polygon (GeoJSON) with its south-west corner at lon/lat."""
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def tiny_district_drafts() -> list[AreaDraft]:
    """A city, a district, a street of 2×1 km and two communities side by side, each with two grids."""
    drafts = [
        AreaDraft("510100000000", "成都市", AreaLevel.CITY, None, None, "t"),
        AreaDraft("510113000000", "青白江区", AreaLevel.DISTRICT, "510100000000", None, "t"),
        AreaDraft("510113002000", "大弯街道", AreaLevel.STREET, "510113000000",
                  {"type": "Polygon", "coordinates": [[[104.0, 30.0], [104.02, 30.0], [104.02, 30.01],
                                                       [104.0, 30.01], [104.0, 30.0]]]}, "t"),
    ]
    for i, (code, name) in enumerate([("510113002001", "怡湖社区"), ("510113002002", "石家碾社区")]):
        drafts.append(AreaDraft(code, name, AreaLevel.COMMUNITY, "510113002000", square(104.0 + 0.01 * i, 30.0, 0.01),
                                "t"))
        for j in range(2):
            grid = f"{code}{j + 1:03d}"
            geometry = {"type": "Polygon", "coordinates": [[
                [104.0 + 0.01 * i, 30.0 + 0.005 * j], [104.01 + 0.01 * i, 30.0 + 0.005 * j],
                [104.01 + 0.01 * i, 30.005 + 0.005 * j], [104.0 + 0.01 * i, 30.005 + 0.005 * j],
                [104.0 + 0.01 * i, 30.0 + 0.005 * j]]]}
            drafts.append(AreaDraft(grid, f"{name}第{j + 1}网格", AreaLevel.GRID, code, geometry, "t"))
    return drafts


@pytest.fixture
def tiny_district(container: Container) -> Container:
    """The container with the tiny district stored."""
    container.areas.import_drafts(tiny_district_drafts(), actor="test")
    return container
