"""A real local HTTP receiver for webhook tests: checks signatures, records bodies, fails the first N on request."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chengyun.intake.delivery import verify


@dataclass
class Received:
    """One request as the receiver saw it."""

    body: dict[str, Any]
    headers: dict[str, str]
    signature_ok: bool
    answered: int


@dataclass
class Receiver:
    """Listens on 127.0.0.1 (a free port) in a thread until `close()`."""

    secret: str
    fail_first: int = 0
    fail_status: int = 500
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Where to POST."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    @property
    def accepted(self) -> list[dict[str, Any]]:
        """Bodies answered with 2xx, in arrival order."""
        return [r.body for r in self.received if r.answered < 300]

    def close(self) -> None:
        """Stop listening."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _answer(self, raw: bytes, headers: dict[str, str]) -> int:
        with self._lock:
            status = self.fail_status if self.fail_first > 0 else 200
            self.fail_first = max(self.fail_first - 1, 0)
            ok = verify(self.secret, raw, headers.get("x-chengyun-signature"))
            self.received.append(Received(json.loads(raw), headers, ok, status if ok else 401))
            return status if ok else 401

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = receiver._answer(raw, {k.lower(): v for k, v in self.headers.items()})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
