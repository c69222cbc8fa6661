"""Shared setup of the ingest tests: the broker check, devices registered with a known token, payloads."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Callable
from typing import Any

from chengyun.bootstrap import Container
from chengyun.devices.tabular import DeviceDraft
from tests.conftest import need

BROKER = "mqtt://127.0.0.1:1883"
TOKEN = "ingest-test-token-0123456789"


def need_broker() -> None:
    """Mosquitto on 127.0.0.1:1883: fails in CI when down, skips elsewhere."""
    try:
        with socket.create_connection(("127.0.0.1", 1883), timeout=2):
            pass
    except OSError:
        need(False, "Mosquitto at 127.0.0.1:1883")


def unique(prefix: str) -> str:
    """A short name no other test run uses (groups, client ids, msg ids)."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def register(container: Container, devices: list[tuple[str, str]], token: str = TOKEN,
             issue: Callable[[str], str] | None = None) -> None:
    """Store devices (id, type) inside the tiny district, all with the same token (or each with `issue(id)`)."""
    drafts = [DeviceDraft(row=i + 2, device_id=d, type_code=t, lon=104.005, lat=30.003)
              for i, (d, t) in enumerate(devices)]
    container.devices.import_drafts(drafts, source="test", actor="test", issue=issue or (lambda _device_id: token))


def body(msg_id: str, ts: float, token: str = TOKEN, **values: Any) -> bytes:
    """A device payload."""
    return json.dumps({"msg_id": msg_id, "ts": ts, "token": token, "values": values}).encode()
