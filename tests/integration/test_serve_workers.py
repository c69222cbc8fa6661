"""`chengyun serve --workers 2`: two server processes on one SQLite file answer and write side by side."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx

from tests.conftest import SECRET
from tests.helpers import free_port


def test_two_worker_processes_serve_the_same_database(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "CHENGYUN_DATA_DIR": str(tmp_path), "CHENGYUN_SECRET_KEY": SECRET,
           "CHENGYUN_SWEEP_INTERVAL_S": "0"}
    server = subprocess.Popen([sys.executable, "-m", "chengyun.cli", "serve", "--port", str(port), "--workers", "2"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        with httpx.Client(base_url=base, timeout=10) as client:
            answers = [client.get("/healthz", headers={"Connection": "close"}) for _ in range(20)]
            assert all(a.status_code == 200 and a.json()["database"] == "ok" for a in answers)
            refused = [client.post("/api/auth/login", json={"username": f"nobody{i}", "password": "wrong-password"})
                       for i in range(10)]  # each writes an audit record: writes from both processes
            assert all(r.status_code == 401 and r.json()["error"]["code"] == "auth.bad_credentials" for r in refused)
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=20)
    assert output.count("Started server process") == 2, output[-2000:]
    assert "Traceback" not in output
