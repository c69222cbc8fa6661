"""Gzip for the large answers only: the big screen's layers and map, the console's JSON lists, static assets.

Starlette's GZipMiddleware does the work (and leaves server-sent events alone); this wrapper keeps it off the busy
machine paths (device ingest, Open311 and webhook posts), whose small answers gain nothing and would pay for it, and
off HTML pages, which carry the CSRF token beside text a visitor may have typed (BREACH).
"""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

COMPRESSED_PREFIXES = ("/api/screen/", "/static/", "/api/cases", "/api/alarms", "/api/devices", "/api/areas",
                       "/api/triage/", "/api/kpis")
MINIMUM_BYTES = 1024


class CompressLarge:
    """Gzip responses of GET requests under COMPRESSED_PREFIXES when the client accepts it; pass others through."""

    def __init__(self, app: ASGIApp, prefixes: tuple[str, ...] = COMPRESSED_PREFIXES) -> None:
        self.app, self.prefixes = app, prefixes
        self.gzip = GZipMiddleware(app, minimum_size=MINIMUM_BYTES, compresslevel=6)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        wanted = (scope["type"] == "http" and scope.get("method") == "GET"
                  and str(scope.get("path", "")).startswith(self.prefixes))
        await (self.gzip if wanted else self.app)(scope, receive, send)
