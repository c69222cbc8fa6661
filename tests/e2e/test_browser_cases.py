"""In headless Chromium: sign in, open the case queue, open a case, register and dispatch it from its page."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import SCREENSHOTS, sign_in

pytestmark = pytest.mark.browser


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
    sign_in(page, base, "operator", passwords["operator"])
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
    page.wait_for_selector("#case-map[data-state=ready] canvas")  # the community's grids and the case's dot
    assert page.get_attribute("#case-map", "data-highlight") == "510113002001001"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "case-page.png"), full_page=True)

    page.goto(f"{base}/cases?tab=active")
    assert "待签收" in page.locator(f"tr[data-number='{number}']").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "case-queue.png"))
    page.close()


def test_kpi_page_shows_the_same_numbers_as_the_api_and_draws_the_trend(server: tuple[str, dict[str, str]],
                                                                        browser: object) -> None:
    base, passwords = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")  # type: ignore[attr-defined]
    sign_in(page, base, "operator", passwords["operator"])
    page.evaluate(OPEN_CASE)
    api = page.evaluate("async () => (await (await fetch('/api/kpis')).json()).total")
    assert api["counts"]["cases"] >= 1
    page.goto(f"{base}/kpis")
    assert page.inner_text("h1").startswith("绩效考核")
    assert page.inner_text("[data-kpi=cases] .v") == str(api["counts"]["cases"])
    assert "响应率" in page.inner_text("[data-testid=kpi-cards]")
    page.wait_for_selector("#kpi-trend[data-ready='1'] canvas")
    assert page.locator("[data-testid=kpi-places] tr[data-key]").count() >= 1
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "kpi-page.png"), full_page=True)
    page.close()
