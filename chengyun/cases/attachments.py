"""Case photos: which uploads are accepted, the public copy without EXIF/GPS, and who sees which copy."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from PIL import Image, ImageOps, UnidentifiedImageError

from chengyun.auth.model import Role
from chengyun.errors import Invalid, NotFound

MAX_BYTES = 10 * 1024 * 1024
MAX_SIDE = 8000
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
STAFF_ROLES = frozenset({Role.ADMIN, Role.OPERATOR, Role.HANDLER, Role.GRID_WORKER, Role.AUDITOR})
_KEPT_INFO = ("icc_profile", "transparency")  # colour and alpha only: no EXIF, XMP, comments or text chunks
_SAVE_OPTIONS: dict[str, dict[str, Any]] = {"JPEG": {"quality": 90}, "PNG": {}, "WEBP": {"quality": 90}}


class AttachmentStore(Protocol):
    """What the use cases need from a content-addressed store (FileStore is one)."""

    def put(self, data: bytes) -> str: ...
    def get(self, file_id: str) -> bytes: ...
    def exists(self, file_id: str) -> bool: ...
    def write_meta(self, file_id: str, meta: dict[str, str | int]) -> None: ...
    def read_meta(self, file_id: str) -> dict[str, str | int] | None: ...


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """An accepted image: its format (JPEG, PNG, WEBP), content type and size in pixels."""

    format: str
    content_type: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class StoredAttachment:
    """The original (for staff) and the public copy (for everyone signed in) of one upload."""

    id: str
    public_id: str
    content_type: str
    width: int
    height: int
    size: int

    def to_json(self) -> dict[str, str | int]:
        """The API shape of an upload."""
        return {"id": self.id, "public_id": self.public_id, "content_type": self.content_type,
                "width": self.width, "height": self.height, "size": self.size}


def inspect_image(data: bytes) -> ImageInfo:
    """Accept JPEG, PNG or WebP by content, at most MAX_BYTES and MAX_SIDE px a side, without decoding pixels."""
    if len(data) > MAX_BYTES:
        raise Invalid("attachments.too_large", size=len(data), limit=MAX_BYTES)
    with _open(data) as img:
        fmt = img.format or ""
        width, height = img.size
    if fmt not in CONTENT_TYPES:
        raise Invalid("attachments.bad_format", format=fmt.lower(), allowed="jpeg, png, webp")
    if width > MAX_SIDE or height > MAX_SIDE:
        raise Invalid("attachments.too_many_pixels", width=width, height=height, max=MAX_SIDE)
    return ImageInfo(fmt, CONTENT_TYPES[fmt], width, height)


def _open(data: bytes) -> Image.Image:
    """Open the header only; a decompression bomb is refused before any pixel is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Invalid("attachments.too_many_pixels", max=MAX_SIDE) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise Invalid("attachments.not_an_image") from exc


def public_copy(data: bytes, info: ImageInfo) -> bytes:
    """Re-encode in the same format, upright, without EXIF (GPS included), XMP or text metadata."""
    try:
        with _open(data) as img:
            img.load()
            upright = ImageOps.exif_transpose(img)
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt pixel data
        raise Invalid("attachments.not_an_image") from exc
    upright.info = {key: upright.info[key] for key in _KEPT_INFO if key in upright.info}
    if info.format == "JPEG" and upright.mode not in ("RGB", "L", "CMYK"):
        upright = upright.convert("RGB")
    out = io.BytesIO()
    upright.save(out, info.format, **_SAVE_OPTIONS[info.format])
    return out.getvalue()


def store_attachment(store: AttachmentStore, data: bytes) -> StoredAttachment:
    """Validate an upload, store the original and its public copy, and record which belongs to which."""
    info = inspect_image(data)
    public = public_copy(data, info)
    public_id = store.put(public)
    if store.read_meta(public_id) is None:
        store.write_meta(public_id, {"kind": "public", "content_type": info.content_type})
    original_id = store.put(data)
    store.write_meta(original_id, {"kind": "original", "public_id": public_id, "content_type": info.content_type,
                                   "width": info.width, "height": info.height})
    return StoredAttachment(original_id, public_id, info.content_type, info.width, info.height, len(data))


def read_attachment(store: AttachmentStore, file_id: str, role: Role) -> tuple[bytes, str]:
    """The bytes and content type the role may see: staff get originals, everyone else the public copy."""
    meta = store.read_meta(file_id)
    if meta is None:
        raise NotFound("attachments.not_found", id=file_id)
    if meta.get("kind") == "original" and role not in STAFF_ROLES:
        file_id = str(meta.get("public_id", ""))  # one hop only: a public copy never leads on to an original
        if not store.exists(file_id):
            raise NotFound("attachments.not_found", id=file_id)
    return store.get(file_id), str(meta["content_type"])


def check_attachment_ids(store: AttachmentStore, ids: Iterable[str]) -> None:
    """Refuse ids that were never uploaded, so a case step cannot point at nothing."""
    for file_id in ids:
        if not store.exists(file_id):
            raise Invalid("attachments.unknown", id=file_id[:80])
