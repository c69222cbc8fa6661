"""Shared browser-test fixtures: the demo street served by uvicorn, and Debian's headless Chromium."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import select

from chengyun.areas.tables import CompoundRow
from chengyun.auth.model import Role
from chengyun.bootstrap import Container, bootstrap
from chengyun.config import Settings
from chengyun.demo.load import DEMO_COMMUNITY, DEMO_STREET, ensure_demo
from chengyun.web.app import create_app
from tests.conftest import SECRET, need
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM = os.environ.get("CHENGYUN_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
_SERVED: dict[str, Container] = {}


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """The demo street served by uvicorn on a free local port; yields the base URL and demo passwords."""
    data_dir = tmp_path_factory.mktemp("e2e")
    port = free_port()
    container = bootstrap(Settings(env="dev", secret_key=SECRET, data_dir=data_dir, port=port))
    container.migrate()
    passwords = {a.username: a.password for a in ensure_demo(container, echo=lambda _: None)}
    _SERVED["container"] = container
    config = uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", passwords
    srv.should_exit = True
    thread.join(timeout=10)
    container.engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    need(Path(CHROMIUM).exists(), f"Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True,
         "locale": "zh-CN"}  # a phone's browser context


def tap_the_pick_map(page: Any) -> None:
    """On the resident's report page: tap the middle of the street's map to pick the place, wait for the pick."""
    page.wait_for_selector("#pick-map[data-state=ready] canvas")
    page.locator("#pick-map").scroll_into_view_if_needed()
    box = page.locator("#pick-map").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("[data-testid=picked][data-lon]")


def sign_in(page: object, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login")  # type: ignore[attr-defined]
    page.fill("input[name=username]", username)  # type: ignore[attr-defined]
    page.fill("input[name=password]", password)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_url(f"{base}/")  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Open311Site:
    """What an Open311 client needs to know about the demo street's server, as a city would publish it."""

    base: str  # the server's root URL, e.g. http://127.0.0.1:8123
    discovery: str  # the service discovery document without its format extension
    endpoint: str  # the GeoReport v2 endpoint URL, ending in "/"
    api_key: str  # a key issued to a civic app
    jurisdiction_id: str  # the street's id
    inside: tuple[float, float]  # (lat, long) in WGS84 inside the street
    outside: tuple[float, float]  # (lat, long) far outside it
    address: str  # a street address inside the street that the gazetteer knows


@pytest.fixture(scope="session")
def open311(server: tuple[str, dict[str, str]]) -> Open311Site:
    """The demo street's Open311 GeoReport v2 server with an api_key of a civic app account."""
    base, _ = server
    container = _SERVED["container"]
    container.auth.create_user(username="civicapp", display_name="Civic app", role=Role.RESIDENT,
                               scope_code=DEMO_STREET)
    key = container.auth.issue_token("civicapp", "open311 tests")
    community = container.areas.get(container.auth.principal("civicapp"), DEMO_COMMUNITY)
    assert community.center_lat is not None and community.center_lon is not None
    with container.sessions() as session:
        address = session.scalars(select(CompoundRow.address).order_by(CompoundRow.code)).first()
    assert address is not None
    return Open311Site(base=base, discovery=f"{base}/open311/discovery", endpoint=f"{base}/open311/v2/",
                       api_key=key, jurisdiction_id=DEMO_STREET, inside=(community.center_lat, community.center_lon),
                       outside=(39.9042, 116.4074), address=address)
