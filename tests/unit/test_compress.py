"""Gzip for the large answers only: screen layers and static files are compressed, machine paths and the event
stream are not."""

from __future__ import annotations

import gzip

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, StreamingResponse
from fastapi.testclient import TestClient

from chengyun.web.compress import MINIMUM_BYTES, CompressLarge

BIG = "点位" * MINIMUM_BYTES


def app() -> FastAPI:
    web = FastAPI()
    web.add_middleware(CompressLarge)

    @web.get("/api/screen/layers/x")
    def layer() -> PlainTextResponse:
        return PlainTextResponse(BIG)

    @web.get("/api/screen/stream")
    def stream() -> StreamingResponse:
        return StreamingResponse(iter([f"data: {BIG}\n\n"]), media_type="text/event-stream")

    @web.post("/api/ingest/x")
    def ingest() -> PlainTextResponse:
        return PlainTextResponse(BIG)

    @web.get("/api/screen/small")
    def small() -> PlainTextResponse:
        return PlainTextResponse("ok")

    return web


def raw(client: TestClient, method: str, path: str) -> tuple[str | None, bytes]:
    with client.stream(method, path, headers={"Accept-Encoding": "gzip"}) as response:
        return response.headers.get("content-encoding"), b"".join(response.iter_raw())


def test_large_screen_answers_are_gzipped_and_decode_to_the_same_text() -> None:
    encoding, body = raw(TestClient(app()), "GET", "/api/screen/layers/x")
    assert encoding == "gzip" and len(body) < len(BIG.encode()) / 10
    assert gzip.decompress(body).decode() == BIG


def test_event_streams_machine_posts_and_small_answers_are_left_alone() -> None:
    client = TestClient(app())
    cases = (("GET", "/api/screen/stream", f"data: {BIG}\n\n"), ("POST", "/api/ingest/x", BIG),
             ("GET", "/api/screen/small", "ok"))
    for method, path, text in cases:
        assert raw(client, method, path) == (None, text.encode()), path
