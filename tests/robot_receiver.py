"""Local stand-ins for the WeCom and DingTalk robot webhooks and for an SMTP server (tests only).

`RobotReceiver` is a real HTTP server on 127.0.0.1 that records each POST (path, query, JSON body), checks a
DingTalk signature the way DingTalk documents it (its own HMAC, not the code under test) and answers with the
next scripted `(HTTP status, errcode)`. `FakeSmtp` is a minimal socket-level SMTP server (aiosmtpd is not a
dependency): EHLO/HELO, MAIL, RCPT (550 for addresses starting with `refuse`), DATA, QUIT.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socketserver
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Post:
    """One request as the robot saw it."""

    path: str
    query: dict[str, str]
    body: dict[str, Any]
    content_type: str
    sign_ok: bool | None  # DingTalk: None when the request was not signed


@dataclass
class RobotReceiver:
    """Answers like a robot: HTTP 200 with {"errcode": 0, "errmsg": "ok"} unless scripted otherwise."""

    dingtalk_secret: str | None = None
    script: deque[tuple[int, int]] = field(default_factory=deque)
    posts: list[Post] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base(self) -> str:
        """http://127.0.0.1:<port>"""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        """Stop listening."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _sign_ok(self, query: dict[str, str]) -> bool | None:
        if "sign" not in query:
            return None
        secret = self.dingtalk_secret or ""
        digest = hmac.new(secret.encode(), f"{query['timestamp']}\n{secret}".encode(), hashlib.sha256).digest()
        return hmac.compare_digest(base64.b64encode(digest).decode(), query["sign"])

    def _answer(self, path: str, raw: bytes, content_type: str) -> tuple[int, bytes]:
        parts = urlsplit(path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self._lock:
            self.posts.append(Post(parts.path, query, json.loads(raw), content_type, self._sign_ok(query)))
            status, errcode = self.script.popleft() if self.script else (200, 0)
        body = json.dumps({"errcode": errcode, "errmsg": "ok" if errcode == 0 else "scripted failure"}).encode()
        return status, body

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, body = receiver._answer(self.path, raw, self.headers.get("Content-Type", ""))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@dataclass
class Mail:
    """One message the fake SMTP server accepted."""

    sender: str
    recipients: list[str]
    data: bytes


@dataclass
class FakeSmtp:
    """A minimal SMTP server on 127.0.0.1 (a free port) in a thread."""

    mails: list[Mail] = field(default_factory=list)

    def __post_init__(self) -> None:
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                owner._session(self.rfile, self.wfile)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        """Where to connect."""
        return int(self._server.server_address[1])

    def close(self) -> None:
        """Stop listening."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _session(self, rfile: Any, wfile: Any) -> None:
        def say(line: str) -> None:
            wfile.write(line.encode() + b"\r\n")
            wfile.flush()

        say("220 fake.smtp ESMTP")
        sender, recipients = "", []
        while line := rfile.readline():
            command = line.decode("utf-8", "replace").strip()
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO"):
                say("250 fake.smtp")
            elif verb == "MAIL":
                sender, recipients = command.split(":", 1)[1].strip(" <>"), []
                say("250 OK")
            elif verb == "RCPT":
                address = command.split(":", 1)[1].strip(" <>")
                if address.startswith("refuse"):
                    say("550 no such user")
                else:
                    recipients.append(address)
                    say("250 OK")
            elif verb == "DATA":
                say("354 go ahead")
                self.mails.append(Mail(sender, recipients, self._data(rfile)))
                say("250 queued")
            elif verb == "QUIT":
                say("221 bye")
                return
            else:
                say("250 OK")

    @staticmethod
    def _data(rfile: Any) -> bytes:
        lines = []
        while (line := rfile.readline()) not in (b".\r\n", b""):
            lines.append(line[1:] if line.startswith(b"..") else line)
        return b"".join(lines)
