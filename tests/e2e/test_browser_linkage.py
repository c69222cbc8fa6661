"""The live notification card in Chromium: a new in-app notification appears within the open page and is
confirmed with one tap; the public acknowledge page works on a phone-sized screen."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from chengyun.bootstrap import Container
from chengyun.linkage.tables import NotificationRow
from chengyun.web.app import create_app
from tests.e2e.conftest import SCREENSHOTS
from tests.helpers import free_port
from tests.linkage_world import PASSWORD, World, make_world

pytestmark = pytest.mark.browser
WAIT_MS = 30_000  # a hang guard only


@pytest.fixture
def world(tiny_district: Container) -> World:
    return make_world(tiny_district, logins=("u-gw",))


@pytest.fixture
def base(world: World) -> Iterator[str]:
    app = create_app(world.container)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_a_grid_worker_sees_the_alarm_arrive_and_confirms_it_in_one_tap(browser: object, base: str,
                                                                          world: World) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")  # type: ignore[attr-defined]
    page = context.new_page()
    signed_in = page.request.post(f"{base}/api/auth/login", data={"username": "u-gw", "password": PASSWORD})
    assert signed_in.ok
    page.goto(f"{base}/grid")
    assert page.locator("script[src='/static/notifications.js']").count() == 1  # the phone page brings it
    page.wait_for_timeout(300)  # let the stream connect before the alarm (a late connect only starts later)
    world.service.start(world.alarm(7))
    card = page.wait_for_selector("[data-notification]", timeout=WAIT_MS)
    assert card is not None and "燃气泄漏" in card.inner_text() and "请确认：已到场" in card.inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "linkage-live-card.png"))
    page.click("[data-notification] button:has-text('确认：已到场')")
    page.wait_for_selector("[data-notification] >> text=已确认", timeout=WAIT_MS)
    with world.container.sessions() as session:
        notice = session.get(NotificationRow, int(card.get_attribute("data-notification") or 0))
        assert notice is not None and notice.status == "acknowledged" and notice.acknowledged_by == "gw"
    context.close()


def test_the_family_confirms_on_the_public_page_of_a_phone(browser: object, base: str, world: World) -> None:
    world.service.start(world.alarm(7))
    world.service.deliver_due()
    link = next(m.link for m, r in world.notifier.sent if r.channel == "sms")
    assert link is not None
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN")  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(base + "/ack/" + link.rsplit("/ack/", 1)[1])
    assert "需要您确认：已联系住户" in page.inner_text("main")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360  # one column, no sideways scrolling
    page.fill("textarea[name=note]", "老人已安全")
    page.click("[data-testid=ack-button]")
    page.wait_for_selector("[data-testid=ack-done]", timeout=WAIT_MS)
    page.screenshot(path=str(SCREENSHOTS / "linkage-ack-page.png"))
    assert "谢谢，已记录您的确认。" in page.inner_text("main")
    context.close()
