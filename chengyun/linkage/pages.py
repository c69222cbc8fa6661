"""The public acknowledge page `/ack/{token}`: a family member or liaison opens the link from an SMS on a phone,
sees what happened and what to do, and confirms — no sign-in; the signed token is the proof."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from starlette.concurrency import run_in_threadpool

from chengyun.errors import NotFound
from chengyun.linkage.api import Linkage
from chengyun.linkage.queries import AckPage
from chengyun.web.templating import render

router = APIRouter(tags=["linkage"], include_in_schema=False)
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


def _page(request: Request, token: str, page: AckPage | None, *, just_confirmed: bool = False) -> Response:
    response = render(request, "linkage_ack.html",
                      {"page": page, "token": token, "just_confirmed": just_confirmed, "messages": {}},
                      status_code=200 if page is not None else 404)
    response.headers.update(HEADERS)
    return response


@router.get("/ack/{token}")
async def ack_page(token: str, request: Request, linkage: Linkage) -> Response:
    try:
        page = await run_in_threadpool(linkage.ack_page, token)
    except NotFound:
        return _page(request, token, None)
    return _page(request, token, page)


@router.post("/ack/{token}")
async def ack_submit(token: str, request: Request, linkage: Linkage,
                     note: Annotated[str, Form(max_length=500)] = "") -> Response:
    try:
        await run_in_threadpool(linkage.acknowledge_token, token, note)
        page = await run_in_threadpool(linkage.ack_page, token)
    except NotFound:
        return _page(request, token, None)
    return _page(request, token, page, just_confirmed=True)
