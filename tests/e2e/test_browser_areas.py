"""In headless Chromium: sign in, open the area browser, see the map drawn, locate a point, drill down."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from chengyun.bootstrap import bootstrap
from chengyun.config import Settings
from chengyun.demo.load import ensure_demo
from chengyun.web.app import create_app
from tests.conftest import SECRET, need

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM = os.environ.get("CHENGYUN_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """The demo street served by uvicorn on a free local port; yields the base URL and demo passwords."""
    data_dir = tmp_path_factory.mktemp("e2e")
    port = _free_port()
    container = bootstrap(Settings(env="dev", secret_key=SECRET, data_dir=data_dir, port=port))
    container.migrate()
    passwords = {a.username: a.password for a in ensure_demo(container, echo=lambda _: None)}
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


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    need(Path(CHROMIUM).exists(), f"Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _sign_in(page: object, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login")  # type: ignore[attr-defined]
    page.fill("input[name=username]", username)  # type: ignore[attr-defined]
    page.fill("input[name=password]", password)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_url(f"{base}/")  # type: ignore[attr-defined]


def test_operator_signs_in_and_the_area_map_renders(server: tuple[str, dict[str, str]], browser: object) -> None:
    base, passwords = server
    page = browser.new_page(viewport={"width": 1600, "height": 900}, locale="zh-CN")  # type: ignore[attr-defined]
    _sign_in(page, base, "operator", passwords["operator"])
    assert page.inner_text("[data-testid=count-community]") == "18"
    assert page.inner_text("[data-testid=count-microgrid]") == "1121"
    page.goto(f"{base}/areas")
    page.wait_for_selector("#area-map[data-state=ready]", timeout=15000)
    assert page.get_attribute("#area-map", "data-features") == "18"
    assert page.locator("#area-map canvas").count() >= 1
    assert "大弯街道" in page.inner_text("[data-testid=breadcrumbs]")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "area-browser-street.png"))

    # where is this point: the centre of the first community's first microgrid, asked through the form
    center = page.evaluate("fetch('/api/areas/510113002001001001').then(r => r.json()).then(a => a.center)")
    page.fill("#where-lon", str(center[0]))
    page.fill("#where-lat", str(center[1]))
    page.click("#where-form button[type=submit]")
    page.wait_for_selector("[data-testid=where-chain]")
    chain_text = page.inner_text("[data-testid=where-chain]")
    assert "怡湖社区" in chain_text and "510113002001001001" in chain_text

    page.click("[data-testid=area-children] a[data-code='510113002001']")
    page.wait_for_selector("#area-map[data-state=ready]", timeout=15000)
    assert "怡湖社区" in page.inner_text("[data-testid=breadcrumbs]")
    page.screenshot(path=str(SCREENSHOTS / "area-browser-community.png"))
    page.close()


def test_community_operator_sees_only_their_community(server: tuple[str, dict[str, str]],
                                                      browser: object) -> None:
    base, passwords = server
    page = browser.new_page(locale="zh-CN")  # type: ignore[attr-defined]
    _sign_in(page, base, "yihu", passwords["yihu"])
    assert page.inner_text("[data-testid=count-community]") == "1"
    page.goto(f"{base}/areas?code=510113002002")
    assert "不存在或不在您的管辖范围内" in page.inner_text("[data-testid=error-message]")
    page.close()
