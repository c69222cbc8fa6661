"""In headless Chromium: sign in, open the area browser, see the map drawn, locate a point, drill down."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import SCREENSHOTS, sign_in

pytestmark = pytest.mark.browser


def test_operator_signs_in_and_the_area_map_renders(server: tuple[str, dict[str, str]], browser: object) -> None:
    base, passwords = server
    page = browser.new_page(viewport={"width": 1600, "height": 900}, locale="zh-CN")  # type: ignore[attr-defined]
    sign_in(page, base, "operator", passwords["operator"])
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
    sign_in(page, base, "yihu", passwords["yihu"])
    assert page.inner_text("[data-testid=count-community]") == "1"
    page.goto(f"{base}/areas?code=510113002002")
    assert "不存在或不在您的管辖范围内" in page.inner_text("[data-testid=error-message]")
    page.close()
