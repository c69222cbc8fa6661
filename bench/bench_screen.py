"""Big-screen render time: the demo street's /screen in headless Chromium at 1920×1080 with N open cases.

Run: .venv/bin/python bench/bench_screen.py [--cases 10000] [--devices 100000] [--scale 1000,10000] [--loads 5]
     [--postgres URL]
Builds the demo street (areas, units, people, compounds) in a fresh database, adds a month of closed history
(3,000 cases, so every KPI has a cohort) and N open cases spread over the street's microgrids — bulk inserted, states
and deadline colours mixed — refreshes the KPI rollup, serves the app with uvicorn, signs in as the street operator
and loads /screen `--loads` times. The figure is the page's own `performance.now()` when every panel, the map and
the layers are drawn (body[data-ready=1]): navigation start → ready, in the browser. Also printed: the server time
of each API call the page makes, and the size of the case layer. With `--devices N` the street also holds N devices
(statuses mixed, 40 of them alarming) and the page is loaded with every layer on, devices included
(`/screen?layers=…`): above 5,000 devices in the focus the device layer is drawn as one bucket per grid.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import uvicorn
from sqlalchemy import delete, func, insert, select, text

from chengyun.alarms.signals import Change, Severity, Transition
from chengyun.areas.tables import AreaRow
from chengyun.bootstrap import Container, bootstrap
from chengyun.cases.tables import CaseRow
from chengyun.config import Settings
from chengyun.db.engine import make_engine
from chengyun.demo.load import ensure_demo
from chengyun.devices.model import DeviceFacts
from chengyun.devices.tables import DeviceRow
from chengyun.web.app import create_app

SECRET = "bench-secret-0123456789abcdefghijklmnopqrstuvwxyz"
CHROMIUM = os.environ.get("CHENGYUN_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
OPEN = [("registered", 10), ("dispatched", 20), ("claimed", 15), ("handling", 35), ("result_submitted", 8),
        ("verified", 4), ("returned", 3), ("suspended", 2), ("reported", 3)]
SOURCES = ["grid", "grid", "citizen", "citizen", "sensor", "upstream", "district"]
CATEGORIES = ["0101", "0102", "0203", "0301", "0405", "0502", "0601", "0703", "0801", "1101", "1203"]
CASES = CaseRow.metadata.tables["cases"]
HISTORY = 3000


def _rows(n: int, micro: list[Any], now: datetime, rng: random.Random, *, closed: bool,
          start_id: int) -> list[dict[str, Any]]:
    states, weights = zip(*OPEN, strict=True)
    out = []
    for i in range(n):
        area = micro[rng.randrange(len(micro))]
        reported = now - timedelta(days=rng.uniform(0, 30 if closed else 12))
        dispatched = reported + timedelta(hours=1)
        state = "followed_up" if closed else rng.choices(states, weights)[0]
        clocked = state not in ("registered", "returned", "reported")
        row = {"number": f"B-{start_id + i:07d}", "source": rng.choice(SOURCES),
               "category_code": rng.choice(CATEGORIES), "urgency": "normal", "state": state, "version": 3,
               "title": f"基准事件{start_id + i}", "description": "基准测试", "address": "",
               "lon": area.center_lon + rng.uniform(-0.0004, 0.0004),
               "lat": area.center_lat + rng.uniform(-0.0004, 0.0004), "area_code": area.code,
               "area_path": area.path, "community_code": area.code[:12], "handling_level": "community",
               "assist_units": [], "attachments": [], "pauses": [], "returns": 0, "escalations": 0, "urges": 0,
               "self_handled": False, "repeat_report": False, "reported_at": reported, "updated_at": reported,
               "deadline_level": rng.choice(["green", "green", "green", "yellow", "red"]) if clocked else "green",
               "dispatched_at": dispatched if clocked or closed else None,
               "claim_due": dispatched + timedelta(hours=8) if clocked or closed else None,
               "handling_due": dispatched + timedelta(days=5) if clocked or closed else None,
               "claimed_at": None, "closed_at": None, "rating": None}
        if closed:
            row.update(claimed_at=dispatched + timedelta(hours=rng.uniform(0.2, 12)),
                       closed_at=dispatched + timedelta(hours=rng.uniform(2, 140)),
                       rating=rng.choice(["satisfied", "satisfied", "basically_satisfied", "unsatisfied"]))
        out.append(row)
    return out


def fill(container: Container, open_cases: int, seed: int = 7) -> None:
    """Replace the cases by a month of closed history and `open_cases` open ones, then refresh the rollup."""
    now, rng = container.clock.now(), random.Random(seed)
    with container.sessions.begin() as session:
        session.execute(text("DELETE FROM case_timeline"))
        session.execute(delete(CaseRow))
        micro = list(session.execute(select(AreaRow.code, AreaRow.path, AreaRow.center_lon, AreaRow.center_lat)
                                     .where(AreaRow.level == "microgrid")))
        rows = _rows(HISTORY, micro, now, rng, closed=True, start_id=0)
        rows += _rows(open_cases, micro, now, rng, closed=False, start_id=HISTORY)
        for i in range(0, len(rows), 2000):
            session.execute(insert(CASES), rows[i:i + 2000])
    container.refresh_kpis(full=True)


DEVICE_TYPES = ["smoke_detector", "gas_detector", "water_meter", "door_sensor", "hydrant_pressure", "sos_button"]
ALARMING = 40


def fill_devices(container: Container, n: int, seed: int = 11) -> None:
    """Replace the devices by `n` spread over the street's microgrids (a tenth offline) and raise 40 alarms."""
    now, rng = container.clock.now(), random.Random(seed)
    with container.sessions.begin() as session:
        session.execute(text("DELETE FROM alarm_events"))
        session.execute(text("DELETE FROM alarms"))
        session.execute(delete(DeviceRow))
        micro = list(session.execute(select(AreaRow.code, AreaRow.path, AreaRow.center_lon, AreaRow.center_lat)
                                     .where(AreaRow.level == "microgrid")))
        rows = []
        for i in range(n):
            area = micro[rng.randrange(len(micro))]
            rows.append({"device_id": f"bench-{i:06d}", "type_code": rng.choice(DEVICE_TYPES),
                         "area_code": area.code, "area_path": area.path,
                         "lon": area.center_lon + rng.uniform(-0.0006, 0.0006),
                         "lat": area.center_lat + rng.uniform(-0.0006, 0.0006), "credential_hash": "0" * 64,
                         "status": "offline" if rng.random() < 0.1 else "online", "active": True,
                         "created_at": now, "updated_at": now})
        for i in range(0, len(rows), 5000):
            session.execute(insert(DeviceRow.__table__), rows[i:i + 5000])
    picked = [rows[i] for i in rng.sample(range(n), min(ALARMING, n))]
    fired = [Transition("gas_high", "gas_leak", Severity.CRITICAL, Change.FIRE, r["device_id"], time.time(),
                        {"gas_lel": 30.0}) for r in picked]
    facts = {r["device_id"]: DeviceFacts(r["device_id"], r["type_code"], r["area_code"], r["area_path"])
             for r in picked}
    container.alarms.apply(fired, facts.get)


def serve(container: Container, port: int) -> uvicorn.Server:
    server = uvicorn.Server(uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=1))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server


def api_timings(base: str, password: str, devices: bool) -> dict[str, tuple[float, float, int]]:
    """Server time (ms) of the first and of a second call the page makes, and the answer's size."""
    with httpx.Client(base_url=base, timeout=120) as client:
        client.post("/api/auth/login", json={"username": "operator", "password": password})
        paths = ["/api/screen/map", "/api/screen/layers/cases", "/api/screen/layers/workers"]
        paths += ["/api/screen/layers/alarms", "/api/screen/layers/devices"] if devices else []
        sources: dict[str, list[str]] = {}
        for p in json.loads(client.get("/screen").text.split('id="screen-config">')[1].split("</script>")[0])[
                "panels"]:
            sources.setdefault(p["source"], []).append(p["id"])
        paths += [f"/api/screen/panels?ids={','.join(ids)}" for ids in sources.values()]
        out = {}
        for path in paths:
            t = time.perf_counter()
            client.get(path)
            cold = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            response = client.get(path)  # httpx asks for gzip: the size is what travelled
            out[path] = (cold, (time.perf_counter() - t) * 1000, response.num_bytes_downloaded)
    return out


def render(base: str, password: str, loads: int, path: str = "/screen") -> list[float]:
    """Navigation start → every panel, the map and the layers drawn (ms, measured in the page), per load."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
        page = context.new_page()
        page.on("pageerror", lambda err: print(f"    page error: {err}"))
        page.on("console", lambda msg: print(f"    console {msg.type}: {msg.text}") if msg.type == "error" else None)
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "operator")
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        times = []
        for _ in range(loads + 1):  # the first load warms the browser's cache of the static files
            page.goto(f"{base}{path}")
            page.wait_for_function("() => window.__screen && window.__screen.ready", timeout=120_000)
            times.append(page.evaluate("() => window.__screen.readyMs"))
        shown = page.inner_text("[data-layer-count=cases]")
        drawn = page.evaluate("() => window.__screen.layerSizes ? window.__screen.layerSizes() : null")
        latency = _latency(context, page, base)
        browser.close()
    print(f"    case layer shows {shown} points; points drawn per layer: {drawn}")
    print(f"  a case opened through the API → drawn in the feed and on the map (page clock): "
          f"median {statistics.median(latency):.0f} ms, max {max(latency):.0f} ms over {len(latency)} cases")
    return times[1:]


OPEN_CASE = """async (i) => {
  const csrf = JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token'];
  const area = await (await fetch('/api/areas/510113002001001001')).json();
  const r = await fetch('/api/cases', {method: 'POST', headers: {'Content-Type': 'application/json',
    'X-CSRF-Token': csrf}, body: JSON.stringify({source: 'citizen', category_code: '1101', title: '延迟测量' + i,
    description: '基准测试：从上报到上屏', lon: area.center[0], lat: area.center[1]})});
  return {number: (await r.json()).number, committed: Date.now()};
}"""


def _latency(context: Any, screen: Any, base: str, cases: int = 10) -> list[float]:
    """Cases opened one by one through the API from a console page; when each reached the screen (ms)."""
    console = context.new_page()
    console.goto(f"{base}/")
    out = []
    for i in range(cases):
        sent = console.evaluate(OPEN_CASE, i)
        screen.wait_for_function("n => window.__screen.events.some(e => e.number === n && e.shown)",
                                 arg=sent["number"], timeout=30_000)
        arrived = screen.evaluate("n => window.__screen.events.find(e => e.number === n).shown", sent["number"])
        out.append(arrived - sent["committed"])
        time.sleep(0.3 + (i % 3) * 0.37)  # arrivals at different phases of the one-second poll
    console.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--scale", default="", help="comma-separated open-case counts (overrides --cases)")
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--devices", type=int, default=0, help="devices in the street (default: the demo's)")
    parser.add_argument("--postgres", default="", help="PostgreSQL URL; a throwaway schema is used")
    args = parser.parse_args()
    sizes = [int(s) for s in args.scale.split(",") if s] or [args.cases]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}")
    with tempfile.TemporaryDirectory() as tmp:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        engine = None
        if args.postgres:
            admin = make_engine(args.postgres)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            engine = make_engine(args.postgres, search_path=schema)
        settings = Settings(env="dev", secret_key=SECRET, data_dir=Path(tmp), sweep_interval_s=0)
        container = bootstrap(settings, engine=engine)
        container.migrate()
        password = next(a.password for a in ensure_demo(container, echo=lambda _: None) if a.username == "operator")
        port = _free_port()
        server = serve(container, port)
        base = f"http://127.0.0.1:{port}"
        try:
            for n in sizes:
                fill(container, n)
                if args.devices:
                    fill_devices(container, args.devices)
                with container.sessions() as session:
                    open_now = session.scalar(select(func.count()).select_from(CaseRow)
                                              .where(CaseRow.state.not_in(["followed_up", "closed"])))
                with container.sessions() as session:
                    devices = session.scalar(select(func.count()).select_from(DeviceRow))
                print(f"\n{open_now} open cases (+{HISTORY} closed in the last 30 days), {devices} devices on "
                      f"{container.engine.dialect.name}:")
                print("    API call (first / again)")
                for path, (cold, warm, size) in api_timings(base, password, bool(args.devices)).items():
                    print(f"    {path[:70]:70s} {cold:7.1f} / {warm:6.1f} ms {size / 1024:7.1f} KiB")
                page = "/screen?layers=cases,workers,alarms,devices" if args.devices else "/screen"
                times = render(base, password, args.loads, page)
                print(f"  {page} ready in the browser: median {statistics.median(times):.0f} ms, "
                      f"max {max(times):.0f} ms over {len(times)} loads ({', '.join(f'{t:.0f}' for t in times)})")
        finally:
            server.should_exit = True
            container.live.close()
            if args.postgres:
                container.engine.dispose()
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


if __name__ == "__main__":
    main()
