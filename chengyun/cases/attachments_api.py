"""Upload case photos and fetch them: staff get originals, everyone else signed in gets the public copy."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import Response

from chengyun.cases.attachments import MAX_BYTES, AttachmentStore, read_attachment, store_attachment
from chengyun.errors import Invalid
from chengyun.web.deps import CurrentPrincipal, get_container

router = APIRouter(prefix="/api/attachments", tags=["attachments"])


def attachment_store(request: Request) -> AttachmentStore:
    """The container's store (on disk or in a bucket)."""
    return get_container(request).attachments


@router.post("", status_code=201, summary="Upload a photo (JPEG, PNG, WebP); stores the original and a public copy")
def upload(request: Request, principal: CurrentPrincipal, file: UploadFile = File(...)) -> dict[str, Any]:
    data = file.file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise Invalid("attachments.too_large", size=len(data), limit=MAX_BYTES)
    return store_attachment(attachment_store(request), data).to_json()


@router.get("/{file_id}", summary="A photo: the original for staff, the copy without EXIF/GPS for everyone else")
def download(file_id: str, request: Request, principal: CurrentPrincipal) -> Response:
    data, content_type = read_attachment(attachment_store(request), file_id, principal.role)
    headers = {"Cache-Control": "private, max-age=86400", "Vary": "Cookie, Authorization",
               "X-Content-Type-Options": "nosniff", "Content-Disposition": "inline"}
    return Response(content=data, media_type=content_type, headers=headers)
