"""In headless Chromium: sign in, open the case queue, open a case, register and dispatch it from its page."""

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
from chengyun.cases import pages as cases_pages
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
    data_dir = tmp_path_factory.mktemp("e2e-cases")
    port = _free_port()
    container = bootstrap(Settings(env="dev", secret_key=SECRET, data_dir=data_dir, port=port))
    container.migrate()
    passwords = {a.username: a.password for a in ensure_demo(container, echo=lambda _: None)}
    app = create_app(container)
    if not any(getattr(r, "path", None) == "/cases/{number}" for r in app.routes):  # until app.py includes it
        app.include_router(cases_pages.router)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
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


OPEN_CASE = """async () => {
  const csrf = JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token'];
  const area = await (await fetch('/api/areas/510113002001001001')).json();
  const r = await fetch('/api/cases', {method: 'POST', headers: {'Content-Type': 'application/json',
    'X-CSRF-Token': csrf}, body: JSON.stringify({source: 'citizen', category_code: '1101',
    title: '楼上深夜噪音扰民', description: '楼上住户深夜噪音，多次沟通无果', lon: area.center[0],
    lat: area.center[1], reporter_phone: '13912345678'})});
  return (await r.json()).number;
}"""


def test_operator_registers_and_dispatches_a_case_from_its_page(server: tuple[str, dict[str, str]],
                                                                browser: object) -> None:
    base, passwords = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")  # type: ignore[attr-defined]
    _sign_in(page, base, "operator", passwords["operator"])
    number = page.evaluate(OPEN_CASE)
    assert number.startswith("QY-")

    page.goto(f"{base}/cases")
    row = page.locator(f"tr[data-number='{number}']")
    assert "已上报" in row.inner_text()
    row.locator("a").first.click()
    page.wait_for_url(f"{base}/cases/{number}")
    assert "139****5678" in page.inner_text("[data-testid=case-reporter]")
    assert "13912345678" not in page.content()
    assert page.locator("[data-testid=timeline] li").count() == 0

    page.click("[data-testid=act-register]")  # 立案
    page.wait_for_selector("[data-testid=case-state][data-state=registered]")
    assert page.locator("[data-testid=timeline] li").count() == 1
    assert page.inner_text("[data-testid=case-state]") == "待派遣"

    page.click("[data-testid=act-dispatch]")  # 派遣
    page.wait_for_selector("[data-testid=case-state][data-state=dispatched]")
    timeline = page.locator("[data-testid=timeline] li")
    assert timeline.count() == 2
    assert "派遣" in timeline.nth(1).inner_text() and "待派遣 → 待签收" in timeline.nth(1).inner_text()
    assert page.inner_text("[data-testid=case-lead]") not in ("", "—")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "case-page.png"), full_page=True)

    page.goto(f"{base}/cases?tab=active")
    assert "待签收" in page.locator(f"tr[data-number='{number}']").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "case-queue.png"))
    page.close()
