"""In headless Chromium at a phone's size (360×740): a grid worker reports with a photo and a GPS fix, a report
retried after a lost answer is filed once, an unsent report survives a reload, and a resident reports by tapping
the street's map and then follows it."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from chengyun.intake.service import INTAKE
from chengyun.intake.tables import ReportRow
from tests.e2e.conftest import _SERVED, SCREENSHOTS, sign_in

pytestmark = pytest.mark.browser
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True,
         "locale": "zh-CN"}
GRID = "510113002001001"


def photo() -> dict[str, Any]:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (40, 160, 60)).save(out, "JPEG")
    return {"name": "scene.jpg", "mimeType": "image/jpeg", "buffer": out.getvalue()}


def grid_point() -> dict[str, float]:
    area = _SERVED["container"].areas.get(INTAKE, GRID)
    assert area.center_lon is not None and area.center_lat is not None
    return {"longitude": area.center_lon, "latitude": area.center_lat, "accuracy": 12}


def reports_saying(text: str) -> list[ReportRow]:
    with _SERVED["container"].sessions() as session:
        return list(session.scalars(select(ReportRow).where(ReportRow.description == text)))


def grid_page(browser: Any, server: tuple[str, dict[str, str]]) -> tuple[Any, Any]:
    base, passwords = server
    context = browser.new_context(**PHONE, geolocation=grid_point(), permissions=["geolocation"])
    page = context.new_page()
    sign_in(page, base, "gridworker", passwords["gridworker"])
    page.goto(f"{base}/grid")
    page.wait_for_selector("[data-testid=gps][data-state=ready]")
    return context, page


def test_grid_worker_reports_with_a_photo_and_gps_and_checks_in(server: tuple[str, dict[str, str]],
                                                                browser: Any) -> None:
    context, page = grid_page(browser, server)
    assert "精度 ±12 米" in page.inner_text("#gps-text")
    page.wait_for_function("document.querySelector('[data-testid=gps-address]').textContent.length > 0")
    page.set_input_files("[data-testid=photo-input]", photo())
    page.wait_for_selector("#thumbs figure[data-state=uploaded]")
    page.fill("[data-testid=description]", "小区门口路灯不亮了，晚上很黑")
    page.wait_for_selector("#suggestions .phone-chip[data-code='0603']")
    page.click("#suggestions .phone-chip[data-code='0603']")
    assert page.input_value("[data-testid=category]") == "0603"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "phone-grid-report.png"), full_page=True)
    page.click("[data-testid=submit-report]")
    page.wait_for_selector("[data-testid=report-status][data-case]")
    number = page.get_attribute("[data-testid=report-status]", "data-case")
    assert number and number.startswith("QY-") and number in page.inner_text("[data-testid=report-status]")
    (row,) = reports_saying("小区门口路灯不亮了，晚上很黑")
    assert (row.channel, row.source, len(row.payload["attachments"])) == ("grid", "grid", 1)
    page.click("[data-testid=checkin]")
    page.wait_for_selector("[data-testid=checkins] li[data-id]")
    assert "网格" in page.inner_text("[data-testid=checkins] li[data-id]")
    assert "±12 m" in page.inner_text("[data-testid=checkins] li[data-id]")
    page.goto(page.url)  # the new case is among my tasks after a reload; the check-in is listed by the server
    assert number in page.inner_text("[data-testid=grid-tasks]")
    assert page.locator("[data-testid=checkins] li[data-id]").count() >= 1
    assert page.is_hidden("#self-handle-row")
    page.screenshot(path=str(SCREENSHOTS / "phone-grid-tasks.png"), full_page=True)
    context.close()


def test_a_report_whose_answer_was_lost_is_retried_and_filed_once(server: tuple[str, dict[str, str]],
                                                                  browser: Any) -> None:
    context, page = grid_page(browser, server)
    keys: list[str] = []

    def lose_first_answer(route: Any) -> None:
        keys.append(route.request.headers.get("idempotency-key", ""))
        if len(keys) == 1:
            route.fetch()  # the server stores the report …
            route.abort("timedout")  # … but the phone never hears back
        else:
            route.continue_()

    page.route("**/api/reports", lose_first_answer)
    page.fill("[data-testid=description]", "井盖缺失很危险（重试测试）")
    page.click("[data-testid=submit-report]")
    page.wait_for_selector("[data-testid=report-status][data-kind=warn]")  # "retrying in … s"
    page.wait_for_selector("[data-testid=report-status][data-token]", timeout=20000)
    assert len(keys) == 2 and keys[0] == keys[1] and keys[0]
    assert len(reports_saying("井盖缺失很危险（重试测试）")) == 1
    assert page.evaluate("localStorage.getItem('chengyun.outbox.grid-reports')") == "[]"
    context.close()


def test_an_unsent_report_survives_a_reload_and_goes_out_once(server: tuple[str, dict[str, str]],
                                                              browser: Any) -> None:
    context, page = grid_page(browser, server)
    page.route("**/api/reports", lambda route: route.abort("internetdisconnected"))
    page.fill("[data-testid=description]", "道路积水（离线测试）")
    page.click("[data-testid=submit-report]")
    page.wait_for_selector("[data-testid=pending]:not([hidden])")
    assert "1 条待发送" in page.inner_text("[data-testid=pending]")
    page.screenshot(path=str(SCREENSHOTS / "phone-grid-pending.png"))
    page.unroute("**/api/reports")
    page.reload()
    page.wait_for_selector("[data-testid=report-status][data-token]", timeout=20000)
    assert len(reports_saying("道路积水（离线测试）")) == 1
    context.close()


def test_a_resident_reports_by_tapping_the_map_and_follows_it(server: tuple[str, dict[str, str]],
                                                              browser: Any) -> None:
    base, _ = server
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(f"{base}/report")
    assert page.inner_text(".phone-brand") == "群众上报"
    page.fill("[data-testid=description]", "楼下有人乱贴小广告，墙面很脏")
    page.wait_for_selector("#suggestions .phone-chip[data-code='0201']")
    page.click("#suggestions .phone-chip[data-code='0201']")
    page.set_input_files("[data-testid=photo-input]", photo())
    page.wait_for_selector("#thumbs figure[data-state=uploaded]")
    page.wait_for_selector("#pick-map[data-state=ready] canvas")
    page.locator("#pick-map").scroll_into_view_if_needed()
    box = page.locator("#pick-map").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("[data-testid=picked][data-lon]")
    page.fill("[data-testid=phone]", "13800001234")
    page.screenshot(path=str(SCREENSHOTS / "phone-resident-report.png"), full_page=True)
    page.click("[data-testid=submit-report]")
    page.wait_for_selector("[data-testid=report-status][data-case]")
    number = page.get_attribute("[data-testid=report-status]", "data-case")
    (row,) = reports_saying("楼下有人乱贴小广告，墙面很脏")
    assert (row.channel, row.source, row.case_number) == ("resident", "citizen", number)
    assert row.payload["phone_masked"] == "138****1234" and "13800001234" not in str(row.payload)
    page.click("[data-testid=track-link]")
    page.wait_for_selector("[data-testid=track]")
    assert page.inner_text("[data-testid=track-number]") == number
    assert page.inner_text("[data-testid=track-state]") == "已上报"
    assert "13800001234" not in page.content() and "138****" not in page.content()
    page.screenshot(path=str(SCREENSHOTS / "phone-resident-track.png"), full_page=True)
    page.goto(f"{base}/report")
    assert number in page.inner_text("[data-testid=my-reports]")
    context.close()
