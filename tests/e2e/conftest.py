"""Shared browser-test fixtures: the demo street served by uvicorn, and Debian's headless Chromium."""

from __future__ import annotations

import os
import shutil
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
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM = os.environ.get("CHENGYUN_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """The demo street served by uvicorn on a free local port; yields the base URL and demo passwords."""
    data_dir = tmp_path_factory.mktemp("e2e")
    port = free_port()
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


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    need(Path(CHROMIUM).exists(), f"Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def sign_in(page: object, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login")  # type: ignore[attr-defined]
    page.fill("input[name=username]", username)  # type: ignore[attr-defined]
    page.fill("input[name=password]", password)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_url(f"{base}/")  # type: ignore[attr-defined]
