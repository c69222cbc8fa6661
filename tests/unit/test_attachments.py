"""Attachment storage and photo policy at memory speed: ids, idempotence, traversal, formats, bombs, GPS stripping."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from chengyun.adapters.storage import FileStore, file_id_of
from chengyun.auth.model import Role
from chengyun.cases.attachments import (
    MAX_BYTES,
    check_attachment_ids,
    inspect_image,
    public_copy,
    read_attachment,
    store_attachment,
)
from chengyun.errors import Invalid, NotFound

GPS_IFD = 0x8825


def photo(fmt: str = "JPEG", size: tuple[int, int] = (64, 48), *, gps: bool = True, orientation: int = 1) -> bytes:
    """A small image; with GPS EXIF (30°N 104°E, 成都) unless told otherwise."""
    img = Image.new("RGB", size, (180, 40, 40))
    exif = Image.Exif()
    exif[0x0112] = orientation
    if gps:
        exif[GPS_IFD] = {1: "N", 2: (30.0, 40.0, 12.0), 3: "E", 4: (104.0, 4.0, 30.0)}
    out = io.BytesIO()
    img.save(out, fmt, exif=exif)
    return out.getvalue()


def gps_of(data: bytes) -> dict[int, object]:
    with Image.open(io.BytesIO(data)) as img:
        return dict(img.getexif().get_ifd(GPS_IFD))


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_only(width: int, height: int) -> bytes:
    """A small PNG whose header claims a huge size, as a decompression bomb's does."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def test_store_round_trip_layout_and_idempotence(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    file_id = store.put(b"hello")
    digest = file_id.removeprefix("sha256:")
    assert file_id == file_id_of(b"hello") and len(digest) == 64
    path = tmp_path / digest[:2] / digest[2:4] / digest
    assert path.read_bytes() == b"hello" and store.get(file_id) == b"hello" and store.exists(file_id)
    mtime = path.stat().st_mtime_ns
    assert store.put(b"hello") == file_id and path.stat().st_mtime_ns == mtime  # not rewritten
    assert [p.name for p in path.parent.iterdir()] == [digest]  # no temporary files left behind


def test_missing_and_malformed_ids(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    absent = file_id_of(b"never stored")
    with pytest.raises(NotFound) as err:
        store.get(absent)
    assert err.value.code == "attachments.not_found" and not store.exists(absent)
    for bad in ["../../etc/passwd", "sha256:../../x", "sha256:" + "A" * 64, "md5:" + "0" * 64,
                "sha256:" + "0" * 63, "sha256:" + "0" * 64 + "/..", "sha256:" + "0" * 64 + "\n"]:
        assert not store.exists(bad)
        with pytest.raises(Invalid) as bad_err:
            store.get(bad)
        assert bad_err.value.code == "attachments.bad_id"


def test_sidecar_round_trip(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    file_id = store.put(b"x")
    assert store.read_meta(file_id) is None
    store.write_meta(file_id, {"kind": "public", "content_type": "image/png"})
    assert store.read_meta(file_id) == {"kind": "public", "content_type": "image/png"}
    with pytest.raises(NotFound):
        store.write_meta(file_id_of(b"y"), {"kind": "public"})


@pytest.mark.parametrize(("fmt", "content_type"), [("JPEG", "image/jpeg"), ("PNG", "image/png"),
                                                   ("WEBP", "image/webp")])
def test_accepted_formats_by_content(fmt: str, content_type: str) -> None:
    info = inspect_image(photo(fmt, (30, 20)))
    assert (info.format, info.content_type, info.width, info.height) == (fmt, content_type, 30, 20)


@pytest.mark.parametrize(("data", "code"), [
    (b"", "attachments.not_an_image"),
    (b"%PDF-1.7 not a photo at all", "attachments.not_an_image"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 50, "attachments.not_an_image"),  # a JPEG magic number and garbage
    (b"\x00" * (MAX_BYTES + 1), "attachments.too_large"),
    (png_header_only(8001, 10), "attachments.too_many_pixels"),
    (png_header_only(50_000, 50_000), "attachments.too_many_pixels"),  # 2.5 G pixels: Pillow's bomb error
    (png_header_only(10_000, 9_500), "attachments.too_many_pixels"),  # 95 M pixels: Pillow's bomb warning
])
def test_refused_uploads_have_precise_codes(data: bytes, code: str) -> None:
    with pytest.raises(Invalid) as err:
        inspect_image(data)
    assert err.value.code == code


def test_other_image_formats_are_refused() -> None:
    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, "GIF")
    with pytest.raises(Invalid) as err:
        inspect_image(out.getvalue())
    assert err.value.code == "attachments.bad_format" and err.value.params["format"] == "gif"


def test_truncated_pixels_are_not_an_image() -> None:
    data = photo("PNG", (200, 200))
    info = inspect_image(data[: len(data) // 2])  # the header alone passes
    with pytest.raises(Invalid) as err:
        public_copy(data[: len(data) // 2], info)
    assert err.value.code == "attachments.not_an_image"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_public_copy_has_no_gps_while_the_original_keeps_it(fmt: str) -> None:
    data = photo(fmt)
    assert gps_of(data)[1] == "N"  # the test photo really carries GPS
    public = public_copy(data, inspect_image(data))
    assert gps_of(public) == {}
    with Image.open(io.BytesIO(public)) as img:
        assert img.format == fmt and img.size == (64, 48) and len(img.getexif()) == 0


def test_public_copy_is_turned_upright() -> None:
    data = photo("JPEG", (64, 48), orientation=6)  # rotate 90° to display
    with Image.open(io.BytesIO(public_copy(data, inspect_image(data)))) as img:
        assert img.size == (48, 64)


def test_store_attachment_links_original_and_public_copy(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    data = photo("JPEG")
    stored = store_attachment(store, data)
    assert stored.id == file_id_of(data) and stored.public_id != stored.id
    assert stored.to_json() == {"id": stored.id, "public_id": stored.public_id, "content_type": "image/jpeg",
                                "width": 64, "height": 48, "size": len(data)}
    assert store.read_meta(stored.id) == {"kind": "original", "public_id": stored.public_id,
                                          "content_type": "image/jpeg", "width": 64, "height": 48}
    assert store_attachment(store, data) == stored  # same upload, same ids
    original, _ = read_attachment(store, stored.id, Role.HANDLER)
    public, content_type = read_attachment(store, stored.id, Role.RESIDENT)
    assert original == data and gps_of(original)
    assert public == store.get(stored.public_id) and gps_of(public) == {} and content_type == "image/jpeg"
    assert read_attachment(store, stored.public_id, Role.RESIDENT)[0] == public


def test_reuploading_a_public_copy_never_loops(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    first = store_attachment(store, photo("PNG"))
    again = store_attachment(store, store.get(first.public_id))  # PNG re-encoding is stable
    assert again.id == first.public_id and again.public_id == again.id
    data, _ = read_attachment(store, again.id, Role.RESIDENT)
    assert gps_of(data) == {}


def test_files_without_a_sidecar_are_not_served(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    file_id = store.put(b"not uploaded through the use case")
    with pytest.raises(NotFound) as err:
        read_attachment(store, file_id, Role.ADMIN)
    assert err.value.code == "attachments.not_found"


def test_check_attachment_ids(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    stored = store_attachment(store, photo("PNG"))
    check_attachment_ids(store, [stored.id, stored.public_id])
    for unknown in [file_id_of(b"nothing"), "../secret"]:
        with pytest.raises(Invalid) as err:
            check_attachment_ids(store, [stored.id, unknown])
        assert err.value.code == "attachments.unknown" and err.value.params["id"] == unknown
