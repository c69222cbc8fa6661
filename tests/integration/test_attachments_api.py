"""Photo attachments over HTTP on SQLite and PostgreSQL: upload, originals for staff, GPS-free copies for residents."""

from __future__ import annotations

import io
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from chengyun.adapters.storage import FileStore, file_id_of
from chengyun.auth import api as auth_api
from chengyun.auth.model import Role
from chengyun.bootstrap import Container
from chengyun.cases import attachments_api
from chengyun.web.errors import install_error_handlers

PASSWORD = "correct-horse-battery"
YIHU = "510113002001"
GPS_IFD = 0x8825


def gps_photo() -> bytes:
    """A JPEG with GPS EXIF, as phones take them."""
    exif = Image.Exif()
    exif[GPS_IFD] = {1: "N", 2: (30.0, 40.0, 12.0), 3: "E", 4: (104.0, 4.0, 30.0)}
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 120, 200)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def gps_of(data: bytes) -> dict[int, object]:
    with Image.open(io.BytesIO(data)) as img:
        return dict(img.getexif().get_ifd(GPS_IFD))


@pytest.fixture
def client(tiny_district: Container) -> TestClient:
    """A small app with sign-in and the attachment endpoints; the store is found in the data directory."""
    for name, role in [("op1", Role.OPERATOR), ("resident1", Role.RESIDENT)]:
        tiny_district.auth.create_user(username=name, display_name=name, role=role, scope_code=YIHU,
                                       password=PASSWORD)
    app = FastAPI()
    app.state.container = tiny_district
    install_error_handlers(app)
    app.include_router(auth_api.router)
    app.include_router(attachments_api.router)
    return TestClient(app)


def login(client: TestClient, username: str) -> str:
    response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["csrf_token"])


def upload(client: TestClient, csrf: str, data: bytes, name: str = "photo.jpg") -> tuple[int, Any]:
    response = client.post("/api/attachments", files={"file": (name, data, "application/octet-stream")},
                           headers={"X-CSRF-Token": csrf})
    return response.status_code, response.json()


def test_operator_uploads_and_residents_get_the_copy_without_gps(client: TestClient, tiny_district: Container) -> None:
    data = gps_photo()
    status, body = upload(client, login(client, "op1"), data, name="whatever.txt")  # the name does not matter
    assert status == 201, body
    assert body["id"] == file_id_of(data) and body["public_id"] != body["id"]
    assert (body["content_type"], body["width"], body["height"], body["size"]) == ("image/jpeg", 32, 24, len(data))
    assert FileStore(tiny_district.settings.data_dir / "attachments").exists(str(body["id"]))

    original = client.get(f"/api/attachments/{body['id']}")
    assert original.status_code == 200 and original.headers["content-type"] == "image/jpeg"
    assert original.content == data and gps_of(original.content)[1] == "N"

    login(client, "resident1")
    for wanted in (body["id"], body["public_id"]):
        public = client.get(f"/api/attachments/{wanted}")
        assert public.status_code == 200 and public.headers["content-type"] == "image/jpeg"
        assert public.content != data and gps_of(public.content) == {}
        assert file_id_of(public.content) == body["public_id"]


def test_residents_may_upload_too(client: TestClient) -> None:
    status, body = upload(client, login(client, "resident1"), gps_photo())
    assert status == 201 and body["content_type"] == "image/jpeg"


def test_refusals_have_precise_codes(client: TestClient) -> None:
    csrf = login(client, "op1")
    status, body = upload(client, csrf, b"just some text, not a photo", name="photo.jpg")
    assert status == 422 and body["error"]["code"] == "attachments.not_an_image"
    unknown = client.get(f"/api/attachments/{file_id_of(b'never uploaded')}")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "attachments.not_found"
    malformed = client.get("/api/attachments/sha256:..%5Csecret")
    assert malformed.status_code == 422 and malformed.json()["error"]["code"] == "attachments.bad_id"
    traversal = client.get("/api/attachments/..%2F..%2Fsecret")  # a slash never reaches the store
    assert traversal.status_code == 404 and traversal.json()["error"]["code"] == "http.not_found"


def test_upload_needs_sign_in_and_the_csrf_token(client: TestClient) -> None:
    files = {"file": ("p.jpg", gps_photo(), "image/jpeg")}
    assert client.post("/api/attachments", files=files).status_code == 401
    login(client, "op1")
    refused = client.post("/api/attachments", files=files)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "auth.csrf_failed"
    client.cookies.clear()
    assert client.get(f"/api/attachments/{file_id_of(b'x')}").status_code == 401
